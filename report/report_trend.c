/* report_trend.c - class counts per run and the last run's changes (see
 * report_trend.h). */
#include "report/report_trend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name; /* the table's key */
  mxs_class_set_t seen;
} tdomain_t;

struct mxs_trend_s {
  mxs_trend_run_t *runs; /* owned */
  size_t nruns;
  mxs_table_t cur;  /* domain -> classes seen (the value is the set itself) of the run being read */
  mxs_table_t prev; /* the same for the run before the last */
  int have_prev;
  mxs_change_t *ch; /* owned */
  size_t nch;
};

mxs_trend_t *mxs_trend_new(void) {
  mxs_trend_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  mxs_table_init(&t->cur);
  mxs_table_init(&t->prev);
  return t;
}

void mxs_trend_free(mxs_trend_t *t) {
  if (!t) return;
  mxs_table_free(&t->cur);
  mxs_table_free(&t->prev);
  free(t->runs);
  free(t->ch);
  free(t);
}

static mxs_trend_run_t *new_run(mxs_trend_t *t, const char *label) {
  mxs_trend_run_t *n = realloc(t->runs, (t->nruns + 1) * sizeof *n);
  if (!n) return NULL;
  t->runs = n;
  n = &t->runs[t->nruns++];
  *n = (mxs_trend_run_t){.label = label};
  return n;
}

int mxs_trend_begin(mxs_trend_t *t, const char *label) {
  mxs_table_free(&t->cur);
  mxs_table_init(&t->cur);
  return new_run(t, label) ? 0 : -ENOMEM;
}

static void track(mxs_trend_run_t *r, const char *at) {
  if (!at[0] || strlen(at) >= sizeof r->first_at) return;
  if (!r->first_at[0] || strcmp(at, r->first_at) < 0) strcpy(r->first_at, at);
  if (strcmp(at, r->last_at) > 0) strcpy(r->last_at, at);
}

int mxs_trend_add(void *arg, const mxs_read_record_t *rec) {
  mxs_trend_t *t = arg;
  /* a class set is never 0 once a record is in it, so it is its own
   * non-NULL table value: no allocation per domain */
  uintptr_t seen = (uintptr_t)mxs_table_get(&t->cur, rec->domain);
  seen |= (uintptr_t)MXS_CLASS_BIT(rec->cls);
  if (mxs_table_put(&t->cur, rec->domain, (void *)seen) < 0) return -ENOMEM;
  track(&t->runs[t->nruns - 1], rec->scanned_at);
  return 0;
}

static void count_one(void *arg, const char *key, void *val) {
  (void)key;
  mxs_trend_run_t *r = arg;
  r->dclass[mxs_domain_class((mxs_class_set_t)(uintptr_t)val)]++;
  r->ndomains++;
}

int mxs_trend_end(mxs_trend_t *t, uint64_t records) {
  mxs_trend_run_t *r = &t->runs[t->nruns - 1];
  r->records = records;
  mxs_table_each(&t->cur, count_one, r);
  /* this run becomes the one before the next */
  mxs_table_free(&t->prev);
  t->prev = t->cur;
  t->have_prev = 1;
  mxs_table_init(&t->cur);
  return 0;
}

typedef struct {
  tdomain_t *v;
  size_t n;
} collect_t;

static void collect(void *arg, const char *key, void *val) {
  collect_t *c = arg;
  c->v[c->n++] = (tdomain_t){key, (mxs_class_set_t)(uintptr_t)val};
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const tdomain_t *)a)->name, ((const tdomain_t *)b)->name);
}

static int by_kind(const void *a, const void *b) {
  const mxs_change_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

static int add(mxs_trend_t *t, size_t *cap, mxs_change_t c) {
  if (t->nch == *cap) {
    size_t n = *cap ? *cap * 2 : 64;
    mxs_change_t *v = realloc(t->ch, n * sizeof *v);
    if (!v) return -ENOMEM;
    t->ch = v;
    *cap = n;
  }
  t->ch[t->nch++] = c;
  return 0;
}

/* Both domain lists in name order, walked side by side (as cmd_diff.c). */
static int changes(mxs_trend_t *t, const mxs_rview_t *v) {
  collect_t old = {malloc((t->prev.len ? t->prev.len : 1) * sizeof(tdomain_t)), 0};
  if (!old.v) return -ENOMEM;
  mxs_table_each(&t->prev, collect, &old);
  qsort(old.v, old.n, sizeof *old.v, by_name);
  size_t i = 0, j = 0, cap = 0;
  int rc = 0;
  while (rc == 0 && (i < old.n || j < v->ndomains)) {
    int c = i < old.n && j < v->ndomains ? strcmp(old.v[i].name, v->domains[j]->name) : i < old.n ? -1 : 1;
    if (c < 0) {
      rc = add(t, &cap, (mxs_change_t){MXS_CH_GONE, old.v[i].name, mxs_domain_class(old.v[i].seen), MXS_CLASS_OK});
      i++;
    } else if (c > 0) {
      const mxs_rdomain_t *d = v->domains[j++];
      rc = add(t, &cap, (mxs_change_t){MXS_CH_NEW, d->name, MXS_CLASS_OK, mxs_domain_class(d->seen)});
    } else {
      mxs_class_t was = mxs_domain_class(old.v[i].seen), now = mxs_domain_class(v->domains[j]->seen);
      if (was != now) {
        mxs_change_kind_t k = was == MXS_CLASS_OK   ? MXS_CH_NEWLY_FAILING
                              : now == MXS_CLASS_OK ? MXS_CH_FIXED
                                                    : MXS_CH_CLASS;
        rc = add(t, &cap, (mxs_change_t){k, v->domains[j]->name, was, now});
      }
      i++, j++;
    }
  }
  free(old.v);
  if (rc == 0 && t->nch) qsort(t->ch, t->nch, sizeof *t->ch, by_kind);
  return rc;
}

int mxs_trend_last(mxs_trend_t *t, const char *label, const mxs_report_t *r, const mxs_rview_t *v) {
  mxs_trend_run_t *run = new_run(t, label);
  if (!run) return -ENOMEM;
  run->records = r->nprobes;
  run->ndomains = v->ndomains;
  memcpy(run->dclass, v->dclass, sizeof run->dclass);
  memcpy(run->first_at, r->first_at, sizeof run->first_at);
  memcpy(run->last_at, r->last_at, sizeof run->last_at);
  return t->have_prev ? changes(t, v) : 0;
}

const mxs_trend_run_t *mxs_trend_runs(const mxs_trend_t *t, size_t *n) {
  *n = t->nruns;
  return t->runs;
}

const mxs_change_t *mxs_trend_changes(const mxs_trend_t *t, size_t *n) {
  *n = t->nch;
  return t->ch;
}
