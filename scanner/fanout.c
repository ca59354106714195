/* fanout.c - from resolved MX addresses to records: one target per address
 * (probed once, or once per name), the scheduler that starts them within
 * the limits, retries, the legacy diagnosis, the distributed hooks, and
 * each domain's records written together. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/ratelimit.h"
#include "scanner/scan.h"
#include "scanner/scan_int.h"

static int queue_target(mxs_scan_t *s, struct target_s *t, uint64_t not_before);

/* ---- records ----------------------------------------------------------- */

static void write_record(mxs_scan_t *s, domain_t *d, const mxs_record_t *r) {
  for (size_t i = 0; i < s->nout; i++)
    if (mxs_exporter_write(s->out[i], r) < 0) s->stats->write_errors++;
  s->stats->probes[r->cls]++;
  s->stats->nprobes++;
  s->stats->unfinished += r->unfinished != 0;
  d->seen |= MXS_CLASS_BIT(r->cls);
  /* a domain's records are written one after the other: ndomains numbers it */
  if (s->metrics && r->cls != MXS_CLASS_OK) mxs_metrics_fail(s->metrics, s->stats->ndomains, r->mx);
  mxs_delivery_domain_add(&d->delivery, r);
}

/* The record's `policy` map: what the domain publishes (MTA-STS, TLS-RPT:
 * policy/policy.h) and, with --dnssec, DANE for its MX host (scan_dane.c);
 * the class a sender holding them meets (results/policy.h), and
 * `unfinished` when the run ended before the domain's were known (so
 * --resume scans the domain again). */
static void with_policy(const mxs_scan_t *s, const job_t *j, mxs_record_t *r, mxs_sts_view_t *sts, mxs_dane_view_t *dv,
                        mxs_policy_view_t *pv, char matched[16], char *buf, size_t len) {
  const domain_t *d = j->d;
  int dane = scan_dane_view(s, j, dv, matched);
  /* A domain that stopped at DNS has no mail route for a policy to govern
   * (and its TXT lookups failed the same way as its MX lookup). */
  int published = d->policy && r->mx;
  /* without it, no policy.sts would read as "publishes none" at mta-sts */
  r->policy_checked = d->policy && !mxs_policy_unfinished(d->policy);
  if (!published && !dane) return;
  *pv = (mxs_policy_view_t){0};
  if (published) mxs_policy_view(d->policy, r->mx, sts, pv);
  if (dane) pv->dane = dv;
  r->policy = pv;
  mxs_policy_apply(pv, &r->cls, r->cert_errors, &r->detail, buf, len);
  if (published) r->unfinished |= mxs_policy_unfinished(d->policy);
}

static void free_job(job_t *j) {
  free(j->mx);
  free(j->dns_detail);
  free(j->ip);
  free(j);
}

static void write_dns_record(mxs_scan_t *s, const job_t *j) {
  mxs_record_t r = {
      .domain = j->d->name, .cls = j->dns_cls, .stage = "dns", .detail = j->dns_detail, .unfinished = j->unfinished};
  memcpy(r.scanned_at, j->at, sizeof r.scanned_at);
  if (j->mx) {
    r.mx = j->mx;
    r.pref = j->pref;
    r.implicit_mx = j->implicit;
  }
  if (j->ip) { /* excluded: the address known, never connected to */
    r.ip = j->ip;
    r.port = s->cfg->port;
  }
  mxs_sts_view_t sts;
  mxs_dane_view_t dv;
  mxs_policy_view_t pv;
  char matched[16], pbuf[640];
  /* an excluded record says only that: no policy is judged on what was not probed */
  if (j->dns_cls != MXS_CLASS_EXCLUDED) with_policy(s, j, &r, &sts, &dv, &pv, matched, pbuf, sizeof pbuf);
  write_record(s, j->d, &r);
}

static void write_probe_record(mxs_scan_t *s, const job_t *j) {
  const struct target_s *t = j->t;
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
  mxs_sts_view_t sts;
  mxs_dane_view_t dv;
  mxs_policy_view_t pv;
  char matched[16], pbuf[640];
  with_policy(s, j, &r, &sts, &dv, &pv, matched, pbuf, sizeof pbuf);
  write_record(s, j->d, &r);
}

