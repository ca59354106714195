/* scan.c - wiring, scheduling, fan-out and shutdown of one run. */
#include "scanner/scan.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporters/exporter.h"
#include "queue/input.h"
#include "queue/table.h"
#include "resolver/resolver.h"
#include "scanner/probe.h"
#include "scanner/verdict.h"

#define MXS_MAX_EXPORTERS 4

typedef struct mxs_scan_s mxs_scan_t;

typedef struct domain_s {
  mxs_scan_t *scan;
  int dns_ms;
  int outstanding;      /* records still to write; the domain ends at 0 */
  mxs_class_set_t seen; /* classes of its records */
  char name[254];
} domain_t;

/* One (domain, MX name) waiting for the result of an address. */
typedef struct job_s {
  domain_t *d;
  char *mx;
  int pref;
  int implicit;
  struct job_s *next;
} job_t;

typedef enum { T_QUEUED, T_RUNNING, T_DONE } tstate_t;

/* One address (or address + name) to probe, and its result once known. */
typedef struct target_s {
  mxs_scan_t *scan;
  tstate_t st;
  char ip[64];
  char *sni;
  mxs_verdict_t v; /* the probe's result, refined with the legacy retry */
  job_t *waiters, **wtail;
  struct target_s *qnext;
} target_t;

struct mxs_scan_s {
  const mxs_config_t *cfg;
  uv_loop_t loop;
  mxs_resolver_t *resolver;
  mxs_tls_ctx_t *tls;
  mxs_probe_env_t penv;
  mxs_input_t *input;
  int input_eof;
  mxs_exporter_t *out[MXS_MAX_EXPORTERS]; /* file and/or redis */
  size_t nout;
  mxs_table_t targets;   /* key -> target_t */
  mxs_table_t ip_active; /* ip -> connections open now (intptr_t) */
  target_t *qhead, **qtail;
  size_t running;
  size_t domains_active, high_water;
  uv_signal_t sigint, sigterm;
  uv_timer_t flush_timer;
  uv_idle_t pump_idle; /* reads input from the loop, never recursively */
  int stopping;        /* a signal arrived: take no new domains */
  int closed;
  mxs_stats_t *stats;
  FILE *err;
};

static void pump_probes(mxs_scan_t *s);
static void pump_input(mxs_scan_t *s);
static void maybe_finish(mxs_scan_t *s);

/* ---- records ----------------------------------------------------------- */

static void write_record(mxs_scan_t *s, domain_t *d, const mxs_record_t *r) {
  for (size_t i = 0; i < s->nout; i++)
    if (mxs_exporter_write(s->out[i], r) < 0) s->stats->write_errors++;
  s->stats->probes[r->cls]++;
  s->stats->nprobes++;
  d->seen |= MXS_CLASS_BIT(r->cls);
}

static void domain_release(domain_t *d) {
  if (--d->outstanding > 0) return;
  mxs_scan_t *s = d->scan;
  /* A domain is ok only when every record is; otherwise it counts under
   * its first failing class in contract order. */
  mxs_class_set_t fails = d->seen & ~MXS_CLASS_BIT(MXS_CLASS_OK);
  s->stats->domains[fails ? mxs_class_first(fails) : MXS_CLASS_OK]++;
  s->stats->ndomains++;
  free(d);
  s->domains_active--;
  pump_input(s);
  maybe_finish(s);
}

/* A record that stops at DNS: for the domain (MX == NULL) or one MX host. */
static void emit_dns_record(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit,
                            mxs_class_t cls, const char *detail) {
  mxs_record_t r = {.domain = d->name, .cls = cls, .stage = "dns", .detail = detail};
  mxs_rfc3339((int64_t)time(NULL), r.scanned_at);
  if (mx) {
    r.mx = mx->host;
    r.pref = mx->pref;
    r.implicit_mx = implicit;
  }
  write_record(s, d, &r);
}

static void emit_probe_record(mxs_scan_t *s, const target_t *t, const job_t *j) {
  mxs_timings_t tm;
  char detail[512];
  mxs_record_t r;
  mxs_verdict_record(&t->v, j->mx, &r, &tm, detail, sizeof detail);
  r.domain = j->d->name;
  r.mx = j->mx;
  r.pref = j->pref;
  r.implicit_mx = j->implicit;
  r.ip = t->ip;
  r.port = s->cfg->port;
  tm.dns = j->d->dns_ms;
  write_record(s, j->d, &r);
}

/* ---- targets ----------------------------------------------------------- */

static intptr_t ip_active(mxs_scan_t *s, const char *ip) { return (intptr_t)mxs_table_get(&s->ip_active, ip); }

