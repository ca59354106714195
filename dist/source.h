/* redis_source.h - a distributed run's job stream as a scan source.
 *
 * Jobs (one domain each) are entries of the stream <prefix>:jobs:<run>
 * that `mxscan enqueue` wrote; workers read them through the consumer
 * group "mxscan" (XREADGROUP ... BLOCK), so each job goes to one worker,
 * and acknowledge one (XACK) only when the scan says its records are
 * stored.  A job stays pending for its worker until then; the worker
 * refreshes the idle time of the jobs it holds (XCLAIM ... JUSTID to
 * itself) so that only the jobs of a dead worker go idle, and every worker
 * takes over jobs idle for longer than claim_idle (XAUTOCLAIM).  The source
 * ends when the stream is drained and no other worker holds a job (or
 * never, with follow).
 */
#ifndef MXS_REDIS_SOURCE_H
#define MXS_REDIS_SOURCE_H

#include <stddef.h>
#include <uv.h>

#include "queue/source.h"

typedef struct {
  const char *url;    /* redis://... as for the exporter (borrowed) */
  const char *prefix; /* NULL: the URL's or the default */
  const char *run;    /* the run id from `mxscan enqueue` */
  const char *worker; /* this worker's consumer name */
  int claim_idle_ms;  /* take over jobs idle this long */
  int follow;         /* keep waiting for jobs when the stream is drained */
} mxs_redis_source_opts_t;

#define MXS_JOBS_GROUP "mxscan"

/* Checks that the run's job stream and group exist (blocking, bounded by
 * the connection timeouts), then starts reading on LOOP.  O is copied.  0
 * and *out (closed through its ops), or -1 with a message in ERR. */
int mxs_redis_source_open(uv_loop_t *loop, const mxs_redis_source_opts_t *o, mxs_source_t **out, char *err,
                          size_t errlen);

#endif
