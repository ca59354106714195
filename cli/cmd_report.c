/* cmd_report.c - `mxscan report FILE...`: what a results file says, for
 * people (text tables), pipelines (--json) and TLS-RPT consumers (--tlsrpt).
 * The work is in report_agg.c (counting) and report_out.c (printing). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/report.h"
#include "report/report_html.h"
#include "report/report_run.h"
#include "report/report_trend.h"
#include "results/replace.h"

static const char report_usage[] =
    "usage: mxscan report [options] FILE...   summarise results files (msgpack or JSON Lines, '-': stdin)\n"
    "\n"
    "Sections: classes; delivery (per smtp_tls_security_level may, encrypt, verify,\n"
    "secure, dane, mta-sts: the domains whose mail a sender delivers over TLS, in cleartext, or\n"
    "defers, trying their MX hosts in preference order); providers; domains that\n"
    "cannot receive mail over TLS; expiring certificates; TLS versions; ciphers.\n"
    "\n"
    "  --json              one JSON document for pipelines instead of text tables\n"
    "  --tlsrpt            an RFC 8460 (SMTP TLS Reporting) JSON report instead\n"
    "  --html OUT          one self-contained HTML page in OUT ('-': stdout) instead: charts,\n"
    "                      sortable tables, every failing domain with its fix; with several\n"
    "                      FILEs (or --run IDs), each is one run, oldest first: the page\n"
    "                      describes the last and shows the trend and what changed\n"
    "  --summary FILE      --html: the scan's --summary of the last run (times, what it cost)\n"
    "  --rows N            --html: rows of the domain tables (default 10000, 0: all)\n"
    "  --expiring DAYS     list certificates with at most DAYS days left (default 14; --html: 30)\n"
    "  --top N             rows of the provider, version and cipher tables (default 25, 0: all)\n"
    "  --contact ADDR      --tlsrpt: the contact-info (default postmaster@localhost)\n"
    "  --redis URL --run ID [--run ID...] [--redis-prefix P]\n"
    "                      report runs stored in Redis (as `mxscan collect` exports them)\n"
    "\n"
    "On a terminal, progress (bytes read of each file) is shown on stderr.\n"
    "Exit status: 0 the report was written, 1 an input could not be read (the\n"
    "error names the file, record and byte offset), 2 usage error.\n";

enum {
  OPT_JSON = 256,
  OPT_TLSRPT,
  OPT_EXPIRING,
  OPT_TOP,
  OPT_CONTACT,
  OPT_REDIS,
  OPT_RUN,
  OPT_PREFIX,
  OPT_HTML,
  OPT_SUMMARY,
  OPT_ROWS
};

static const struct option report_opts[] = {
    {"json", no_argument, 0, OPT_JSON},
    {"tlsrpt", no_argument, 0, OPT_TLSRPT},
    {"expiring", required_argument, 0, OPT_EXPIRING},
    {"top", required_argument, 0, OPT_TOP},
    {"contact", required_argument, 0, OPT_CONTACT},
    {"redis", required_argument, 0, OPT_REDIS},
    {"run", required_argument, 0, OPT_RUN},
    {"redis-prefix", required_argument, 0, OPT_PREFIX},
    {"html", required_argument, 0, OPT_HTML},
    {"summary", required_argument, 0, OPT_SUMMARY},
    {"rows", required_argument, 0, OPT_ROWS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

#define MAX_RUNS 64

typedef struct {
  mxs_report_opts_t o;
  int json;
  int help;
  int expiring_given;
  const char *redis, *prefix; /* runs stored in Redis */
  const char *runs[MAX_RUNS]; /* --run IDs, in order */
  size_t nruns;
  const char *html, *summary; /* --html OUT, --summary FILE */
} report_args_t;

static int usage_error(const char *what) {
  fprintf(stderr, "mxscan report: %s\nTry 'mxscan report --help'.\n", what);
  return MXS_REPORT_EXIT_USAGE;
}