static void ip_adjust(mxs_scan_t *s, const char *ip, int delta) {
  intptr_t n = ip_active(s, ip) + delta;
  if (n <= 0) mxs_table_del(&s->ip_active, ip);
  else mxs_table_put(&s->ip_active, ip, (void *)n);
}

static void target_complete(target_t *t) {
  mxs_scan_t *s = t->scan;
  t->st = T_DONE;
  s->running--;
  ip_adjust(s, t->ip, -1);
  job_t *j = t->waiters;
  t->waiters = NULL;
  t->wtail = &t->waiters;
  while (j) {
    job_t *next = j->next;
    emit_probe_record(s, t, j);
    domain_release(j->d);
    free(j->mx);
    free(j);
    j = next;
  }
  pump_probes(s);
}

static void on_legacy_done(void *arg, mxs_probe_result_t *res) {
  target_t *t = arg;
  mxs_verdict_add_legacy(&t->v, res);
  target_complete(t);
}

static void on_probe_done(void *arg, mxs_probe_result_t *res) {
  target_t *t = arg;
  mxs_scan_t *s = t->scan;
  mxs_verdict_set(&t->v, res);
  /* A failed modern handshake gets one diagnostic retry with legacy
   * settings: it tells version, cipher, DH and renegotiation apart. */
  if (s->cfg->legacy_retry && mxs_verdict_wants_legacy(&t->v) &&
      mxs_probe_start(&s->penv, t->ip, s->cfg->port, t->sni, 1, on_legacy_done, t) == 0)
    return;
  target_complete(t);
}

static void start_target(mxs_scan_t *s, target_t *t) {
  t->st = T_RUNNING;
  s->running++;
  ip_adjust(s, t->ip, +1);
  int rc = mxs_probe_start(&s->penv, t->ip, s->cfg->port, t->sni, 0, on_probe_done, t);
  if (rc < 0) {
    mxs_verdict_set_error(&t->v, rc);
    target_complete(t);
  }
}

/* Starts queued targets while there is room, globally and per address. */
static void pump_probes(mxs_scan_t *s) {
  target_t **pp = &s->qhead;
  while (*pp && s->running < (size_t)s->cfg->concurrency) {
    target_t *t = *pp;
    if (ip_active(s, t->ip) >= s->cfg->per_ip) {
      pp = &t->qnext;
      continue;
    }
    *pp = t->qnext;
    if (s->qtail == &t->qnext) s->qtail = pp;
    t->qnext = NULL;
    start_target(s, t);
  }
}

static int add_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip) {
  char key[512];
  if (s->cfg->probe_per_name) snprintf(key, sizeof key, "%s|%s", ip, mx->host);
  else snprintf(key, sizeof key, "%s", ip);
  target_t *t = mxs_table_get(&s->targets, key);
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t || !(t->sni = strdup(mx->host)) || mxs_table_put(&s->targets, key, t) < 0) {
      if (t) free(t->sni);
      free(t);
      return -ENOMEM;
    }
    t->scan = s;
    snprintf(t->ip, sizeof t->ip, "%s", ip);
    t->wtail = &t->waiters;
    *s->qtail = t;
    s->qtail = &t->qnext;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j || !(j->mx = strdup(mx->host))) {
    free(j);
    return -ENOMEM;
  }
  j->d = d;
  j->pref = mx->pref;
  j->implicit = implicit;
  d->outstanding++;
  if (t->st == T_DONE) { /* probed earlier in the run: report at once */
    emit_probe_record(s, t, j);
    free(j->mx);
    free(j);
    d->outstanding--;
    return 0;
  }
  *t->wtail = j;
  t->wtail = &j->next;
  return 0;
}

/* ---- resolution -------------------------------------------------------- */

static void on_resolved(void *arg, const mxs_domain_answer_t *a) {
  domain_t *d = arg;
  mxs_scan_t *s = d->scan;
  d->dns_ms = a->dns_ms;
  d->outstanding = 1; /* held until every job is queued */
  if (a->status != MXS_CLASS_OK) {
    emit_dns_record(s, d, NULL, 0, a->status, a->detail);
  } else {
    for (size_t i = 0; i < a->nmx; i++) {
      const mxs_mx_host_t *mx = &a->mx[i];
      if (mx->status != MXS_CLASS_OK || mx->naddrs == 0) {
        emit_dns_record(s, d, mx, a->implicit_mx, mx->status == MXS_CLASS_OK ? MXS_CLASS_MX_NO_ADDRESS : mx->status,
                        mx->detail);
        continue;
      }
      for (size_t k = 0; k < mx->naddrs; k++)
        if (add_job(s, d, mx, a->implicit_mx, mx->addrs[k]) < 0) {
          char why[300];
          snprintf(why, sizeof why, "out of memory queueing %s", mx->addrs[k]);
          fprintf(s->err, "mxscan: %s: %s\n", d->name, why);
        }
    }
  }
  pump_probes(s);
  domain_release(d);
}

