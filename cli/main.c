/* main.c - argv to a running scan; the only place that exits. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "dist/url.h"
#include "results/classify.h"
#include "results/delivery.h"
#include "scanner/scan.h"
#include "scanner/stats.h"

#define EXIT_USAGE 2

static void usage(FILE *fp);

int mxs_cmd_scan(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_config_defaults(&cfg);
  int rc = mxs_config_parse(&cfg, argc, argv, stderr);
  if (rc != 0) {
    if (rc > 0)
      mxs_config_usage(stdout);
    else
      fprintf(stderr, "Try 'mxscan scan --help'.\n");
    mxs_config_free(&cfg);
    return rc > 0 ? 0 : EXIT_USAGE;
  }
  char host[HOST_NAME_MAX + 1], url[2048];
  if (mxs_config_finish(&cfg, host, sizeof host, stderr) < 0) {
    mxs_config_free(&cfg);
    return EXIT_USAGE;
  }
  if (cfg.redis_url && cfg.redis_run) { /* --run: the records go into that run id */
    if (mxs_dist_url(cfg.redis_url, cfg.redis_run, NULL, url, sizeof url) < 0) {
      fprintf(stderr, "mxscan: --redis URL too long\n");
      mxs_config_free(&cfg);
      return EXIT_USAGE;
    }
    cfg.redis_url = url;
  }

  mxs_stats_t stats;
  rc = mxs_scan_run(&cfg, &stats, stderr);
  if (rc == 2 || rc == MXS_SCAN_BUSY) { /* nothing ran: no table, no summary */
    mxs_config_free(&cfg);
    return rc == 2 ? EXIT_USAGE : 1;
  }
  if (!cfg.quiet) mxs_stats_print(&stats, stderr);
  if (cfg.summary) {
    char err[512];
    if (mxs_stats_write_json(&stats, cfg.summary, err, sizeof err) < 0) {
      fprintf(stderr, "mxscan: %s\n", err);
      rc = 1;
    }
  }
  if (stats.aborted) { /* a second signal: everything written is flushed; go now */
    fflush(stdout);
    fflush(stderr);
    _exit(1);
  }
  /* 1 (the run is incomplete) outranks 3 (the findings should alert). */
  if (rc == 0 && mxs_stats_should_alert(&stats, cfg.fail_on, cfg.fail_on_deferred, cfg.fail_on_ratio)) rc = 3;
  mxs_config_free(&cfg);
  return rc;
}

int mxs_cmd_classes(int argc, char **argv) {
  int json = argc > 1 && !strcmp(argv[1], "--json");
  if (argc > 1 && !json) {
    fprintf(stderr, "usage: mxscan classes [--json]   the result classes, in contract order\n");
    return strcmp(argv[1], "--help") ? EXIT_USAGE : 0;
  }
  if (json) { /* one JSON array, for tools that map classes to alerts */
    printf("[");
    for (int i = 0; i < MXS_CLASS_COUNT; i++) {
      printf("%s\n {\"class\": \"%s\", \"order\": %d, \"stage\": \"%s\", \"tlsrpt\": \"%s\", \"meaning\": \"%s\"",
             i ? "," : "", mxs_class_name((mxs_class_t)i), i, mxs_class_stage((mxs_class_t)i),
             mxs_class_tlsrpt((mxs_class_t)i), mxs_class_hint((mxs_class_t)i));
      /* what a sender does with the mail, per security level (README) */
      for (int l = 0; l < MXS_LEVEL_COUNT; l++)
        printf("%s\"%s\": \"%s\"", l ? ", " : ", \"delivery\": {", mxs_level_name((mxs_level_t)l),
               mxs_delivery_cell_name((mxs_level_t)l, (mxs_class_t)i));
      printf("}}");
    }
    printf("\n]\n");
    return 0;
  }
  printf("%-26s %-9s %-24s %s\n", "class", "stage", "tlsrpt", "meaning");
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    printf("%-26s %-9s %-24s %s\n", mxs_class_name((mxs_class_t)i), mxs_class_stage((mxs_class_t)i),
           mxs_class_tlsrpt((mxs_class_t)i), mxs_class_hint((mxs_class_t)i));
  return 0;
}

/* Every subcommand; add a row here and a file of its own. */
static const mxs_command_t commands[] = {
    {"scan", mxs_cmd_scan, "scan the domains of a list"},
    {"classes", mxs_cmd_classes, "list the result classes and their TLS-RPT types"},
    {"probe", mxs_cmd_probe, "probe one domain: transcript, class, explanation and fix"},
    {"explain", mxs_cmd_explain, "explain a result class: likely cause and fix"},
    {"report", mxs_cmd_report, "summarise results files: classes, providers, certificates, TLS-RPT"},
    {"diff", mxs_cmd_diff, "what changed between two results files"},
    {"enqueue", mxs_cmd_enqueue, "load a domain list into Redis as the jobs of a distributed run"},
    {"worker", mxs_cmd_worker, "scan the jobs of a distributed run (any number of machines)"},
    {"collect", mxs_cmd_collect, "export a distributed run's records from Redis to a file"},
    {"status", mxs_cmd_status, "progress of a distributed run: queued, in flight, done, classes"},
    {"profiles", mxs_cmd_profiles, "list the sender profiles and the OpenSSL settings each makes"},
    {"maillog", mxs_cmd_maillog, "the recipient domains whose deliveries failed on TLS, from Postfix/Exim logs"},
};

static void usage(FILE *fp) {
  fputs("usage: mxscan COMMAND [options]\n\ncommands:\n", fp);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs(
      "\n'mxscan COMMAND --help' shows the options of a command.\n"
      "Exit status: 0 done; 1 could not complete; 2 usage or configuration error;\n"
      "3 done, and the findings matched --fail-on (scan) or were not all ok (probe).\n",
      fp);
}

int main(int argc, char **argv) {
  /* A closed pipe or a peer gone mid-write is an error return (EPIPE) that
   * the code reports, never a silent kill. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("mxscan %s\n", MXS_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "mxscan: unknown command '%s'\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
