/* throttle.c - the scan runs short of its own resources: fewer probes at once.
 *
 * A probe that cannot get a descriptor (EMFILE, ENFILE), a local port
 * (EADDRNOTAVAIL) or memory says nothing about the server it was to reach:
 * fanout.c retries it 100 ms later without counting an attempt, so no
 * record ever blames a server for our shortage, and calls here.  Retrying
 * alone would keep every slot cycling through failures (and starve the
 * resolver of sockets), so the limit of probes at once drops to half of
 * those running when the shortage hit (at most once per 200 ms: one burst
 * is one cut), and creeps back up by 1/16 every 250 ms once 2 s have gone
 * by without a shortage, up to --concurrency.  The descriptor limit itself
 * was raised to the hard one, and --concurrency fitted under it, at start
 * (scan.c): this covers what changes during the run.
 */
#include <stdio.h>

#include "scanner/scan.h"
#include "scanner/scan_int.h"

enum { CUT_EVERY_MS = 200, CALM_MS = 2000, GROW_EVERY_MS = 250 };

void scan_throttle_shortage(mxs_scan_t *s, const mxs_probe_result_t *res) {
  uint64_t now = uv_now(&s->loop);
  s->stats->local_shortages++;
  s->throttle_last = now;
  if (s->throttle_cap && now - s->throttle_cut < CUT_EVERY_MS) return;
  int running = (int)s->sched.active, cap = s->throttle_cap ? s->throttle_cap : s->concurrency;
  if (running < cap) cap = running;
  cap /= 2;
  if (cap < 1) cap = 1;
  if (!s->throttle_cap)
    fprintf(s->err,
            "mxscan: our own shortage (%s) with %d probe(s) running: at most %d at once until it eases; the probes "
            "it hit are retried, none is recorded as failing for it\n",
            res->detail ? res->detail : "no resources", running, cap);
  s->throttle_cap = cap;
  s->throttle_cut = now;
  snprintf(s->throttle_why, sizeof s->throttle_why, "%s", res->detail ? res->detail : "no resources");
  mxs_sched_set_concurrency(&s->sched, cap);
}

void scan_throttle_ok(mxs_scan_t *s) {
  if (!s->throttle_cap) return;
  uint64_t now = uv_now(&s->loop);
  if (now - s->throttle_last < CALM_MS || now - s->throttle_cut < GROW_EVERY_MS) return;
  int cap = s->throttle_cap + (s->throttle_cap / 16 > 0 ? s->throttle_cap / 16 : 1);
  s->throttle_cut = now;
  if (cap >= s->concurrency) {
    s->throttle_cap = 0;
    mxs_sched_set_concurrency(&s->sched, s->concurrency);
    fprintf(s->err, "mxscan: the shortage eased: back to %d probes at once\n", s->concurrency);
    return;
  }
  s->throttle_cap = cap;
  mxs_sched_set_concurrency(&s->sched, cap);
}

void scan_throttle_status(const mxs_scan_t *s, char *out, size_t len) {
  out[0] = '\0';
  if (s->throttle_cap) snprintf(out, len, "; throttled to %d probes (%s)", s->throttle_cap, s->throttle_why);
}