/* Keeps J's record until the domain is complete, in output order. */
static void domain_ready(domain_t *d, job_t *j) {
  job_t **pp = &d->done;
  while (*pp && (*pp)->seq < j->seq) pp = &(*pp)->next;
  j->next = *pp;
  *pp = j;
}

/* Tells the source a domain is complete once every exporter has stored its
 * records: a job queue may then acknowledge the job, never earlier. */
typedef struct {
  mxs_scan_t *s;
  uint64_t token;
  size_t waiting;
} ack_t;

static void on_stored(void *arg) {
  ack_t *a = arg;
  if (--a->waiting > 0) return;
  mxs_scan_t *s = a->s;
  if (s->source) s->source->ops->done(s->source, a->token);
  s->acks_pending--;
  free(a);
  scan_maybe_finish(s);
}

static void source_ack(mxs_scan_t *s, uint64_t token) {
  size_t n = 0;
  for (size_t i = 0; i < s->nout; i++) n += s->out[i]->ops->after_stored != NULL;
  ack_t *a = n ? malloc(sizeof *a) : NULL;
  if (!a) { /* files: stored once flushed */
    s->source->ops->done(s->source, token);
    return;
  }
  *a = (ack_t){s, token, n};
  s->acks_pending++;
  for (size_t i = 0; i < s->nout; i++)
    if (s->out[i]->ops->after_stored) s->out[i]->ops->after_stored(s->out[i], on_stored, a);
}

void scan_domain_release(domain_t *d) {
  if (--d->outstanding > 0) return;
  mxs_scan_t *s = d->scan;
  while (d->done) {
    job_t *j = d->done;
    d->done = j->next;
    if (j->t)
      write_probe_record(s, j);
    else
      write_dns_record(s, j);
    free_job(j);
  }
  /* One write per domain: a crash (even SIGKILL) then loses only domains
   * still in flight, and the file is torn at most in its last domain. */
  for (size_t i = 0; i < s->nout; i++) mxs_exporter_flush(s->out[i]);
  scan_check_outputs(s);
  source_ack(s, d->token);
  /* A domain is ok only when every record is; otherwise it counts under
   * its first failing class in contract order. */
  mxs_class_set_t fails = d->seen & ~MXS_CLASS_BIT(MXS_CLASS_OK);
  s->stats->domains[fails ? mxs_class_first(fails) : MXS_CLASS_OK]++;
  s->stats->ndomains++;
  mxs_stats_add_delivery(s->stats, &d->delivery, fails ? mxs_class_first(fails) : MXS_CLASS_OK);
  d->finished = 1;
  mxs_policy_release(d->policy);
  d->policy = NULL;
  if (!d->in_dns) free(d); /* else on_resolved frees it when c-ares is done */
  s->domains_active--;
  scan_pump_input(s);
  scan_maybe_finish(s);
}

/* A record that stops at DNS: for the domain (MX == NULL) or one MX host. */
job_t *scan_emit_dns_record(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, mxs_class_t cls,
                            const char *detail) {
  job_t *j = calloc(1, sizeof *j);
  if (!j || !(j->dns_detail = strdup(detail ? detail : "")) || (mx && !(j->mx = strdup(mx->host)))) {
    if (j) free_job(j);
    fprintf(s->err, "mxscan: %s: out of memory: record lost\n", d->name);
    s->stats->write_errors++;
    return NULL;
  }
  j->d = d;
  j->seq = d->next_seq++;
  j->dns_cls = cls;
  j->unfinished = s->stopping;
  mxs_rfc3339((int64_t)time(NULL), j->at);
  if (mx) {
    j->pref = mx->pref;
    j->implicit = implicit;
  }
  domain_ready(d, j);
  return j;
}

/* ---- targets ----------------------------------------------------------- */

/* ---- names on a shared address ----------------------------------------- */

