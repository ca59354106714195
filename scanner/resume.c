/* resume.c - keep the complete domains of a killed run's output. */
#include "scanner/resume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/reader.h"

/* A byte range of the file to keep. */
typedef struct {
  uint64_t start, end;
} range_t;

/* The domain being read: its records so far. */
typedef struct {
  char domain[256];
  uint64_t start, end;
  int complete; /* no record of it is unfinished */
  uint64_t nrec;
  uint64_t per_class[MXS_CLASS_COUNT];
  mxs_delivery_domain_t delivery; /* zeroed: no record yet */
} group_t;

typedef struct {
  mxs_resume_t *r;
  mxs_stats_t *stats;
  range_t *keep;
  size_t nkeep, capkeep;
} scan_ctx_t;

static int keep_range(scan_ctx_t *c, uint64_t start, uint64_t end) {
  if (c->nkeep && c->keep[c->nkeep - 1].end == start) { /* adjacent: extend */
    c->keep[c->nkeep - 1].end = end;
    return 0;
  }
  if (c->nkeep == c->capkeep) {
    size_t cap = c->capkeep ? c->capkeep * 2 : 64;
    range_t *n = realloc(c->keep, cap * sizeof *n);
    if (!n) return -1;
    c->keep = n;
    c->capkeep = cap;
  }
  c->keep[c->nkeep++] = (range_t){start, end};
  return 0;
}

/* A group is over (the next record is another domain's): keep it or not. */
static int close_group(scan_ctx_t *c, const group_t *g) {
  if (!g->nrec) return 0;
  if (!g->complete) {
    c->r->dropped_domains++;
    c->r->dropped_records += g->nrec;
    return 0;
  }
  if (keep_range(c, g->start, g->end) < 0 || mxs_table_put(&c->r->done, g->domain, (void *)1) < 0) return -1;
  c->r->kept_domains++;
  c->r->kept_records += g->nrec;
  mxs_class_set_t seen = 0;
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    c->stats->probes[i] += g->per_class[i];
    c->stats->nprobes += g->per_class[i];
    if (g->per_class[i]) seen |= MXS_CLASS_BIT(i);
  }
  mxs_class_set_t fails = seen & ~MXS_CLASS_BIT(MXS_CLASS_OK);
  c->stats->domains[fails ? mxs_class_first(fails) : MXS_CLASS_OK]++;
  c->stats->ndomains++;
  mxs_stats_add_delivery(c->stats, &g->delivery, fails ? mxs_class_first(fails) : MXS_CLASS_OK);
  return 0;
}

/* Reads every record and decides what to keep. */
static int read_groups(mxs_reader_t *rd, scan_ctx_t *c, FILE *err, const char *path) {
  group_t g = {0};
  mxs_read_record_t rec;
  uint64_t prev = 0;
  int rc;
  while ((rc = mxs_reader_next(rd, &rec)) == 1) {
    uint64_t end = mxs_reader_good_offset(rd);
    if (!g.nrec || strcmp(g.domain, rec.domain) != 0) {
      if (close_group(c, &g) < 0) return -1;
      memset(&g, 0, sizeof g);
      snprintf(g.domain, sizeof g.domain, "%s", rec.domain);
      g.start = prev;
      g.complete = 1;
    }
    g.end = end;
    g.nrec++;
    g.per_class[rec.cls]++;
    mxs_delivery_domain_add_outcomes(&g.delivery, rec.delivery, rec.cls, rec.pref);
    if (rec.unfinished) g.complete = 0;
    prev = end;
  }
  if (rc < 0) {
    fprintf(err, "mxscan: --resume: %s\n", mxs_reader_error(rd));
    return -1;
  }
  /* The last domain may have been cut short by the crash: scan it again. */
  if (g.nrec) {
    c->r->dropped_domains++;
    c->r->dropped_records += g.nrec;
  }
  (void)path;
  return 0;
}

static int copy_range(int in, int out, uint64_t start, uint64_t end) {
  char buf[1 << 16];
  while (start < end) {
    size_t want = end - start < sizeof buf ? (size_t)(end - start) : sizeof buf;
    ssize_t n = pread(in, buf, want, (off_t)start);
    if (n <= 0) return n == 0 ? -EIO : -errno;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0) return -errno;
      off += w;
    }
    start += (uint64_t)n;
  }
  return 0;
}

/* Makes PATH hold exactly the kept ranges: a truncate when they are one
 * prefix (the usual case after a crash), else a rewrite through a
 * temporary file renamed over it, so a crash during resume loses nothing. */
static int rewrite(const char *path, const scan_ctx_t *c, FILE *err) {
  if (c->nkeep == 0 || (c->nkeep == 1 && c->keep[0].start == 0)) {
    uint64_t len = c->nkeep ? c->keep[0].end : 0;
    if (truncate(path, (off_t)len) == 0) return 0;
    fprintf(err, "mxscan: --resume: cannot truncate %s: %s\n", path, strerror(errno));
    return -1;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.resume-tmp", path);
  int in = open(path, O_RDONLY), out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644),
      rc = in < 0 || out < 0 ? -errno : 0;
  for (size_t i = 0; rc == 0 && i < c->nkeep; i++) rc = copy_range(in, out, c->keep[i].start, c->keep[i].end);
  if (rc == 0 && fsync(out) != 0) rc = -errno;
  if (in >= 0) close(in);
  if (out >= 0 && close(out) != 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc < 0) {
    fprintf(err, "mxscan: --resume: cannot rewrite %s: %s\n", path, strerror(-rc));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int mxs_resume_prepare(const char *path, const char *format, mxs_resume_t *r, mxs_stats_t *stats, FILE *err) {
  memset(r, 0, sizeof *r);
  mxs_table_init(&r->done);
  struct stat st;
  if (stat(path, &st) != 0 || st.st_size == 0) return 0; /* nothing to resume: a fresh run */
  mxs_reader_t *rd;
  char msg[512];
  if (mxs_reader_open(path, &rd, msg, sizeof msg) < 0) {
    fprintf(err, "mxscan: --resume: %s\n", msg);
    return -1;
  }
  scan_ctx_t c = {r, stats, NULL, 0, 0};
  int rc = read_groups(rd, &c, err, path);
  mxs_results_format_t f = mxs_reader_format(rd);
  if (rc == 0 && f != MXS_RESULTS_UNKNOWN && (f == MXS_RESULTS_MSGPACK) != !strcmp(format, "msgpack")) {
    /* appending one format to the other would corrupt the file */
    fprintf(err, "mxscan: --resume: %s is %s, not --format %s\n", path, f == MXS_RESULTS_MSGPACK ? "msgpack" : "jsonl",
            format);
    rc = -1;
  }
  mxs_reader_close(rd);
  if (rc == 0) rc = rewrite(path, &c, err);
  free(c.keep);
  if (rc == 0)
    fprintf(err, "mxscan: resuming %s: %llu domain(s) complete (%llu records) kept, %llu to scan again\n", path,
            (unsigned long long)r->kept_domains, (unsigned long long)r->kept_records,
            (unsigned long long)r->dropped_domains);
  return rc;
}

int mxs_resume_has(const mxs_resume_t *r, const char *domain) { return mxs_table_get(&r->done, domain) != NULL; }

void mxs_resume_free(mxs_resume_t *r) { mxs_table_free(&r->done); }
