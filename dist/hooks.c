/* redis_hooks.c - probe-once and shared politeness across workers (see
 * redis_hooks.h).  One async connection of its own (redis_uv.c), so a
 * claim or a permit never queues behind the exporter's batches.
 *
 * Every question the scan asks is a request in one list until its answer
 * is final: a claim while it waits for another worker's verdict, a permit
 * until the bucket answers, a publish until Redis stored it.  A request is
 * sent when due and not in flight; the tag of a command is its request, so
 * a lost connection just clears `inflight` and the requests go again after
 * the reconnect (every script is safe to run twice).
 */
#include "dist/hooks.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/table.h"
#include "redis/redis_conf.h"
#include "redis/redis_uv.h"
#include "scanner/scan.h"
#include "probe/verdict_codec.h"

#define TICK_MS    100
#define POLL_MS    200 /* a waiting claim asks again this often */
#define RETRY_MS   500
#define TAG_IGNORE 1 /* setup and heartbeat commands: replies not needed */

/* A waiting claim: the verdict, or the claim if it lapsed, or "wait". */
static const char claim_lua[] =
    "local v = redis.call('GET', KEYS[2])\n"
    "if v then return {1, v} end\n"
    "local c = redis.call('GET', KEYS[1])\n"
    "if not c or c == ARGV[1] then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return {0}\n"
    "end\n"
    "return {2}\n";
/* Refresh (ARGV[2] ms) or drop ("0") a claim, only if it is still ours:
 * a lapsed claim may have gone to another worker meanwhile. */
static const char hold_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end\n"
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n";
/* Token bucket on Redis' clock (the workers' clocks may disagree): takes
 * a token and returns 0, or returns the ms until one is due. */
static const char bucket_lua[] =
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, ts = tonumber(b[1]) or burst, tonumber(b[2]) or now\n"
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000); ts = now end\n"
    "local wait = 0\n"
    "if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)\n"
    "return wait\n";

enum { SC_CLAIM, SC_HOLD, SC_BUCKET, SC_COUNT };
static const char *const scripts[SC_COUNT] = {claim_lua, hold_lua, bucket_lua};

enum { R_CLAIM, R_PERMIT, R_PUBLISH, R_DROP };

typedef struct req_s {
  struct req_s *next, *prev;
  int kind;
  int inflight;
  int eval;     /* Redis lost the script (NOSCRIPT): send its text */
  void *handle; /* the scan's, for claims and permits */
  uint64_t due, give_up;
  char k1[400], k2[400]; /* claim (or bucket) key; verdict key */
  char *data;            /* publish: the packed verdict */
  size_t len;
} req_t;

typedef struct {
  mxs_source_t src; /* what the scan sees; hooks points at `hooks` */
  mxs_source_t *inner;
  mxs_scan_hooks_t hooks;
  uv_loop_t *loop;
  mxs_redis_conf_t conf;
  mxs_ruv_opts_t ropts;
  mxs_ruv_t *conn;
  int ready, closing, handles;
  char sha[SC_COUNT][41];
  char k_base[300]; /* P:run:ID: */
  char worker[96], ttl_s[16], vttl_s[16], rate_s[32], burst_s[32];
  int ttl_ms;
  uint64_t max_wait_ms;
  req_t *head, *tail;
  size_t nreq;
  mxs_table_t owned; /* claim keys this worker holds and has not published */
  uv_timer_t t_tick, t_beat, t_retry;
  void (*close_cb)(void *arg);
  void *close_arg;
} hk_t;

static void connect_now(hk_t *h);

static void logh(const hk_t *h, const char *what, const char *why) {
  fprintf(stderr, "mxscan: redis hooks %s: %s: %s\n", h->conf.display, what, why);
}

/* ---- requests ---------------------------------------------------------- */

/* The tick and the reconnect timer keep the loop alive only while the scan
 * waits for an answer: an idle worker must be able to finish. */
static void update_refs(hk_t *h) {
  uv_handle_t *hs[] = {(uv_handle_t *)&h->t_tick, (uv_handle_t *)&h->t_retry};
  for (int i = 0; i < 2; i++) {
    if (h->nreq)
      uv_ref(hs[i]);
    else
      uv_unref(hs[i]);
  }
}

