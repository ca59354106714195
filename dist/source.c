/* redis_source.c - jobs from a Redis stream through a consumer group (see
 * redis_source.h).  One async connection through the project's adapter
 * (redis_uv.c); every reply is tagged with what it answers.
 *
 * Job slots hold a job from the moment it is read until its XACK is
 * answered: BUFFERED (read, not handed to the scan), INFLIGHT (being
 * scanned), ACKING (XACK sent; resent after a reconnect).  A token is a
 * slot index.  Entries already held (a claim racing our own heartbeat) are
 * skipped by id.
 */
#include "dist/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/table.h"
#include "redis/redis_conf.h"
#include "redis/redis_sync.h"
#include "redis/redis_uv.h"

enum { S_FREE, S_BUFFERED, S_INFLIGHT, S_ACKING };
enum { T_INIT = 1, T_CLAIM, T_READ, T_PENDING, T_ACK, T_BEAT, T_FINAL };
#define TAG(kind, n) ((uintptr_t)(kind) | ((uintptr_t)(n) << 8))

#define READ_COUNT       "16" /* small: jobs spread over the workers that ask */
#define BLOCK_MS         "1000"
#define RETRY_MS         500
#define CLOSE_TIMEOUT_MS 15000

typedef struct {
  char id[48];
  char domain[256];
  int state;
  size_t next_free;
} slot_t;

typedef struct {
  mxs_source_t src;
  uv_loop_t *loop;
  mxs_redis_conf_t conf;
  mxs_ruv_opts_t ropts;
  mxs_ruv_t *conn;
  int ready, fetching, want, eof, error, empty_read, follow, claim_idle_ms;
  uint64_t last_claim;
  char cursor[48];
  char k_jobs[300], k_meta[300], consumer[96];
  slot_t *slots;
  size_t nslots, free_head;         /* free list through next_free; nslots = none */
  size_t *buf, bhead, bcount, bcap; /* ring of BUFFERED slots, oldest first */
  size_t acking;
  mxs_table_t ids; /* entry id -> slot + 1 */
  uv_timer_t t_retry, t_beat, t_close;
  int closing, finishing, final_sent, handles;
  void (*close_cb)(void *arg);
  void *close_arg;
} rq_t;

static void fetch(rq_t *q);
static void connect_now(rq_t *q);
static void check_close(rq_t *q);

static void logq(const rq_t *q, const char *what, const char *why) {
  fprintf(stderr, "mxscan: redis jobs %s: %s: %s\n", q->conf.display, what, why);
}

static int cmd(rq_t *q, uintptr_t tag, int argc, const char **argv) {
  if (!q->conn || !q->ready) return -ENOTCONN;
  return mxs_ruv_command(q->conn, tag, argc, argv, NULL);
}

/* ---- slots ------------------------------------------------------------- */

static long slot_new(rq_t *q) {
  if (q->free_head == q->nslots) {
    size_t n = q->nslots ? q->nslots * 2 : 256;
    slot_t *s = realloc(q->slots, n * sizeof *s);
    if (!s) return -1;
    /* The list is empty when we grow, so its end marker is always nslots. */
    for (size_t i = q->nslots; i < n; i++) s[i] = (slot_t){.state = S_FREE, .next_free = i + 1};
    q->slots = s;
    q->free_head = q->nslots;
    q->nslots = n;
  }
  size_t i = q->free_head;
  q->free_head = q->slots[i].next_free;
  return (long)i;
}

static void slot_free(rq_t *q, size_t i) {
  mxs_table_del(&q->ids, q->slots[i].id);
  q->slots[i].state = S_FREE;
  q->slots[i].next_free = q->free_head;
  q->free_head = i;
}

static int buf_push(rq_t *q, size_t slot) {
  if (q->bcount == q->bcap) {
    size_t n = q->bcap ? q->bcap * 2 : 256;
    size_t *b = malloc(n * sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < q->bcount; i++) b[i] = q->buf[(q->bhead + i) % q->bcap];
    free(q->buf);
    q->buf = b;
    q->bhead = 0;
    q->bcap = n;
  }
  q->buf[(q->bhead + q->bcount++) % q->bcap] = slot;
  return 0;
}

