/* stats.h - class counts of a run, the operator's table and the JSON summary. */
#ifndef MXS_STATS_H
#define MXS_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "scanner/classify.h"

typedef struct {
  uint64_t probes[MXS_CLASS_COUNT];  /* records by class */
  uint64_t domains[MXS_CLASS_COUNT]; /* domains by their class (see README) */
  uint64_t nprobes, ndomains;
  uint64_t lines_rejected;           /* input lines that were not domains */
  uint64_t write_errors;             /* records an exporter failed to take */
  int64_t started, finished;         /* unix time */
  int interrupted;                   /* stopped by a signal before the end */
} mxs_stats_t;

/* The class table for people: one row per class seen, counts and shares. */
void mxs_stats_print(const mxs_stats_t *s, FILE *fp);

/* The same as JSON into PATH.  0, or -errno with a message in err. */
int mxs_stats_write_json(const mxs_stats_t *s, const char *path, char *err, size_t errlen);

#endif
