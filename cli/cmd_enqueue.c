/* cmd_enqueue.c - `mxscan enqueue`: a domain list into a run's job stream.
 *
 * Key layout (README "Redis output"): the jobs are entries of the stream
 * P:jobs:ID, field `d` the normalised domain; the consumer group "mxscan"
 * on it is created first (from the stream's start), so workers may start
 * before the list is loaded; P:run:ID gets the run's metadata (jobs,
 * status queued) and P:runs the run id.  XADDs are pipelined in batches:
 * one round trip per batch is what makes millions of jobs take seconds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "dist/source.h"
#include "queue/input.h"
#include "redis/redis_sync.h"

#define BATCH 2000

typedef struct {
  redisContext *rc;
  const char *k_jobs;
  unsigned long added, rejected, repeats;
  int pending; /* XADDs sent whose reply is not read yet */
  char err[300];
} enq_t;

static void on_bad_line(void *arg, const char *name, unsigned long lineno, const char *line, const char *why) {
  enq_t *q = arg;
  q->rejected++;
  fprintf(stderr, "mxscan: %s:%lu: invalid domain '%s': %s (skipped)\n", name, lineno, line, why);
}

/* A domain an earlier line gave is one job, not two (README). */
static void on_repeat(void *arg, const char *name, unsigned long lineno, const char *domain) {
  enq_t *q = arg;
  mxs_input_print_repeat(stderr, name, lineno, domain, ++q->repeats);
}

/* Reads the replies of the batch sent; -1 on the first error. */
static int drain(enq_t *q) {
  int rc = 0;
  for (; q->pending > 0; q->pending--) {
    redisReply *r = NULL;
    if (redisGetReply(q->rc, (void **)&r) != REDIS_OK || !r) {
      snprintf(q->err, sizeof q->err, "XADD: %s", q->rc->errstr[0] ? q->rc->errstr : "no reply");
      return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && rc == 0) {
      snprintf(q->err, sizeof q->err, "XADD: %s", r->str);
      rc = -1;
    }
    freeReplyObject(r);
  }
  return rc;
}

static int load(enq_t *q, mxs_input_t *in) {
  char dom[256];
  int rc;
  while ((rc = mxs_input_next(in, dom, sizeof dom, NULL)) == 1) {
    const char *av[] = {"XADD", q->k_jobs, "*", "d", dom};
    if (redisAppendCommandArgv(q->rc, 5, av, NULL) != REDIS_OK) {
      snprintf(q->err, sizeof q->err, "out of memory");
      return -1;
    }
    q->added++;
    if (++q->pending == BATCH && drain(q) < 0) return -1;
  }
  if (rc < 0) {
    snprintf(q->err, sizeof q->err, "reading the input: %s", strerror(-rc));
    return -1;
  }
  return drain(q);
}

/* A run id like the exporter's: UTC time + 32 random bits. */
static void new_run_id(char *out, size_t len) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  unsigned rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (unsigned)tv.tv_usec;
  char ts[20];
  strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(out, len, "%s-%08x", ts, rnd);
}

/* The group first (from the start of the stream, made if missing), then
 * the metadata; jobs are counted as they are added. */
static int prepare(enq_t *q, const char *k_meta, const char *k_runs, const char *run, const char *prefix) {
  const char *grp[] = {"XGROUP", "CREATE", q->k_jobs, MXS_JOBS_GROUP, "0", "MKSTREAM"};
  redisReply *r = redisCommandArgv(q->rc, 6, grp, NULL);
  if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)) {
    snprintf(q->err, sizeof q->err, "XGROUP CREATE: %s", r ? r->str : q->rc->errstr);
    if (r) freeReplyObject(r);
    return -1;
  }
  freeReplyObject(r);
  char now[32], unix_s[24];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(unix_s, sizeof unix_s, "%lld", (long long)t);
  const char *meta[] = {"HSET",        k_meta, "run",    run,      "prefix",      prefix,
                        "enqueued_at", now,    "status", "queued", "distributed", "1"};
  const char *runs[] = {"ZADD", k_runs, "NX", unix_s, run};
  if (!(r = mxs_redis_sync_cmd(q->rc, 12, meta, NULL, q->err, sizeof q->err))) return -1;
  freeReplyObject(r);
  if (!(r = mxs_redis_sync_cmd(q->rc, 5, runs, NULL, q->err, sizeof q->err))) return -1;
  freeReplyObject(r);
  return 0;
}