/* One stream entry [id, [field, value, ...]] into a BUFFERED slot.  1 new,
 * 0 skipped (held already, deleted, no domain), -1 out of memory. */
static int take_entry(rq_t *q, const redisReply *e) {
  if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) return 0;
  const redisReply *id = e->element[0], *f = e->element[1];
  if (f->type != REDIS_REPLY_ARRAY || id->len >= sizeof q->slots[0].id || mxs_table_get(&q->ids, id->str)) return 0;
  const char *dom = NULL;
  for (size_t i = 0; i + 1 < f->elements; i += 2)
    if (f->element[i]->type == REDIS_REPLY_STRING && !strcmp(f->element[i]->str, "d") &&
        f->element[i + 1]->type == REDIS_REPLY_STRING && f->element[i + 1]->len < 254)
      dom = f->element[i + 1]->str;
  if (!dom) return 0;
  long i = slot_new(q);
  if (i < 0) return -1;
  slot_t *s = &q->slots[i];
  snprintf(s->id, sizeof s->id, "%s", id->str);
  snprintf(s->domain, sizeof s->domain, "%s", dom);
  s->state = S_BUFFERED;
  if (mxs_table_put(&q->ids, s->id, (void *)(uintptr_t)(i + 1)) < 0 || buf_push(q, (size_t)i) < 0) {
    slot_free(q, (size_t)i);
    return -1;
  }
  return 1;
}

static size_t take_entries(rq_t *q, const redisReply *arr) {
  size_t n = 0;
  if (!arr || arr->type != REDIS_REPLY_ARRAY) return 0;
  for (size_t i = 0; i < arr->elements; i++)
    if (take_entry(q, arr->element[i]) > 0) n++;
  return n;
}

/* ---- fetching ---------------------------------------------------------- */

static void delivered(rq_t *q) {
  q->fetching = 0;
  if (q->want && q->src.wake) {
    q->want = 0;
    q->src.wake(q->src.wake_arg);
  }
}

static void send_read(rq_t *q) {
  const char *av[] = {"XREADGROUP", "GROUP",  MXS_JOBS_GROUP, q->consumer, "COUNT", READ_COUNT,
                      "BLOCK",      BLOCK_MS, "STREAMS",      q->k_jobs,   ">"};
  if (cmd(q, T_READ, 11, av) < 0) q->fetching = 0;
}

/* Takes over jobs idle past claim_idle (a dead worker's), a page at a time,
 * before reading new ones; at most every claim_idle/2 unless the stream
 * looked drained. */
static void fetch(rq_t *q) {
  if (q->fetching || !q->ready || q->eof || q->error || q->closing) return;
  q->fetching = 1;
  uint64_t now = uv_now(q->loop);
  if (q->empty_read || now - q->last_claim >= (uint64_t)q->claim_idle_ms / 2) {
    char idle[24];
    snprintf(idle, sizeof idle, "%d", q->claim_idle_ms);
    const char *av[] = {"XAUTOCLAIM", q->k_jobs, MXS_JOBS_GROUP, q->consumer, idle, q->cursor, "COUNT", READ_COUNT};
    q->last_claim = now;
    if (cmd(q, T_CLAIM, 8, av) < 0) q->fetching = 0;
    return;
  }
  send_read(q);
}

static void on_claim(rq_t *q, const redisReply *r) {
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_STRING)
    snprintf(q->cursor, sizeof q->cursor, "%s", r->element[0]->str);
  size_t n = r->type == REDIS_REPLY_ARRAY && r->elements >= 2 ? take_entries(q, r->element[1]) : 0;
  if (n > 0) {
    delivered(q);
    return;
  }
  send_read(q);
}

static void on_read(rq_t *q, const redisReply *r) {
  size_t n = 0;
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
      r->element[0]->elements == 2)
    n = take_entries(q, r->element[0]->element[1]);
  q->empty_read = n == 0;
  if (n > 0) {
    delivered(q);
    return;
  }
  const char *av[] = {"XPENDING", q->k_jobs, MXS_JOBS_GROUP};
  if (cmd(q, T_PENDING, 3, av) < 0) q->fetching = 0;
}

