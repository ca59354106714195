/* options.h - `mxscan scan`'s option table: the command line and the INI
 * config file into an mxs_config_t (scanner/config.h), checked the same
 * way from both. */
#ifndef MXS_CLI_OPTIONS_H
#define MXS_CLI_OPTIONS_H

#include <stdio.h>

#include "scanner/config.h"

/* Reads an INI config file into C.  0, or -1 after printing an error that
 * names the file, the line and the key to ERR. */
int mxs_config_load_file(mxs_config_t *c, const char *path, FILE *err);
/* `mxscan scan` arguments (after the command name; --config FILE first,
 * then the flags, which override it).  0 ok, 1 --help asked, -1 error
 * (printed to ERR). */
int mxs_config_parse(mxs_config_t *c, int argc, char **argv, FILE *err);
/* Sets option --NAME (a flag of `mxscan scan`) to VALUE (NULL for a flag
 * without argument), checked as the command line does; borrows VALUE.  For
 * commands that share some of scan's options (probe).  0, or -1 after
 * printing why to ERR. */
int mxs_config_set(mxs_config_t *c, const char *name, const char *value, FILE *err);
/* The TLS options together, once all are read: the versions of the
 * profile with the knobs applied in order, --client-key only with
 * --client-cert, and that certificate and key load and match.  0, or -1
 * after printing what is wrong (naming the option and file) to ERR.
 * mxs_config_parse calls it. */
int mxs_config_check_tls(const mxs_config_t *c, FILE *err);
/* What a run needs besides the values, once the options are parsed: the
 * EHLO name (this host's, in HOST, when none was given), the exclude list
 * read from --exclude.  0, or -1 (a usage error: exit 2) after printing
 * why to ERR, naming the option or the file and line. */
int mxs_config_finish(mxs_config_t *c, char *host, size_t hostlen, FILE *err);
/* A whole number option in [LO, HI]; 0, or -1 after printing why to ERR. */
int mxs_parse_long(const char *opt, const char *arg, long lo, long hi, long *out, FILE *err);
/* The option list for --help. */
void mxs_config_usage(FILE *fp);

#endif
