/* sched.c - round-robin over providers, with per-address and global limits. */
#include "queue/sched.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_WINDOW 64 /* queued items examined per provider per pop */
#define MIN_FACTOR  (1.0 / 16)
/* Refill at 95 % of the rate: a start reaches the server late by the
 * timer's, the probe thread's and the network's jitter (tens of ms on a
 * loaded machine), and the margin keeps any second the server counts at
 * or under the rate (sched.h). */
#define PACE 0.95

struct mxs_sched_provider_s {
  char *name;
  mxs_sched_item_t *head, **tail;
  int active;
  size_t refs; /* queued + active items */
  mxs_bucket_t bucket;
  double factor; /* 1.0, halved by each 421 */
  uint64_t calm_until;
  struct mxs_sched_provider_s *rnext;
  int in_ring;
  struct mxs_sched_provider_s *idle_next; /* in s->idle_head */
  int idle;
};

struct mxs_sched_ip_s {
  char *addr;
  int active;
  size_t refs;
  int started;
  uint64_t last_start;
};

void mxs_sched_init(mxs_sched_t *s, const mxs_sched_opts_t *o, uint64_t now_ms) {
  memset(s, 0, sizeof *s);
  s->o = *o;
  if (s->o.concurrency < 1) s->o.concurrency = 1;
  if (s->o.per_ip < 1) s->o.per_ip = 1;
  if (s->o.per_provider < 1) s->o.per_provider = 1;
  if (s->o.calm_ms <= 0) s->o.calm_ms = 60000;
  mxs_bucket_init(&s->bucket, o->rate * PACE, 1, now_ms); /* paced: one at once, then one per 1/rate s */
  s->idle_tail = &s->idle_head;
  mxs_table_init(&s->providers);
  mxs_table_init(&s->ips);
}

static void free_provider(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  mxs_sched_provider_t *p = val;
  free(p->name);
  free(p);
}

static void free_ip(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  mxs_sched_ip_t *ip = val;
  free(ip->addr);
  free(ip);
}

void mxs_sched_free(mxs_sched_t *s) {
  mxs_table_each(&s->providers, free_provider, NULL);
  mxs_table_each(&s->ips, free_ip, NULL);
  mxs_table_free(&s->providers);
  mxs_table_free(&s->ips);
  s->ring = NULL;
  s->idle_head = NULL;
  s->idle_tail = &s->idle_head;
}

static mxs_sched_provider_t *get_provider(mxs_sched_t *s, const char *name, uint64_t now_ms) {
  mxs_sched_provider_t *p = mxs_table_get(&s->providers, name);
  if (p) return p;
  p = calloc(1, sizeof *p);
  if (!p || !(p->name = strdup(name)) || mxs_table_put(&s->providers, name, p) < 0) {
    if (p) free(p->name);
    free(p);
    return NULL;
  }
  p->tail = &p->head;
  p->factor = 1.0;
  mxs_bucket_init(&p->bucket, s->o.provider_rate * PACE, 1, now_ms);
  return p;
}

static mxs_sched_ip_t *get_ip(mxs_sched_t *s, const char *addr) {
  mxs_sched_ip_t *ip = mxs_table_get(&s->ips, addr);
  if (ip) return ip;
  ip = calloc(1, sizeof *ip);
  if (!ip || !(ip->addr = strdup(addr)) || mxs_table_put(&s->ips, addr, ip) < 0) {
    if (ip) free(ip->addr);
    free(ip);
    return NULL;
  }
  return ip;
}

/* Drops bookkeeping nobody refers to.  An address keeps its entry while an
 * interval applies, so the gap is honoured across re-queues. */