/* Nothing new: the run is drained unless another worker still holds jobs
 * (it may die, and its jobs come to us through XAUTOCLAIM). */
static void on_pending(rq_t *q, const redisReply *r) {
  long long others = 0;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[3]->type == REDIS_REPLY_ARRAY) {
    const redisReply *cs = r->element[3];
    for (size_t i = 0; i < cs->elements; i++) {
      const redisReply *c = cs->element[i];
      if (c->type != REDIS_REPLY_ARRAY || c->elements != 2 || !strcmp(c->element[0]->str, q->consumer)) continue;
      others += strtoll(c->element[1]->str, NULL, 10);
    }
  }
  q->fetching = 0;
  if (others == 0 && !q->follow) {
    q->eof = 1;
    delivered(q);
    return;
  }
  if (q->want) fetch(q); /* BLOCK paces the loop */
}

/* ---- replies and the connection ---------------------------------------- */

static void on_ack(rq_t *q, size_t i) {
  if (i < q->nslots && q->slots[i].state == S_ACKING) {
    slot_free(q, i);
    q->acking--;
  }
  check_close(q);
}

static void cb_reply(void *arg, redisReply *r, uintptr_t tag) {
  rq_t *q = arg;
  if (!r) return; /* the connection is going: cb_down resets */
  int kind = (int)(tag & 0xff);
  if (r->type == REDIS_REPLY_ERROR) {
    logq(q, kind == T_ACK ? "XACK" : "reading jobs", r->str);
    if (kind == T_CLAIM || kind == T_READ || kind == T_PENDING) { /* e.g. NOGROUP: the run is gone */
      q->error = -EIO;
      delivered(q);
    }
    if (kind == T_FINAL) q->final_sent = 2;
    check_close(q);
    return;
  }
  switch (kind) {
  case T_CLAIM: on_claim(q, r); break;
  case T_READ: on_read(q, r); break;
  case T_PENDING: on_pending(q, r); break;
  case T_ACK: on_ack(q, tag >> 8); break;
  case T_FINAL:
    q->final_sent = 2;
    check_close(q);
    break;
  default: break;
  }
}

static void on_retry(uv_timer_t *h) { connect_now(h->data); }

static void close_handles(rq_t *q);

static void cb_down(void *arg, const char *why) {
  rq_t *q = arg;
  q->conn = NULL;
  q->ready = q->fetching = 0;
  if (q->final_sent == 1) q->final_sent = 0;
  if (q->finishing) {
    close_handles(q);
    return;
  }
  logq(q, "connection lost", why);
  uv_timer_start(&q->t_retry, on_retry, RETRY_MS, 0);
}

/* Queues AUTH/SELECT (pipelined: later commands run after them), resends
 * the acknowledgements that got no reply, and resumes reading. */
static void cb_connected(void *arg) {
  rq_t *q = arg;
  const mxs_redis_conf_t *c = &q->conf;
  char db[16];
  int bad = 0;
  if (c->password[0]) {
    const char *av[] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
    bad |= mxs_ruv_command(q->conn, T_INIT, c->user[0] ? 3 : 2, av, NULL) < 0;
  }
  if (c->db) {
    snprintf(db, sizeof db, "%d", c->db);
    const char *av[] = {"SELECT", db};
    bad |= mxs_ruv_command(q->conn, T_INIT, 2, av, NULL) < 0;
  }
  if (bad) return; /* going down: cb_down retries */
  q->ready = 1;
  for (size_t i = 0; i < q->nslots; i++) {
    if (q->slots[i].state != S_ACKING) continue;
    const char *av[] = {"XACK", q->k_jobs, MXS_JOBS_GROUP, q->slots[i].id};
    cmd(q, TAG(T_ACK, i), 4, av);
  }
  if (q->want) fetch(q);
  check_close(q);
}

static const mxs_ruv_cbs_t rq_cbs = {cb_connected, cb_reply, cb_down};