static target_t *new_target(mxs_scan_t *s, const char *key, const char *ip, const char *sni, const char *provider);
static void claim_or_queue(mxs_scan_t *s, target_t *t);

/* The name reached the server: the probe got as far as the ClientHello,
 * so the outcome may depend on it (certificate, alert, TLS settings). */
static int sni_reached(const mxs_probe_result_t *r) {
  return r && r->stage && (r->tls_done || strcmp(r->stage, "tls") == 0);
}

/* A done probe of the address whose certificate is valid for NAME: the
 * address's own first, then its name probes; NULL when none. */
static target_t *covering(target_t *a, const char *name) {
  for (target_t *t = a; t; t = t == a ? a->names : t->next_name) {
    const mxs_probe_result_t *r = t->st == T_DONE ? t->v.res : NULL;
    if (r && r->tls_done && r->cert && mxs_cert_matches_host(r->cert, name)) return t;
  }
  return NULL;
}

/* Which probe a record of (address A, MX name) reports: A's own when the
 * name never reached the server or a retained certificate covers it,
 * else the name's own probe (made here, through the same limits).  No
 * shortcut guesses that a server ignores SNI: a host serves its default
 * certificate to customers without one of their own and a real one to the
 * next, so every uncovered name gets its probe unless the operator capped
 * them (--sni-probes-per-address): then it reuses the address's latest.
 * NULL: park the job on A until a name probe in flight is done (at most
 * --per-ip of them run at once per address anyway). */
static target_t *route(mxs_scan_t *s, target_t *a, const char *name) {
  /* a DANE probe is its name's own (scan_dane.c) */
  if (a->addr || a->tlsa || a->st != T_DONE || s->cfg->probe_per_name || s->cfg->sni_none) return a;
  const mxs_probe_result_t *r = a->v.res; /* its SNI: another machine's first name, in a distributed run */
  if (!sni_reached(r) || (r->sni && strcmp(r->sni, name) == 0)) return a;
  target_t *c = covering(a, name);
  if (c) return c;
  char key[512];
  snprintf(key, sizeof key, "%s|%s", a->ip, name);
  target_t *n = mxs_table_get(&s->targets, key);
  if (n) return n;
  int cap = s->cfg->sni_probes_per_address;
  if (cap > 0 && a->nnames >= cap) return a->latest ? a->latest : a;
  if (a->names_running >= s->cfg->per_ip) return NULL;
  if (!(n = new_target(s, key, a->ip, name, a->provider))) return a; /* out of memory: the address's answer */
  n->addr = a;
  n->next_name = a->names;
  a->names = n;
  a->nnames++;
  a->names_running++;
  claim_or_queue(s, n);
  return n;
}

/* J waits for T, or is ready when T is done; T NULL: J is parked on A.
 * COUNTED: J is already among its domain's outstanding records (it
 * waited on another target). */
static void attach(target_t *a, target_t *t, job_t *j, int counted) {
  if (t && t->st == T_DONE) {
    j->t = t;
    domain_ready(j->d, j);
    if (counted) scan_domain_release(j->d);
    return;
  }
  if (!counted) j->d->outstanding++;
  j->next = NULL;
  if (!t) {
    *a->ptail = j;
    a->ptail = &j->next;
    return;
  }
  *t->wtail = j;
  t->wtail = &j->next;
}

/* A name probe N of address A is done: the jobs parked on A that its
 * certificate covers report it; then the next parked names get probes of
 * their own, as many as may run.  When the run is stopping, every parked
 * job takes A's latest result instead of a new probe. */
static void unpark(mxs_scan_t *s, target_t *a, target_t *n) {
  const mxs_probe_result_t *r = n->v.res;
  int covers = r && r->tls_done && r->cert;
  job_t *j = a->parked, *keep = NULL, **ktail = &keep;
  a->parked = NULL;
  a->ptail = &a->parked;
  while (j) {
    job_t *next = j->next;
    if (s->stopping || (covers && mxs_cert_matches_host(r->cert, j->mx))) {
      attach(a, s->stopping ? a->latest : n, j, 1);
    } else {
      j->next = NULL;
      *ktail = j;
      ktail = &j->next;
    }
    j = next;
  }
  /* the rest, in order: each is routed again (a probe for its name, one
   * already made, or parked again behind the probes now in flight) */
  for (j = keep; j;) {
    job_t *next = j->next;
    attach(a, route(s, a, j->mx), j, 1);
    j = next;
  }
}