/* ---- input ------------------------------------------------------------- */

static void on_bad_line(void *arg, const char *name, unsigned long lineno, const char *line, const char *why) {
  mxs_scan_t *s = arg;
  s->stats->lines_rejected++;
  fprintf(s->err, "mxscan: %s:%lu: invalid domain '%s': %s (skipped)\n", name, lineno, line, why);
}

/* An exporter over its high-water mark pauses intake: records wait in
 * memory at most one window's worth, never the whole list. */
static int exporters_busy(const mxs_scan_t *s) {
  for (size_t i = 0; i < s->nout; i++)
    if (mxs_exporter_busy(s->out[i])) return 1;
  return 0;
}

static void on_pump_idle(uv_idle_t *h) {
  mxs_scan_t *s = h->data;
  while (!s->input_eof && !s->stopping && s->domains_active < s->high_water && !exporters_busy(s)) {
    char name[256];
    int rc = mxs_input_next(s->input, name, sizeof name, NULL);
    if (rc <= 0) {
      if (rc < 0) fprintf(s->err, "mxscan: reading %s: %s\n", s->cfg->input, strerror(-rc));
      s->input_eof = 1;
      break;
    }
    domain_t *d = calloc(1, sizeof *d);
    if (!d) break;
    d->scan = s;
    snprintf(d->name, sizeof d->name, "%.253s", name);
    s->domains_active++;
    if (mxs_resolver_resolve(s->resolver, d->name, on_resolved, d) < 0) {
      s->domains_active--;
      free(d);
      s->input_eof = 1;
      fprintf(s->err, "mxscan: cannot queue DNS lookups: out of memory\n");
    }
  }
  uv_idle_stop(h);
  maybe_finish(s);
}

static void pump_input(mxs_scan_t *s) {
  if (!s->input_eof && !s->stopping && !s->closed) uv_idle_start(&s->pump_idle, on_pump_idle);
}

/* ---- lifecycle --------------------------------------------------------- */

static void free_target(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  target_t *t = val;
  mxs_verdict_free(&t->v);
  free(t->sni);
  free(t);
}

static void maybe_finish(mxs_scan_t *s) {
  if (s->closed || s->domains_active > 0 || !(s->input_eof || s->stopping)) return;
  s->closed = 1;
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->flush_timer, NULL);
  uv_close((uv_handle_t *)&s->pump_idle, NULL);
  mxs_resolver_close(s->resolver, NULL, NULL);
  s->resolver = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
  mxs_scan_t *s = h->data;
  if (s->stopping) { /* second signal: stop now, keep what is written */
    fprintf(s->err, "mxscan: %s again: stopping at once\n", strsignal(signum));
    uv_stop(&s->loop);
    return;
  }
  s->stopping = 1;
  s->stats->interrupted = 1;
  fprintf(s->err, "mxscan: %s: finishing %zu domain(s) in flight (again to stop at once)\n", strsignal(signum),
          s->domains_active);
  maybe_finish(s);
}

static void on_flush_timer(uv_timer_t *h) {
  mxs_scan_t *s = h->data;
  for (size_t i = 0; i < s->nout; i++) mxs_exporter_flush(s->out[i]);
}

static void on_exporter_wake(void *arg) { pump_input(arg); }

static int add_exporter(mxs_scan_t *s, const char *name, const char *target, char *err, size_t errlen) {
  if (s->nout == MXS_MAX_EXPORTERS) {
    snprintf(err, errlen, "too many outputs");
    return -1;
  }
  mxs_exporter_t *x;
  if (mxs_exporter_open(name, &s->loop, target, &x, err, errlen) < 0) return -1;
  x->wake = on_exporter_wake;
  x->wake_arg = s;
  s->out[s->nout++] = x;
  return 0;
}

/* The file output (jsonl/msgpack) unless only Redis was asked for, and
 * Redis when --redis is given. */
static int open_exporters(mxs_scan_t *s, char *err, size_t errlen) {
  const mxs_config_t *c = s->cfg;
  if ((!c->redis_url || c->output_given) && add_exporter(s, c->format, c->output, err, errlen) < 0) return -1;
  if (c->redis_url && add_exporter(s, "redis", c->redis_url, err, errlen) < 0) return -1;
  return 0;
}

