/* dist.h - helpers shared by the distributed commands (cmd_enqueue.c,
 * cmd_worker.c, cmd_collect.c). */
#ifndef MXS_DIST_H
#define MXS_DIST_H

#include <stddef.h>

#include "scanner/config.h"

/* cfg->redis_url with "run=RUN" (and "worker=W" when WORKER is not NULL)
 * added to its query, into OUT.  0, or -1 when it does not fit. */
int mxs_dist_url(const char *url, const char *run, const char *worker, char *out, size_t len);

#endif
