/* commands.h - the subcommands of mxscan, one file each.
 *
 * Each takes the argv that follows the command name (argv[0] is the
 * command itself, as getopt expects) and returns the process exit status;
 * only main.c exits.
 */
#ifndef MXS_COMMANDS_H
#define MXS_COMMANDS_H

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary; /* one line for `mxscan --help` */
} mxs_command_t;

int mxs_cmd_scan(int argc, char **argv);     /* main.c */
int mxs_cmd_classes(int argc, char **argv);  /* main.c */
int mxs_cmd_probe(int argc, char **argv);    /* cmd_probe.c */
int mxs_cmd_explain(int argc, char **argv);  /* cmd_explain.c */
int mxs_cmd_report(int argc, char **argv);   /* cmd_report.c */
int mxs_cmd_diff(int argc, char **argv);     /* cmd_diff.c */
int mxs_cmd_enqueue(int argc, char **argv);  /* cmd_enqueue.c */
int mxs_cmd_worker(int argc, char **argv);   /* cmd_worker.c */
int mxs_cmd_collect(int argc, char **argv);  /* cmd_collect.c */
int mxs_cmd_status(int argc, char **argv);   /* cmd_collect.c */
int mxs_cmd_profiles(int argc, char **argv); /* cmd_profiles.c */
int mxs_cmd_maillog(int argc, char **argv);  /* cmd_maillog.c */

#endif
