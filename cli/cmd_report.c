/* cmd_report.c - `mxscan report FILE...`: what a results file says, for
 * people (text tables), pipelines (--json) and TLS-RPT consumers (--tlsrpt).
 * The work is in report_agg.c (counting) and report_out.c (printing). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/report.h"

static const char report_usage[] =
    "usage: mxscan report [options] FILE...   summarise results files (msgpack or JSON Lines, '-': stdin)\n"
    "\n"
    "Sections: classes; delivery (per smtp_tls_security_level may, encrypt, verify,\n"
    "secure: the domains whose mail a sender delivers over TLS, in cleartext, or\n"
    "defers, trying their MX hosts in preference order); providers; domains that\n"
    "cannot receive mail over TLS; expiring certificates; TLS versions; ciphers.\n"
    "\n"
    "  --json              one JSON document for pipelines instead of text tables\n"
    "  --tlsrpt            an RFC 8460 (SMTP TLS Reporting) JSON report instead\n"
    "  --expiring DAYS     list certificates with at most DAYS days left (default 14)\n"
    "  --top N             text: rows of the provider, version and cipher tables (default 25, 0: all)\n"
    "  --contact ADDR      --tlsrpt: the contact-info (default postmaster@localhost)\n"
    "  --redis URL --run ID [--redis-prefix P]\n"
    "                      report a run stored in Redis (as `mxscan collect` exports it)\n"
    "\n"
    "Exit status: 0 the report was written, 1 an input could not be read (the\n"
    "error names the file, record and byte offset), 2 usage error.\n";

enum { OPT_JSON = 256, OPT_TLSRPT, OPT_EXPIRING, OPT_TOP, OPT_CONTACT, OPT_REDIS, OPT_RUN, OPT_PREFIX };

static const struct option report_opts[] = {
    {"json", no_argument, 0, OPT_JSON},
    {"tlsrpt", no_argument, 0, OPT_TLSRPT},
    {"expiring", required_argument, 0, OPT_EXPIRING},
    {"top", required_argument, 0, OPT_TOP},
    {"contact", required_argument, 0, OPT_CONTACT},
    {"redis", required_argument, 0, OPT_REDIS},
    {"run", required_argument, 0, OPT_RUN},
    {"redis-prefix", required_argument, 0, OPT_PREFIX},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct {
  mxs_report_opts_t o;
  int json;
  int help;
  const char *redis, *run, *prefix; /* a run stored in Redis */
} report_args_t;

static int usage_error(const char *what) {
  fprintf(stderr, "mxscan report: %s\nTry 'mxscan report --help'.\n", what);
  return MXS_REPORT_EXIT_USAGE;
}

/* 0, or an exit status for main. */
static int parse_args(int argc, char **argv, report_args_t *a) {
  long v;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", report_opts, NULL)) != -1) {
    switch (c) {
    case 'h': a->help = 1; return 0;
    case OPT_JSON: a->json = 1; break;
    case OPT_TLSRPT: a->o.tlsrpt = 1; break;
    case OPT_EXPIRING:
      if (mxs_report_parse_int("--expiring", optarg, 0, 100000, &v) < 0) return MXS_REPORT_EXIT_USAGE;
      a->o.expiring_days = (int)v;
      break;
    case OPT_TOP:
      if (mxs_report_parse_int("--top", optarg, 0, 1000000000, &v) < 0) return MXS_REPORT_EXIT_USAGE;
      a->o.top = (size_t)v;
      break;
    case OPT_CONTACT: a->o.contact = optarg; break;
    case OPT_REDIS: a->redis = optarg; break;
    case OPT_RUN: a->run = optarg; break;
    case OPT_PREFIX: a->prefix = optarg; break;
    default: return usage_error("invalid option");
    }
  }
  if (a->json && a->o.tlsrpt) return usage_error("--json and --tlsrpt exclude each other");
  if (!a->redis != !a->run) return usage_error("--redis and --run go together");
  if (optind >= argc && !a->redis) return usage_error("no results file given");
  return 0;
}

/* A Redis run: exported by `mxscan collect` into a private temporary file,
 * then read like any results file, so both paths count the same way. */
static int add_redis_run(mxs_report_t *r, const report_args_t *a) {
  char tmp[] = "/tmp/mxscan-report-XXXXXX";
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "mxscan: cannot create a temporary file: %s\n", strerror(errno));
    return -1;
  }
  close(fd);
  char *args[] = {"collect",
                  "--redis",
                  (char *)a->redis,
                  "--run",
                  (char *)a->run,
                  "-o",
                  tmp,
                  "--format",
                  "msgpack",
                  a->prefix ? "--redis-prefix" : NULL,
                  (char *)a->prefix,
                  NULL};
  int argc = a->prefix ? 11 : 9;
  int saved = optind, rc = mxs_cmd_collect(argc, args) == 0 ? 0 : -1;
  optind = saved;
  uint64_t n = 0;
  if (rc == 0) rc = mxs_report_read(tmp, mxs_report_add, r, &n, stderr);
  if (rc == 0) rc = mxs_report_add_file(r, a->run, n);
  unlink(tmp);
  return rc;
}

int mxs_cmd_report(int argc, char **argv) {
  report_args_t a = {.o = {.expiring_days = 14, .top = 25, .contact = "postmaster@localhost"}};
  int rc = parse_args(argc, argv, &a);
  if (rc || a.help) {
    if (a.help) fputs(report_usage, stdout);
    return rc;
  }
  mxs_report_t *r = mxs_report_new(&a.o);
  if (!r) {
    fprintf(stderr, "mxscan: out of memory\n");
    return MXS_REPORT_EXIT_INPUT;
  }
  for (int i = optind; i < argc && rc == 0; i++) {
    uint64_t n = 0;
    rc = mxs_report_read(argv[i], mxs_report_add, r, &n, stderr);
    if (rc == 0) rc = mxs_report_add_file(r, argv[i], n);
  }
  if (rc == 0 && a.redis) rc = add_redis_run(r, &a);
  if (rc < 0) {
    /* a partial report would mislead: say nothing rather than half */
    mxs_report_free(r);
    return MXS_REPORT_EXIT_INPUT;
  }
  rc = a.json       ? mxs_report_print_json(r, stdout)
       : a.o.tlsrpt ? mxs_report_print_tlsrpt(r, stdout)
                    : mxs_report_print_text(r, stdout);
  mxs_report_free(r);
  if (rc < 0) {
    fprintf(stderr, "mxscan: cannot write the report: %s\n", strerror(-rc));
    return MXS_REPORT_EXIT_INPUT;
  }
  return MXS_REPORT_EXIT_OK;
}
