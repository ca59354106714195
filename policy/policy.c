/* policy.c - per domain: the MTA-STS and TLS-RPT TXT records, then the
 * policy host's address and the policy file, into one shared result.
 *
 * A result counts its outstanding steps (DNS questions, the fetch): each
 * step holds a reference and answers into the result; when none is left
 * the result is complete and its waiters are told, from an idle handle, so
 * a callback never runs inside mxs_policy_lookup() even for a result
 * already kept.  mxs_policy_stop() completes what is in flight at once;
 * the steps still outstanding then answer into a result nobody waits for,
 * or never (the resolver is closed before the checker).
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/table.h"

typedef struct waiter_s {
  struct waiter_s *next;
  mxs_policy_result_t *res;
  mxs_policy_cb cb;
  void *arg;
} waiter_t;

struct mxs_policy_result_s {
  mxs_policy_t *p;
  int refs;        /* the table's, each caller's, each outstanding step's */
  int outstanding; /* steps not answered yet */
  int complete;    /* waiters told */
  int unfinished;  /* completed by mxs_policy_stop */
  int in_table;
  waiter_t *waiters;
  /* MTA-STS */
  int has_sts;
  char txt_id[MXS_STS_ID_MAX + 1]; /* "" : none */
  mxs_sts_policy_t pol;            /* mode UNSET: none */
  int cached;                      /* POL came from the policy cache ... */
  int64_t fetched_at;              /* ... fetched then (Unix seconds) */
  char *fetch_error, *invalid;     /* owned */
  /* TLS-RPT */
  char **rua; /* one allocation */
  size_t nrua;
  char *tlsrpt_error;
  char host[270]; /* mta-sts.DOMAIN */
  char domain[256];
};

struct mxs_policy_s {
  uv_loop_t *loop;
  mxs_resolver_t *resolver;
  mxs_fetch_t *fetch;
  mxs_policy_opts_t o;
  mxs_table_t results;           /* domain -> result: in flight, or complete and publishing */
  waiter_t *ready, **ready_tail; /* to tell from the idle handle */
  uv_idle_t idle;
  mxs_policy_stats_t stats;
  int stopping;
};

static void result_free(mxs_policy_result_t *r) {
  mxs_sts_policy_free(&r->pol);
  free(r->fetch_error);
  free(r->invalid);
  free(r->rua);
  free(r->tlsrpt_error);
  free(r);
}

void mxs_policy_release(mxs_policy_result_t *r) {
  if (r && --r->refs == 0) result_free(r);
}

static int publishes(const mxs_policy_result_t *r) { return r->has_sts || r->nrua || r->tlsrpt_error; }

static char *dup_printf(const char *fmt, const char *a, const char *b) {
  char buf[512];
  snprintf(buf, sizeof buf, fmt, a, b);
  return strdup(buf);
}

/* ---- completion -------------------------------------------------------- */

static void on_idle(uv_idle_t *h) {
  mxs_policy_t *p = h->data;
  waiter_t *w = p->ready;
  p->ready = NULL;
  p->ready_tail = &p->ready;
  uv_idle_stop(h);
  while (w) {
    waiter_t *next = w->next;
    w->cb(w->arg, w->res); /* the waiter's reference goes with it */
    free(w);
    w = next;
  }
}

/* Queues W to be told from the idle handle. */
static void ready(mxs_policy_t *p, waiter_t *w) {
  w->next = NULL;
  *p->ready_tail = w;
  p->ready_tail = &w->next;
  uv_idle_start(&p->idle, on_idle);
}

static void complete(mxs_policy_result_t *r) {
  mxs_policy_t *p = r->p;
  r->complete = 1;
  p->stats.sts += r->has_sts;
  p->stats.fetched += r->pol.mode != MXS_STS_MODE_UNSET && !r->cached;
  p->stats.from_cache += r->cached;
  p->stats.fetch_errors += r->fetch_error != NULL;
  p->stats.invalid += r->invalid != NULL;
  p->stats.tlsrpt += r->nrua > 0;
  waiter_t *w = r->waiters;
  r->waiters = NULL;
  while (w) {
    waiter_t *next = w->next;
    ready(p, w);
    w = next;
  }
  /* kept for the run only when there is something to keep */
  if (!publishes(r) && r->in_table && r->outstanding == 0) {
    mxs_table_del(&p->results, r->domain);
    r->in_table = 0;
    mxs_policy_release(r);
  }
}

