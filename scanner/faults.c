/* faults.c - what the run does when the machine fails under it.
 *
 * The resolver.  It holds the lookups its server may be to blame for and
 * says when the server goes down or comes back (resolver/health.h).  Here:
 * the start-up check of --dns (nobody answering is a setup error, exit 2,
 * before any output is opened), intake paused while the server is down,
 * the messages on stderr and in the status line, and the end of the run
 * after --dns-down-limit: the domains waiting for DNS are then recorded as
 * unfinished and the run exits 1, as after a signal.  A dead resolver thus
 * never turns into records that blame the domains.
 *
 * The outputs.  An exporter's write error is sticky (a full disk, a closed
 * pipe; the file exporter has cut the partial domain off): said once, and
 * the run stops, exit 1, so --resume can continue from whole domains.
 *
 * Our own descriptors and ports.  A probe that cannot get a descriptor
 * (EMFILE, ENFILE), a local port (EADDRNOTAVAIL) or memory says nothing
 * about the server it was to reach: fanout.c retries it 100 ms later
 * without counting an attempt, so no record ever blames a server for our
 * shortage, and calls here.  Retrying alone would keep every slot cycling
 * through failures (and starve the resolver of sockets), so the limit of
 * probes at once drops to half of those running when the shortage hit (at
 * most once per 200 ms: one burst is one cut), and creeps back up by 1/16
 * every 250 ms once 2 s have gone by without a shortage, up to
 * --concurrency.  The descriptor limit itself was raised to the hard one,
 * and --concurrency fitted under it, at start (scan.c): this covers what
 * changes during the run.
 */
#include <stdio.h>
#include <string.h>

#include "scanner/scan.h"
#include "scanner/scan_int.h"

/* ---- the resolver ------------------------------------------------------ */

struct startup_check {
  int done, answered;
  char why[64];
};

static void on_startup_check(void *arg, int answered, const char *why) {
  struct startup_check *c = arg;
  c->done = 1;
  c->answered = answered;
  snprintf(c->why, sizeof c->why, "%s", why);
}

int scan_dns_startup_check(mxs_scan_t *s, char *err, size_t errlen) {
  struct startup_check c = {0, 0, "no answer"};
  if (mxs_resolver_check(s->resolver, on_startup_check, &c) < 0) return 0;
  /* Only the resolver's handles run yet: nothing else can happen meanwhile. */
  while (!c.done && uv_run(&s->loop, UV_RUN_ONCE)) {
  }
  if (c.done && c.answered) return 0;
  snprintf(err, errlen, "--dns %s: the resolver does not answer (%s): nothing was scanned", s->cfg->dns, c.why);
  return -1;
}

void scan_dns_init(mxs_scan_t *s) {
  uv_timer_init(&s->loop, &s->dns_timer);
  s->dns_timer.data = s;
  s->dns_state = MXS_RESOLVER_UP;
}

static void fmt_secs(double secs, char *buf, size_t len) {
  if (secs >= 120)
    snprintf(buf, len, "%.0f min", secs / 60);
  else
    snprintf(buf, len, "%.0f s", secs);
}

static void on_down_limit(uv_timer_t *t) {
  mxs_scan_t *s = t->data;
  mxs_resolver_health_info_t hi;
  mxs_resolver_health(s->resolver, &hi);
  char lim[32];
  fmt_secs(s->cfg->dns_down_limit_ms / 1000.0, lim, sizeof lim);
  snprintf(s->dns_why, sizeof s->dns_why, "not finished: the resolver %.300s did not answer for %s", hi.servers, lim);
  size_t waiting = 0;
  for (domain_t *d = s->dns_head; d; d = d->dns_next) waiting += !d->finished;
  fprintf(s->err,
          "mxscan: resolver %s has not answered for %s (--dns-down-limit): stopping; the %zu domain(s) waiting "
          "for DNS are recorded as unfinished\n",
          hi.servers, lim, waiting);
  s->stats->dns_gave_up = 1;
  scan_stop(s, 0, s->dns_why);
}