/* A name probe is done: count the addresses that chose their certificate
 * by name (another certificate than the address's own probe got), and
 * let the parked jobs go on. */
static void name_probe_done(mxs_scan_t *s, target_t *n) {
  target_t *a = n->addr;
  a->latest = n;
  a->names_running--;
  const mxs_probe_result_t *r = n->v.res, *ar = a->v.res;
  if (!a->chose_by_name && r && r->cert && (!ar || !ar->cert || strcmp(ar->cert->info.sha256, r->cert->info.sha256))) {
    a->chose_by_name = 1;
    s->stats->sni_addresses++;
  }
  unpark(s, a, n);
}

/* Writes the records of every job waiting on T.  ACTIVE: T held a
 * scheduler slot (it ran), as opposed to being abandoned from the queue. */
/* The sender profile the run's probes use, on a verdict of this machine. */
static void set_profile(mxs_scan_t *s, mxs_verdict_t *v) {
  mxs_verdict_set_profile(v, s->profile->name, s->profile_custom, s->tls_set.min_version, s->tls_set.max_version);
}

static void target_complete(target_t *t, int active) {
  mxs_scan_t *s = t->scan;
  t->st = T_DONE;
  if (t->v.res && !t->v.profile) set_profile(s, &t->v); /* a verdict from another machine has its own */
  t->probe = NULL;
  if (t->v.res && t->attempts > 0) t->v.res->attempts = t->attempts; /* not for a verdict taken from another machine */
  if (active) mxs_sched_done(&s->sched, &t->item, 1, uv_now(&s->loop));
  const mxs_scan_hooks_t *h = s->source ? s->source->hooks : NULL;
  if (t->claimed && h && h->publish && t->v.res) h->publish(h->arg, t->key, &t->v);
  job_t *j = t->waiters;
  t->waiters = NULL;
  t->wtail = &t->waiters;
  while (j) {
    job_t *next = j->next;
    /* s->stopping: the run takes no new work, so no new name probes */
    attach(t, s->stopping ? t : route(s, t, j->mx), j, 1);
    j = next;
  }
  if (t->addr) name_probe_done(s, t);
  scan_pump_probes(s);
}

/* Starts a probe of T on this loop (shard 0 of --threads) or on the worker
 * thread that owns its address. */
static int launch(mxs_scan_t *s, target_t *t, int legacy, mxs_probe_cb cb) {
  const mxs_tls_dane_t *dane = t->tlsa && !legacy ? &t->tlsa->rrset : NULL;
  if (s->workers && mxs_workers_shard(t->ip, (unsigned)s->cfg->threads) != 0)
    return mxs_workers_start_dane(s->workers, t->ip, s->cfg->port, t->sni, legacy, dane, cb, t);
  return mxs_probe_start_dane(&s->penv, t->ip, s->cfg->port, t->sni, legacy, dane, cb, t, &t->probe);
}

static void on_legacy_done(void *arg, mxs_probe_result_t *res) {
  target_t *t = arg;
  if (res->local_error) /* our shortage: no diagnosis, rather than a false one */
    mxs_probe_result_free(res);
  else
    mxs_verdict_add_legacy(&t->v, res);
  target_complete(t, 1);
}

static void on_diag_done(void *arg, mxs_probe_result_t *res);

/* Starts the next --diag-profiles retry of T; 0 when none is left. */
static int next_diag(mxs_scan_t *s, target_t *t) {
  while (t->diag_next < s->ndiag) {
    int k = t->diag_next++;
    if (launch(s, t, k + 1, on_diag_done) == 0) return 1;
  }
  return 0;
}