/* A step of R answered: drop its reference; complete R at the last. */
static void step_done(mxs_policy_result_t *r) {
  r->outstanding--;
  if (!r->complete && r->outstanding == 0) complete(r);
  mxs_policy_release(r);
}

static int step_query(mxs_policy_result_t *r, const char *name, mxs_rr_type_t type, mxs_rr_cb cb) {
  r->refs++;
  r->outstanding++;
  if (mxs_resolver_query(r->p->resolver, name, type, cb, r) < 0) {
    r->refs--;
    r->outstanding--;
    return -1;
  }
  return 0;
}

/* ---- MTA-STS ------------------------------------------------------------ */

static void on_fetched(void *arg, const mxs_fetch_result_t *f) {
  mxs_policy_result_t *r = arg;
  if (!r->complete) {
    if (f->cancelled) {
      r->unfinished = 1;
    } else if (f->error) {
      r->fetch_error = dup_printf("https://%s/.well-known/mta-sts.txt: %s", r->host, f->error);
    } else {
      char why[300];
      if (mxs_sts_policy_parse(f->body, f->len, &r->pol, why, sizeof why) < 0)
        r->invalid = strdup(why);
      else if (r->p->o.cache) /* out of memory: fetched again next run, nothing lost */
        (void)mxs_sts_cache_put(r->p->o.cache, r->domain, r->txt_id, (int64_t)time(NULL), r->pol.max_age, f->body,
                                f->len);
    }
  }
  step_done(r);
}

/* How long DOMAIN's cached policy is used: between half of --policy-refresh
 * and all of it, the same for a domain from run to run (FNV-1a of its
 * name).  Policies first fetched on the same night then come due on
 * different nights, instead of all of them every third night. */
static int64_t refresh_of(const mxs_policy_t *p, const char *domain) {
  int64_t full = p->o.refresh_s, half = full / 2;
  if (half <= 0) return full;
  uint32_t h = 2166136261u;
  for (const unsigned char *c = (const unsigned char *)domain; *c; c++) h = (h ^ *c) * 16777619u;
  return full - (int64_t)(h % (uint32_t)(half + 1));
}

/* RFC 8461 3.3: a policy fetched under the TXT id the domain still
 * publishes, less than --policy-refresh ago and within its max_age, is
 * used as it is.  1 when R's policy came from the cache. */
static int from_cache(mxs_policy_t *p, mxs_policy_result_t *r) {
  mxs_exclude_hit_t hit;
  if (!p->o.cache || (p->o.exclude && mxs_exclude_name(p->o.exclude, r->host, &hit))) return 0;
  const mxs_sts_cache_entry_t *e = mxs_sts_cache_get(p->o.cache, r->domain);
  int64_t now = (int64_t)time(NULL);
  if (!e || strcmp(e->id, r->txt_id) != 0 || now < e->fetched_at || now - e->fetched_at >= refresh_of(p, r->domain) ||
      now - e->fetched_at >= e->max_age)
    return 0;
  char why[300];
  if (mxs_sts_policy_parse(e->text, e->len, &r->pol, why, sizeof why) < 0) return 0; /* fetch it again */
  r->cached = 1;
  r->fetched_at = e->fetched_at;
  return 1;
}

/* The policy host or its address ADDR is on the exclude list: no
 * connection, and R's fetch error names the entry. */
static int excluded_host(const mxs_policy_t *p, mxs_policy_result_t *r, const char *addr) {
  mxs_exclude_hit_t hit;
  const char *what = mxs_exclude_name(p->o.exclude, r->host, &hit) ? r->host
                     : mxs_exclude_addr(p->o.exclude, addr, &hit)  ? addr
                                                                   : NULL;
  if (!what) return 0;
  char why[640], buf[768];
  snprintf(buf, sizeof buf, "policy host %s not fetched from: %s", r->host,
           mxs_exclude_why(why, sizeof why, what, p->o.exclude_path, &hit));
  r->fetch_error = strdup(buf);
  return 1;
}

