/* redis.c - the Redis exporter: every record into a stream, a per-domain
 * hash and per-run class counters, pipelined, surviving Redis restarts.
 *
 * Exactly once.  Each record gets a run-scoped sequence number.  A Lua
 * script (redis_script.h) applies a batch of records; per record it sets
 * bit SEQ of <prefix>:run:<id>:seqs and only when that bit was clear does
 * XADD + HSET + HINCRBY.  A script runs atomically, so the guard and the
 * effects are stored together or not at all, and resending a batch whose
 * reply was lost (connection cut, Redis restarted from its AOF) is a no-op
 * for the records already applied.  MULTI/EXEC cannot skip conditionally,
 * and plain pipelined commands would duplicate stream entries and counters
 * on a resend.
 *
 * The queue.  Records wait in a FIFO from write() until their batch's reply
 * arrives; replies come in order on one connection, so an acknowledged
 * batch is always the head of the queue.  When the connection drops, every
 * record sent and not acknowledged goes back to unsent and is resent on the
 * next connection (reconnect with exponential backoff).  At most `window`
 * records are in flight; over `window` records held the exporter is busy
 * (the scan pauses intake) until half of them are acknowledged.
 *
 * Spill.  When Redis stays unusable past down_limit, the unacknowledged
 * records (a contiguous run of sequence numbers, since acks are in order)
 * and every later one go to <spill_dir>/<prefix>-spill-<run>.msgpack; the
 * first record of the file has sequence number spill_first_seq (printed and
 * stored in the run's metadata), so a reader can skip those whose bit is
 * already set in the :seqs bitmap.  The run then ends with an error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/exporter.h"
#include "exporters/redis_int.h"
#include "redis/redis_conf.h"
#include "redis/redis_uv.h"
#include "results/encoders.h"

/* Reply tags: kind in the low byte, a batch's record count above it. */
enum { TAG_INIT = 1, TAG_BATCH, TAG_FINAL, TAG_VERIFY };
#define TAG(kind, n) ((uintptr_t)(kind) | ((uintptr_t)(n) << 8))

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static void kick(rs_t *s);
static void check_close(rs_t *s);
static void start_spill(rs_t *s, const char *reason);

void mxs_rs_log(const rs_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mxscan: redis %s: ", s->conf.display);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Our timers and the prepare handle keep the loop alive only while records
 * wait or close() is draining: an idle exporter must not hold up the end
 * of a scan (Redis down with nothing to send is not a reason to wait). */
static void update_refs(rs_t *s) {
  uv_handle_t *hs[] = {(uv_handle_t *)&s->t_retry, (uv_handle_t *)&s->t_down, (uv_handle_t *)&s->prep};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    if (uv_is_closing(hs[i])) continue;
    if (s->held > 0 || s->closing || s->waiters)
      uv_ref(hs[i]);
    else
      uv_unref(hs[i]);
  }
}

/* ---- the queue --------------------------------------------------------- */

static void free_entries(entry_t *e) {
  while (e) {
    entry_t *next = e->next;
    free(e);
    e = next;
  }
}

/* Drops the N oldest records: their batch is stored. */
static void ack(rs_t *s, size_t n) {
  while (n-- > 0 && s->head) {
    entry_t *e = s->head;
    s->head = e->next;
    if (!s->head) s->tail = &s->head;
    free(e);
    s->held--;
    s->inflight--;
    s->stored++;
  }
  if (!s->held) update_refs(s);
}

/* Sends one EVALSHA with up to `batch` unsent records.  0, or -ENOTCONN. */
static int send_batch(rs_t *s) {
  entry_t *es[MXS_REDIS_MAX_BATCH];
  size_t max = (size_t)s->conf.batch, room = (size_t)s->conf.window - s->inflight, n = 0;
  if (room < max) max = room;
  entry_t *e = s->unsent;
  for (; e && n < max; e = e->next) es[n++] = e;
  const char **av = s->argv;
  size_t *al = s->argvlen;
  int k = 0;
#define ARG(p, len) (av[k] = (p), al[k++] = (len))
#define ARGS(p)     ARG(p, strlen(p))
  snprintf(s->numkeys, sizeof s->numkeys, "%zu", 5 + n);
  ARGS("EVALSHA");
  ARGS(s->sha);
  ARGS(s->numkeys);
  ARGS(s->k_stream);
  ARGS(s->k_classes);
  ARGS(s->k_seqs);
  ARGS(s->k_meta);
  ARGS(s->k_seen);
  for (size_t i = 0; i < n; i++) ARG(es[i]->data, es[i]->keylen);
  ARGS(s->maxlen_s);
  ARGS(s->run_id);
  ARGS(s->conf.worker);
  for (size_t i = 0; i < n; i++) {
    snprintf(s->seqbuf[i], sizeof s->seqbuf[i], "%llu", (unsigned long long)es[i]->seq);
    ARGS(s->seqbuf[i]);
    ARG(es[i]->data + es[i]->keylen, es[i]->fieldlen);
    ARGS(es[i]->cls);
    ARG(es[i]->data + es[i]->keylen + es[i]->fieldlen, es[i]->mplen);
  }
#undef ARG
#undef ARGS
  int rc = mxs_ruv_command(s->conn, TAG(TAG_BATCH, n), k, av, al);
  if (rc < 0) return rc;
  s->unsent = e;
  s->inflight += n;
  return 0;
}

