/* report_run.h - what `mxscan report --html` knows about a run beyond its
 * records: the scan's --summary file (times, rejected lines, the verify
 * cache, what the run cost the machine) or a Redis run's metadata hash
 * (P:run:ID: status, times, host, command line).
 *
 * Both are kept as flat key/value pairs ("resources.cpu_user_s" -> "1.250"),
 * in the order read, so fields added to the summary later show up in the
 * report without a change here.  The run info owns every string.
 */
#ifndef MXS_REPORT_RUN_H
#define MXS_REPORT_RUN_H

#include <stddef.h>

typedef struct {
  char *key, *val;
  int is_str; /* the value was a JSON string (else a number, true, false, null) */
} mxs_kv_t;

typedef struct {
  char *source; /* "summary FILE" or "redis run ID"; NULL: nothing known */
  mxs_kv_t *kv; /* owned */
  size_t n, cap;
} mxs_run_info_t;

void mxs_run_info_init(mxs_run_info_t *ri);
void mxs_run_info_free(mxs_run_info_t *ri);

/* Reads the JSON object in PATH (the scan's --summary) into RI.  0, or -1
 * with a message naming the file and the byte offset in ERR. */
int mxs_run_info_summary(mxs_run_info_t *ri, const char *path, char *err, size_t errlen);

/* Reads the hash PREFIX:run:RUN from Redis at URL into RI ("redis.FIELD").
 * 0, or -1 with a message in ERR. */
int mxs_run_info_redis(mxs_run_info_t *ri, const char *url, const char *prefix, const char *run, char *err,
                       size_t errlen);

/* The value of KEY, or NULL. */
const char *mxs_run_info_get(const mxs_run_info_t *ri, const char *key);

#endif