static void on_host_address(void *arg, const mxs_rr_answer_t *a) {
  mxs_policy_result_t *r = arg;
  mxs_policy_t *p = r->p;
  if (r->complete) {
    /* stopped meanwhile: nothing more to do */
  } else if (a->status == MXS_RR_OK && excluded_host(p, r, a->items[0])) {
    /* the fetch error says which entry */
  } else if (a->status == MXS_RR_OK) {
    r->refs++;
    r->outstanding++;
    if (mxs_fetch_policy(p->fetch, r->host, a->items[0], on_fetched, r) < 0) {
      r->refs--;
      r->outstanding--;
      r->fetch_error = strdup("out of memory queueing the policy fetch");
    }
  } else if (a->status == MXS_RR_NONE && a->type == MXS_RR_A && p->o.ipv6 &&
             step_query(r, r->host, MXS_RR_AAAA, on_host_address) == 0) {
    /* no IPv4 address: try IPv6 */
  } else {
    r->fetch_error = a->status == MXS_RR_NONE ? dup_printf("policy host %s has no address (%s)", r->host, a->detail)
                                              : dup_printf("policy host %s: address lookup: %s", r->host, a->detail);
  }
  step_done(r);
}

static void on_sts_txt(void *arg, const mxs_rr_answer_t *a) {
  mxs_policy_result_t *r = arg;
  if (r->complete) {
    /* stopped meanwhile */
  } else if (a->status == MXS_RR_FAILED) {
    r->has_sts = 1;
    r->fetch_error = dup_printf("_mta-sts.%s TXT lookup: %s", r->domain, a->detail);
  } else if (a->status == MXS_RR_OK) {
    char why[300];
    switch (mxs_sts_txt_pick(a->items, a->lens, a->n, r->txt_id, why, sizeof why)) {
    case MXS_STS_TXT_NONE: break;
    case MXS_STS_TXT_INVALID:
      r->has_sts = 1;
      r->invalid = strdup(why);
      break;
    case MXS_STS_TXT_OK:
      r->has_sts = 1;
      snprintf(r->host, sizeof r->host, "mta-sts.%s", r->domain);
      if (from_cache(r->p, r)) break;
      if (step_query(r, r->host, MXS_RR_A, on_host_address) < 0)
        r->fetch_error = strdup("out of memory queueing the policy host lookup");
      break;
    }
  }
  step_done(r);
}

/* ---- TLS-RPT ------------------------------------------------------------ */

static void on_tlsrpt_txt(void *arg, const mxs_rr_answer_t *a) {
  mxs_policy_result_t *r = arg;
  if (r->complete) {
    /* stopped meanwhile */
  } else if (a->status == MXS_RR_FAILED) {
    r->tlsrpt_error = dup_printf("_smtp._tls.%s TXT lookup: %s", r->domain, a->detail);
  } else if (a->status == MXS_RR_OK) {
    char why[300];
    if (mxs_tlsrpt_txt_pick(a->items, a->lens, a->n, &r->rua, &r->nrua, why, sizeof why) == MXS_TLSRPT_INVALID)
      r->tlsrpt_error = strdup(why);
  }
  step_done(r);
}

/* ---- the interface ------------------------------------------------------ */

static int wait_for(mxs_policy_result_t *r, mxs_policy_cb cb, void *arg) {
  waiter_t *w = malloc(sizeof *w);
  if (!w) return UV_ENOMEM;
  *w = (waiter_t){NULL, r, cb, arg};
  r->refs++; /* the waiter's, handed over with the callback */
  if (r->complete) {
    ready(r->p, w);
  } else {
    w->next = r->waiters;
    r->waiters = w;
  }
  return 0;
}

int mxs_policy_lookup(mxs_policy_t *p, const char *domain, mxs_policy_cb cb, void *arg) {
  if (!p || !domain || !cb || strlen(domain) >= sizeof((mxs_policy_result_t *)0)->domain) return UV_EINVAL;
  p->stats.lookups++;
  mxs_policy_result_t *r = mxs_table_get(&p->results, domain);
  if (r) {
    p->stats.cache_hits++;
    return wait_for(r, cb, arg);
  }
  if (!(r = calloc(1, sizeof *r))) return UV_ENOMEM;
  r->p = p;
  r->refs = 2; /* the table's, and the hold's while the steps are queued */
  r->pol.max_age = -1;
  snprintf(r->domain, sizeof r->domain, "%s", domain);
  if (mxs_table_put(&p->results, r->domain, r) < 0) {
    free(r);
    return UV_ENOMEM;
  }
  r->in_table = 1;
  char name[300];
  r->outstanding = 1; /* the hold */
  snprintf(name, sizeof name, "_mta-sts.%s", domain);
  int rc = step_query(r, name, MXS_RR_TXT, on_sts_txt);
  snprintf(name, sizeof name, "_smtp._tls.%s", domain);
  if (rc == 0) rc = step_query(r, name, MXS_RR_TXT, on_tlsrpt_txt);
  if (rc == 0) rc = wait_for(r, cb, arg);
  if (rc < 0) { /* a half-started lookup completes with what it has */
    r->fetch_error = strdup("out of memory queueing the policy lookups");
    r->has_sts = 1;
  }
  step_done(r); /* the hold */
  return rc < 0 ? UV_ENOMEM : 0;
}