static void send_some(rs_t *s) {
  while (s->conn && s->ready && !s->poisoned && s->unsent && s->inflight < (size_t)s->conf.window)
    if (send_batch(s) < 0) break;
}

/* after_stored callers whose records are all stored (acknowledgements come
 * in order, so everything before the oldest held record is), or all in the
 * spill file once it is flushed.  Runs from the prepare callback only, so a
 * callback never runs inside after_stored() or inside hiredis. */
static void fire_waiters(rs_t *s) {
  if (!s->waiters) return;
  uint64_t stored_upto = s->head ? s->head->seq : s->next_seq;
  if (s->spilling) {
    if (s->spill && fflush(s->spill) != 0) return; /* not safe yet: lost records fail the run */
    if (s->lost) return;
    stored_upto = s->next_seq;
  }
  while (s->waiters && s->waiters->upto <= stored_upto) {
    waiter_t *w = s->waiters;
    s->waiters = w->next;
    if (!s->waiters) s->wtail = &s->waiters;
    w->cb(w->arg); /* may call after_stored again: it appends */
    free(w);
  }
  if (!s->waiters) update_refs(s);
}

/* Runs once per loop iteration while there is work: records written during
 * the iteration leave together, in as few script calls as the batch allows. */
static void on_prepare(uv_prepare_t *h) {
  rs_t *s = h->data;
  send_some(s);
  fire_waiters(s);
  if (s->busy && s->held <= (size_t)s->conf.window / 2) {
    s->busy = 0;
    if (s->x->wake) s->x->wake(s->x->wake_arg);
  }
  int more = s->conn && s->ready && !s->poisoned && s->unsent && s->inflight < (size_t)s->conf.window;
  /* Waiters ready now (a callback wrote and waited again) need another turn. */
  if (s->waiters && (s->spilling || s->waiters->upto <= (s->head ? s->head->seq : s->next_seq))) more = 1;
  if (!more) uv_prepare_stop(h);
  check_close(s);
}

static void kick(rs_t *s) {
  if (!s->finishing) uv_prepare_start(&s->prep, on_prepare);
}

/* ---- the connection ---------------------------------------------------- */

static void connect_now(rs_t *s);

static void on_retry(uv_timer_t *h) { connect_now(h->data); }

static void finish(rs_t *s);

static void on_down_limit(uv_timer_t *h) {
  rs_t *s = h->data;
  char why[96];
  if (s->closing && !s->held) { /* only the final metadata was waiting */
    mxs_rs_log(s, "run %s: final metadata not written (Redis unreachable)", s->run_id);
    finish(s);
    return;
  }
  snprintf(why, sizeof why, "unreachable for more than %.1f s", s->conf.down_limit_ms / 1000.0);
  start_spill(s, why);
}

/* A connection failed or was lost: retry with backoff; the outage clock
 * starts at the first failure and spills when it reaches down_limit. */
static void outage(rs_t *s, const char *why) {
  if (!s->down) {
    s->down = 1;
    s->down_since = uv_now(s->loop);
    s->outages++;
    if (!s->spilling) {
      uv_timer_start(&s->t_down, on_down_limit, (uint64_t)s->conf.down_limit_ms, 0);
      mxs_rs_log(s, "%s; reconnecting (%zu record(s) not acknowledged)", why, s->held);
    }
  }
  if (s->finishing) return;
  uv_timer_start(&s->t_retry, on_retry, (uint64_t)s->backoff_ms, 0);
  s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
  update_refs(s);
}

/* Records are being stored again. */
static void healthy(rs_t *s) {
  if (!s->down) return;
  s->down = 0;
  uv_timer_stop(&s->t_down);
  mxs_rs_log(s, "back after %.1f s%s", (double)(uv_now(s->loop) - s->down_since) / 1000.0,
             s->spilling ? " (this run's records stay in the spill file)" : "");
}

