/* report_common.c - arena, file reading, text tables and JSON helpers for
 * `mxscan report` and `mxscan diff`. */
#include <errno.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report/report.h"

/* ---- arena ---------------------------------------------------------------- */

#define ARENA_CHUNK ((size_t)1 << 20)

struct mxs_arena_chunk_s {
  mxs_arena_chunk_t *next;
  size_t used, cap;
  alignas(max_align_t) unsigned char data[];
};

void mxs_arena_init(mxs_arena_t *a) { a->head = NULL; }

/* N bytes at a multiple of ALIGN (a power of two), not zeroed. */
static void *arena_raw(mxs_arena_t *a, size_t n, size_t align) {
  mxs_arena_chunk_t *c = a->head;
  if (c) {
    size_t at = (c->used + align - 1) & ~(align - 1);
    if (at <= c->cap && c->cap - at >= n) {
      c->used = at + n;
      return c->data + at;
    }
  }
  size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK; /* big ones get a chunk of their own */
  if (!(c = malloc(sizeof *c + cap))) return NULL;
  c->used = n; /* a new chunk starts aligned for anything */
  c->cap = cap;
  /* a private chunk goes behind the head, so the head keeps its free space */
  if (cap != ARENA_CHUNK && a->head) {
    c->next = a->head->next;
    a->head->next = c;
  } else {
    c->next = a->head;
    a->head = c;
  }
  return c->data;
}

void *mxs_arena_alloc(mxs_arena_t *a, size_t n) {
  void *p = arena_raw(a, n, alignof(max_align_t));
  if (p) memset(p, 0, n);
  return p;
}

char *mxs_arena_strdup(mxs_arena_t *a, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = arena_raw(a, n, 1); /* strings need no alignment: a million records, megabytes saved */
  if (d) memcpy(d, s, n);
  return d;
}

