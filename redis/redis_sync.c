/* redis_sync.c - blocking connections for the distributed commands. */
#include "redis/redis_sync.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

static struct timeval ms_tv(int ms) { return (struct timeval){ms / 1000, (ms % 1000) * 1000}; }

redisReply *mxs_redis_sync_cmd(redisContext *rc, int argc, const char **argv, const size_t *argvlen, char *err,
                               size_t errlen) {
  redisReply *r = redisCommandArgv(rc, argc, argv, argvlen);
  if (!r) {
    snprintf(err, errlen, "%s: %s", argv[0], rc->errstr[0] ? rc->errstr : "no reply");
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(err, errlen, "%s: %s", argv[0], r->str);
    freeReplyObject(r);
    return NULL;
  }
  return r;
}

static int login(redisContext *rc, const mxs_redis_conf_t *c, char *err, size_t errlen) {
  redisReply *r;
  if (c->password[0]) {
    const char *av[] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
    if (!(r = mxs_redis_sync_cmd(rc, c->user[0] ? 3 : 2, av, NULL, err, errlen))) return -1;
    freeReplyObject(r);
  }
  if (c->db) {
    char db[16];
    snprintf(db, sizeof db, "%d", c->db);
    const char *av[] = {"SELECT", db};
    if (!(r = mxs_redis_sync_cmd(rc, 2, av, NULL, err, errlen))) return -1;
    freeReplyObject(r);
  }
  return 0;
}

int mxs_redis_sync_open(const char *url, const char *prefix, mxs_redis_conf_t *c, redisContext **out, char *err,
                        size_t errlen) {
  if (mxs_redis_conf_parse(url, c, err, errlen) < 0) return -1;
  if (prefix && snprintf(c->prefix, sizeof c->prefix, "%s", prefix) >= (int)sizeof c->prefix) {
    snprintf(err, errlen, "--redis-prefix: too long");
    return -1;
  }
  struct timeval ct = ms_tv(c->connect_timeout_ms);
  redisContext *rc =
      c->path[0] ? redisConnectUnixWithTimeout(c->path, ct) : redisConnectWithTimeout(c->host, c->port, ct);
  if (!rc || rc->err) {
    snprintf(err, errlen, "redis %s: cannot connect: %s", c->display, rc ? rc->errstr : "out of memory");
    if (rc) redisFree(rc);
    return -1;
  }
  redisSetTimeout(rc, ms_tv(c->command_timeout_ms));
  char msg[300];
  if (login(rc, c, msg, sizeof msg) < 0) {
    snprintf(err, errlen, "redis %s: %s", c->display, msg);
    redisFree(rc);
    return -1;
  }
  *out = rc;
  return 0;
}

void mxs_redis_worker_name(char *out, size_t len) {
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (*p <= ' ' || *p >= 127 || *p == '/') *p = '_';
  unsigned rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (unsigned)getpid() * 2654435761u;
  snprintf(out, len, "%s-%d-%04x", host, (int)getpid(), rnd & 0xffff);
}