static req_t *req_new(hk_t *h, int kind, void *handle) {
  req_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->kind = kind;
  r->handle = handle;
  r->due = uv_now(h->loop);
  r->prev = h->tail;
  if (h->tail)
    h->tail->next = r;
  else
    h->head = r;
  h->tail = r;
  h->nreq++;
  update_refs(h);
  return r;
}

static void req_free(hk_t *h, req_t *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    h->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    h->tail = r->prev;
  h->nreq--;
  free(r->data);
  free(r);
  update_refs(h);
}

/* EVALSHA, or EVAL with the text when Redis lost its script cache. */
static int send_script(hk_t *h, req_t *r, int sc, int nkeys, const char **args, int nargs) {
  const char *av[8];
  char nk[4];
  snprintf(nk, sizeof nk, "%d", nkeys);
  int k = 0;
  av[k++] = r && r->eval ? "EVAL" : "EVALSHA";
  av[k++] = r && r->eval ? scripts[sc] : h->sha[sc];
  av[k++] = nk;
  for (int i = 0; i < nargs && k < 8; i++) av[k++] = args[i];
  return mxs_ruv_command(h->conn, r ? (uintptr_t)r : TAG_IGNORE, k, av, NULL);
}

static int send_req(hk_t *h, req_t *r) {
  switch (r->kind) {
  case R_CLAIM: {
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", h->ttl_ms);
    const char *a[] = {r->k1, r->k2, h->worker, ttl};
    return send_script(h, r, SC_CLAIM, 2, a, 4);
  }
  case R_DROP: {
    const char *a[] = {r->k1, h->worker, "0"};
    return send_script(h, r, SC_HOLD, 1, a, 3);
  }
  case R_PERMIT: {
    const char *a[] = {r->k1, h->rate_s, h->burst_s};
    return send_script(h, r, SC_BUCKET, 1, a, 3);
  }
  default: {
    const char *av[] = {"SET", r->k2, r->data, "EX", h->vttl_s};
    const size_t al[] = {3, strlen(r->k2), r->len, 2, strlen(h->vttl_s)};
    return mxs_ruv_command(h->conn, (uintptr_t)r, 5, av, al);
  }
  }
}

/* Sends every request that is due and not in flight. */
static void flush(hk_t *h) {
  if (!h->ready || h->closing) return;
  uint64_t now = uv_now(h->loop);
  for (req_t *r = h->head; r; r = r->next) {
    if (r->inflight || r->due > now) continue;
    if (send_req(h, r) < 0) return; /* going down: cb_down resets */
    r->inflight = 1;
  }
}

/* ---- answers ----------------------------------------------------------- */

/* Ours to probe: hold the claim (heartbeat) until the verdict is out. */
static void claim_ours(hk_t *h, req_t *r) {
  void *handle = r->handle;
  if (mxs_table_put(&h->owned, r->k1, (void *)1) < 0) logh(h, "claim", "out of memory: the claim may lapse");
  req_free(h, r);
  mxs_scan_claim_done(handle, NULL);
}

static void on_claim(hk_t *h, req_t *r, const redisReply *rep) {
  long long what = rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 && rep->element[0]->type == REDIS_REPLY_INTEGER
                       ? rep->element[0]->integer
                       : -1;
  if (what == 1 && rep->elements == 2 && rep->element[1]->type == REDIS_REPLY_STRING) {
    mxs_verdict_t v;
    if (mxs_verdict_unpack(&v, rep->element[1]->str, rep->element[1]->len) == 0) {
      void *handle = r->handle;
      req_free(h, r);
      mxs_scan_claim_done(handle, &v);
      mxs_verdict_free(&v); /* emptied by the scan; frees nothing then */
      return;
    }
    logh(h, r->k2, "unreadable verdict (another mxscan version?): probing it here");
  } else if (what == 2 && uv_now(h->loop) < r->give_up) { /* another worker is on it */
    r->due = uv_now(h->loop) + POLL_MS;
    return;
  } else if (what == 2) {
    logh(h, r->k1, "waited too long for another worker's verdict: probing it here");
  }
  claim_ours(h, r);
}