char *mxs_arena_printf(mxs_arena_t *a, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *d = arena_raw(a, (size_t)n + 1, 1);
  if (!d) return NULL;
  if ((size_t)n < sizeof small) {
    memcpy(d, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return d;
}

void mxs_arena_free(mxs_arena_t *a) {
  while (a->head) {
    mxs_arena_chunk_t *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

/* ---- progress -------------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mxs_progress_init(mxs_progress_t *p, FILE *fp) { *p = (mxs_progress_t){.fp = fp, .on = fp && isatty(fileno(fp))}; }

void mxs_progress_show(mxs_progress_t *p, const char *fmt, ...) {
  if (!p->on) return;
  uint64_t now = now_ms();
  if (p->drawn && now < p->next_ms) return;
  p->next_ms = now + 250;
  char line[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(p->fp, "\r\033[K%s", line); /* like the scan's own progress line */
  fflush(p->fp);
  p->drawn = 1;
}

void mxs_progress_end(mxs_progress_t *p) {
  if (!p->on || !p->drawn) return;
  fputs("\r\033[K", p->fp);
  fflush(p->fp);
  p->drawn = 0;
}

static void mib(char *out, size_t len, uint64_t bytes) { snprintf(out, len, "%.1f MiB", (double)bytes / 1048576.0); }

/* "reading FILE: 12.3 MiB of 45.6 MiB (27%), 40123 records" */
static void read_progress(mxs_progress_t *p, const char *path, uint64_t done, uint64_t size, uint64_t records) {
  char a[32], b[32];
  mib(a, sizeof a, done);
  if (size) {
    mib(b, sizeof b, size);
    mxs_progress_show(p, "mxscan: reading %.80s: %s of %s (%.0f%%), %llu records", path, a, b,
                      100.0 * (double)done / (double)size, (unsigned long long)records);
  } else {
    mxs_progress_show(p, "mxscan: reading %.80s: %s, %llu records", path, a, (unsigned long long)records);
  }
}

/* ---- reading -------------------------------------------------------------- */

int mxs_report_read(const char *path, mxs_record_fn fn, void *arg, uint64_t *nrecords, FILE *err) {
  char msg[512];
  mxs_reader_t *r;
  int rc = mxs_reader_open(path, &r, msg, sizeof msg);
  if (rc < 0) {
    fprintf(err, "mxscan: %s\n", msg);
    return rc;
  }
  mxs_progress_t prog;
  mxs_progress_init(&prog, err);
  struct stat st;
  uint64_t size = 0; /* 0: unknown (a pipe) */
  if (prog.on && (strcmp(path, "-") ? stat(path, &st) : fstat(STDIN_FILENO, &st)) == 0 && S_ISREG(st.st_mode))
    size = (uint64_t)st.st_size;
  read_progress(&prog, path, 0, size, 0);
  mxs_read_record_t rec;
  uint64_t n = 0;
  while ((rc = mxs_reader_next(r, &rec)) > 0) {
    if ((rc = fn(arg, &rec)) < 0) break;
    if (prog.on && ++n % 4096 == 0) read_progress(&prog, path, mxs_reader_good_offset(r), size, n);
  }
  mxs_progress_end(&prog);
  if (rc < 0 && mxs_reader_error(r)[0]) {
    fprintf(err, "mxscan: %s\n", mxs_reader_error(r));
  } else if (rc < 0) {
    fprintf(err, "mxscan: %s: %s\n", path, strerror(-rc));
  } else {
    uint64_t at, len;
    if (mxs_reader_torn(r, &at, &len))
      fprintf(err, "mxscan: %s: warning: torn last record at byte %llu (%llu bytes, the run was cut short): ignored\n",
              path, (unsigned long long)at, (unsigned long long)len);
  }
  if (nrecords) *nrecords = mxs_reader_count(r);
  mxs_reader_close(r);
  return rc < 0 ? rc : 0;
}

mxs_class_t mxs_domain_class(mxs_class_set_t seen) {
  mxs_class_set_t fails = seen & ~MXS_CLASS_BIT(MXS_CLASS_OK);
  return fails ? mxs_class_first(fails) : MXS_CLASS_OK;
}

typedef struct {
  void **v;
  size_t n;
} collect_t;

static void collect(void *arg, const char *key, void *val) {
  (void)key;
  collect_t *c = arg;
  c->v[c->n++] = val;
}

void **mxs_report_table_values(const mxs_table_t *t, int (*cmp)(const void *, const void *)) {
  collect_t c = {malloc((t->len ? t->len : 1) * sizeof(void *)), 0};
  if (!c.v) return NULL;
  mxs_table_each(t, collect, &c);
  qsort(c.v, c.n, sizeof(void *), cmp);
  return c.v;
}

int mxs_report_cmp_name(const void *a, const void *b) {
  return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* ---- text tables ---------------------------------------------------------- */

void mxs_tab_init(mxs_tab_t *t, size_t ncol, unsigned right) { *t = (mxs_tab_t){.ncol = ncol, .right = right}; }

int mxs_tab_row(mxs_tab_t *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    const char **nc = realloc(t->cells, cap * t->ncol * sizeof *nc);
    if (!nc) return -ENOMEM;
    t->cells = nc;
    t->cap = cap;
  }
  for (size_t i = 0; i < t->ncol; i++) t->cells[t->nrows * t->ncol + i] = cells[i] ? cells[i] : "";
  t->nrows++;
  return 0;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* Cells may hold what a remote server or a DNS zone chose (MX names): no
 * control characters reach the terminal. */
static void put_cell(const char *s, FILE *fp) {
  for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
}

void mxs_tab_print(const mxs_tab_t *t, FILE *fp) {
  size_t w[16] = {0};
  size_t ncol = t->ncol < 16 ? t->ncol : 16;
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < ncol; c++) {
      size_t n = width(t->cells[r * t->ncol + c]);
      if (n > w[c]) w[c] = n;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    size_t end = ncol; /* empty cells at the end of a row print nothing, not blanks */
    while (end > 1 && !t->cells[r * t->ncol + end - 1][0]) end--;
    fputs("  ", fp);
    for (size_t c = 0; c < end; c++) {
      const char *s = t->cells[r * t->ncol + c];
      int pad = (int)(w[c] - width(s));
      int last = c + 1 == end;
      if (t->right & (1u << c)) fprintf(fp, "%*s", pad, "");
      put_cell(s, fp);
      if (!(t->right & (1u << c)) && !last) fprintf(fp, "%*s", pad, ""); /* no trailing blanks */
      if (!last) fputs("  ", fp);
    }
    fputc('\n', fp);
  }
}

void mxs_tab_free(mxs_tab_t *t) {
  free(t->cells);
  t->cells = NULL;
  t->nrows = t->cap = 0;
}

/* ---- JSON ------------------------------------------------------------------ */

void mxs_j_class_counts(mxs_encoder_t *e, const uint64_t *counts, uint64_t total) {
  e->map(e, 2);
  mxs_enc_kv_int(e, "total", (int64_t)total);
  e->key(e, "classes");
  e->map(e, 0);
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    if (counts[i]) mxs_enc_kv_int(e, mxs_class_name((mxs_class_t)i), (int64_t)counts[i]);
  e->end(e);
  e->end(e);
}

int mxs_json_emit(mxs_json_encoder_t *j, FILE *fp) {
  if (j->oom) return -ENOMEM;
  if (fwrite(j->buf, 1, j->len, fp) != j->len || fputc('\n', fp) == EOF) return errno ? -errno : -EIO;
  return 0;
}
