/* redis_setup.c - the Redis exporter's run: id, key names, the blocking
 * check at open, the per-connection setup commands, the run's metadata and
 * the spill file.  The queue and the connection logic are in redis.c.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "exporters/redis_int.h"

#ifndef MXS_VERSION
#define MXS_VERSION "unknown"
#endif

/* The batch script.  KEYS: stream, class counters, seq bitmap, run
 * metadata, the run's record identities, then one domain hash per record.
 * ARGV: maxlen, run id, worker ("" outside a distributed run), then per
 * record: seq, hash field, class, msgpack.
 *
 * Two guards, both needed.  The SETBIT guard makes a resent record (the
 * same worker, the same seq, after a reconnect) a no-op; it comes first so
 * that an OOM refusal (checked at a script's first write) leaves nothing
 * behind.  In a distributed run a job taken over from a worker that died
 * after storing some records is scanned again by another worker, whose
 * records have other seqs: the HSETNX on the identity domain|mx|ip (the
 * domain hash key and field) stores each (domain, MX, address) of the run
 * once, the first to arrive, so the stream and the class counters hold it
 * once.  (A single scan produces each identity once: no hash needed.)
 * Returns the number of records applied now (the others were already). */
static const char batch_script[] =
    "local n = #KEYS - 5\n"
    "local new = 0\n"
    "local dist = ARGV[3] ~= ''\n"
    "for i = 1, n do\n"
    "  local a = 4 + (i - 1) * 4\n"
    "  if redis.call('SETBIT', KEYS[3], ARGV[a], 1) == 0 and\n"
    "     (not dist or redis.call('HSETNX', KEYS[5], KEYS[5 + i] .. '|' .. ARGV[a + 1], 1) == 1) then\n"
    "    if not dist then\n"
    "      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'run', ARGV[2], 'seq', ARGV[a], 'r', ARGV[a + 3])\n"
    "    else\n"
    "      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'run', ARGV[2], 'seq', ARGV[a], 'r', ARGV[a + 3],\n"
    "                 'worker', ARGV[3])\n"
    "    end\n"
    "    redis.call('HSET', KEYS[5 + i], ARGV[a + 1], ARGV[a + 3])\n"
    "    redis.call('HINCRBY', KEYS[2], ARGV[a + 2], 1)\n"
    "    new = new + 1\n"
    "  end\n"
    "end\n"
    "if new > 0 then redis.call('HINCRBY', KEYS[4], 'records', new) end\n"
    "return new\n";

static struct timeval ms_tv(int ms) { return (struct timeval){ms / 1000, (ms % 1000) * 1000}; }

/* One blocking command; 0 with *OUT (caller frees) or -1 with a message. */
static int sync_cmd(redisContext *rc, int argc, const char **argv, redisReply **out, char *err, size_t errlen) {
  redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
  if (!r) {
    snprintf(err, errlen, "%s: %s", argv[0], rc->errstr[0] ? rc->errstr : "no reply");
    return -1;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(err, errlen, "%s: %s", argv[0], r->str);
    freeReplyObject(r);
    return -1;
  }
  *out = r;
  return 0;
}

/* AUTH and SELECT on a blocking context. */
static int sync_login(rs_t *s, redisContext *rc, char *msg, size_t msglen) {
  const mxs_redis_conf_t *c = &s->conf;
  redisReply *r;
  char db[16];
  if (c->password[0]) {
    const char *av[] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
    if (sync_cmd(rc, c->user[0] ? 3 : 2, av, &r, msg, msglen) < 0) return -1;
    freeReplyObject(r);
  }
  if (c->db) {
    snprintf(db, sizeof db, "%d", c->db);
    const char *av[] = {"SELECT", db};
    if (sync_cmd(rc, 2, av, &r, msg, msglen) < 0) return -1;
    freeReplyObject(r);
  }
  return 0;
}

/* Connects, logs in, checks for streams (Redis >= 5) and loads the script,
 * so that a wrong address, password or database fails the run at once
 * instead of spilling after down_limit. */