static void on_diag_done(void *arg, mxs_probe_result_t *res) {
  target_t *t = arg;
  mxs_scan_t *s = t->scan;
  t->probe = NULL;
  mxs_verdict_add_retry(&t->v, s->diag[t->diag_next - 1]->name, res);
  if (!s->deadline && next_diag(s, t)) return;
  target_complete(t, 1);
}

/* The provider of an MX host: its registrable domain (public suffix list),
 * so every name under one mail platform shares one set of limits. */
static char *sched_provider(mxs_scan_t *s, const char *host) {
  const char *reg = s->psl ? psl_registrable_domain(s->psl, host) : NULL;
  return strdup(reg ? reg : host);
}

/* Outcomes that may go away on their own: a 421, a dropped SYN, a server
 * too slow to greet, a connection reset mid-handshake. */
static int is_transient(const mxs_probe_result_t *r) {
  switch (r->cls) {
  case MXS_CLASS_TCP_TIMEOUT:
  case MXS_CLASS_SMTP_BANNER_TIMEOUT:
  case MXS_CLASS_TLS_DIED: return 1;
  case MXS_CLASS_SMTP_REJECTED: return r->smtp_code == 421;
  default: return 0;
  }
}

/* Our own side ran out of something (descriptors, ports): not the peer's
 * fault, so retry without counting an attempt. */
static int is_local_error(const mxs_probe_result_t *r) { return r->local_error; }

static int schedule_retry(mxs_scan_t *s, target_t *t, mxs_probe_result_t *res) {
  uint64_t now = uv_now(&s->loop);
  int local = is_local_error(res);
  if (!local && (!is_transient(res) || t->attempts > s->cfg->retries)) return 0;
  int penalize = res->cls == MXS_CLASS_SMTP_REJECTED && res->smtp_code == 421;
  if (penalize) mxs_sched_penalize(&s->sched, &t->item, now);
  mxs_sched_done(&s->sched, &t->item, 0, now);
  uint64_t delay =
      local ? 100 : mxs_backoff_ms((unsigned)t->attempts, (uint64_t)s->cfg->retry_delay_ms, 300000, &s->seed);
  if (local) t->attempts--;
  if (queue_target(s, t, now + delay) < 0) return 0;
  if (local) { /* fewer probes at once; this outcome says nothing of the peer */
    scan_throttle_shortage(s, res);
    mxs_probe_result_free(res);
    return 1;
  }
  /* keep the outcome: if the run ends before the retry, it is the answer */
  mxs_probe_result_free(t->last);
  t->last = res;
  return 1;
}

/* Counts RES for the blocked-port watch, and warns the first time the
 * run's connections say this machine cannot reach port 25 at all. */
static void note_egress(mxs_scan_t *s, const target_t *t, const mxs_probe_result_t *res) {
  if (is_local_error(res) || res->unfinished) return; /* says nothing of the network */
  mxs_egress_t *e = &s->stats->egress;                /* in the stats: the --metrics file reads it live */
  mxs_egress_note(e, t->provider, strcmp(mxs_class_stage(res->cls), "connect") != 0);
  if (!e->warned && mxs_egress_blocked(e, 0)) {
    e->warned = 1;
    mxs_egress_message(e, s->cfg->port, s->stats->egress_blocked, sizeof s->stats->egress_blocked);
    fprintf(s->err, "mxscan: warning: %s\n", s->stats->egress_blocked);
  }
}

static void on_probe_done(void *arg, mxs_probe_result_t *res) {
  target_t *t = arg;
  mxs_scan_t *s = t->scan;
  t->probe = NULL;
  note_egress(s, t, res);
  if (!s->stopping && schedule_retry(s, t, res)) {
    scan_pump_probes(s);
    return;
  }
  if (is_local_error(res)) { /* the run ends before the retry: never a record of our shortage */
    mxs_probe_result_free(res);
    if (!(res = t->last)) {
      mxs_verdict_set_unfinished(&t->v, "not finished: the run ended before the probe could start");
      target_complete(t, 1);
      return;
    }
    t->last = NULL;
    res->unfinished = 1;
  } else {
    scan_throttle_ok(s);
  }
  mxs_probe_result_free(t->last);
  t->last = NULL;
  mxs_verdict_set(&t->v, res);
  set_profile(s, &t->v);
  /* A failed handshake gets one diagnostic retry with legacy settings: it
   * tells version, cipher, DH and renegotiation apart.  --diag-profiles
   * makes that one retry per profile listed, in turn. */
  if (s->cfg->legacy_retry && !s->deadline && mxs_verdict_wants_legacy(&t->v)) {
    t->diag_next = 0;
    if (s->ndiag ? next_diag(s, t) : launch(s, t, 1, on_legacy_done) == 0) return;
  }
  target_complete(t, 1);
}