static void on_reply(hk_t *h, req_t *r, const redisReply *rep) {
  r->inflight = 0;
  if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8) && !r->eval) {
    r->eval = 1; /* Redis restarted or flushed its scripts */
    flush(h);
    return;
  }
  if (rep->type == REDIS_REPLY_ERROR) logh(h, r->k1[0] ? r->k1 : r->k2, rep->str);
  void *handle = r->handle;
  switch (r->kind) {
  case R_CLAIM:
    if (rep->type == REDIS_REPLY_ERROR)
      claim_ours(h, r); /* never leave the scan waiting */
    else
      on_claim(h, r, rep);
    break;
  case R_PERMIT: {
    long long ms = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? rep->integer : 0;
    req_free(h, r);
    mxs_scan_permit_done(handle, (uint64_t)ms);
    break;
  }
  default: /* publish, drop: stored (or refused: logged) */ req_free(h, r); break;
  }
}

/* ---- the connection ---------------------------------------------------- */

static void cb_reply(void *arg, redisReply *rep, uintptr_t tag) {
  hk_t *h = arg;
  if (!rep || tag == TAG_IGNORE || h->closing) return; /* NULL: cb_down resets */
  on_reply(h, (req_t *)tag, rep);
}

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

static void close_handles(hk_t *h);

static void cb_down(void *arg, const char *why) {
  hk_t *h = arg;
  h->conn = NULL;
  h->ready = 0;
  for (req_t *r = h->head; r; r = r->next) r->inflight = 0;
  if (h->closing) {
    close_handles(h);
    return;
  }
  logh(h, "connection lost", why);
  uv_timer_start(&h->t_retry, on_retry, RETRY_MS, 0);
}

/* AUTH, SELECT and the scripts go first on every connection (a restarted
 * Redis has lost its scripts); commands are pipelined behind them. */
static void cb_connected(void *arg) {
  hk_t *h = arg;
  const mxs_redis_conf_t *c = &h->conf;
  int bad = 0;
  if (c->password[0]) {
    const char *av[] = {"AUTH", c->user[0] ? c->user : c->password, c->password};
    bad |= mxs_ruv_command(h->conn, TAG_IGNORE, c->user[0] ? 3 : 2, av, NULL) < 0;
  }
  if (c->db) {
    char db[16];
    snprintf(db, sizeof db, "%d", c->db);
    const char *av[] = {"SELECT", db};
    bad |= mxs_ruv_command(h->conn, TAG_IGNORE, 2, av, NULL) < 0;
  }
  for (int i = 0; i < SC_COUNT && !bad; i++) {
    const char *av[] = {"SCRIPT", "LOAD", scripts[i]};
    bad |= mxs_ruv_command(h->conn, TAG_IGNORE, 3, av, NULL) < 0;
  }
  if (bad) return; /* going down: cb_down retries */
  h->ready = 1;
  flush(h);
}

static const mxs_ruv_cbs_t hk_cbs = {cb_connected, cb_reply, cb_down};

static void connect_now(hk_t *h) {
  char err[256];
  if (h->conn || h->closing) return;
  if (mxs_ruv_connect(h->loop, &h->ropts, &hk_cbs, h, &h->conn, err, sizeof err) < 0) {
    h->conn = NULL;
    logh(h, "cannot connect", err);
    uv_timer_start(&h->t_retry, on_retry, RETRY_MS, 0);
  }
}

static void on_tick(uv_timer_t *t) { flush(t->data); }

static void beat_one(void *arg, const char *key, void *val) {
  hk_t *h = arg;
  (void)val;
  char ttl[16];
  snprintf(ttl, sizeof ttl, "%d", h->ttl_ms);
  const char *a[] = {key, h->worker, ttl};
  send_script(h, NULL, SC_HOLD, 1, a, 3);
}

/* Our claims stay ours while their probes wait in the queue or run, however
 * long the limits make that; a dead worker's lapse after ttl. */
static void on_beat(uv_timer_t *t) {
  hk_t *h = t->data;
  if (h->ready && !h->closing) mxs_table_each(&h->owned, beat_one, h);
}

/* ---- the hooks --------------------------------------------------------- */

