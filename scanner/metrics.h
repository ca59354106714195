/* metrics.h - the run's numbers for Prometheus: `--metrics FILE` writes the
 * text exposition format for node_exporter's textfile collector.
 *
 * Not a record sink (exporters/ are): it reads the run's stats (stats.h),
 * the scheduler's in-flight count and the verify cache, which live here in
 * scanner/, and it is written on the status timer and at the end of the
 * run, not per record.  Each write goes to a temporary file in the same
 * directory, then rename(2)s over FILE, so the collector never reads half
 * a file.  The metrics object owns its provider tally; the scan owns it.
 *
 * mxscan_last_success_timestamp_seconds is the time a run last completed
 * (every domain scanned, every record written: exit status 0 or 3); a run
 * that fails or is cut short keeps the value the file had, read back when
 * the run starts, so "no success for 26 hours" alerts whatever happened.
 */
#ifndef MXS_METRICS_H
#define MXS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "scanner/stats.h"

typedef struct mxs_metrics_s mxs_metrics_t;

/* Prepares PATH: reads the last success time a previous run left in it,
 * and checks that a file can be created in its directory.  TOP: how many
 * providers get their own series.  0 and *out, or -1 with a message. */
int mxs_metrics_open(const char *path, int top, mxs_metrics_t **out, char *err, size_t errlen);

/* A failing record of the domain numbered SERIAL (any number that differs
 * from one domain to the next) at MX host MX: the domain counts once per
 * provider (the registrable domain of MX, as `mxscan report` has it). */
void mxs_metrics_fail(mxs_metrics_t *m, uint64_t serial, const char *mx);

typedef struct {
  const mxs_stats_t *stats;
  double now;              /* Unix time, seconds */
  uint64_t in_flight;      /* probes running */
  uint64_t queued;         /* probes waiting for the limits */
  uint64_t domains_read;   /* input domains read */
  uint64_t verify_lookups; /* chain verifications looked up ... */
  uint64_t verify_hits;    /* ... and answered by the cache */
  int running;             /* 1 mid-run, 0 at the end */
  int success;             /* at the end: the run completed */
} mxs_metrics_sample_t;

/* Writes the file from S.  0, or -1 with a message (the old file stays). */
int mxs_metrics_write(mxs_metrics_t *m, const mxs_metrics_sample_t *s, char *err, size_t errlen);

void mxs_metrics_free(mxs_metrics_t *m);

#endif
