/* redis_conf.h - the Redis exporter's target: URL, password, options.
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]
 *   unix:///path/to/redis.sock[?db=N&OPTIONS]
 *
 * OPTIONS (all optional, "&"-separated) override the environment, which
 * overrides the defaults:
 *   prefix=P           key prefix (MXSCAN_REDIS_PREFIX, "mxscan")
 *   maxlen=N           approximate stream length cap (MXSCAN_REDIS_MAXLEN, 10000000)
 *   window=N           records sent and not yet acknowledged, at most (10000)
 *   batch=N            records per script call (64)
 *   connect_timeout=S  seconds (5)      command_timeout=S  seconds (10)
 *   down_limit=S       seconds Redis may stay down before records spill to a
 *                      local file (MXSCAN_REDIS_DOWN_LIMIT, 30)
 *   close_timeout=S    seconds close() waits for the last replies (60)
 *   spill_dir=DIR      where the spill file goes (MXSCAN_REDIS_SPILL_DIR, ".")
 *   db=N               database (also the /DB path)
 *   run=ID             write into run ID instead of a new one (mxscan worker)
 *   worker=W           this process is worker W of the run: its sequence
 *                      numbers and metadata are its own (see redis_int.h)
 * The password comes from the URL, else MXSCAN_REDIS_PASSWORD, else
 * REDISCLI_AUTH.  It is never printed: `display` is the URL with it masked.
 */
#ifndef MXS_REDIS_CONF_H
#define MXS_REDIS_CONF_H

#include <stddef.h>

typedef struct {
  char host[256];
  int port;
  char path[256]; /* unix socket when non-empty */
  char user[128];
  char password[256];
  int db;
  char prefix[128];
  long long maxlen;
  int window;
  int batch;
  int connect_timeout_ms;
  int command_timeout_ms;
  int down_limit_ms;
  int close_timeout_ms;
  char spill_dir[256];
  char run[48];      /* run=ID: write into this run (a distributed run); "" = a new run id */
  char worker[96];   /* worker=W: one of several writers of the run (own seq space) */
  char display[256]; /* the URL as given, password replaced by "***" */
} mxs_redis_conf_t;

#define MXS_REDIS_MAX_BATCH 256

/* Parses URL (borrowed) and the environment into C.  Returns 0, or -EINVAL
 * with a message in ERR that never contains the password. */
int mxs_redis_conf_parse(const char *url, mxs_redis_conf_t *c, char *err, size_t errlen);

/* Copies IN to OUT with the password part of any "scheme://user:pw@"
 * replaced by "***"; for URLs in messages and in recorded command lines. */
void mxs_redis_mask(const char *in, char *out, size_t outlen);

#endif