static int setup(mxs_scan_t *s, char *err, size_t errlen) {
  const mxs_config_t *c = s->cfg;
  mxs_resolver_opts_t ro = {c->dns, c->dns_timeout_ms, c->dns_tries, 0, c->ipv6};
  if (mxs_resolver_new(&s->loop, &ro, &s->resolver, err, errlen) < 0) return -1;
  if (mxs_tls_ctx_new(c->ca_file, &s->tls, err, errlen) < 0) return -1;
  FILE *fp = strcmp(c->input, "-") == 0 ? stdin : fopen(c->input, "r");
  if (!fp) {
    snprintf(err, errlen, "cannot open input '%s': %s", c->input, strerror(errno));
    return -1;
  }
  s->input = mxs_input_new(fp, c->input, on_bad_line, s);
  if (!s->input) return -1;
  if (open_exporters(s, err, errlen) < 0) return -1;
  s->penv = (mxs_probe_env_t){.loop = &s->loop,
                              .tls = s->tls,
                              .ehlo_name = c->ehlo_name,
                              .connect_timeout_ms = c->connect_timeout_ms,
                              .banner_timeout_ms = c->banner_timeout_ms,
                              .command_timeout_ms = c->command_timeout_ms,
                              .handshake_timeout_ms = c->handshake_timeout_ms};
  uv_signal_init(&s->loop, &s->sigint);
  uv_signal_init(&s->loop, &s->sigterm);
  s->sigint.data = s->sigterm.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_timer_init(&s->loop, &s->flush_timer);
  s->flush_timer.data = s;
  uv_timer_start(&s->flush_timer, on_flush_timer, 1000, 1000);
  uv_idle_init(&s->loop, &s->pump_idle);
  s->pump_idle.data = s;
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

struct close_wait {
  int done, error;
};

static void on_exporter_closed(void *arg, int error) {
  struct close_wait *w = arg;
  w->done = 1;
  w->error = error;
}

/* Closes every exporter and waits for each to drain (a Redis exporter may
 * still be sending). */
static void close_exporters(mxs_scan_t *s) {
  for (size_t i = 0; i < s->nout; i++) {
    mxs_exporter_t *x = s->out[i];
    char target[sizeof x->target];
    snprintf(target, sizeof target, "%s", x->target);
    struct close_wait w = {0, 0};
    mxs_exporter_close(x, on_exporter_closed, &w);
    while (!w.done && uv_run(&s->loop, UV_RUN_ONCE)) {
    }
    if (w.error) {
      /* The records are not all stored: say where, and fail the run. */
      fprintf(s->err, "mxscan: writing %s: %s\n", target, strerror(-w.error));
      if (!s->stats->write_errors) s->stats->write_errors = 1;
    }
  }
  s->nout = 0;
}

static void teardown(mxs_scan_t *s) {
  close_exporters(s);
  mxs_table_each(&s->targets, free_target, NULL);
  mxs_table_free(&s->targets);
  mxs_table_free(&s->ip_active);
  if (s->input) mxs_input_free(s->input);
  mxs_tls_ctx_free(s->tls);
}

int mxs_scan_run(const mxs_config_t *cfg, mxs_stats_t *stats, FILE *err) {
  mxs_scan_t *s = calloc(1, sizeof *s);
  if (!s) return 2;
  s->cfg = cfg;
  s->stats = stats;
  s->err = err;
  s->qtail = &s->qhead;
  s->high_water = (size_t)cfg->concurrency * 4 + 64;
  mxs_table_init(&s->targets);
  mxs_table_init(&s->ip_active);
  memset(stats, 0, sizeof *stats);
  stats->started = (int64_t)time(NULL);
  uv_loop_init(&s->loop);
  char msg[512] = "";
  int rc = 0;
  if (setup(s, msg, sizeof msg) < 0) {
    fprintf(err, "mxscan: %s\n", msg[0] ? msg : "out of memory");
    rc = 2;
    if (s->resolver) mxs_resolver_close(s->resolver, NULL, NULL);
    uv_walk(&s->loop, close_any, NULL);
  } else {
    pump_input(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
  }
  int aborted = !s->closed && rc == 0;
  teardown(s);
  if (aborted) { /* second signal: handles are still open; let them go */
    uv_walk(&s->loop, close_any, NULL);
  }
  uv_run(&s->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s->loop) != 0 && rc == 0) fprintf(err, "mxscan: warning: event loop not empty at exit\n");
  stats->finished = (int64_t)time(NULL);
  if (rc == 0 && (stats->interrupted || stats->write_errors)) rc = 1;
  free(s);
  return rc;
}