static void release(mxs_sched_t *s, mxs_sched_provider_t *p, mxs_sched_ip_t *ip, uint64_t now_ms) {
  if (ip->refs == 0 && (s->o.per_ip_interval_ms <= 0 || now_ms >= ip->last_start + (uint64_t)s->o.per_ip_interval_ms)) {
    mxs_table_del(&s->ips, ip->addr);
    free_ip(NULL, NULL, ip);
  }
  if (p->refs == 0 && p->factor >= 1.0 && !p->in_ring && !p->idle) {
    if (mxs_bucket_wait_ms(&p->bucket, now_ms) == 0) {
      mxs_table_del(&s->providers, p->name);
      free_provider(NULL, NULL, p);
      return;
    }
    /* a token is still due: keep the bucket until it is full */
    p->idle = 1;
    p->idle_next = NULL;
    *s->idle_tail = p;
    s->idle_tail = &p->idle_next;
  }
}

/* Drops the idle providers whose bucket has refilled (oldest first: a
 * bucket refills in 1/rate s, so the queue is in the order they come due),
 * and unlinks those that got work again. */
static void sweep_idle(mxs_sched_t *s, uint64_t now_ms) {
  mxs_sched_provider_t *p;
  while ((p = s->idle_head)) {
    int busy = p->refs > 0 || p->in_ring || p->factor < 1.0;
    if (!busy && mxs_bucket_wait_ms(&p->bucket, now_ms) > 0) return;
    s->idle_head = p->idle_next;
    if (!s->idle_head) s->idle_tail = &s->idle_head;
    p->idle = 0;
    if (!busy) {
      mxs_table_del(&s->providers, p->name);
      free_provider(NULL, NULL, p);
    }
  }
}

/* The ring is circular; s->ring points at its tail, so tail->rnext is the
 * provider served next. */
static void ring_add(mxs_sched_t *s, mxs_sched_provider_t *p) {
  if (p->in_ring) return;
  p->in_ring = 1;
  if (!s->ring) {
    p->rnext = p;
  } else {
    p->rnext = s->ring->rnext;
    s->ring->rnext = p;
  }
  s->ring = p;
}

static void ring_remove(mxs_sched_t *s, mxs_sched_provider_t *prev, mxs_sched_provider_t *p) {
  p->in_ring = 0;
  if (p->rnext == p) {
    s->ring = NULL;
    return;
  }
  prev->rnext = p->rnext;
  if (s->ring == p) s->ring = prev;
}

int mxs_sched_push(mxs_sched_t *s, mxs_sched_item_t *it, const char *ip, const char *provider, uint64_t not_before) {
  mxs_sched_provider_t *p = get_provider(s, provider, not_before);
  mxs_sched_ip_t *a = p ? get_ip(s, ip) : NULL;
  if (!a) return -1;
  it->provider = p;
  it->ip = a;
  it->not_before = not_before;
  it->next = NULL;
  *p->tail = it;
  p->tail = &it->next;
  p->refs++;
  a->refs++;
  s->queued++;
  ring_add(s, p);
  return 0;
}

static void min_wake(uint64_t *wake, uint64_t ms) {
  if (ms < *wake) *wake = ms;
}

static int provider_limit(const mxs_sched_t *s, const mxs_sched_provider_t *p) {
  int n = (int)(s->o.per_provider * p->factor);
  return n < 1 ? 1 : n;
}

/* The first startable item of P within the window, unlinked; or NULL. */
static mxs_sched_item_t *take_from(mxs_sched_t *s, mxs_sched_provider_t *p, uint64_t now, uint64_t *wake) {
  if (p->active >= provider_limit(s, p)) return NULL;
  uint64_t w = mxs_bucket_wait_ms(&p->bucket, now);
  if (w) {
    min_wake(wake, w);
    return NULL;
  }
  mxs_sched_item_t **pp = &p->head;
  for (int n = 0; *pp && n < SCAN_WINDOW; n++, pp = &(*pp)->next) {
    mxs_sched_item_t *it = *pp;
    if (it->not_before > now) {
      min_wake(wake, it->not_before - now);
      continue;
    }
    mxs_sched_ip_t *ip = it->ip;
    if (ip->active >= s->o.per_ip) continue;
    uint64_t gap_end = ip->last_start + (uint64_t)s->o.per_ip_interval_ms;
    if (ip->started && s->o.per_ip_interval_ms > 0 && now < gap_end) {
      min_wake(wake, gap_end - now);
      continue;
    }
    *pp = it->next;
    if (p->tail == &it->next) p->tail = pp;
    it->next = NULL;
    return it;
  }
  return NULL;
}