static void hk_claim(void *arg, void *handle, const char *key, const char *sni) {
  hk_t *h = arg;
  (void)sni; /* in KEY when it selects the probe; an address's own probe sends its first name */
  req_t *r = req_new(h, R_CLAIM, handle);
  if (!r) { /* cannot even ask: probing it here is always correct */
    logh(h, key, "out of memory: probing without a claim");
    mxs_scan_claim_done(handle, NULL); /* later than the call would be better; this is a dying process */
    return;
  }
  snprintf(r->k1, sizeof r->k1, "%sip:%s", h->k_base, key);
  snprintf(r->k2, sizeof r->k2, "%sverdict:%s", h->k_base, key);
  r->give_up = r->due + h->max_wait_ms;
  flush(h);
}

static void hk_publish(void *arg, const char *tkey, const mxs_verdict_t *v) {
  hk_t *h = arg;
  char key[400];
  snprintf(key, sizeof key, "%sip:%s", h->k_base, tkey);
  if (!mxs_table_del(&h->owned, key)) return; /* not a claim of ours */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  /* An unfinished verdict (the run is ending) is not the address' answer:
   * drop the claim so that a worker that goes on probes it. */
  int drop = v->res->unfinished || mxs_verdict_pack(v, &sb) < 0;
  req_t *r = req_new(h, drop ? R_DROP : R_PUBLISH, NULL);
  if (r) {
    snprintf(r->k1, sizeof r->k1, "%s", key);
    snprintf(r->k2, sizeof r->k2, "%sverdict:%s", h->k_base, tkey);
    if (!drop) { /* the buffer moves into the request */
      r->len = sb.size;
      r->data = msgpack_sbuffer_release(&sb);
    }
  }
  msgpack_sbuffer_destroy(&sb);
  flush(h);
}

static void hk_permit(void *arg, void *handle, const char *provider) {
  hk_t *h = arg;
  req_t *r = req_new(h, R_PERMIT, handle);
  if (!r) {
    mxs_scan_permit_done(handle, 0); /* the local limits still hold */
    return;
  }
  snprintf(r->k1, sizeof r->k1, "%sbucket:%s", h->k_base, provider);
  flush(h);
}

/* ---- the wrapping source ----------------------------------------------- */

/* The run is stopping: answer what waits (claims not yet ours, permits) so
 * the scan can record those addresses as unfinished and end; requests on
 * the wire are answered when their reply comes. */
static void hk_stop(void *arg) {
  hk_t *h = arg;
  req_t *r = h->head;
  while (r) {
    req_t *next = r->next;
    if (!r->inflight && (r->kind == R_CLAIM || r->kind == R_PERMIT)) {
      void *handle = r->handle;
      int kind = r->kind;
      req_free(h, r);
      if (kind == R_CLAIM)
        mxs_scan_claim_done(handle, NULL);
      else
        mxs_scan_permit_done(handle, 0);
    }
    r = next;
  }
}

static int hk_next(mxs_source_t *src, char *out, size_t outlen, uint64_t *token) {
  hk_t *h = src->state;
  return h->inner->ops->next(h->inner, out, outlen, token);
}

static void hk_done(mxs_source_t *src, uint64_t token) {
  hk_t *h = src->state;
  h->inner->ops->done(h->inner, token);
}

static int hk_progress(const mxs_source_t *src, double *fraction) {
  const hk_t *h = src->state;
  if (!h->inner->ops->progress) return -1;
  return h->inner->ops->progress(h->inner, fraction);
}

/* The scan set our wake: the inner source calls it through this. */
static void hk_wake(void *arg) {
  hk_t *h = arg;
  if (h->src.wake) h->src.wake(h->src.wake_arg);
}

static void on_inner_closed(void *arg) {
  hk_t *h = arg;
  void (*cb)(void *) = h->close_cb;
  void *cb_arg = h->close_arg;
  free(h);
  if (cb) cb(cb_arg);
}

static void on_handle_closed(uv_handle_t *hd) {
  hk_t *h = hd->data;
  if (--h->handles > 0) return;
  /* The scan closes its source after freeing its targets: the handles of
   * requests still here are gone, so they are dropped unanswered.  (Every
   * claim and permit was answered before the scan finished, unless a second
   * signal cut the run short.) */
  while (h->head) req_free(h, h->head);
  mxs_table_free(&h->owned);
  mxs_source_t *inner = h->inner;
  inner->ops->close(inner, on_inner_closed, h);
}

