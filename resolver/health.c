/* health.c - is the DNS server answering? (see health.h for the rules) */
#include "resolver/health.h"

#include <ares.h>
#include <stdlib.h>

enum { BACKOFF_MIN_MS = 500, BACKOFF_MAX_MS = 8000 };

struct held_s {
  held_t *next;
  void *q;
  int status;
  int reasked;
};

static const char *why_text(int status) {
  return status == ARES_ECONNREFUSED ? "connection refused"
         : status == ARES_ETIMEOUT   ? "timeout"
                                     : ares_strerror(status);
}

int mxs_resolver_health_unanswered(int status) { return status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED; }

static void on_timer(uv_timer_t *t) {
  mxs_resolver_health_t *h = t->data;
  if (h->check_inflight) return;
  h->check_wanted = 0;
  h->check_inflight = 1;
  /* From the loop, never from inside a query callback: c-ares may end the
   * check inside ares_query(), and its result then re-enters this module. */
  if (h->ops.send_check(h->ops.arg) < 0) mxs_resolver_health_check_result(h, ARES_ECONNREFUSED, uv_hrtime());
}

static void schedule_check(mxs_resolver_health_t *h, uint64_t delay_ms) {
  h->check_wanted = 1;
  uv_timer_start(&h->timer, on_timer, delay_ms, 0);
}

void mxs_resolver_health_init(mxs_resolver_health_t *h, uv_loop_t *loop, const mxs_resolver_health_ops_t *ops) {
  *h = (mxs_resolver_health_t){.ops = *ops, .state = MXS_RESOLVER_UP, .backoff_ms = BACKOFF_MIN_MS};
  h->htail = &h->held;
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
}

static void hold(mxs_resolver_health_t *h, void *q, int status, int reasked) {
  held_t *e = malloc(sizeof *e);
  if (!e) { /* cannot hold it: deliver, as without this module */
    h->ops.deliver(h->ops.arg, q, status);
    return;
  }
  *e = (held_t){NULL, q, status, reasked};
  *h->htail = e;
  h->htail = &e->next;
  h->nheld++;
}

/* The server answered something.  After a check that found nothing wrong,
 * a query held once is asked again and one held twice has its failure
 * delivered; after an outage every held query is asked again. */
static void recovered(mxs_resolver_health_t *h, uint64_t now_ns) {
  if (h->state == MXS_RESOLVER_UP) return;
  int was_down = h->state == MXS_RESOLVER_DOWN;
  if (was_down) h->down_ns += now_ns - h->episode_ns;
  h->state = MXS_RESOLVER_UP;
  h->checks_failed = 0;
  h->backoff_ms = BACKOFF_MIN_MS;
  h->check_wanted = 0;
  uv_timer_stop(&h->timer);
  held_t *e = h->held; /* detached first: requeued queries may be held again meanwhile */
  h->held = NULL;
  h->htail = &h->held;
  h->nheld = 0;
  while (e) {
    held_t *next = e->next;
    if (!was_down && e->reasked)
      h->ops.deliver(h->ops.arg, e->q, e->status);
    else
      h->ops.requeue(h->ops.arg, e->q, !was_down);
    free(e);
    e = next;
  }
  h->ops.changed(h->ops.arg);
}

int mxs_resolver_health_result(mxs_resolver_health_t *h, void *q, int status, uint64_t sent_ns, int reasked,
                               uint64_t now_ns) {
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return 0;
  if (!mxs_resolver_health_unanswered(status)) {
    h->last_answer_ns = now_ns;
    recovered(h, now_ns);
    return 0;
  }
  /* The server answered others while this one waited: the name's own, the
   * second time.  The first time it is asked again at once: every try of a
   * query sent in a burst may have been dropped with the burst, in a
   * server's full socket buffer (its retries go out in a burst too). */
  if (h->state == MXS_RESOLVER_UP && status == ARES_ETIMEOUT && h->last_answer_ns > sent_ns) {
    if (reasked) return 0;
    h->reasks++;
    h->ops.requeue(h->ops.arg, q, 1);
    return 1;
  }
  h->last_status = status;
  hold(h, q, status, reasked);
  if (h->state == MXS_RESOLVER_UP) {
    h->state = MXS_RESOLVER_CHECKING;
    h->episode_ns = now_ns;
    if (!h->check_inflight) schedule_check(h, 0);
    h->ops.changed(h->ops.arg);
  }
  return 1;
}

void mxs_resolver_health_check_result(mxs_resolver_health_t *h, int status, uint64_t now_ns) {
  h->check_inflight = 0;
  if (h->ops.checked) h->ops.checked(h->ops.arg, status);
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
  if (!mxs_resolver_health_unanswered(status)) {
    h->last_answer_ns = now_ns;
    recovered(h, now_ns);
    return;
  }
  h->last_status = status;
  if (h->state == MXS_RESOLVER_UP) return; /* a start-up check, or one overtaken by an answer */
  h->checks_failed++;
  if (h->state != MXS_RESOLVER_DOWN) {
    h->state = MXS_RESOLVER_DOWN;
    h->outages++;
    h->ops.changed(h->ops.arg);
  }
  schedule_check(h, h->backoff_ms);
  h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms * 2;
}

void mxs_resolver_health_check_now(mxs_resolver_health_t *h) {
  if (!h->check_inflight) schedule_check(h, 0);
}

int mxs_resolver_health_blocked(const mxs_resolver_health_t *h) { return h->state != MXS_RESOLVER_UP; }

void mxs_resolver_health_info(const mxs_resolver_health_t *h, uint64_t now_ns, mxs_resolver_health_info_t *out) {
  out->state = h->state;
  out->since_ms = h->state == MXS_RESOLVER_UP ? 0 : (now_ns - h->episode_ns) / 1000000u;
  out->held = h->nheld;
  out->why = h->last_status ? why_text(h->last_status) : "";
  out->outages = h->outages;
  out->reasked = h->reasks;
  out->down_ms = (h->down_ns + (h->state == MXS_RESOLVER_DOWN ? now_ns - h->episode_ns : 0)) / 1000000u;
}

void mxs_resolver_health_close(mxs_resolver_health_t *h, uv_close_cb close_cb) {
  while (h->held) {
    held_t *e = h->held;
    h->held = e->next;
    free(e);
  }
  h->htail = &h->held;
  h->nheld = 0;
  uv_close((uv_handle_t *)&h->timer, close_cb);
}