static int probe(rs_t *s, char *err, size_t errlen) {
  const mxs_redis_conf_t *c = &s->conf;
  struct timeval ct = ms_tv(c->connect_timeout_ms);
  redisContext *rc =
      c->path[0] ? redisConnectUnixWithTimeout(c->path, ct) : redisConnectWithTimeout(c->host, c->port, ct);
  if (!rc) {
    snprintf(err, errlen, "redis %s: out of memory", c->display);
    return -ENOMEM;
  }
  char msg[300] = "";
  redisReply *r = NULL;
  int ret = -ECONNREFUSED;
  if (rc->err) {
    snprintf(msg, sizeof msg, "cannot connect: %s", rc->errstr);
    goto out;
  }
  redisSetTimeout(rc, ms_tv(c->command_timeout_ms));
  ret = -EINVAL;
  if (sync_login(s, rc, msg, sizeof msg) < 0) goto out;
  mxs_rs_check_persistence(s, rc);
  /* An ACL user may not be allowed COMMAND: then the first batch tells. */
  const char *info[] = {"COMMAND", "INFO", "XADD"};
  int no_xadd = 0;
  if ((r = redisCommandArgv(rc, 3, info, NULL))) {
    no_xadd = r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
  }
  if (no_xadd) {
    snprintf(msg, sizeof msg, "this server has no streams (XADD): Redis 5 or later is needed");
    goto out;
  }
  const char *load[] = {"SCRIPT", "LOAD", batch_script};
  if (sync_cmd(rc, 3, load, &r, msg, sizeof msg) < 0) goto out;
  if (r->type == REDIS_REPLY_STRING && r->len < sizeof s->sha) {
    snprintf(s->sha, sizeof s->sha, "%s", r->str);
    ret = 0;
  } else {
    snprintf(msg, sizeof msg, "SCRIPT LOAD: unexpected reply");
  }
  freeReplyObject(r);
out:
  if (ret < 0) snprintf(err, errlen, "redis %s: %s", c->display, msg);
  redisFree(rc);
  return ret;
}

/* The command line for the run's metadata, with URL passwords masked. */
static char *read_cmdline(void) {
  char buf[4096];
  size_t n = 0;
  FILE *fp = fopen("/proc/self/cmdline", "rb");
  if (fp) {
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
  }
  buf[n] = '\0';
  char *out = malloc(2 * n + 16), *o = out;
  if (!out) return NULL;
  *o = '\0';
  for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
    char masked[1024];
    mxs_redis_mask(buf + i, masked, sizeof masked);
    o += sprintf(o, "%s%s", o == out ? "" : " ", masked);
  }
  return out;
}

/* UTC time + 32 random bits: sortable, and unique across machines. */
static void make_run_id(rs_t *s) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  unsigned int rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (unsigned)tv.tv_usec ^ ((unsigned)getpid() << 16);
  char ts[20];
  strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(s->run_id, sizeof s->run_id, "%s-%08x", ts, rnd);
  mxs_rfc3339((int64_t)tv.tv_sec, s->started_at);
  snprintf(s->started_unix, sizeof s->started_unix, "%lld.%03d", (long long)tv.tv_sec, (int)(tv.tv_usec / 1000));
}

int mxs_rs_setup(rs_t *s, char *err, size_t errlen) {
  const mxs_redis_conf_t *c = &s->conf;
  make_run_id(s);
  if (c->run[0]) snprintf(s->run_id, sizeof s->run_id, "%s", c->run);
  const char *p = c->prefix, *id = s->run_id;
  snprintf(s->k_stream, sizeof s->k_stream, "%s:results", p);
  snprintf(s->k_classes, sizeof s->k_classes, "%s:run:%s:classes", p, id);
  /* Several workers write one run: each numbers its records from 0, so each
   * has its own bitmap and metadata hash; the class counters are shared. */
  if (c->worker[0]) {
    snprintf(s->k_seqs, sizeof s->k_seqs, "%s:run:%s:worker:%s:seqs", p, id, c->worker);
    snprintf(s->k_meta, sizeof s->k_meta, "%s:run:%s:worker:%s", p, id, c->worker);
  } else {
    snprintf(s->k_seqs, sizeof s->k_seqs, "%s:run:%s:seqs", p, id);
    snprintf(s->k_meta, sizeof s->k_meta, "%s:run:%s", p, id);
  }
  snprintf(s->k_seen, sizeof s->k_seen, "%s:run:%s:seen", p, id);
  snprintf(s->k_runs, sizeof s->k_runs, "%s:runs", p);
  snprintf(s->k_domain, sizeof s->k_domain, "%s:domain:", p);
  snprintf(s->maxlen_s, sizeof s->maxlen_s, "%lld", c->maxlen);
  s->ropts = (mxs_ruv_opts_t){c->path[0] ? NULL : c->host, c->port, c->path[0] ? c->path : NULL, c->connect_timeout_ms,
                              c->command_timeout_ms};
  if (!(s->args = read_cmdline())) return -ENOMEM;
  return probe(s, err, errlen);
}