static void close_handles(hk_t *h) {
  uv_handle_t *hs[] = {(uv_handle_t *)&h->t_tick, (uv_handle_t *)&h->t_beat, (uv_handle_t *)&h->t_retry};
  h->handles = 3;
  for (int i = 0; i < 3; i++) uv_close(hs[i], on_handle_closed);
}

static void hk_close(mxs_source_t *src, void (*cb)(void *arg), void *arg) {
  hk_t *h = src->state;
  h->closing = 1;
  h->close_cb = cb;
  h->close_arg = arg;
  uv_timer_stop(&h->t_retry);
  if (h->conn)
    mxs_ruv_close(h->conn, "closing"); /* cb_down closes the handles */
  else
    close_handles(h);
}

static const mxs_source_ops_t hooks_ops = {"redis", hk_next, hk_done, hk_progress, hk_close};

/* Key names, script digests, the numbers the scripts take as text. */
static int hk_setup(hk_t *h, const mxs_redis_hooks_opts_t *o, char *err, size_t errlen) {
  if (mxs_redis_conf_parse(o->url, &h->conf, err, errlen) < 0) return -1;
  if (o->prefix) snprintf(h->conf.prefix, sizeof h->conf.prefix, "%s", o->prefix);
  const mxs_redis_conf_t *c = &h->conf;
  h->ropts = (mxs_ruv_opts_t){c->path[0] ? NULL : c->host, c->port, c->path[0] ? c->path : NULL, c->connect_timeout_ms,
                              c->command_timeout_ms};
  snprintf(h->k_base, sizeof h->k_base, "%s:run:%s:", c->prefix, o->run);
  snprintf(h->worker, sizeof h->worker, "%s", o->worker);
  h->ttl_ms = o->claim_ttl_ms > 0 ? o->claim_ttl_ms : 30000;
  /* A live claimant refreshes its claim, so waiting long is no harm; the
   * cap only guarantees progress if something is badly wrong. */
  h->max_wait_ms = (uint64_t)h->ttl_ms * 10 > 300000 ? (uint64_t)h->ttl_ms * 10 : 300000;
  snprintf(h->vttl_s, sizeof h->vttl_s, "%d", o->verdict_ttl_s > 0 ? o->verdict_ttl_s : 86400);
  snprintf(h->rate_s, sizeof h->rate_s, "%.6g", o->provider_rate);
  snprintf(h->burst_s, sizeof h->burst_s, "%.6g", 1.0); /* paced, as queue/sched.c: no burst */
  for (int i = 0; i < SC_COUNT; i++) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)scripts[i], strlen(scripts[i]), md);
    for (int k = 0; k < SHA_DIGEST_LENGTH; k++) snprintf(h->sha[i] + 2 * k, 3, "%02x", md[k]);
  }
  return 0;
}

int mxs_redis_hooks_wrap(uv_loop_t *loop, const mxs_redis_hooks_opts_t *o, mxs_source_t *inner, mxs_source_t **out,
                         char *err, size_t errlen) {
  hk_t *h = calloc(1, sizeof *h);
  if (!h || hk_setup(h, o, err, errlen) < 0) {
    if (!h) snprintf(err, errlen, "out of memory");
    free(h);
    inner->ops->close(inner, NULL, NULL);
    return -1;
  }
  h->loop = loop;
  h->inner = inner;
  inner->wake = hk_wake;
  inner->wake_arg = h;
  mxs_table_init(&h->owned);
  h->hooks = (mxs_scan_hooks_t){h, o->probe_once ? hk_claim : NULL, o->probe_once ? hk_publish : NULL,
                                o->provider_rate > 0 ? hk_permit : NULL, hk_stop};
  h->src = (mxs_source_t){&hooks_ops, &h->hooks, h, NULL, NULL};
  uv_timer_t *ts[] = {&h->t_tick, &h->t_beat, &h->t_retry};
  for (int i = 0; i < 3; i++) {
    uv_timer_init(loop, ts[i]);
    ts[i]->data = h;
    uv_unref((uv_handle_t *)ts[i]);
  }
  uv_timer_start(&h->t_tick, on_tick, TICK_MS, TICK_MS);
  uint64_t beat = (uint64_t)h->ttl_ms / 3;
  uv_timer_start(&h->t_beat, on_beat, beat, beat);
  connect_now(h);
  *out = &h->src;
  return 0;
}