void mxs_policy_view(const mxs_policy_result_t *r, const char *mx, mxs_sts_view_t *sts, mxs_policy_view_t *out) {
  *out = (mxs_policy_view_t){NULL, NULL, 0, NULL, NULL};
  if (!r) return;
  if (r->has_sts) {
    *sts = (mxs_sts_view_t){.txt_id = r->txt_id[0] ? r->txt_id : NULL,
                            .mode = r->pol.mode,
                            .max_age = r->pol.max_age,
                            .mx = (const char *const *)r->pol.mx,
                            .nmx = r->pol.nmx,
                            .mx_match = -1,
                            .fetch_error = r->fetch_error,
                            .invalid = r->invalid,
                            .cached_at = r->cached ? r->fetched_at : 0};
    /* mode none: no policy to hold the MX against (RFC 8461 5) */
    if ((r->pol.mode == MXS_STS_ENFORCE || r->pol.mode == MXS_STS_TESTING) && mx)
      sts->mx_match = mxs_sts_mx_match_any((const char *const *)r->pol.mx, r->pol.nmx, mx);
    out->sts = sts;
  }
  out->tlsrpt_rua = (const char *const *)r->rua;
  out->ntlsrpt_rua = r->nrua;
  out->tlsrpt_error = r->tlsrpt_error;
}

int mxs_policy_unfinished(const mxs_policy_result_t *r) { return r && r->unfinished; }

typedef struct {
  mxs_policy_result_t **v;
  size_t n;
} collect_t;

static void collect(void *arg, const char *key, void *val) {
  (void)key;
  collect_t *c = arg;
  mxs_policy_result_t *r = val;
  if (!r->complete) {
    c->v[c->n++] = r;
    r->refs++; /* complete() may drop it from the table */
  }
}

void mxs_policy_stop(mxs_policy_t *p) {
  if (!p || p->stopping) return;
  p->stopping = 1;
  mxs_fetch_cancel_all(p->fetch); /* their answers mark their results unfinished */
  collect_t c = {p->results.len ? malloc(p->results.len * sizeof *c.v) : NULL, 0};
  if (c.v) mxs_table_each(&p->results, collect, &c);
  for (size_t i = 0; i < c.n; i++) {
    if (!c.v[i]->complete) {
      c.v[i]->unfinished = 1;
      complete(c.v[i]);
    }
    mxs_policy_release(c.v[i]);
  }
  free(c.v);
  on_idle(&p->idle); /* tell the waiters now: the run is ending */
}

void mxs_policy_stats(const mxs_policy_t *p, mxs_policy_stats_t *out) {
  if (p && out) *out = p->stats;
}

int mxs_policy_new(uv_loop_t *loop, mxs_resolver_t *resolver, const mxs_policy_opts_t *opts, mxs_policy_t **out,
                   char *err, size_t errlen) {
  mxs_policy_t *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  int rc = mxs_fetch_new(loop, &opts->fetch, &p->fetch, err, errlen);
  if (rc < 0) {
    free(p);
    return rc;
  }
  p->loop = loop;
  p->resolver = resolver;
  p->o = *opts;
  mxs_table_init(&p->results);
  p->ready_tail = &p->ready;
  uv_idle_init(loop, &p->idle);
  p->idle.data = p;
  *out = p;
  return 0;
}

static void free_result(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  result_free(val);
}

static void idle_closed(uv_handle_t *h) { free(h->data); }

void mxs_policy_close(mxs_policy_t *p) {
  if (!p) return;
  mxs_fetch_close(p->fetch); /* no fetch answers after this */
  /* the resolver is closed: no step will answer; what is kept goes */
  mxs_table_each(&p->results, free_result, NULL);
  mxs_table_free(&p->results);
  while (p->ready) { /* nobody waits any more */
    waiter_t *w = p->ready;
    p->ready = w->next;
    free(w);
  }
  uv_close((uv_handle_t *)&p->idle, idle_closed);
}