void scan_dns_on_health(void *arg) {
  mxs_scan_t *s = arg;
  if (s->closed) return;
  mxs_resolver_health_info_t hi;
  mxs_resolver_health(s->resolver, &hi);
  int prev = s->dns_state;
  s->dns_state = (int)hi.state;
  if (hi.state == MXS_RESOLVER_DOWN && prev != MXS_RESOLVER_DOWN) {
    uint64_t limit = (uint64_t)s->cfg->dns_down_limit_ms;
    char lim[32];
    fmt_secs(limit / 1000.0, lim, sizeof lim);
    s->dns_down_at = uv_now(&s->loop) - hi.since_ms;
    fprintf(s->err,
            "mxscan: resolver %s does not answer (%s): intake paused, %zu lookup(s) held; asking it again with "
            "backoff for up to %s (--dns-down-limit)\n",
            hi.servers, hi.why, hi.held, lim);
    uv_timer_start(&s->dns_timer, on_down_limit, limit > hi.since_ms ? limit - hi.since_ms : 0, 0);
  } else if (hi.state == MXS_RESOLVER_UP) {
    if (prev == MXS_RESOLVER_DOWN) {
      fprintf(s->err, "mxscan: resolver %s answers again after %.1f s: held lookups asked again, intake resumed\n",
              hi.servers, (double)(uv_now(&s->loop) - s->dns_down_at) / 1000.0);
      uv_timer_stop(&s->dns_timer);
    }
    scan_pump_input(s);
  }
}

int scan_dns_paused(const mxs_scan_t *s) { return s->dns_state != MXS_RESOLVER_UP; }

void scan_dns_status(mxs_scan_t *s, char *out, size_t len) {
  out[0] = '\0';
  if (!s->resolver) return;
  if (s->dns_state == MXS_RESOLVER_UP) {
    mxs_resolver_stats_t rs;
    mxs_resolver_stats(s->resolver, &rs);
    if (rs.server_drops)
      snprintf(out, len, "; DNS: the resolver dropped %llu queries, at most %zu at once",
               (unsigned long long)rs.server_drops, rs.window_now);
    return;
  }
  mxs_resolver_health_info_t hi;
  mxs_resolver_health(s->resolver, &hi);
  if (hi.state == MXS_RESOLVER_DOWN)
    snprintf(out, len, "; DNS DOWN for %llu s (%s), %zu lookups held, intake paused",
             (unsigned long long)(hi.since_ms / 1000), hi.why, hi.held);
  else if (hi.state == MXS_RESOLVER_CHECKING)
    snprintf(out, len, "; DNS: checking the resolver (%s)", hi.why);
}

void scan_dns_close(mxs_scan_t *s) {
  if (s->resolver) {
    mxs_resolver_health_info_t hi;
    mxs_resolver_health(s->resolver, &hi);
    s->stats->dns_outages = hi.outages;
    s->stats->dns_down_ms = hi.down_ms;
    snprintf(s->stats->dns_servers, sizeof s->stats->dns_servers, "%s", hi.servers);
    mxs_resolver_stats_t rs;
    mxs_resolver_stats(s->resolver, &rs);
    s->stats->dns_drops_known = rs.server_drops_known;
    s->stats->dns_drops = rs.server_drops;
    s->stats->dns_window_lowest = rs.window_lowest;
    s->stats->dns_reasked = (size_t)rs.reasked;
  }
  uv_timer_stop(&s->dns_timer);
  if (!uv_is_closing((uv_handle_t *)&s->dns_timer)) uv_close((uv_handle_t *)&s->dns_timer, NULL);
}

/* ---- the outputs ------------------------------------------------------- */

static void on_output_failed(uv_timer_t *h) {
  mxs_scan_t *s = h->data;
  if (!s->stopping) scan_stop(s, 1, "not finished: the output could not be written");
}

void scan_check_outputs(mxs_scan_t *s) {
  for (size_t i = 0; i < s->nout; i++) {
    const mxs_exporter_t *x = s->out[i];
    if (!x->error || (s->out_failed & (1u << i))) continue;
    s->out_failed |= 1u << i;
    if (strcmp(x->target, "-") == 0)
      fprintf(s->err, "mxscan: writing standard output: %s: stopping the run\n", strerror(-x->error));
    else
      fprintf(s->err,
              "mxscan: writing %s: %s: stopping the run; %s holds whole domains only (the one being written was "
              "cut off): make room and run again with --resume\n",
              x->target, strerror(-x->error), x->target);
    /* From the loop: this runs inside the writing of a domain's records. */
    uv_timer_start(&s->out_timer, on_output_failed, 0, 0);
  }
}

/* ---- our own descriptors and ports -------------------------------------- */

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