int mxs_rs_send_init(rs_t *s, uintptr_t tag) {
  const mxs_redis_conf_t *c = &s->conf;
  int n = 0;
  char db[16], pid[16], host[256] = "";
  if (c->password[0]) {
    const char *av[] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
    if (mxs_ruv_command(s->conn, tag, c->user[0] ? 3 : 2, av, NULL) < 0) return -1;
    n++;
  }
  if (c->db) {
    snprintf(db, sizeof db, "%d", c->db);
    const char *av[] = {"SELECT", db};
    if (mxs_ruv_command(s->conn, tag, 2, av, NULL) < 0) return -1;
    n++;
  }
  /* Reloaded on every connection: a restarted Redis has lost its scripts. */
  const char *load[] = {"SCRIPT", "LOAD", batch_script};
  if (mxs_ruv_command(s->conn, tag, 3, load, NULL) < 0) return -1;
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  gethostname(host, sizeof host - 1);
  /* Idempotent, so it is simply rewritten on every connection. */
  const char *meta[] = {"HSET",    s->k_meta,   "run",  s->run_id, "started_at", s->started_at,
                        "version", MXS_VERSION, "host", host,      "pid",        pid,
                        "prefix",  c->prefix,   "args", s->args,   "status",     "running"};
  if (mxs_ruv_command(s->conn, tag, (int)(sizeof meta / sizeof meta[0]), meta, NULL) < 0) return -1;
  const char *runs[] = {"ZADD", s->k_runs, "NX", s->started_unix, s->run_id};
  if (mxs_ruv_command(s->conn, tag, 5, runs, NULL) < 0) return -1;
  return n + 3;
}

int mxs_rs_send_final(rs_t *s, uintptr_t tag) {
  char now[24], produced[24], spilled[24], first[24], missing[24], recovered[24];
  mxs_rfc3339((int64_t)time(NULL), now);
  snprintf(produced, sizeof produced, "%llu", (unsigned long long)s->next_seq);
  snprintf(spilled, sizeof spilled, "%llu", (unsigned long long)s->spilled);
  snprintf(first, sizeof first, "%llu", (unsigned long long)s->spill_first_seq);
  snprintf(missing, sizeof missing, "%llu", (unsigned long long)s->missing);
  snprintf(recovered, sizeof recovered, "%llu", (unsigned long long)s->recovered);
  /* Records Redis acknowledged and lost make the run incomplete even when
   * the spill file has them: Redis does not. */
  const char *status = s->lost || s->missing ? "incomplete" : s->spilled ? "spilled" : "complete";
  const char *av[20];
  int argc = 0;
#define KV(k, v) (av[argc++] = (k), av[argc++] = (v))
  av[argc++] = "HSET";
  av[argc++] = s->k_meta;
  KV("finished_at", now);
  KV("status", status);
  KV("produced", produced);
  if (s->spilled) {
    KV("spilled", spilled);
    KV("spill_file", s->spill_path);
    KV("spill_first_seq", first);
  }
  if (s->missing) {
    KV("missing", missing);
    KV("recovered", recovered);
    if (s->recovered) KV("recovered_file", s->recover_path);
  }
#undef KV
  return mxs_ruv_command(s->conn, tag, argc, av, NULL) < 0 ? -1 : 0;
}

int mxs_rs_spill_write(rs_t *s, const void *data, size_t len) {
  if (!s->spill) {
    if (s->spill_failed) return -EIO;
    snprintf(s->spill_path, sizeof s->spill_path, "%s/%s-spill-%s%s%s.msgpack", s->conf.spill_dir, s->conf.prefix,
             s->run_id, s->conf.worker[0] ? "-" : "", s->conf.worker);
    if (!(s->spill = fopen(s->spill_path, "wb"))) {
      int e = errno;
      s->spill_failed = 1;
      mxs_rs_log(s, "%s, and cannot open spill file %s: %s: records are LOST", s->spill_reason, s->spill_path,
                 strerror(e));
      return -e;
    }
    mxs_rs_log(s, "%s: unacknowledged and later records go to %s (its first record is run %s seq %llu)",
               s->spill_reason, s->spill_path, s->run_id, (unsigned long long)s->spill_first_seq);
  }
  if (fwrite(data, 1, len, s->spill) != len) {
    if (!s->spill_failed) mxs_rs_log(s, "writing %s: %s: records are LOST", s->spill_path, strerror(errno));
    s->spill_failed = 1;
    return -EIO;
  }
  return 0;
}
