/* cmd_maillog.c - `mxscan maillog FILE...`: the recipient domains whose
 * deliveries failed on TLS, from a sending Postfix's or Exim's log, one per
 * line for `mxscan scan -`.
 *
 * Reads each file (plain or gzip: zlib's gzread passes plain bytes through)
 * in bounded memory, cuts it into lines and hands them to the parser
 * (queue/maillog.h), which never fails on a line: what it cannot read is
 * counted.  The domains are printed once each, sorted, after every file
 * was read; the counts go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/commands.h"
#include "queue/maillog.h"
#include "queue/table.h"

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define MAX_LINE   ((size_t)64 << 10) /* longer lines are skipped as they stream, and counted */

static const char maillog_usage[] =
    "usage: mxscan maillog [-q] FILE...   the recipient domains whose deliveries failed on TLS,\n"
    "                                     from a sending Postfix's or Exim's log ('-': stdin)\n"
    "\n"
    "Reads Postfix (syslog, journal or maillog_file) and Exim (mainlog, or syslog) lines,\n"
    "plain or gzip-compressed, and prints each recipient domain whose delivery failed\n"
    "on TLS once, lower-case, sorted: deferred or bounced for a TLS reason (Cannot\n"
    "start TLS, TLS is required but not offered or refused, certificate not verified,\n"
    "a TLS session that died, Exim's errno -37/-38), or delivered in the clear after\n"
    "a failed TLS attempt.  Feed it to `mxscan scan -` to see why:\n"
    "\n"
    "  mxscan maillog /var/log/mail.log /var/log/mail.log.*.gz | mxscan scan - > why.jsonl\n"
    "\n"
    "Lines that are no Postfix or Exim log line are skipped and counted, never an\n"
    "error.  Counts on stderr: lines read, TLS failures (deferred, then delivered\n"
    "in the clear), other lines, malformed lines.\n"
    "\n"
    "  -q       no counts on stderr\n"
    "\n"
    "Exit status: 0 the list was written (it may be empty), 1 a file could not be\n"
    "read (nothing is printed: a partial list would mislead), 2 usage error.\n";

typedef struct {
  mxs_maillog_t *parser;
  mxs_table_t domains; /* domain -> (void *)1 */
  int oom;
  uint64_t lines, matched, deferred, other, malformed;
} ctx_t;

static void on_failure(void *arg, const mxs_ml_failure_t *f) {
  ctx_t *c = arg;
  c->deferred += f->deferred != 0;
  if (!mxs_table_get(&c->domains, f->domain) && mxs_table_put(&c->domains, f->domain, (void *)1) < 0) c->oom = 1;
}

static void feed(ctx_t *c, const char *line, size_t len) {
  c->lines++;
  switch (mxs_maillog_line(c->parser, line, len, on_failure, c)) {
  case MXS_ML_MATCH: c->matched++; break;
  case MXS_ML_MALFORMED: c->malformed++; break;
  default: c->other++; break;
  }
}

/* Reads PATH ("-": standard input) line by line into C.  0, or -1 after a
 * message naming the file. */