/* 0, or an exit status for main. */
static int parse_args(int argc, char **argv, report_args_t *a) {
  long v;
  int c;
  optind = 0; /* getopt afresh (see options.c) */
  while ((c = getopt_long(argc, argv, "h", report_opts, NULL)) != -1) {
    switch (c) {
    case 'h': a->help = 1; return 0;
    case OPT_JSON: a->json = 1; break;
    case OPT_TLSRPT: a->o.tlsrpt = 1; break;
    case OPT_EXPIRING:
      if (mxs_parse_long("--expiring", optarg, 0, 100000, &v, stderr) < 0) return MXS_REPORT_EXIT_USAGE;
      a->o.expiring_days = (int)v;
      a->expiring_given = 1;
      break;
    case OPT_ROWS:
      if (mxs_parse_long("--rows", optarg, 0, 1000000000, &v, stderr) < 0) return MXS_REPORT_EXIT_USAGE;
      a->o.rows = (size_t)v;
      break;
    case OPT_HTML: a->html = optarg; break;
    case OPT_SUMMARY: a->summary = optarg; break;
    case OPT_TOP:
      if (mxs_parse_long("--top", optarg, 0, 1000000000, &v, stderr) < 0) return MXS_REPORT_EXIT_USAGE;
      a->o.top = (size_t)v;
      break;
    case OPT_CONTACT: a->o.contact = optarg; break;
    case OPT_REDIS: a->redis = optarg; break;
    case OPT_RUN:
      if (a->nruns == MAX_RUNS) return usage_error("at most 64 --run IDs");
      a->runs[a->nruns++] = optarg;
      break;
    case OPT_PREFIX: a->prefix = optarg; break;
    default: return usage_error("invalid option");
    }
  }
  if (a->json + a->o.tlsrpt + !!a->html > 1) return usage_error("--json, --tlsrpt and --html exclude each other");
  if (!a->redis != !a->nruns) return usage_error("--redis and --run go together");
  if (optind >= argc && !a->redis) return usage_error("no results file given");
  if ((a->summary || a->o.rows != 10000) && !a->html) return usage_error("--summary and --rows go with --html");
  if (a->html) {
    a->o.html = 1;
    if (!a->expiring_given) a->o.expiring_days = 30; /* "this month" */
  }
  return 0;
}

/* A Redis run: exported by `mxscan collect` into a private temporary file,
 * then read like any results file, so both paths count the same way. */
static int read_redis_run(const report_args_t *a, const char *run, mxs_record_fn fn, void *arg, uint64_t *n) {
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
                  (char *)run,
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
  if (rc == 0) rc = mxs_report_read(tmp, fn, arg, n, stderr);
  unlink(tmp);
  return rc;
}

/* One input, a file or a Redis run, in the order given: files, then runs. */
typedef struct {
  const char *path; /* a file, or NULL */
  const char *run;  /* a Redis run id, or NULL */
} input_t;

static int read_input(const report_args_t *a, const input_t *in, mxs_record_fn fn, void *arg, uint64_t *n) {
  return in->path ? mxs_report_read(in->path, fn, arg, n, stderr) : read_redis_run(a, in->run, fn, arg, n);
}

/* A short name for a run in charts: the file's base name, or the run id. */
static const char *run_label(const input_t *in) {
  if (!in->path) return in->run;
  const char *slash = strrchr(in->path, '/');
  return slash && slash[1] ? slash + 1 : in->path;
}

/* Writes the page to a temporary file beside OUT and renames it, so OUT is
 * never half a report.  0 or an exit status. */
