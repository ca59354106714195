/* dnshealth.c - what the run does when its resolver stops answering.
 *
 * The resolver holds the lookups its server may be to blame for and tells
 * us when the server goes down or comes back (resolver/health.h).  Here:
 * the start-up check of --dns (nobody answering is a setup error, exit 2,
 * before any output is opened), intake paused while the server is down,
 * the messages on stderr and in the status line, and the end of the run
 * after --dns-down-limit: the domains waiting for DNS are then recorded as
 * unfinished and the run exits 1, as after a signal.  A dead resolver thus
 * never turns into records that blame the domains.
 */
#include <stdio.h>
#include <string.h>

#include "scanner/scan.h"
#include "scanner/scan_int.h"

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
  if (s->dns_state == MXS_RESOLVER_UP || !s->resolver) return;
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
  }
  uv_timer_stop(&s->dns_timer);
  if (!uv_is_closing((uv_handle_t *)&s->dns_timer)) uv_close((uv_handle_t *)&s->dns_timer, NULL);
}