static void start_target(mxs_scan_t *s, target_t *t) {
  const mxs_scan_hooks_t *h = s->source ? s->source->hooks : NULL;
  if (h && h->permit && t->st != T_PERMIT) { /* shared politeness: ask first */
    t->st = T_PERMIT;
    h->permit(h->arg, t, t->provider);
    return;
  }
  t->st = T_RUNNING;
  if (t->attempts++ == 0 && t->addr) s->stats->sni_probes++;
  if (t->attempts == 1 && t->tlsa) s->stats->dane_probes++;
  int rc = launch(s, t, 0, on_probe_done);
  if (rc < 0) {
    mxs_verdict_set_error(&t->v, rc);
    target_complete(t, 1);
  }
}

void scan_on_sched_timer(uv_timer_t *h) { scan_pump_probes(h->data); }

/* Starts every probe the limits allow now, and sets the timer for the
 * moment a rate or interval limit lapses. */
void scan_pump_probes(mxs_scan_t *s) {
  if (s->closed || s->stopping) return;
  uint64_t wake;
  mxs_sched_item_t *it;
  /* The rates are measured at the moment a connection starts, not at the
   * start of this loop iteration (uv_now is cached, and a busy iteration
   * would let two starts look further apart than they are). */
  uv_update_time(&s->loop);
  while ((it = mxs_sched_pop(&s->sched, uv_now(&s->loop), &wake))) start_target(s, (target_t *)it);
  if (wake != UINT64_MAX) uv_timer_start(&s->sched_timer, scan_on_sched_timer, wake, 0);
}

/* Queues T with the scheduler (not before NOT_BEFORE). */
static int queue_target(mxs_scan_t *s, target_t *t, uint64_t not_before) {
  t->st = T_QUEUED;
  return mxs_sched_push(&s->sched, &t->item, t->ip, t->provider, not_before);
}

void mxs_scan_claim_done(void *handle, mxs_verdict_t *v) {
  target_t *t = handle;
  mxs_scan_t *s = t->scan;
  if (!v) { /* ours to probe */
    t->claimed = 1;
    if (s->stopping || queue_target(s, t, uv_now(&s->loop)) < 0) {
      mxs_verdict_set_unfinished(&t->v, "not finished: the run ended before the probe started");
      target_complete(t, 0);
      return;
    }
    scan_pump_probes(s);
    return;
  }
  t->v = *v; /* another machine probed it: take its verdict */
  memset(v, 0, sizeof *v);
  target_complete(t, 0);
}

void mxs_scan_permit_done(void *handle, uint64_t wait_ms) {
  target_t *t = handle;
  mxs_scan_t *s = t->scan;
  if (wait_ms == 0 && !s->stopping) {
    start_target(s, t); /* T_PERMIT: starts now */
    return;
  }
  /* Not yet: give the slot back and come back when the provider allows. */
  uint64_t now = uv_now(&s->loop);
  mxs_sched_done(&s->sched, &t->item, 0, now);
  if (s->stopping || queue_target(s, t, now + wait_ms) < 0) {
    mxs_verdict_set_unfinished(&t->v, "not finished: the run ended before the probe started");
    target_complete(t, 0);
    return;
  }
  scan_pump_probes(s);
}

