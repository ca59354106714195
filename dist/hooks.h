/* redis_hooks.h - the scan hooks of a distributed run (scanner/scan.h):
 * each address probed once across the workers, one politeness budget per
 * provider shared by all of them.  Both live in Redis, next to the jobs.
 *
 * Probe once: a worker claims an address with a key that expires
 * (P:run:ID:ip:ADDR, value the worker, PX claim_ttl_ms) and refreshes it
 * every claim_ttl_ms/3 while its probe is queued or running; the verdict
 * then goes to P:run:ID:verdict:ADDR (probe/verdict_codec.h bytes, EX
 * verdict_ttl_s).  The other workers poll (every 200 ms) one script that
 * returns the verdict, or takes the claim when it has lapsed (its holder
 * died), or says wait.  A verdict cut short by the end of a run
 * (unfinished) is not published: the claim is dropped so another worker
 * probes the address.
 *
 * Politeness: a token bucket per provider, P:run:ID:bucket:PROVIDER, in a
 * script (rate provider_rate per second, burst 1: paced), asked before
 * every connection; it answers 0 or the milliseconds to wait.  No hook at
 * all when provider_rate is 0.
 *
 * They wrap the job source (dist/source.c) in a source that forwards to it
 * and carries the hooks; the scan (scanner/) calls them and never includes
 * this room.
 */
#ifndef MXS_REDIS_HOOKS_H
#define MXS_REDIS_HOOKS_H

#include <stddef.h>
#include <uv.h>

#include "queue/source.h"

typedef struct {
  const char *url;      /* as for the job source (borrowed) */
  const char *prefix;   /* NULL: the URL's or the default */
  const char *run;      /* the run id */
  const char *worker;   /* this worker's name, the value of its claims */
  int claim_ttl_ms;     /* a dead worker's claims lapse after this */
  int verdict_ttl_s;    /* how long published verdicts stay */
  int probe_once;       /* 0: no claim/publish hooks (--probe-per-name) */
  double provider_rate; /* connections/s per provider across workers; 0: none */
} mxs_redis_hooks_opts_t;

/* Wraps INNER (taken: closed with the wrapper) into *OUT, a source with
 * the hooks set.  Connects on LOOP (asynchronously; requests wait for the
 * connection).  0, or -1 with a message in ERR (INNER is then closed). */
int mxs_redis_hooks_wrap(uv_loop_t *loop, const mxs_redis_hooks_opts_t *o, mxs_source_t *inner, mxs_source_t **out,
                         char *err, size_t errlen);

#endif