static void connect_now(rq_t *q) {
  char err[256];
  if (q->conn || q->finishing) return;
  if (mxs_ruv_connect(q->loop, &q->ropts, &rq_cbs, q, &q->conn, err, sizeof err) < 0) {
    q->conn = NULL;
    logq(q, "cannot connect", err);
    uv_timer_start(&q->t_retry, on_retry, RETRY_MS, 0);
  }
}

/* Keeps the jobs we hold from going idle, so that only a dead worker's are
 * taken over (XCLAIM to ourselves with JUSTID resets the idle time without
 * counting a delivery). */
static void on_beat(uv_timer_t *h) {
  rq_t *q = h->data;
  enum { CHUNK = 256 };
  const char *av[6 + CHUNK];
  int n = 0;
  for (size_t i = 0; i <= q->nslots; i++) {
    int last = i == q->nslots;
    if (!last && (q->slots[i].state == S_BUFFERED || q->slots[i].state == S_INFLIGHT)) av[5 + n++] = q->slots[i].id;
    if (n == CHUNK || (last && n > 0)) {
      av[0] = "XCLAIM", av[1] = q->k_jobs, av[2] = MXS_JOBS_GROUP, av[3] = q->consumer, av[4] = "0";
      av[5 + n] = "JUSTID";
      cmd(q, T_BEAT, 6 + n, av);
      n = 0;
    }
  }
}

/* ---- ops --------------------------------------------------------------- */

static int rq_next(mxs_source_t *src, char *out, size_t outlen, uint64_t *token) {
  rq_t *q = src->state;
  if (q->error) return q->error;
  if (q->bcount > 0) {
    size_t i = q->buf[q->bhead];
    q->bhead = (q->bhead + 1) % q->bcap;
    q->bcount--;
    q->slots[i].state = S_INFLIGHT;
    snprintf(out, outlen, "%s", q->slots[i].domain);
    *token = i;
    return MXS_SOURCE_DOMAIN;
  }
  if (q->eof) return MXS_SOURCE_EOF;
  q->want = 1;
  fetch(q);
  return MXS_SOURCE_AGAIN;
}

/* The domain's records are stored: acknowledge its job. */
static void rq_done(mxs_source_t *src, uint64_t token) {
  rq_t *q = src->state;
  if (token >= q->nslots || q->slots[token].state != S_INFLIGHT) return;
  q->slots[token].state = S_ACKING;
  q->acking++;
  const char *av[] = {"XACK", q->k_jobs, MXS_JOBS_GROUP, q->slots[token].id};
  cmd(q, TAG(T_ACK, token), 4, av); /* not connected: resent on connect */
}

static void on_handle_closed(uv_handle_t *h) {
  rq_t *q = h->data;
  if (--q->handles > 0) return;
  void (*cb)(void *) = q->close_cb;
  void *arg = q->close_arg;
  mxs_table_free(&q->ids);
  free(q->slots);
  free(q->buf);
  free(q);
  if (cb) cb(arg);
}

static void close_handles(rq_t *q) {
  uv_handle_t *hs[] = {(uv_handle_t *)&q->t_retry, (uv_handle_t *)&q->t_beat, (uv_handle_t *)&q->t_close};
  q->handles = 3;
  for (int i = 0; i < 3; i++) uv_close(hs[i], on_handle_closed);
}

static void finish(rq_t *q) {
  if (q->finishing) return;
  q->finishing = 1;
  uv_timer_stop(&q->t_retry);
  if (q->conn)
    mxs_ruv_close(q->conn, "closing"); /* cb_down closes the handles */
  else
    close_handles(q);
}

/* Once every acknowledgement is answered: a drained run is marked complete
 * (any worker may be the last; the fields are the same), then we go. */
static void check_close(rq_t *q) {
  if (!q->closing || q->finishing || q->acking > 0) return;
  if (q->eof && !q->error && !q->follow && q->final_sent != 2 && q->conn && q->ready) {
    if (q->final_sent == 0) {
      char now[32];
      time_t t = time(NULL);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
      const char *av[] = {"HSET", q->k_meta, "status", "complete", "finished_at", now};
      if (cmd(q, T_FINAL, 6, av) == 0) q->final_sent = 1;
    }
    return;
  }
  finish(q);
}