static int finish(enq_t *q, const char *k_meta) {
  char n[24], rej[24];
  snprintf(n, sizeof n, "%lu", q->added);
  snprintf(rej, sizeof rej, "%lu", q->rejected);
  const char *inc[] = {"HINCRBY", k_meta, "jobs", n};
  const char *inc2[] = {"HINCRBY", k_meta, "rejected_lines", rej};
  redisReply *r;
  if (!(r = mxs_redis_sync_cmd(q->rc, 4, inc, NULL, q->err, sizeof q->err))) return -1;
  freeReplyObject(r);
  if (!(r = mxs_redis_sync_cmd(q->rc, 4, inc2, NULL, q->err, sizeof q->err))) return -1;
  freeReplyObject(r);
  return 0;
}

int mxs_cmd_enqueue(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_config_defaults(&cfg);
  int rc = mxs_config_parse(&cfg, argc, argv, stderr);
  if (rc > 0) {
    puts(
        "usage: mxscan enqueue --redis URL [--run ID] [--redis-prefix P] [--keep-duplicates] DOMAINS|-\n\n"
        "Loads the list (one domain per line, checked and normalised as 'mxscan scan'\n"
        "does, a domain once however often the list repeats it) as the jobs of run ID\n"
        "(new when not given) and prints the run id.");
    mxs_config_free(&cfg);
    return 0;
  }
  if (rc < 0 || !cfg.redis_url) {
    if (rc == 0) fprintf(stderr, "mxscan enqueue: --redis URL is required\n");
    mxs_config_free(&cfg);
    return 2;
  }
  char run[48], k_jobs[300], k_meta[300], k_runs[200], err[512];
  snprintf(run, sizeof run, "%s", cfg.redis_run ? cfg.redis_run : "");
  if (!run[0]) new_run_id(run, sizeof run);
  mxs_redis_conf_t conf;
  enq_t q = {0};
  FILE *fp = strcmp(cfg.input, "-") ? fopen(cfg.input, "r") : stdin;
  mxs_input_t *in = fp ? mxs_input_new(fp, cfg.input, on_bad_line, &q) : NULL;
  if (in && !cfg.keep_duplicates) mxs_input_skip_repeats(in, on_repeat, &q);
  if (!in) {
    fprintf(stderr, "mxscan: cannot open input '%s': %s\n", cfg.input, strerror(errno));
    if (fp && fp != stdin) fclose(fp);
    mxs_config_free(&cfg);
    return 2;
  }
  if (mxs_redis_sync_open(cfg.redis_url, cfg.redis_prefix, &conf, &q.rc, err, sizeof err) < 0) {
    fprintf(stderr, "mxscan: %s\n", err);
    mxs_input_free(in);
    mxs_config_free(&cfg);
    return 2;
  }
  snprintf(k_jobs, sizeof k_jobs, "%s:jobs:%s", conf.prefix, run);
  snprintf(k_meta, sizeof k_meta, "%s:run:%s", conf.prefix, run);
  snprintf(k_runs, sizeof k_runs, "%s:runs", conf.prefix);
  q.k_jobs = k_jobs;
  rc = prepare(&q, k_meta, k_runs, run, conf.prefix) < 0 || load(&q, in) < 0 || finish(&q, k_meta) < 0;
  if (rc)
    fprintf(stderr, "mxscan: redis %s: %s (%lu job(s) added)\n", conf.display, q.err, q.added);
  else
    fprintf(stderr, "mxscan: %lu job(s) into run %s (%s), %lu line(s) rejected, %lu repeating a domain (skipped)\n",
            q.added, run, k_jobs, q.rejected, q.repeats);
  if (!rc) printf("%s\n", run);
  redisFree(q.rc);
  mxs_input_free(in);
  mxs_config_free(&cfg);
  return rc ? 1 : 0;
}