static int read_log(ctx_t *c, const char *path) {
  int fd = strcmp(path, "-") ? -1 : dup(0);
  gzFile g = fd >= 0 ? gzdopen(fd, "rb") : strcmp(path, "-") ? gzopen(path, "rb") : NULL;
  if (!g) {
    fprintf(stderr, "mxscan: %s: cannot open: %s\n", path, errno ? strerror(errno) : "out of memory");
    if (fd >= 0) close(fd);
    return -1;
  }
  gzbuffer(g, 1 << 16);
  char *buf = malloc(MAX_LINE);
  size_t len = 0;
  int skipping = 0, rc = 0; /* skipping: inside a line longer than MAX_LINE */
  if (!buf) {
    fprintf(stderr, "mxscan: %s: out of memory\n", path);
    gzclose(g);
    return -1;
  }
  for (;;) {
    int n = gzread(g, buf + len, (unsigned)(MAX_LINE - len));
    if (n < 0) {
      int err;
      const char *msg = gzerror(g, &err);
      fprintf(stderr, "mxscan: %s: cannot read: %s\n", path, err == Z_ERRNO ? strerror(errno) : msg);
      rc = -1;
      break;
    }
    if (n == 0) {
      int err;
      const char *msg = gzerror(g, &err);
      if (err == Z_BUF_ERROR) /* a gzip file cut short, e.g. still being compressed */
        fprintf(stderr, "mxscan: %s: warning: the compressed data ends early (%s): read up to there\n", path, msg);
      if (len && !skipping) feed(c, buf, len); /* a last line without its newline */
      break;
    }
    len += (size_t)n;
    char *p = buf, *end = buf + len, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
      if (skipping) {
        skipping = 0; /* the end of the long line: it was counted */
      } else {
        feed(c, p, (size_t)(nl - p));
      }
      p = nl + 1;
    }
    len = (size_t)(end - p);
    memmove(buf, p, len);
    if (len == MAX_LINE) { /* no newline in 64 KiB: no log line; skip to the next newline */
      if (!skipping) {
        c->lines++;
        c->malformed++;
      }
      skipping = 1;
      len = 0;
    }
  }
  free(buf);
  gzclose(g);
  return rc;
}

typedef struct {
  const char **v;
  size_t n;
} keys_t;

static void collect(void *arg, const char *key, void *val) {
  (void)val;
  keys_t *k = arg;
  k->v[k->n++] = key;
}

static int by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The domains, sorted, one per line.  0 or -errno. */
static int print_domains(const mxs_table_t *t, FILE *fp) {
  keys_t k = {malloc((t->len ? t->len : 1) * sizeof *k.v), 0};
  if (!k.v) return -ENOMEM;
  mxs_table_each(t, collect, &k);
  qsort(k.v, k.n, sizeof *k.v, by_name);
  for (size_t i = 0; i < k.n; i++) fprintf(fp, "%s\n", k.v[i]);
  free(k.v);
  return fflush(fp) == 0 && !ferror(fp) ? 0 : errno ? -errno : -EIO;
}

int mxs_cmd_maillog(int argc, char **argv) {
  static const struct option opts[] = {{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int quiet = 0, ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
    if (ch == 'h') {
      fputs(maillog_usage, stdout);
      return 0;
    }
    if (ch != 'q') {
      fprintf(stderr, "Try 'mxscan maillog --help'.\n");
      return EXIT_USAGE;
    }
    quiet = 1;
  }
  if (optind >= argc) {
    fprintf(stderr, "mxscan maillog: no log file given ('-' reads standard input)\nTry 'mxscan maillog --help'.\n");
    return EXIT_USAGE;
  }
  ctx_t c = {.parser = mxs_maillog_new()};
  mxs_table_init(&c.domains);
  int rc = c.parser ? 0 : -1;
  if (!c.parser) fprintf(stderr, "mxscan: out of memory\n");
  for (int i = optind; i < argc && rc == 0; i++) rc = read_log(&c, argv[i]);
  if (rc == 0 && c.oom) {
    fprintf(stderr, "mxscan: out of memory\n");
    rc = -1;
  }
  if (rc == 0 && (rc = print_domains(&c.domains, stdout)) < 0)
    fprintf(stderr, "mxscan: cannot write the domains: %s\n", strerror(-rc));
  if (rc == 0 && !quiet)
    fprintf(stderr,
            "mxscan maillog: %d file%s, %llu lines: %llu TLS failures (%llu deferred, %llu then delivered in the "
            "clear) of %zu domain%s, %llu other lines, %llu malformed lines skipped\n",
            argc - optind, argc - optind == 1 ? "" : "s", (unsigned long long)c.lines, (unsigned long long)c.matched,
            (unsigned long long)c.deferred, (unsigned long long)(c.matched - c.deferred), c.domains.len,
            c.domains.len == 1 ? "" : "s", (unsigned long long)c.other, (unsigned long long)c.malformed);
  mxs_table_free(&c.domains);
  mxs_maillog_free(c.parser);
  return rc == 0 ? 0 : EXIT_INPUT;
}
