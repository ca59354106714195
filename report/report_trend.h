/* report_trend.h - several runs in date order for `mxscan report --html`:
 * the domain classes of each run, and what changed in the last one.
 *
 * The earlier runs are folded here one at a time (begin, add each record,
 * end): each keeps only its class counts, except the run just before the
 * last, whose domain -> class table is kept to compare with the last run.
 * The last run is the full report (report_agg.c); its counts come from the
 * report's view.  Memory: one run's domains at a time besides the report.
 */
#ifndef MXS_REPORT_TREND_H
#define MXS_REPORT_TREND_H

#include "report/report_int.h"

typedef struct {
  const char *label; /* borrowed: the path or the run id */
  uint64_t records, ndomains;
  uint64_t dclass[MXS_CLASS_COUNT]; /* domains by their class */
  char first_at[24], last_at[24];   /* scanned_at range */
} mxs_trend_run_t;

typedef enum {
  MXS_CH_NEWLY_FAILING,
  MXS_CH_FIXED,
  MXS_CH_CLASS,
  MXS_CH_NEW,
  MXS_CH_GONE,
  MXS_CH_KINDS
} mxs_change_kind_t;

typedef struct {
  mxs_change_kind_t kind;
  const char *domain;   /* borrowed from the trend or the report */
  mxs_class_t was, now; /* was: not for MXS_CH_NEW; now: not for MXS_CH_GONE */
} mxs_change_t;

typedef struct mxs_trend_s mxs_trend_t;

mxs_trend_t *mxs_trend_new(void); /* NULL on ENOMEM */
void mxs_trend_free(mxs_trend_t *t);

/* An earlier run: begin, its records through mxs_trend_add (an
 * mxs_record_fn), end.  0 or -ENOMEM. */
int mxs_trend_begin(mxs_trend_t *t, const char *label);
int mxs_trend_add(void *trend, const mxs_read_record_t *rec);
int mxs_trend_end(mxs_trend_t *t, uint64_t records);

/* The last run, from the report R and its view V: appends it to the runs
 * and lists the changes from the run before (none when it is the only
 * one), sorted by kind then domain.  0 or -ENOMEM. */
int mxs_trend_last(mxs_trend_t *t, const char *label, const mxs_report_t *r, const mxs_rview_t *v);

/* The runs in order, the last one last (valid until free). */
const mxs_trend_run_t *mxs_trend_runs(const mxs_trend_t *t, size_t *n);
/* The changes of the last run (after mxs_trend_last). */
const mxs_change_t *mxs_trend_changes(const mxs_trend_t *t, size_t *n);

#endif