static void on_close_timeout(uv_timer_t *h) {
  rq_t *q = h->data;
  if (q->acking) logq(q, "closing", "some acknowledgements got no reply: those jobs will be scanned again");
  finish(q);
}

static void rq_close(mxs_source_t *src, void (*cb)(void *arg), void *arg) {
  rq_t *q = src->state;
  q->closing = 1;
  q->close_cb = cb;
  q->close_arg = arg;
  uv_timer_stop(&q->t_beat);
  uv_timer_start(&q->t_close, on_close_timeout, CLOSE_TIMEOUT_MS, 0);
  /* a blocked XREADGROUP would hold the close up to BLOCK_MS: drop it */
  if (q->fetching && q->conn && !q->acking) {
    finish(q);
    return;
  }
  check_close(q);
}

static const mxs_source_ops_t redis_source_ops = {"redis", rq_next, rq_done, NULL, rq_close};

/* The run must exist: enqueue made its stream and group. */
static int check_run(rq_t *q, const char *url, const mxs_redis_source_opts_t *o, char *err, size_t errlen) {
  redisContext *rc;
  if (mxs_redis_sync_open(url, o->prefix, &q->conf, &rc, err, errlen) < 0) return -1;
  const char *av[] = {"XINFO", "GROUPS", q->k_jobs};
  snprintf(q->k_jobs, sizeof q->k_jobs, "%s:jobs:%s", q->conf.prefix, o->run);
  snprintf(q->k_meta, sizeof q->k_meta, "%s:run:%s", q->conf.prefix, o->run);
  char msg[300];
  redisReply *r = mxs_redis_sync_cmd(rc, 3, av, NULL, msg, sizeof msg);
  int ok = 0;
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    const redisReply *g = r->element[i];
    for (size_t j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2)
      if (g->element[j]->type == REDIS_REPLY_STRING && !strcmp(g->element[j]->str, "name") &&
          g->element[j + 1]->type == REDIS_REPLY_STRING && !strcmp(g->element[j + 1]->str, MXS_JOBS_GROUP))
        ok = 1;
  }
  if (r) freeReplyObject(r);
  redisFree(rc);
  if (!ok)
    snprintf(err, errlen, "redis %s: run '%s' has no jobs (%s): run 'mxscan enqueue' first", q->conf.display, o->run,
             q->k_jobs);
  return ok ? 0 : -1;
}

int mxs_redis_source_open(uv_loop_t *loop, const mxs_redis_source_opts_t *o, mxs_source_t **out, char *err,
                          size_t errlen) {
  rq_t *q = calloc(1, sizeof *q);
  if (!q) return snprintf(err, errlen, "out of memory"), -1;
  if (check_run(q, o->url, o, err, errlen) < 0) {
    free(q);
    return -1;
  }
  const mxs_redis_conf_t *c = &q->conf;
  q->loop = loop;
  q->ropts = (mxs_ruv_opts_t){c->path[0] ? NULL : c->host, c->port, c->path[0] ? c->path : NULL, c->connect_timeout_ms,
                              c->command_timeout_ms};
  snprintf(q->consumer, sizeof q->consumer, "%s", o->worker);
  snprintf(q->cursor, sizeof q->cursor, "0-0");
  q->claim_idle_ms = o->claim_idle_ms > 0 ? o->claim_idle_ms : 60000;
  q->follow = o->follow;
  mxs_table_init(&q->ids);
  q->src.ops = &redis_source_ops;
  q->src.state = q;
  uv_timer_init(loop, &q->t_retry);
  uv_timer_init(loop, &q->t_beat);
  uv_timer_init(loop, &q->t_close);
  q->t_retry.data = q->t_beat.data = q->t_close.data = q;
  uv_unref((uv_handle_t *)&q->t_retry);
  uv_unref((uv_handle_t *)&q->t_beat);
  uint64_t beat = (uint64_t)q->claim_idle_ms / 3;
  uv_timer_start(&q->t_beat, on_beat, beat ? beat : 1, beat ? beat : 1);
  connect_now(q);
  *out = &q->src;
  return 0;
}