/* A new target under KEY (table-owned), probed at IP with SNI (NULL: none). */
static target_t *new_target(mxs_scan_t *s, const char *key, const char *ip, const char *sni, const char *provider) {
  target_t *t = calloc(1, sizeof *t);
  if (!t || (sni && !(t->sni = strdup(sni))) || !(t->key = strdup(key)) || !(t->provider = strdup(provider)) ||
      mxs_table_put(&s->targets, key, t) < 0) {
    if (t) {
      free(t->sni);
      free(t->key);
      free(t->provider);
    }
    free(t);
    return NULL;
  }
  t->scan = s;
  snprintf(t->ip, sizeof t->ip, "%s", ip);
  t->wtail = &t->waiters;
  t->ptail = &t->parked;
  t->latest = t;
  return t;
}

/* Probe-once across machines: ask who probes T; else queue it here. */
static void claim_or_queue(mxs_scan_t *s, target_t *t) {
  const mxs_scan_hooks_t *h = s->source ? s->source->hooks : NULL;
  /* DANE probes stay here: the codec that ships verdicts does not carry
   * the DANE match */
  if (h && h->claim && !t->tlsa) {
    t->st = T_CLAIMING;
    h->claim(h->arg, t, t->key, t->sni);
  } else if (queue_target(s, t, uv_now(&s->loop)) < 0) {
    mxs_verdict_set_error(&t->v, -ENOMEM); /* recorded, not lost */
    target_complete(t, 0);
  }
}

int scan_add_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip) {
  if (scan_exclude_job(s, d, mx, implicit, ip)) return 0;
  char key[512];
  int candidate;
  const mxs_tlsa_entry_t *tlsa = scan_dane_entry(s, d, mx, &candidate);
  /* DANE is per host name: a host with secure, usable TLSA records gets
   * probes of its own, with them (scan_dane.c says why) */
  const mxs_tlsa_entry_t *dane = tlsa && tlsa->secure && tlsa->usable ? tlsa : NULL;
  if (dane)
    snprintf(key, sizeof key, "%s|%s|dane", ip, mx->host);
  else if (s->cfg->probe_per_name)
    snprintf(key, sizeof key, "%s|%s", ip, mx->host);
  else
    snprintf(key, sizeof key, "%s", ip);
  target_t *t = mxs_table_get(&s->targets, key);
  int fresh = !t;
  if (fresh) {
    char *provider = sched_provider(s, mx->host);
    /* a DANE probe sends its name whatever --sni says: RFC 7672 8.1 */
    t = provider ? new_target(s, key, ip, s->cfg->sni_none && !dane ? NULL : mx->host, provider) : NULL;
    free(provider);
    if (!t) return -ENOMEM;
    t->tlsa = dane;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j || !(j->mx = strdup(mx->host))) {
    free(j);
    return -ENOMEM;
  }
  j->d = d;
  j->seq = d->next_seq++;
  j->pref = mx->pref;
  j->implicit = implicit;
  j->dane_candidate = candidate;
  j->tlsa = tlsa;
  /* probed earlier in the run: the answer is known, or a name probe of
   * its own is due */
  attach(t, route(s, t, j->mx), j, 0);
  if (fresh) claim_or_queue(s, t);
  return 0;
}

void scan_free_target(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  target_t *t = val;
  mxs_verdict_free(&t->v);
  mxs_probe_result_free(t->last);
  free(t->sni);
  free(t->key);
  free(t->provider);
  free(t);
}

/* Probes that never started get the outcome of their last attempt, or a
 * tcp-timeout record when there was none; both are marked unfinished. */
void scan_abandon_queued(mxs_scan_t *s, const char *why) {
  mxs_sched_item_t *it = mxs_sched_drain(&s->sched);
  while (it) {
    target_t *t = (target_t *)it;
    it = it->next;
    if (t->last) { /* its outcome so far, but the retries it was due never ran */
      t->last->unfinished = 1;
      mxs_verdict_set(&t->v, t->last);
      t->last = NULL;
    } else {
      mxs_verdict_set_unfinished(&t->v, why);
    }
    target_complete(t, 0);
  }
}

void scan_cancel_running(void *arg, const char *key, void *val) {
  (void)key;
  target_t *t = val;
  if (t->st == T_RUNNING && t->probe) mxs_probe_cancel(t->probe, arg);
}
