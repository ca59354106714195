/* sched.h - who may connect next: global, per-address and per-provider limits.
 *
 * The scheduler holds the probes waiting to start, one FIFO per provider
 * (the registrable domain of the MX host, so 300k names under
 * mail.protection.outlook.com are one provider), served round-robin so one
 * huge provider cannot starve the others.  A probe may start when:
 *   - fewer than `concurrency` probes run, and the global bucket (`rate`/s)
 *     has a token;
 *   - its provider runs fewer than `per_provider` probes (scaled down while
 *     the provider is penalised) and the provider bucket has a token;
 *   - its address runs fewer than `per_ip` probes and the last connection to
 *     it started at least `per_ip_interval_ms` ago;
 *   - its own not-before time (a retry's backoff) has passed.
 * A 421 from a provider halves its allowance (down to 1/16) for a calm
 * period; each calm period without another 421 doubles it back.
 *
 * The buckets pace rather than burst: one token saved at most, refilled at
 * 95 % of the rate, so starts are at least 1/(0.95 rate) s apart and no
 * one-second window (as the provider counts, a few ms of jitter included)
 * ever sees more than `rate` new connections.  A provider's bucket outlives
 * its last probe until it is full again, so a provider that comes back
 * does not get a fresh token early.
 *
 * Pure: the clock is passed in, so tests run it on simulated time.
 */
#ifndef MXS_SCHED_H
#define MXS_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "queue/ratelimit.h"
#include "queue/table.h"

typedef struct {
  int concurrency;        /* probes at once, >= 1 */
  int per_ip;             /* connections at once to one address, >= 1 */
  int per_ip_interval_ms; /* minimum gap between starts to one address */
  int per_provider;       /* probes at once per provider, >= 1 */
  double rate;            /* new probes per second overall, 0 = unlimited */
  double provider_rate;   /* new probes per second per provider, 0 = unlimited */
  int calm_ms;            /* how long a 421 penalty lasts before easing */
} mxs_sched_opts_t;

typedef struct mxs_sched_provider_s mxs_sched_provider_t;
typedef struct mxs_sched_ip_s mxs_sched_ip_t;

/* Embedded in the caller's object; the scheduler links it, never frees it. */
typedef struct mxs_sched_item_s {
  struct mxs_sched_item_s *next;
  mxs_sched_provider_t *provider;
  mxs_sched_ip_t *ip;
  uint64_t not_before;
} mxs_sched_item_t;

typedef struct {
  mxs_sched_opts_t o;
  mxs_bucket_t bucket;
  mxs_table_t providers;      /* name -> mxs_sched_provider_t */
  mxs_table_t ips;            /* address -> mxs_sched_ip_t */
  mxs_sched_provider_t *ring; /* providers with queued items, circular */
  /* Providers with nothing queued or running whose bucket is still
   * refilling, oldest first: dropped once full (see release). */
  mxs_sched_provider_t *idle_head, **idle_tail;
  size_t queued, active;
} mxs_sched_t;

void mxs_sched_init(mxs_sched_t *s, const mxs_sched_opts_t *o, uint64_t now_ms);
/* Frees the scheduler's own state; items still queued are the caller's. */
void mxs_sched_free(mxs_sched_t *s);

/* Queues IT for address IP under PROVIDER (both copied), not before
 * NOT_BEFORE.  0, or -1 on ENOMEM. */
int mxs_sched_push(mxs_sched_t *s, mxs_sched_item_t *it, const char *ip, const char *provider, uint64_t not_before);

/* The next item allowed to start at NOW, now counted as active; or NULL,
 * with *wake_ms set to how long until something may become ready by time
 * alone (UINT64_MAX when only a finishing probe can free a slot). */
mxs_sched_item_t *mxs_sched_pop(mxs_sched_t *s, uint64_t now_ms, uint64_t *wake_ms);

/* IT's connection is over.  OK: it got an answer (not a 421), which eases
 * a penalised provider once its calm period has passed. */
void mxs_sched_done(mxs_sched_t *s, mxs_sched_item_t *it, int ok, uint64_t now_ms);

/* The provider of IT said 421 (too many connections): slow it down. */
void mxs_sched_penalize(mxs_sched_t *s, mxs_sched_item_t *it, uint64_t now_ms);

/* Changes the global limit of probes at once (>= 1): the scan lowers it
 * while it runs short of descriptors or ports, and raises it back.  Probes
 * already running over a lower limit finish; no new one starts until the
 * count is under it. */
void mxs_sched_set_concurrency(mxs_sched_t *s, int concurrency);

/* Removes and returns every queued item (for shutdown), as a list. */
mxs_sched_item_t *mxs_sched_drain(mxs_sched_t *s);

/* Current allowance of IT's provider as a fraction of normal (1.0, 0.5 ...). */
double mxs_sched_provider_factor(const mxs_sched_item_t *it);

#endif
