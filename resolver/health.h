/* health.h - is the DNS server answering?  Holds the failures it may be to
 * blame for.
 *
 * Internal to resolver/.  When the resolver mxscan asks dies, every query
 * ends in a timeout or "connection refused", and without care every domain
 * of the list would be recorded as dns-timeout or dns-servfail: a picture of
 * our resolver, not of the domains.  So:
 *
 *   - "connection refused" is never a name's failure (nothing listens where
 *     the server should): the query is held;
 *   - a timeout is believed when the server answered another question
 *     (any answer, any rcode) while this one waited: then the name itself
 *     is slow or broken.  The query is asked once more at once (a burst of
 *     queries can overflow the server's socket buffer, and c-ares sends the
 *     burst's retries together: all of them lost, none the name's fault);
 *     timed out again the same way, its failure is delivered;
 *   - otherwise it is held, the server gets no more regular queries (they
 *     wait in the resolver's FIFO) and is asked a question every resolver
 *     can answer from its priming data, ". NS" (the check):
 *       an answer: the server is alive.  A query held for the first time
 *         is asked once more (a short blip may have eaten it); held again,
 *         its failure is the name's own and is delivered.
 *       none: the server is down.  Queries still in flight are held as they
 *         fail, and the check is repeated with backoff (0.5 s, doubled up to
 *         8 s) until an answer comes; then every held query is asked again.
 *
 * Any answer to any query ends a check or an outage.  The module knows
 * queries as opaque pointers: the resolver asks it what to do with every
 * unanswered one, sends the check when told, and reports its result.
 * Deciding when to give up is the caller's (mxscan scan: --dns-down-limit).
 */
#ifndef MXS_RESOLVER_HEALTH_H
#define MXS_RESOLVER_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "resolver/resolver.h"

typedef struct {
  /* Send the check question now; 0, or negative when it could not be sent
   * (counted as unanswered).  Its result comes to health_check_result(). */
  int (*send_check)(void *arg);
  /* Put held query Q back in the FIFO; REASKED: after a check the server
   * answered, or a first timeout while it answered others (unanswered
   * again, its failure is delivered).  May run inside health_result(). */
  void (*requeue)(void *arg, void *q, int reasked);
  /* End held query Q with ares STATUS: the failure is the name's. */
  void (*deliver)(void *arg, void *q, int status);
  /* The state changed, or held queries were requeued or delivered. */
  void (*changed)(void *arg);
  /* Optional: the result of every check (ares status), for start-up. */
  void (*checked)(void *arg, int status);
  void *arg;
} mxs_resolver_health_ops_t;

typedef struct held_s held_t;

/* Embedded in the resolver; fields are the module's. */
typedef struct {
  mxs_resolver_health_ops_t ops;
  uv_timer_t timer; /* the next check */
  mxs_resolver_state_t state;
  int check_inflight;
  int check_wanted; /* a check is due when the timer fires */
  uint64_t last_answer_ns;
  uint64_t episode_ns; /* when the first failure of this episode was held */
  int last_status;     /* of the last unanswered query or check */
  unsigned checks_failed;
  unsigned outages; /* checks that found the server down, episodes counted once */
  size_t reasks;    /* timeouts asked once more while the server answered others */
  uint64_t down_ns; /* time spent down in finished outages */
  uint64_t backoff_ms;
  held_t *held, **htail;
  size_t nheld;
} mxs_resolver_health_t;

/* Initialises H on LOOP (a timer); close it with health_close. */
void mxs_resolver_health_init(mxs_resolver_health_t *h, uv_loop_t *loop, const mxs_resolver_health_ops_t *ops);

/* Query Q, sent at SENT_NS, ended with ares STATUS at NOW_NS (REASKED as
 * given to requeue).  1: H holds it (do not finish it now); 0: go on
 * (an answer, or a failure that is the name's). */
int mxs_resolver_health_result(mxs_resolver_health_t *h, void *q, int status, uint64_t sent_ns, int reasked,
                               uint64_t now_ns);

/* The check ended with ares STATUS. */
void mxs_resolver_health_check_result(mxs_resolver_health_t *h, int status, uint64_t now_ns);

/* Sends a check from the loop soon (start-up: is anyone there?). */
void mxs_resolver_health_check_now(mxs_resolver_health_t *h);

/* 1 while regular queries must wait (a check or an outage is going on). */
int mxs_resolver_health_blocked(const mxs_resolver_health_t *h);

/* 1 for an ares status that is no answer from the server. */
int mxs_resolver_health_unanswered(int status);

/* What the caller shows: fills everything but the server list. */
void mxs_resolver_health_info(const mxs_resolver_health_t *h, uint64_t now_ns, mxs_resolver_health_info_t *out);

/* Forgets held queries (their owners are being freed: no callbacks) and
 * closes the timer; CLOSE_CB gets the timer handle (its data is H's). */
void mxs_resolver_health_close(mxs_resolver_health_t *h, uv_close_cb close_cb);

#endif
