/* scan_dane.c - DANE in a run (RFC 7672).
 *
 * With --dnssec, each (domain, MX host) whose MX answer and address answers
 * are DNSSEC-secure is a DANE candidate.  Its TLSA records are asked once
 * per host for the run (tlsa_cache.h); a domain waits for those of its
 * candidates before any of its jobs is queued, so its records keep their
 * order (MX preference, then address) and every job knows its TLSA
 * records when it picks its target.
 *
 * A host with secure, usable TLSA records gets probes of its own, keyed
 * "ADDR|HOST|dane", with its TLSA records and SNI = HOST: DANE is per MX
 * host name (the TLSA base domain is the name, RFC 7672 8.1 wants it as
 * the SNI, and DANE-TA's name check is against it), so a probe of the
 * address made for another name, or without TLSA records, cannot carry its
 * verdict.  Matching again on a retained chain would need the whole chain
 * of every address kept for the run and shipped between machines
 * (probe/verdict_codec.h keeps the leaf's fields only); DANE hosts are
 * few, so a connection of their own costs little and gets the verdict of
 * the handshake a DANE sender would make.  Such probes are never claimed
 * from or published to other machines of a distributed run (the claim is
 * per address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/dane.h"
#include "scanner/scan.h"
#include "scanner/scan_int.h"

/* A domain waiting for TLSA answers, with its DNS answer kept. */
typedef struct dane_wait_s {
  mxs_scan_t *s;
  domain_t *d;
  int pending;
  struct dane_wait_s *prev, *next; /* s->dane_waits, for a run that stops */
  mxs_domain_answer_t a;           /* a deep copy, in `mem` */
  mxs_mx_host_t *mx;
  char **strs; /* every string of the copy */
  size_t nstrs;
} dane_wait_t;

static int is_candidate(const mxs_scan_t *s, const domain_t *d, const mxs_mx_host_t *mx) {
  return s->tlsa && d->mx_secure && mx->secure && mx->status == MXS_CLASS_OK && mx->naddrs > 0;
}

static void wait_free(dane_wait_t *w) {
  for (size_t i = 0; i < w->nstrs; i++) free(w->strs[i]);
  free(w->strs);
  if (w->mx)
    for (size_t i = 0; i < w->a.nmx; i++) free((void *)w->mx[i].addrs);
  free(w->mx);
  free(w);
}

static const char *keep(dane_wait_t *w, const char *str) {
  char *c = strdup(str ? str : "");
  if (c) w->strs[w->nstrs++] = c;
  return c;
}

/* Deep copy of A into W: the resolver's answer lives only for its callback. */
static int copy_answer(dane_wait_t *w, const mxs_domain_answer_t *a) {
  size_t n = 2;
  for (size_t i = 0; i < a->nmx; i++) n += 2 + a->mx[i].naddrs;
  if (!(w->strs = calloc(n, sizeof *w->strs)) || !(w->mx = calloc(a->nmx ? a->nmx : 1, sizeof *w->mx))) return -1;
  w->a = *a;
  w->a.mx = w->mx;
  if (!(w->a.domain = keep(w, a->domain)) || !(w->a.detail = keep(w, a->detail))) return -1;
  for (size_t i = 0; i < a->nmx; i++) {
    const mxs_mx_host_t *m = &a->mx[i];
    mxs_mx_host_t *c = &w->mx[i];
    *c = *m;
    const char **addrs = calloc(m->naddrs ? m->naddrs : 1, sizeof *addrs);
    c->addrs = addrs;
    if (!addrs || !(c->host = keep(w, m->host)) || !(c->detail = keep(w, m->detail))) return -1;
    for (size_t k = 0; k < m->naddrs; k++)
      if (!(addrs[k] = keep(w, m->addrs[k]))) return -1;
  }
  return 0;
}

static void unlink_wait(mxs_scan_t *s, dane_wait_t *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    s->dane_waits = w->next;
  if (w->next) w->next->prev = w->prev;
}

/* Every TLSA answer W waited for is in (or the run stopped): queue the
 * domain's jobs, then drop the hold. */
static void wait_done(dane_wait_t *w) {
  mxs_scan_t *s = w->s;
  domain_t *d = w->d;
  unlink_wait(s, w);
  scan_queue_mx(s, d, &w->a);
  wait_free(w);
  scan_pump_probes(s);
  scan_domain_release(d);
}

static void on_tlsa(void *arg, const mxs_tlsa_entry_t *e) {
  dane_wait_t *w = arg;
  (void)e;
  if (--w->pending == 0) wait_done(w);
}

int scan_dane_hold(mxs_scan_t *s, domain_t *d, const mxs_domain_answer_t *a) {
  d->mx_secure = a->mx_secure;
  if (!s->tlsa || a->status != MXS_CLASS_OK) return 0;
  int asked = 0;
  for (size_t i = 0; i < a->nmx; i++) asked += is_candidate(s, d, &a->mx[i]) && !mxs_tlsa_find(s->tlsa, a->mx[i].host);
  if (asked == 0) return 0;
  dane_wait_t *w = calloc(1, sizeof *w);
  if (!w || copy_answer(w, a) < 0) {
    if (w) wait_free(w);
    fprintf(s->err, "mxscan: %s: out of memory waiting for TLSA records: probed without DANE\n", d->name);
    return 0;
  }
  w->s = s;
  w->d = d;
  w->pending = 1; /* until every lookup is asked: none answers inside its call anyway */
  for (size_t i = 0; i < a->nmx; i++)
    if (is_candidate(s, d, &a->mx[i]) && !mxs_tlsa_find(s->tlsa, a->mx[i].host) &&
        mxs_tlsa_lookup(s->tlsa, a->mx[i].host, on_tlsa, w) == 0)
      w->pending++;
  w->next = s->dane_waits;
  if (s->dane_waits) s->dane_waits->prev = w;
  s->dane_waits = w;
  d->outstanding++; /* the DANE hold: released by wait_done */
  on_tlsa(w, NULL); /* the "until asked" count; queues now if nothing was asked */
  return 1;
}

void scan_dane_stop(mxs_scan_t *s) {
  if (s->tlsa) mxs_tlsa_flush(s->tlsa);
}

const mxs_tlsa_entry_t *scan_dane_entry(const mxs_scan_t *s, const domain_t *d, const mxs_mx_host_t *mx,
                                        int *candidate) {
  *candidate = is_candidate(s, d, mx);
  return *candidate ? mxs_tlsa_find(s->tlsa, mx->host) : NULL;
}

int scan_dane_view(const mxs_scan_t *s, const job_t *j, mxs_dane_view_t *out, char matched[16]) {
  if (!s->tlsa || !j->mx) return 0;
  const struct target_s *t = j->t;
  /* the run stopped before the answer: not looked up, not secure */
  mxs_verdict_dane_view(t ? &t->v : NULL, t && t->tlsa && t->tlsa == j->tlsa, j->dane_candidate ? j->tlsa : NULL,
                        s->cfg->require_dane, out, matched);
  return 1;
}
