/* url.h - the Redis URL of a distributed run, shared by scan --run and
 * the distributed commands (cli/cmd_enqueue.c, cmd_worker.c, cmd_collect.c). */
#ifndef MXS_DIST_URL_H
#define MXS_DIST_URL_H

#include <stddef.h>

/* cfg->redis_url with "run=RUN" (and "worker=W" when WORKER is not NULL)
 * added to its query, into OUT.  0, or -1 when it does not fit. */
int mxs_dist_url(const char *url, const char *run, const char *worker, char *out, size_t len);

#endif