mxs_sched_item_t *mxs_sched_pop(mxs_sched_t *s, uint64_t now_ms, uint64_t *wake_ms) {
  *wake_ms = UINT64_MAX;
  if (!s->ring || s->active >= (size_t)s->o.concurrency) return NULL;
  uint64_t w = mxs_bucket_wait_ms(&s->bucket, now_ms);
  if (w) {
    *wake_ms = w;
    return NULL;
  }
  mxs_sched_provider_t *prev = s->ring, *start = prev->rnext, *p = start;
  do {
    mxs_sched_item_t *it = take_from(s, p, now_ms, wake_ms);
    if (it) {
      mxs_bucket_take(&s->bucket, now_ms);
      mxs_bucket_take(&p->bucket, now_ms);
      p->active++;
      it->ip->active++;
      it->ip->started = 1;
      it->ip->last_start = now_ms;
      s->active++;
      s->queued--;
      if (!p->head)
        ring_remove(s, prev, p);
      else
        s->ring = p; /* round-robin: the next pop starts after P */
      return it;
    }
    prev = p;
    p = p->rnext;
  } while (p != start);
  return NULL;
}

static void set_factor(mxs_sched_t *s, mxs_sched_provider_t *p, double f, uint64_t now_ms) {
  p->factor = f;
  if (s->o.provider_rate > 0) mxs_bucket_set_rate(&p->bucket, s->o.provider_rate * f * PACE, now_ms);
}

void mxs_sched_done(mxs_sched_t *s, mxs_sched_item_t *it, int ok, uint64_t now_ms) {
  mxs_sched_provider_t *p = it->provider;
  mxs_sched_ip_t *ip = it->ip;
  p->active--;
  p->refs--;
  ip->active--;
  ip->refs--;
  s->active--;
  if (ok && p->factor < 1.0 && now_ms >= p->calm_until) {
    set_factor(s, p, p->factor * 2 > 1.0 ? 1.0 : p->factor * 2, now_ms);
    p->calm_until = now_ms + (uint64_t)s->o.calm_ms;
  }
  release(s, p, ip, now_ms);
  sweep_idle(s, now_ms);
}

void mxs_sched_set_concurrency(mxs_sched_t *s, int concurrency) {
  s->o.concurrency = concurrency < 1 ? 1 : concurrency;
}

void mxs_sched_penalize(mxs_sched_t *s, mxs_sched_item_t *it, uint64_t now_ms) {
  mxs_sched_provider_t *p = it->provider;
  set_factor(s, p, p->factor / 2 < MIN_FACTOR ? MIN_FACTOR : p->factor / 2, now_ms);
  p->calm_until = now_ms + (uint64_t)s->o.calm_ms;
}

double mxs_sched_provider_factor(const mxs_sched_item_t *it) { return it->provider->factor; }

mxs_sched_item_t *mxs_sched_drain(mxs_sched_t *s) {
  mxs_sched_item_t *out = NULL, **tail = &out;
  while (s->ring) {
    mxs_sched_provider_t *p = s->ring->rnext;
    ring_remove(s, s->ring, p);
    while (p->head) {
      mxs_sched_item_t *it = p->head;
      p->head = it->next;
      it->next = NULL;
      *tail = it;
      tail = &it->next;
      p->refs--;
      it->ip->refs--;
      s->queued--;
    }
    p->tail = &p->head;
  }
  return out;
}