static void cb_connected(void *arg) {
  rs_t *s = arg;
  int n = mxs_rs_send_init(s, TAG(TAG_INIT, 0));
  if (n < 0) {
    mxs_ruv_close(s->conn, "cannot queue the setup commands");
    return;
  }
  s->init_left = n;
}

static void on_init_done(rs_t *s) {
  s->ready = 1;
  s->backoff_ms = BACKOFF_MIN_MS;
  if (s->down && s->held > 0) mxs_rs_log(s, "reconnected; sending %zu waiting record(s)", s->held);
  if (!s->held) healthy(s);
  kick(s);
}

static void cb_reply(void *arg, redisReply *reply, uintptr_t tag) {
  rs_t *s = arg;
  if (!reply || s->poisoned) return; /* the connection is going: cb_down resets */
  if (reply->type == REDIS_REPLY_ERROR && (tag & 0xff) == TAG_VERIFY) {
    /* An ACL user without GET: the check is skipped, not the close.  One
     * reply per command, so the queue stays in step. */
    mxs_rs_log(s, "cannot check what Redis still holds (GET %s: %.200s)", s->k_seqs, reply->str);
    s->verify_done = 1;
    kick(s);
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    /* Later replies on this connection may not match the queue's head any
     * more: ignore them, start over on a new connection. */
    char why[320];
    snprintf(why, sizeof why, "redis replied: %.280s", reply->str);
    s->poisoned = 1;
    mxs_ruv_close(s->conn, why);
    return;
  }
  switch (tag & 0xff) {
  case TAG_INIT:
    if (--s->init_left == 0) on_init_done(s);
    break;
  case TAG_BATCH:
    /* The script returns how many were new: the rest were resends of
     * records stored before a connection was lost. */
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0 && (uint64_t)reply->integer <= (tag >> 8))
      s->dups += (tag >> 8) - (uint64_t)reply->integer;
    ack(s, tag >> 8);
    healthy(s);
    kick(s);
    break;
  case TAG_FINAL:
    s->final_done = 1;
    kick(s); /* check_close runs from the prepare callback, outside hiredis */
    break;
  case TAG_VERIFY: /* what Redis still holds (redis_check.c) */
    mxs_rs_verify_reply(s, reply->type == REDIS_REPLY_STRING ? reply->str : NULL,
                        reply->type == REDIS_REPLY_STRING ? reply->len : 0);
    kick(s);
    break;
  }
}

static void close_handles(rs_t *s);

static void cb_down(void *arg, const char *why) {
  rs_t *s = arg;
  s->conn = NULL;
  s->ready = s->poisoned = s->final_sent = s->verify_sent = 0;
  s->inflight = 0;
  s->unsent = s->head; /* all that was not acknowledged goes again */
  if (s->finishing) {
    close_handles(s);
    return;
  }
  outage(s, why);
  check_close(s);
}

static const mxs_ruv_cbs_t rs_cbs = {cb_connected, cb_reply, cb_down};

static void connect_now(rs_t *s) {
  char err[256];
  if (s->conn || s->finishing) return;
  if (mxs_ruv_connect(s->loop, &s->ropts, &rs_cbs, s, &s->conn, err, sizeof err) < 0) {
    s->conn = NULL;
    outage(s, err);
  }
}

/* ---- spill ------------------------------------------------------------- */

static void spill_one(rs_t *s, const void *mp, size_t len) {
  if (mxs_rs_spill_write(s, mp, len) == 0)
    s->spilled++;
  else
    s->lost++;
}

/* Redis is given up on: the unacknowledged records, then every later one,
 * go to the spill file (opened with the first of them).  The connection, if
 * any, is dropped so that no late reply can acknowledge a record that is
 * already in the file. */
static void start_spill(rs_t *s, const char *reason) {
  if (s->spilling) return;
  s->spilling = 1;
  snprintf(s->spill_reason, sizeof s->spill_reason, "%s", reason);
  uv_timer_stop(&s->t_down);
  s->spill_first_seq = s->head ? s->head->seq : s->next_seq;
  if (s->conn) {
    s->poisoned = 1;
    mxs_ruv_close(s->conn, "giving up on this connection");
  }
  for (entry_t *e = s->head; e; e = e->next) spill_one(s, e->data + e->keylen + e->fieldlen, e->mplen);
  free_entries(s->head);
  s->head = s->unsent = NULL;
  s->tail = &s->head;
  s->held = s->inflight = 0;
  update_refs(s);
  kick(s); /* wakes the scan if it was paused */
}

