/* redis_sync.h - blocking hiredis connections for the short distributed
 * commands (enqueue, collect, status) and the worker's start-up checks.
 *
 * The same URL, password and options as the exporter (redis_conf.h); the
 * connect and command timeouts apply, so a dead server fails in seconds.
 */
#ifndef MXS_REDIS_SYNC_H
#define MXS_REDIS_SYNC_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "redis/redis_conf.h"

/* Parses URL into *conf (PREFIX, when not NULL, overrides its prefix),
 * connects, authenticates and selects the database.  0 and *out (the
 * caller redisFree()s it), or -1 with a message in ERR. */
int mxs_redis_sync_open(const char *url, const char *prefix, mxs_redis_conf_t *conf, redisContext **out, char *err,
                        size_t errlen);

/* One command; the reply (caller frees) or NULL with a message in ERR
 * (connection error or an error reply). */
redisReply *mxs_redis_sync_cmd(redisContext *rc, int argc, const char **argv, const size_t *argvlen, char *err,
                               size_t errlen);

/* A name for this process among a run's workers: host-pid-random. */
void mxs_redis_worker_name(char *out, size_t len);

#endif