static int write_html(const report_args_t *a, mxs_report_t *r, mxs_trend_t *t, const input_t *last, size_t nruns) {
  mxs_run_info_t ri;
  mxs_run_info_init(&ri);
  char err[600];
  int rc = 0;
  if (a->summary)
    rc = mxs_run_info_summary(&ri, a->summary, err, sizeof err);
  else if (last->run) /* a Redis run knows its own times and command */
    rc = mxs_run_info_redis(&ri, a->redis, a->prefix, last->run, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "mxscan: %s\n", err);
    mxs_run_info_free(&ri);
    return MXS_REPORT_EXIT_INPUT;
  }
  int to_stdout = !strcmp(a->html, "-");
  mxs_replace_t out = {stdout, NULL};
  if (!to_stdout) {
    char *tmpl = malloc(strlen(a->html) + 16);
    if (tmpl) sprintf(tmpl, "%s.tmp-XXXXXX", a->html);
    rc = tmpl ? mxs_replace_open(&out, tmpl) : -ENOMEM;
    free(tmpl);
    if (rc < 0) {
      fprintf(stderr, "mxscan: cannot write '%s': %s\n", a->html, strerror(-rc));
      mxs_run_info_free(&ri);
      return MXS_REPORT_EXIT_INPUT;
    }
  }
  rc = mxs_report_print_html(r, t, &ri, run_label(last), out.fp);
  if (!to_stdout && rc == 0)
    rc = mxs_replace_commit(&out, a->html);
  else if (!to_stdout)
    mxs_replace_abort(&out);
  if (rc < 0)
    fprintf(stderr, "mxscan: cannot write '%s': %s\n", a->html, strerror(-rc));
  else if (!to_stdout)
    fprintf(stderr, "mxscan: wrote %s: %zu run(s), the last with %zu domains\n", a->html, nruns, r->domains.len);
  mxs_run_info_free(&ri);
  return rc < 0 ? MXS_REPORT_EXIT_INPUT : MXS_REPORT_EXIT_OK;
}

int mxs_cmd_report(int argc, char **argv) {
  report_args_t a = {.o = {.expiring_days = 14, .top = 25, .contact = "postmaster@localhost", .rows = 10000}};
  int rc = parse_args(argc, argv, &a);
  if (rc || a.help) {
    if (a.help) fputs(report_usage, stdout);
    return rc;
  }
  size_t nin = (size_t)(argc - optind) + a.nruns;
  input_t *in = calloc(nin, sizeof *in);
  mxs_report_t *r = mxs_report_new(&a.o);
  mxs_trend_t *t = a.html ? mxs_trend_new() : NULL;
  if (!in || !r || (a.html && !t)) {
    fprintf(stderr, "mxscan: out of memory\n");
    free(in);
    mxs_report_free(r);
    mxs_trend_free(t);
    return MXS_REPORT_EXIT_INPUT;
  }
  for (int i = optind; i < argc; i++) in[i - optind].path = argv[i];
  for (size_t i = 0; i < a.nruns; i++) in[(size_t)(argc - optind) + i].run = a.runs[i];
  /* Text and JSON count every input as one run.  The HTML page takes each
   * as a run of its own, oldest first: the earlier ones feed the trend,
   * the last one the report. */
  for (size_t i = 0; i < nin && rc == 0; i++) {
    uint64_t n = 0;
    const char *name = in[i].path ? in[i].path : in[i].run;
    if (t && i + 1 < nin) {
      rc = mxs_trend_begin(t, run_label(&in[i]));
      if (rc == 0) rc = read_input(&a, &in[i], mxs_trend_add, t, &n);
      if (rc == 0) rc = mxs_trend_end(t, n);
    } else {
      rc = read_input(&a, &in[i], mxs_report_add, r, &n);
      if (rc == 0) rc = mxs_report_add_file(r, name, n);
    }
    if (rc == -ENOMEM) fprintf(stderr, "mxscan: out of memory reading %s\n", name);
  }
  if (rc < 0) {
    /* a partial report would mislead: say nothing rather than half */
    mxs_report_free(r);
    mxs_trend_free(t);
    free(in);
    return MXS_REPORT_EXIT_INPUT;
  }
  if (a.html) {
    rc = write_html(&a, r, t, &in[nin - 1], nin);
    mxs_report_free(r);
    mxs_trend_free(t);
    free(in);
    return rc;
  }
  rc = a.json       ? mxs_report_print_json(r, stdout)
       : a.o.tlsrpt ? mxs_report_print_tlsrpt(r, stdout)
                    : mxs_report_print_text(r, stdout);
  mxs_report_free(r);
  free(in);
  if (rc < 0) {
    fprintf(stderr, "mxscan: cannot write the report: %s\n", strerror(-rc));
    return MXS_REPORT_EXIT_INPUT;
  }
  return MXS_REPORT_EXIT_OK;
}