/* ---- ops --------------------------------------------------------------- */

static entry_t *make_entry(rs_t *s, const mxs_record_t *r, const void *mp, size_t mplen) {
  char field[600];
  if (r->mx && r->ip)
    snprintf(field, sizeof field, "%.300s|%.280s", r->mx, r->ip);
  else if (r->mx)
    snprintf(field, sizeof field, "%.300s|-", r->mx);
  else
    snprintf(field, sizeof field, "-");
  size_t klen = strlen(s->k_domain) + strlen(r->domain), flen = strlen(field);
  entry_t *e = malloc(sizeof *e + klen + flen + mplen + 1);
  if (!e) return NULL;
  e->next = NULL;
  e->cls = mxs_class_name(r->cls);
  e->keylen = (uint32_t)klen;
  e->fieldlen = (uint32_t)flen;
  e->mplen = (uint32_t)mplen;
  snprintf(e->data, klen + 1, "%s%s", s->k_domain, r->domain);
  memcpy(e->data + klen, field, flen);
  memcpy(e->data + klen + flen, mp, mplen);
  return e;
}

static int redis_write(mxs_exporter_t *x, const mxs_record_t *r) {
  rs_t *s = x->state;
  mxs_msgpack_encoder_reset(&s->mp);
  mxs_record_encode(r, &s->mp.base);
  if (s->spilling) {
    s->next_seq++;
    spill_one(s, s->mp.sbuf.data, s->mp.sbuf.size);
    return 0; /* a lost record fails the run at close */
  }
  entry_t *e = make_entry(s, r, s->mp.sbuf.data, s->mp.sbuf.size);
  if (!e) return -ENOMEM;
  e->seq = s->next_seq++;
  *s->tail = e;
  s->tail = &e->next;
  if (!s->unsent) s->unsent = e;
  if (++s->held == 1) update_refs(s);
  if (s->held >= (size_t)s->conf.window) s->busy = 1;
  kick(s);
  return 0;
}

static int redis_flush(mxs_exporter_t *x) {
  rs_t *s = x->state;
  send_some(s);
  if (s->spill && fflush(s->spill) != 0) return errno ? -errno : -EIO;
  return 0;
}

static int redis_busy(const mxs_exporter_t *x) { return ((const rs_t *)x->state)->busy; }

static size_t redis_backlog(const mxs_exporter_t *x) { return ((const rs_t *)x->state)->held; }

static void redis_after_stored(mxs_exporter_t *x, void (*cb)(void *arg), void *arg) {
  rs_t *s = x->state;
  waiter_t *w = malloc(sizeof *w);
  if (!w) { /* cannot wait: never acknowledge early, so never call back; the job is redone */
    s->lost++;
    return;
  }
  *w = (waiter_t){NULL, s->next_seq, cb, arg};
  *s->wtail = w;
  s->wtail = &w->next;
  update_refs(s);
  kick(s);
}

/* ---- close ------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  rs_t *s = h->data;
  if (--s->handles > 0) return;
  mxs_exporter_t *x = s->x;
  if (s->spill && fclose(s->spill) != 0 && !s->lost) s->lost = 1;
  /* Spilled records are safe but not where the user asked, and records
   * Redis lost are not there either: fail the run. */
  if ((s->spilled || s->lost || s->missing) && !x->error) x->error = s->lost || s->missing ? -EIO : -EHOSTDOWN;
  if (s->missing)
    mxs_rs_log(s, "run %s: %llu record(s) stored in Redis, %llu acknowledged and lost by it (%llu in %s)", s->run_id,
               (unsigned long long)(s->stored - s->missing), (unsigned long long)s->missing,
               (unsigned long long)s->recovered, s->recovered ? s->recover_path : "no file");
  else if (s->spilled || s->lost)
    mxs_rs_log(s, "run %s: %llu record(s) stored in Redis, %llu in %s%s", s->run_id, (unsigned long long)s->stored,
               (unsigned long long)s->spilled, s->spill_path[0] ? s->spill_path : "no spill file",
               s->lost ? ", some LOST (see above)" : "");
  else if (s->outages)
    mxs_rs_log(s, "run %s: all %llu record(s) stored after %u outage(s); %llu resent record(s) were already there",
               s->run_id, (unsigned long long)s->stored, s->outages, (unsigned long long)s->dups);
  /* Left only when the run is torn down early: their records are not all
   * stored, so their jobs must not be acknowledged. */
  while (s->waiters) {
    waiter_t *w = s->waiters;
    s->waiters = w->next;
    free(w);
  }
  mxs_msgpack_encoder_free(&s->mp);
  free(s->args);
  free(s->bits);
  mxs_exporter_closed_cb cb = s->close_cb;
  void *arg = s->close_arg;
  free(s);
  x->state = NULL;
  if (cb) cb(arg);
}

static void close_handles(rs_t *s) {
  uv_handle_t *hs[] = {(uv_handle_t *)&s->t_retry, (uv_handle_t *)&s->t_down, (uv_handle_t *)&s->t_close,
                       (uv_handle_t *)&s->prep};
  s->handles = (int)(sizeof hs / sizeof hs[0]);
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) uv_close(hs[i], on_handle_closed);
}

/* Everything is stored or spilled (or close timed out): drop the
 * connection, then the handles; the last close callback frees. */
static void finish(rs_t *s) {
  s->finishing = 1;
  uv_prepare_stop(&s->prep);
  uv_timer_stop(&s->t_retry);
  uv_timer_stop(&s->t_down);
  uv_timer_stop(&s->t_close);
  if (s->conn)
    mxs_ruv_close(s->conn, "closing"); /* cb_down closes the handles */
  else
    close_handles(s);
}

/* During close: once no record waits, write the final metadata when Redis
 * is there (or may come back before down_limit), then finish. */
static void check_close(rs_t *s) {
  if (!s->closing || s->finishing || s->held > 0) return;
  if (!s->final_done) {
    if (s->conn && s->ready && !s->poisoned) {
      /* First: does Redis still hold every record it acknowledged? */
      if (!s->verify_done) {
        if (!s->verify_sent && mxs_rs_send_verify(s, TAG(TAG_VERIFY, 0)) == 0) s->verify_sent = 1;
        return;
      }
      if (!s->final_sent && mxs_rs_send_final(s, TAG(TAG_FINAL, 0)) == 0) s->final_sent = 1;
      return;
    }
    if (!s->spilling && (s->conn || s->down)) return; /* reconnecting, or spill at down_limit */
    mxs_rs_log(s, "run %s: final metadata not written (Redis unreachable)", s->run_id);
  }
  finish(s);
}

static void on_close_timeout(uv_timer_t *h) {
  rs_t *s = h->data;
  char why[96];
  snprintf(why, sizeof why, "close timed out after %.1f s", s->conf.close_timeout_ms / 1000.0);
  if (s->held > 0)
    start_spill(s, why);
  else if (!s->final_done)
    mxs_rs_log(s, "%s: final metadata not written", why);
  finish(s);
}

static void redis_close(mxs_exporter_t *x, mxs_exporter_closed_cb cb, void *arg) {
  rs_t *s = x->state;
  s->closing = 1;
  s->close_cb = cb;
  s->close_arg = arg;
  uv_timer_start(&s->t_close, on_close_timeout, (uint64_t)s->conf.close_timeout_ms, 0);
  update_refs(s);
  kick(s); /* sends what is left; check_close runs from there */
}

/* ---- open -------------------------------------------------------------- */

static int redis_open(mxs_exporter_t *x, uv_loop_t *loop, const char *target, char *err, size_t errlen) {
  rs_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  int rc = mxs_redis_conf_parse(target, &s->conf, err, errlen);
  /* From here on, messages about this exporter show the masked URL. */
  snprintf(x->target, sizeof x->target, "%s", s->conf.display);
  if (rc == 0) {
    s->x = x;
    s->loop = loop;
    rc = mxs_rs_setup(s, err, errlen);
  }
  if (rc < 0) {
    free(s->args);
    free(s);
    return rc;
  }
  s->tail = &s->head;
  s->wtail = &s->waiters;
  s->backoff_ms = BACKOFF_MIN_MS;
  mxs_msgpack_encoder_init(&s->mp);
  uv_timer_init(loop, &s->t_retry);
  uv_timer_init(loop, &s->t_down);
  uv_timer_init(loop, &s->t_close);
  uv_prepare_init(loop, &s->prep);
  s->t_retry.data = s->t_down.data = s->t_close.data = s->prep.data = s;
  x->state = s;
  update_refs(s);
  fprintf(stderr, "mxscan: redis run %s -> %s (keys %s:*)\n", s->run_id, s->conf.display, s->conf.prefix);
  connect_now(s);
  return 0;
}

const mxs_exporter_ops_t mxs_exporter_redis = {"redis",     redis_open,    redis_write, redis_flush,
                                               redis_close, redis_backlog, redis_busy,  redis_after_stored};
