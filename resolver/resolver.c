/* resolver.c - domain -> sorted MX hosts -> addresses, on c-ares over libuv.
 *
 * Shape of the code:
 *  - the channel (channel.c): c-ares on the loop, one uv_poll_t per socket
 *    and one timer from ares_timeout(); it calls pump() after every batch;
 *  - the slot gate: every DNS question is a query_t embedded in its owner (a
 *    domain or a cached host), appended to a FIFO and submitted by pump() only
 *    while fewer than max_inflight are outstanding, because c-ares itself does
 *    not bound them; the bound itself starts low, grows with the answers and
 *    shrinks when a server on this machine drops queries (window.h);
 *  - the flow: domain -> MX query -> hosts (or the implicit MX) -> host cache
 *    entries, each with A (+AAAA) queries, and a list of domains waiting on it;
 *  - delivery: finished domains go to a FIFO drained from a uv_idle handle, so
 *    the user callback never runs inside mxs_resolver_resolve() nor inside
 *    c-ares, whatever c-ares does synchronously.
 */
#include "resolver/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/answer.h"
#include "resolver/channel.h"
#include "resolver/health.h"
#include "resolver/dnsmsg.h"
#include "resolver/hostcache.h"
#include "resolver/hostname.h"
#include "resolver/window.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum {
  DEFAULT_TIMEOUT_MS = 2000,
  DEFAULT_TRIES = 3,
  DEFAULT_MAX_INFLIGHT = 512,
  /* A timeout while our server's kernel was seen dropping queries is ours,
   * not the name's: asked again up to this many times. */
  MAX_DROP_REASKS = 6,
  /* MX hosts kept per domain, the best preferences: a hostile answer of
   * hundreds of MX records (each with 32 addresses) must not turn one
   * domain into thousands of connections; Postfix tries 5 addresses. */
  MAX_MX_HOSTS = 32,
  DETAIL_LEN = 64,
  /* Deliveries per idle tick, so a large batch cannot starve socket I/O. */
  DELIVER_BATCH = 1024,
  MAX_DOMAIN_LEN = 254, /* 253 plus an optional trailing dot */
  DNS_CLASS_IN = 1,
  DNS_TYPE_A = 1,
  DNS_TYPE_NS = 2,
  DNS_TYPE_MX = 15,
  DNS_TYPE_TXT = 16,
  DNS_TYPE_AAAA = 28,
  DNS_TYPE_TLSA = MXS_DNS_TYPE_TLSA,
};

typedef enum { Q_MX, Q_A, Q_AAAA, Q_CHECK, Q_RR } qkind_t;

/* One DNS question.  It is embedded in its owner so queueing never
 * allocates; while in the FIFO it is ours, once passed to ares_query() it
 * belongs to c-ares until query_cb() runs, and must not be touched. */
typedef struct query_s {
  struct query_s *next; /* FIFO link while waiting for a slot */
  mxs_resolver_t *r;
  const char *name; /* borrowed from the owner */
  qkind_t kind;
  uint8_t reasked;     /* held once and asked again (health.h) */
  uint8_t drop_reasks; /* asked again because our server dropped queries meanwhile */
  uint64_t sent_ns;    /* when handed to c-ares */
  int ad;              /* --dnssec: the answer (data or a denial) carried the AD bit */
  uint32_t drops_mark; /* the server's drops when it was sent (window.h), low 32 bits */
} query_t;

typedef struct host_s host_t;
typedef struct domain_s domain_t;

/* One MX of one domain: which host, and the link in that host's list of
 * domains waiting for its lookup to finish. */
typedef struct slot_s {
  host_t *host;
  domain_t *domain;
  struct slot_s *next_waiter;
  int pref;
} slot_t;

/* A cache entry: one MX host (or implicit-MX domain) for the whole run. */
struct host_s {
  char *name; /* lower-case, no trailing dot; also the cache key */
  int done;
  int outstanding;     /* queries not yet answered */
  uint64_t settled_ns; /* when done was set, for retrying failures */
  mxs_class_t status;
  size_t naddrs;
  char **addrs; /* one block: pointers then strings */
  slot_t *waiters;
  mxs_dns_addrs_t fam[2]; /* [0] A, [1] AAAA while the other may still run; freed when done */
  query_t qa, qaaaa;
  int secure; /* --dnssec: every address answer was authenticated (AD) */
  char detail[DETAIL_LEN];
};

struct domain_s {
  domain_t *prev, *next; /* live list, then the done FIFO (next only) */
  mxs_resolver_t *r;
  mxs_resolve_cb cb;
  void *arg;
  uint64_t start_ns;
  query_t q; /* the MX query */
  mxs_class_t status;
  int implicit_mx;
  int mx_secure; /* --dnssec: the MX answer (or its NODATA) carried AD */
  int remaining; /* host lookups this domain still waits for */
  int dns_ms;
  size_t nmx;
  slot_t *mx;
  char detail[DETAIL_LEN];
  char name[]; /* as given by the caller */
};

/* A mxs_resolver_query() question: live, then answered (parsed into one
 * block) and waiting in the delivery FIFO. */
typedef struct rr_s {
  struct rr_s *prev, *next; /* rr_live while asked, then the rr done FIFO (next only) */
  mxs_resolver_t *r;
  mxs_rr_cb cb;
  void *arg;
  query_t q;
  mxs_rr_type_t type;
  int ad;                /* the answer carried AD (--dnssec) */
  mxs_dns_items_t items; /* the answer, once parsed (its status: ARES_*) */
  char name[];
} rr_t;

struct mxs_resolver_s {
  mxs_resolver_chan_t *chan;
  uv_idle_t idle; /* deferred delivery */
  /* Queries waiting for a slot: [0] A/AAAA, [1] MX.  Address queries go
   * first so domains already started finish (and free their memory) before
   * new ones start. */
  query_t *fifo_head[2], *fifo_tail[2];
  size_t max_inflight;
  mxs_dns_window_t win; /* outstanding allowed now, up to max_inflight */
  int ipv6;
  int (*skip_host)(void *arg, const char *name); /* opts' */
  void *skip_arg;
  int dnssec;               /* own queries with AD and DO through ares_send(); answers' AD read */
  uint64_t retry_failed_ns; /* 0: failures stay for the run */
  int pumping;              /* pump() is on the stack: c-ares may call back inside it */
  int closing;
  int open_parts; /* the idle handle and the channel, until closed */
  domain_t *live; /* domains waiting on DNS, doubly linked */
  domain_t *done_head, *done_tail;
  rr_t *rr_live, *rr_done_head, *rr_done_tail;
  size_t pending;
  mxs_resolver_cache_t hosts;
  mxs_resolver_stats_t stats;
  void (*done_cb)(void *arg);
  void *done_arg;
  /* is the server answering (health.c), and the ". NS" check it sends */
  mxs_resolver_health_t health;
  int hold; /* opts.hold_failures */
  query_t check_q;
  void (*check_cb)(void *arg, int answered, const char *why);
  void *check_arg;
  void (*on_health)(void *arg);
  void *health_arg;
  char servers[256];
};

static void pump(mxs_resolver_t *r);
static int rr_qtype(const query_t *q);

/* ---- small helpers ---- */

/* Lower-cased copy without the trailing dot: the one spelling of a host
 * name used as cache key and reported to callers.  Caller frees. */
static char *normalize_name(const char *s) {
  size_t n = strlen(s);
  if (n > 0 && s[n - 1] == '.') n--;
  char *out = malloc(n + 1);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
  out[n] = '\0';
  return out;
}

static const char *status_text(int status) {
  switch (status) {
  case ARES_ENOTFOUND: return "NXDOMAIN";
  case ARES_ENODATA: return "no data";
  case ARES_ESERVFAIL: return "SERVFAIL";
  case ARES_EREFUSED: return "REFUSED";
  case ARES_ETIMEOUT: return "timeout";
  case ARES_ECONNREFUSED: return "connection refused";
  case ARES_EFORMERR: return "FORMERR";
  case ARES_ENOTIMP: return "NOTIMP";
  case ARES_EBADRESP: return "bad response";
  case ARES_EBADNAME: return "malformed name in the answer";
  default: return ares_strerror(status);
  }
}

/* The class of a failed query that is not NODATA.  Everything that is not
 * NXDOMAIN or a timeout means the resolver could not give an answer. */
static mxs_class_t failure_class(int status) {
  if (status == ARES_ENOTFOUND) return MXS_CLASS_DNS_NXDOMAIN;
  if (status == ARES_ETIMEOUT) return MXS_CLASS_DNS_TIMEOUT;
  return MXS_CLASS_DNS_SERVFAIL;
}

static int is_hard_failure(int status) {
  return status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND;
}

static uint64_t now_ns(void) { return uv_hrtime(); }

/* ---- lifetime ---- */

/* The idle handle and the channel close independently; the later one frees
 * R, after which nothing can reach it. */
static void part_closed(void *arg) {
  mxs_resolver_t *r = arg;
  if (--r->open_parts > 0) return;
  void (*done_cb)(void *) = r->done_cb;
  void *done_arg = r->done_arg;
  free(r);
  if (done_cb) done_cb(done_arg);
}

static void idle_close_cb(uv_handle_t *h) { part_closed(h->data); }

/* ---- the slot gate ---- */

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void enqueue(mxs_resolver_t *r, query_t *q) {
  int lane = q->kind == Q_MX || q->kind == Q_RR;
  q->next = NULL;
  if (r->fifo_tail[lane])
    r->fifo_tail[lane]->next = q;
  else
    r->fifo_head[lane] = q;
  r->fifo_tail[lane] = q;
  r->stats.queued++;
}

static query_t *dequeue(mxs_resolver_t *r) {
  int lane = r->fifo_head[0] ? 0 : 1;
  query_t *q = r->fifo_head[lane];
  if (q == NULL) return NULL;
  r->fifo_head[lane] = q->next;
  if (r->fifo_head[lane] == NULL) r->fifo_tail[lane] = NULL;
  r->stats.queued--;
  return q;
}

/* Submits queued queries while slots are free.  c-ares 1.18 may run
 * query_cb synchronously inside ares_query(); that callback may enqueue
 * more and calls pump() again, which returns at once: this loop picks the
 * new ones up. */
static void pump(mxs_resolver_t *r) {
  if (r->pumping) return;
  r->pumping = 1;
  query_t *q;
  while (r->stats.inflight < mxs_dns_window_size(&r->win) && !r->closing &&
         !(r->hold && mxs_resolver_health_blocked(&r->health)) && (q = dequeue(r)) != NULL) {
    r->stats.inflight++;
    if (r->stats.inflight > r->stats.peak_inflight) r->stats.peak_inflight = r->stats.inflight;
    r->stats.queries++;
    int type = q->kind == Q_MX ? DNS_TYPE_MX : q->kind == Q_A ? DNS_TYPE_A : DNS_TYPE_AAAA;
    if (q->kind == Q_RR) type = rr_qtype(q);
    if (q->kind == Q_MX)
      r->stats.mx_queries++;
    else if (q->kind == Q_RR)
      r->stats.rr_queries++;
    else
      r->stats.addr_queries++;
    q->sent_ns = now_ns();
    q->drops_mark = (uint32_t)mxs_dns_window_drops(&r->win, NULL, NULL);
    /* From here q belongs to c-ares: query_cb may run before this returns. */
    if (!r->dnssec) {
      ares_query(mxs_resolver_chan_ares(r->chan), q->name, DNS_CLASS_IN, type, query_cb, q);
      continue;
    }
    /* --dnssec: our own query (AD, and DO in an OPT record): c-ares 1.18
     * cannot set either bit.  ares_send() copies it and sets the id. */
    unsigned char qbuf[MXS_DNS_QUERY_MAX];
    int qlen = mxs_dns_build_query(q->name, (unsigned)type, 1, qbuf, sizeof qbuf);
    if (qlen < 0)
      query_cb(q, ARES_EBADNAME, 0, NULL, 0);
    else
      ares_send(mxs_resolver_chan_ares(r->chan), qbuf, qlen, query_cb, q);
  }
  r->pumping = 0;
}

/* ---- hosts: the per-run cache ---- */

static void domain_finish(domain_t *d);

static void host_free(void *v) {
  host_t *h = v;
  free(h->fam[0].buf);
  free(h->fam[1].buf);
  free(h->addrs);
  free(h->name);
  free(h);
}

/* Joins the families into h->addrs, IPv4 first, without duplicates: one
 * block holding the pointer array and then the strings. */
static int host_merge(host_t *h) {
  size_t n = h->fam[0].n + h->fam[1].n;
  if (n == 0) return 0;
  char **v = malloc(n * sizeof(char *) + h->fam[0].len + h->fam[1].len);
  if (v == NULL) return UV_ENOMEM;
  char *dst = (char *)(v + n);
  size_t k = 0;
  for (int f = 0; f < 2; f++) {
    const char *s = h->fam[f].buf;
    for (size_t i = 0; i < h->fam[f].n; i++, s += strlen(s) + 1) {
      size_t j = 0;
      while (j < k && strcmp(v[j], s) != 0) j++;
      if (j < k) continue;
      v[k++] = strcpy(dst, s);
      dst += strlen(s) + 1;
    }
  }
  h->addrs = v;
  h->naddrs = k;
  return 0;
}

/* The host's class: any address makes it usable even if the other family
 * failed; else a timeout or server failure wins over "no such record",
 * because the family that went unanswered may hold the address. */
static void host_decide(host_t *h, int nfam, int merge_rc) {
  h->detail[0] = '\0';
  if (merge_rc < 0) {
    h->status = MXS_CLASS_DNS_SERVFAIL;
    snprintf(h->detail, sizeof(h->detail), "out of memory");
    return;
  }
  if (h->naddrs > 0) {
    h->status = MXS_CLASS_OK;
    return;
  }
  for (int f = 0; f < nfam; f++) {
    if (is_hard_failure(h->fam[f].status)) {
      h->status = failure_class(h->fam[f].status);
      snprintf(h->detail, sizeof(h->detail), "%s lookup: %s", f ? "AAAA" : "A", status_text(h->fam[f].status));
      return;
    }
  }
  h->status = MXS_CLASS_MX_NO_ADDRESS;
  if (h->fam[0].status == ARES_ENOTFOUND)
    snprintf(h->detail, sizeof(h->detail), "host does not exist (NXDOMAIN)");
  else
    snprintf(h->detail, sizeof(h->detail), "%s", nfam == 2 ? "no A/AAAA record" : "no A record");
}

/* All families answered: settle the entry for the rest of the run and wake
 * the domains waiting for it. */
/* RFC 7672 2.2.2: DANE needs the host's address records DNSSEC-secure.
 * Every family asked must have been answered with AD, data or a proven
 * denial: an address from an unauthenticated answer could be an attacker's. */
static int host_secure(const host_t *h, int nfam) {
  if (h->naddrs == 0) return 0;
  for (int f = 0; f < nfam; f++) {
    int st = h->fam[f].status;
    if (!h->fam[f].ad || (st != ARES_SUCCESS && st != ARES_ENODATA && st != ARES_ENOTFOUND)) return 0;
  }
  return 1;
}

static void host_finish(host_t *h, int nfam) {
  host_decide(h, nfam, host_merge(h));
  h->secure = host_secure(h, nfam);
  for (int f = 0; f < 2; f++) mxs_dns_addrs_free(&h->fam[f]);
  h->done = 1;
  h->settled_ns = now_ns();
  slot_t *w = h->waiters;
  h->waiters = NULL;
  while (w) {
    slot_t *next = w->next_waiter;
    domain_t *d = w->domain;
    w->next_waiter = NULL;
    if (--d->remaining == 0) domain_finish(d);
    w = next;
  }
}

static void host_on_answer(query_t *q, int status, const unsigned char *abuf, int alen) {
  int aaaa = q->kind == Q_AAAA;
  host_t *h = aaaa ? container_of(q, host_t, qaaaa) : container_of(q, host_t, qa);
  mxs_dns_addrs_parse(&h->fam[aaaa], aaaa, status, abuf, alen);
  h->fam[aaaa].ad = q->ad;
  if (--h->outstanding == 0) host_finish(h, q->r->ipv6 ? 2 : 1);
}

static void host_query(mxs_resolver_t *r, host_t *h) {
  h->outstanding = r->ipv6 ? 2 : 1;
  h->qa = (query_t){.r = r, .name = h->name, .kind = Q_A};
  enqueue(r, &h->qa);
  if (r->ipv6) {
    h->qaaaa = (query_t){.r = r, .name = h->name, .kind = Q_AAAA};
    enqueue(r, &h->qaaaa);
  }
  r->stats.host_lookups++;
}

/* A settled host whose lookup timed out or failed long enough ago: ask
 * again (it has no addresses, so no earlier answer still points into it). */
static int host_retry_due(const mxs_resolver_t *r, const host_t *h) {
  return h->done && r->retry_failed_ns && (h->status == MXS_CLASS_DNS_TIMEOUT || h->status == MXS_CLASS_DNS_SERVFAIL) &&
         now_ns() - h->settled_ns >= r->retry_failed_ns;
}

/* The cache entry for NAME (any spelling), created and its lookup queued
 * if this is the first time the run sees it (or, after a failure, again
 * once retry_failed_ms has passed).  Returns 0 or UV_ENOMEM. */
static int host_acquire(mxs_resolver_t *r, const char *raw, host_t **out) {
  char *name = normalize_name(raw);
  if (name == NULL) return UV_ENOMEM;
  host_t *h = mxs_resolver_cache_get(&r->hosts, name);
  if (h) {
    free(name);
    if (host_retry_due(r, h)) {
      free(h->addrs);
      h->addrs = NULL;
      h->naddrs = 0;
      memset(h->fam, 0, sizeof h->fam);
      h->done = 0;
      host_query(r, h);
      r->stats.host_retries++;
    }
    if (h->done)
      r->stats.cache_hits++;
    else
      r->stats.cache_waits++;
    *out = h;
    return 0;
  }
  if ((h = calloc(1, sizeof(*h))) == NULL || mxs_resolver_cache_put(&r->hosts, name, h) < 0) {
    free(h);
    free(name);
    return UV_ENOMEM;
  }
  h->name = name;
  char why[46];
  if (r->skip_host && r->skip_host(r->skip_arg, name)) {
    /* settled for the run like a failure that is never retried: the
     * caller says why in its record */
    h->status = MXS_CLASS_EXCLUDED;
    snprintf(h->detail, sizeof h->detail, "excluded: not looked up");
    h->done = 1;
    h->settled_ns = now_ns();
  } else if (mxs_resolver_hostname_check(name, why, sizeof why) < 0) {
    /* Nothing to ask: no sender would look it up, and c-ares could not
     * even put some of these names in a query. */
    h->status = MXS_CLASS_MX_NO_ADDRESS;
    snprintf(h->detail, sizeof h->detail, "not a host name: %.45s", why);
    h->done = 1;
    h->settled_ns = now_ns();
  } else {
    host_query(r, h);
  }
  *out = h;
  return 0;
}

/* ---- domains ---- */

static void idle_cb(uv_idle_t *idle);

/* Links slot S of its domain to host H, waiting if H is still running. */
static void slot_attach(slot_t *s, domain_t *d, host_t *h, int pref) {
  s->host = h;
  s->domain = d;
  s->pref = pref;
  if (!h->done) {
    s->next_waiter = h->waiters;
    h->waiters = s;
    d->remaining++;
  }
}

/* An implicit MX stands or falls with the domain's own addresses. */
static void implicit_outcome(domain_t *d) {
  const host_t *h = d->mx[0].host;
  if (h->status == MXS_CLASS_OK) {
    d->status = MXS_CLASS_OK;
    return;
  }
  d->nmx = 0;
  d->implicit_mx = 0; /* the flag promises mx[0]; there is none */
  if (h->status == MXS_CLASS_MX_NO_ADDRESS) {
    d->status = MXS_CLASS_NO_MX_NO_ADDRESS;
    snprintf(d->detail, sizeof(d->detail), "no MX and %s", d->r->ipv6 ? "no A/AAAA record" : "no A record");
  } else {
    d->status = h->status;
    snprintf(d->detail, sizeof(d->detail), "no MX; %.*s", DETAIL_LEN - 8, h->detail);
  }
}

/* The domain has its answer: move it to the delivery FIFO.  Delivery is
 * deferred to the idle handle so this may run anywhere, even inside
 * ares_query(). */
static void domain_finish(domain_t *d) {
  mxs_resolver_t *r = d->r;
  if (d->implicit_mx) implicit_outcome(d);
  d->dns_ms = (int)((now_ns() - d->start_ns) / 1000000);
  if (d->prev)
    d->prev->next = d->next;
  else
    r->live = d->next;
  if (d->next) d->next->prev = d->prev;
  d->prev = d->next = NULL;
  if (r->done_tail)
    r->done_tail->next = d;
  else
    r->done_head = d;
  r->done_tail = d;
  uv_idle_start(&r->idle, idle_cb); /* no-op when already active */
}

static void domain_fail(domain_t *d, mxs_class_t cls, const char *detail) {
  d->status = cls;
  d->nmx = 0;
  d->implicit_mx = 0;
  snprintf(d->detail, sizeof(d->detail), "%s", detail);
  domain_finish(d);
}

static void domain_use_implicit(domain_t *d) {
  host_t *h;
  if ((d->mx = calloc(1, sizeof(slot_t))) == NULL || host_acquire(d->r, d->name, &h) < 0) {
    domain_fail(d, MXS_CLASS_DNS_SERVFAIL, "out of memory");
    return;
  }
  d->implicit_mx = 1;
  d->nmx = 1;
  slot_attach(&d->mx[0], d, h, 0);
  if (d->remaining == 0) domain_finish(d);
}

/* MX targets, sorted by preference with null targets left out
 * (answer.c) -> slots; a host named twice keeps its better preference. */
static void domain_use_mx(domain_t *d, const mxs_dns_mx_t *m) {
  if (m->nmx > 0 && (d->mx = calloc(m->nmx, sizeof(slot_t))) == NULL) {
    domain_fail(d, MXS_CLASS_DNS_SERVFAIL, "out of memory");
    return;
  }
  for (size_t i = 0; i < m->nmx && d->nmx < MAX_MX_HOSTS; i++) {
    host_t *h;
    if (host_acquire(d->r, m->mx[i]->host, &h) < 0) continue; /* out of memory: drop this MX */
    size_t j = 0;
    while (j < d->nmx && d->mx[j].host != h) j++;
    if (j < d->nmx) continue; /* same host twice: keep the better preference */
    slot_attach(&d->mx[d->nmx++], d, h, m->mx[i]->priority);
  }
  d->status = MXS_CLASS_OK; /* per-host problems are reported per host */
  if (d->nmx == 0)
    domain_fail(d, m->nmx == 0 ? MXS_CLASS_NULL_MX : MXS_CLASS_DNS_SERVFAIL,
                m->nmx == 0 ? "null MX (RFC 7505)" : "out of memory");
  else if (d->remaining == 0)
    domain_finish(d);
}

static void domain_on_mx(domain_t *d, int status, const unsigned char *abuf, int alen) {
  mxs_dns_mx_t m;
  char detail[DETAIL_LEN];
  d->mx_secure = d->q.ad && (status == ARES_SUCCESS || status == ARES_ENODATA);
  status = mxs_dns_mx_parse(&m, status, abuf, alen);
  if (status == ARES_SUCCESS) {
    domain_use_mx(d, &m);
  } else if (status == ARES_ENODATA) {
    domain_use_implicit(d);
  } else {
    snprintf(detail, sizeof(detail), "MX lookup: %s", status == ARES_ENOMEM ? "out of memory" : status_text(status));
    domain_fail(d, failure_class(status), detail);
  }
  mxs_dns_mx_free(&m);
}

/* ---- other questions (mxs_resolver_query) ---- */

static int rr_qtype(const query_t *q) {
  mxs_rr_type_t t = container_of(q, rr_t, q)->type;
  return t == MXS_RR_TXT ? DNS_TYPE_TXT : t == MXS_RR_A ? DNS_TYPE_A : t == MXS_RR_TLSA ? DNS_TYPE_TLSA : DNS_TYPE_AAAA;
}

static void rr_on_answer(rr_t *q, int status, const unsigned char *abuf, int alen) {
  mxs_resolver_t *r = q->r;
  q->ad = q->q.ad;
  static const mxs_dns_items_kind_t kind[] = {[MXS_RR_TXT] = MXS_DNS_ITEMS_TXT,
                                              [MXS_RR_A] = MXS_DNS_ITEMS_A,
                                              [MXS_RR_AAAA] = MXS_DNS_ITEMS_AAAA,
                                              [MXS_RR_TLSA] = MXS_DNS_ITEMS_TLSA};
  mxs_dns_items_parse(&q->items, kind[q->type], status, abuf, alen);
  if (q->prev)
    q->prev->next = q->next;
  else
    r->rr_live = q->next;
  if (q->next) q->next->prev = q->prev;
  q->prev = q->next = NULL;
  if (r->rr_done_tail)
    r->rr_done_tail->next = q;
  else
    r->rr_done_head = q;
  r->rr_done_tail = q;
  uv_idle_start(&r->idle, idle_cb);
}

static void rr_deliver(rr_t *q) {
  int st = q->items.status;
  mxs_rr_answer_t a = {.name = q->name,
                       .type = q->type,
                       .status = st == ARES_SUCCESS                           ? MXS_RR_OK
                                 : st == ARES_ENODATA || st == ARES_ENOTFOUND ? MXS_RR_NONE
                                                                              : MXS_RR_FAILED,
                       .detail = st == ARES_SUCCESS ? "" : status_text(st),
                       .n = st == ARES_SUCCESS ? q->items.n : 0,
                       .items = (const char *const *)q->items.items,
                       .lens = q->items.lens,
                       .secure = q->ad && (st == ARES_SUCCESS || st == ARES_ENODATA || st == ARES_ENOTFOUND)};
  q->cb(q->arg, &a);
}

static void rr_free_list(rr_t *q) {
  while (q) {
    rr_t *next = q->next;
    mxs_dns_items_free(&q->items);
    free(q);
    q = next;
  }
}

int mxs_resolver_query(mxs_resolver_t *r, const char *name, mxs_rr_type_t type, mxs_rr_cb cb, void *arg) {
  if (r == NULL || name == NULL || cb == NULL || type > MXS_RR_TLSA) return UV_EINVAL;
  if (r->closing) return UV_ECANCELED;
  size_t n = strlen(name);
  if (n == 0 || n > MAX_DOMAIN_LEN || strcmp(name, ".") == 0) return UV_EINVAL;
  rr_t *q = calloc(1, sizeof(*q) + n + 1);
  if (q == NULL) return UV_ENOMEM;
  memcpy(q->name, name, n + 1);
  q->r = r;
  q->cb = cb;
  q->arg = arg;
  q->type = type;
  q->q = (query_t){.r = r, .name = q->name, .kind = Q_RR};
  q->next = r->rr_live;
  if (r->rr_live) r->rr_live->prev = q;
  r->rr_live = q;
  enqueue(r, &q->q);
  pump(r);
  mxs_resolver_chan_arm(r->chan);
  return 0;
}

/* What ares_query() would have said of a raw answer from ares_send(): the
 * rcode as an ARES_* status, NOERROR without answers as ENODATA.  *AD: the
 * validating resolver authenticated the answer, data or denial. */
static int raw_status(int status, const unsigned char *abuf, int alen, int *ad) {
  mxs_dns_header_t h;
  *ad = 0;
  if (status != ARES_SUCCESS) return status;
  if (mxs_dns_header(abuf, (size_t)(alen > 0 ? alen : 0), &h) < 0) return ARES_EBADRESP;
  *ad = h.ad;
  switch (h.rcode) {
  case 0: return h.ancount > 0 ? ARES_SUCCESS : ARES_ENODATA;
  case 1: return ARES_EFORMERR;
  case 2: return ARES_ESERVFAIL;
  case 3: return ARES_ENOTFOUND;
  case 4: return ARES_ENOTIMP;
  case 5: return ARES_EREFUSED;
  default: return ARES_EBADRESP;
  }
}

static void dispatch(query_t *q, int status, const unsigned char *abuf, int alen) {
  if (q->kind == Q_MX)
    domain_on_mx(container_of(q, domain_t, q), status, abuf, alen);
  else if (q->kind == Q_RR)
    rr_on_answer(container_of(q, rr_t, q), status, abuf, alen);
  else
    host_on_answer(q, status, abuf, alen);
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  query_t *q = arg;
  mxs_resolver_t *r = q->r;
  (void)timeouts;
  /* Inside ares_destroy() from close: the owners are about to be freed. */
  if (q->kind == Q_CHECK) {
    if (!r->closing) mxs_resolver_health_check_result(&r->health, status, now_ns());
    return;
  }
  r->stats.inflight--;
  if (r->closing) return;
  if (!mxs_resolver_health_unanswered(status)) mxs_dns_window_answered(&r->win);
  q->ad = 0;
  if (r->dnssec) status = raw_status(status, abuf, alen, &q->ad); /* sent with ares_send: the raw answer */
  /* Our server's kernel dropped queries while this one waited: its
   * timeout is ours.  Asked again, paced by the window that shrank. */
  if (status == ARES_ETIMEOUT && q->drop_reasks < MAX_DROP_REASKS &&
      (uint32_t)mxs_dns_window_drops(&r->win, NULL, NULL) != q->drops_mark) {
    q->drop_reasks++;
    r->stats.drop_reasks++;
    enqueue(r, q);
    pump(r);
    return;
  }
  /* A failure our server may be to blame for waits for its verdict. */
  if (r->hold && mxs_resolver_health_result(&r->health, q, status, q->sent_ns, q->reasked, now_ns())) {
    pump(r);
    return;
  }
  dispatch(q, status, abuf, alen);
  pump(r);
}

/* ---- the server's health (health.c decides, these act) ---- */

static int health_send_check(void *arg) {
  mxs_resolver_t *r = arg;
  if (r->closing) return -1;
  r->check_q = (query_t){.r = r, .name = ".", .kind = Q_CHECK};
  /* ". NS": every resolver has it from priming; any rcode is an answer. */
  ares_query(mxs_resolver_chan_ares(r->chan), ".", DNS_CLASS_IN, DNS_TYPE_NS, query_cb, &r->check_q);
  mxs_resolver_chan_arm(r->chan);
  return 0;
}

static void health_requeue(void *arg, void *q, int reasked) {
  mxs_resolver_t *r = arg;
  /* After an outage every held query goes again: paced like a start. */
  if (!reasked) mxs_dns_window_restart(&r->win);
  ((query_t *)q)->reasked = reasked;
  enqueue(r, q);
}

static void health_deliver(void *arg, void *q, int status) {
  (void)arg;
  dispatch(q, status, NULL, 0);
}

static void health_changed(void *arg) {
  mxs_resolver_t *r = arg;
  if (r->closing) return;
  pump(r);
  mxs_resolver_chan_arm(r->chan);
  if (r->on_health) r->on_health(r->health_arg);
}

static void health_checked(void *arg, int status) {
  mxs_resolver_t *r = arg;
  void (*cb)(void *, int, const char *) = r->check_cb;
  if (!cb || status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
  r->check_cb = NULL;
  cb(r->check_arg, !mxs_resolver_health_unanswered(status), status_text(status));
}

static void window_closed(uv_handle_t *t) {
  mxs_dns_window_t *w = t->data;
  part_closed(container_of(w, mxs_resolver_t, win));
}

static void health_closed(uv_handle_t *t) {
  mxs_resolver_health_t *h = t->data;
  part_closed(container_of(h, mxs_resolver_t, health));
}

/* "127.0.0.1:53,[::1]:5353": the servers c-ares asks, for messages; and
 * the same as endpoints for the window's drop watch (EPS, *NEPS). */
static void read_servers(mxs_resolver_t *r, mxs_udp_endpoint_t *eps, size_t *neps) {
  struct ares_addr_port_node *list = NULL;
  size_t n = 0, max = *neps;
  r->servers[0] = '\0';
  *neps = 0;
  if (ares_get_servers_ports(mxs_resolver_chan_ares(r->chan), &list) != ARES_SUCCESS) return;
  for (struct ares_addr_port_node *p = list; p; p = p->next) {
    int port = p->udp_port ? p->udp_port : 53;
    if (*neps < max && (p->family == AF_INET || p->family == AF_INET6)) {
      mxs_udp_endpoint_t *e = &eps[(*neps)++];
      *e = (mxs_udp_endpoint_t){.family = p->family, .port = (uint16_t)port};
      memcpy(e->addr, &p->addr, p->family == AF_INET ? 4 : 16);
    }
    if (n + 1 >= sizeof r->servers) continue;
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(p->family, &p->addr, ip, sizeof ip);
    n += (size_t)snprintf(r->servers + n, sizeof r->servers - n, p->family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d",
                          n ? "," : "", ip, port);
  }
  ares_free_data(list);
}

static void domain_free(domain_t *d) {
  free(d->mx);
  free(d);
}

/* Calls the user back with a view of D built on the stack and one array;
 * everything it points to lives until the callback returns. */
static void deliver(domain_t *d) {
  mxs_domain_answer_t a = {.domain = d->name,
                           .status = d->status,
                           .detail = d->detail,
                           .implicit_mx = d->implicit_mx,
                           .dns_ms = d->dns_ms,
                           .mx_secure = d->mx_secure};
  mxs_mx_host_t *mx = NULL;
  if (d->status == MXS_CLASS_OK && d->nmx > 0) {
    if ((mx = calloc(d->nmx, sizeof(*mx))) == NULL) {
      a.status = MXS_CLASS_DNS_SERVFAIL;
      a.detail = "out of memory";
      a.implicit_mx = 0;
    }
    for (size_t i = 0; mx && i < d->nmx; i++) {
      const host_t *h = d->mx[i].host;
      mx[i] = (mxs_mx_host_t){.host = h->name,
                              .pref = d->mx[i].pref,
                              .status = h->status,
                              .detail = h->detail,
                              .naddrs = h->naddrs,
                              .addrs = (const char *const *)h->addrs,
                              .secure = h->secure};
    }
    a.nmx = mx ? d->nmx : 0;
    a.mx = mx;
  }
  d->cb(d->arg, &a);
  free(mx);
}

static void idle_cb(uv_idle_t *idle) {
  mxs_resolver_t *r = idle->data;
  /* The callback may resolve more (fine: appended) or close R (then stop:
   * R stays allocated until its handles' close callbacks, later). */
  for (int i = 0; i < DELIVER_BATCH && r->done_head && !r->closing; i++) {
    domain_t *d = r->done_head;
    r->done_head = d->next;
    if (r->done_head == NULL) r->done_tail = NULL;
    r->pending--;
    deliver(d);
    domain_free(d);
  }
  for (int i = 0; i < DELIVER_BATCH && r->rr_done_head && !r->closing; i++) {
    rr_t *q = r->rr_done_head;
    r->rr_done_head = q->next;
    if (r->rr_done_head == NULL) r->rr_done_tail = NULL;
    q->next = NULL;
    rr_deliver(q);
    rr_free_list(q);
  }
  if (!r->closing && r->done_head == NULL && r->rr_done_head == NULL) uv_idle_stop(idle);
}

/* ---- public API ---- */

static void pump_cb(void *arg) { pump(arg); }

int mxs_resolver_new(uv_loop_t *loop, const mxs_resolver_opts_t *opts, mxs_resolver_t **out, char *errbuf,
                     size_t errlen) {
  mxs_resolver_opts_t o = {0};
  if (opts) o = *opts;
  if (loop == NULL || out == NULL || o.timeout_ms < 0 || o.tries < 0 || o.max_inflight < 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "invalid resolver options");
    return UV_EINVAL;
  }
  mxs_resolver_t *r = calloc(1, sizeof(*r));
  if (r == NULL) return UV_ENOMEM;
  mxs_resolver_chan_opts_t co = {.servers = o.servers,
                                 .timeout_ms = o.timeout_ms ? o.timeout_ms : DEFAULT_TIMEOUT_MS,
                                 .tries = o.tries ? o.tries : DEFAULT_TRIES,
                                 .after_io = pump_cb,
                                 .arg = r};
  int rc = mxs_resolver_chan_new(loop, &co, &r->chan, errbuf, errlen);
  if (rc < 0) {
    free(r);
    return rc;
  }
  r->max_inflight = o.max_inflight ? (size_t)o.max_inflight : DEFAULT_MAX_INFLIGHT;
  r->ipv6 = o.ipv6 != 0;
  r->dnssec = o.dnssec != 0;
  r->skip_host = o.skip_host;
  r->skip_arg = o.skip_arg;
  r->retry_failed_ns = o.retry_failed_ms < 0 ? 0 : (uint64_t)(o.retry_failed_ms ? o.retry_failed_ms : 30000) * 1000000u;
  mxs_resolver_cache_init(&r->hosts);
  uv_idle_init(loop, &r->idle);
  r->idle.data = r;
  r->hold = o.hold_failures != 0;
  r->on_health = o.on_health;
  r->health_arg = o.health_arg;
  mxs_resolver_health_ops_t hops = {health_send_check, health_requeue, health_deliver,
                                    health_changed,    health_checked, r};
  mxs_resolver_health_init(&r->health, loop, &hops);
  mxs_udp_endpoint_t eps[MXS_WINDOW_MAX_SERVERS];
  size_t neps = MXS_WINDOW_MAX_SERVERS;
  read_servers(r, eps, &neps);
  mxs_dns_window_init(&r->win, loop, r->max_inflight, eps, neps);
  r->open_parts = 4;
  *out = r;
  return 0;
}

void mxs_resolver_health(const mxs_resolver_t *r, mxs_resolver_health_info_t *out) {
  mxs_resolver_health_info(&r->health, now_ns(), out);
  snprintf(out->servers, sizeof out->servers, "%s", r->servers);
}

int mxs_resolver_check(mxs_resolver_t *r, void (*cb)(void *arg, int answered, const char *why), void *arg) {
  if (r == NULL || cb == NULL) return UV_EINVAL;
  if (r->closing) return UV_ECANCELED;
  if (r->check_cb) return UV_EBUSY;
  r->check_cb = cb;
  r->check_arg = arg;
  mxs_resolver_health_check_now(&r->health);
  return 0;
}

int mxs_resolver_resolve(mxs_resolver_t *r, const char *domain, mxs_resolve_cb cb, void *arg) {
  if (r == NULL || domain == NULL || cb == NULL) return UV_EINVAL;
  if (r->closing) return UV_ECANCELED;
  size_t n = strlen(domain);
  if (n == 0 || n > MAX_DOMAIN_LEN || strcmp(domain, ".") == 0) return UV_EINVAL;
  domain_t *d = calloc(1, sizeof(*d) + n + 1);
  if (d == NULL) return UV_ENOMEM;
  memcpy(d->name, domain, n + 1);
  d->r = r;
  d->cb = cb;
  d->arg = arg;
  d->start_ns = now_ns();
  d->q = (query_t){.r = r, .name = d->name, .kind = Q_MX};
  d->next = r->live;
  if (r->live) r->live->prev = d;
  r->live = d;
  r->pending++;
  enqueue(r, &d->q);
  pump(r); /* may finish D at once; it is delivered from the idle handle */
  mxs_resolver_chan_arm(r->chan);
  return 0;
}

size_t mxs_resolver_pending(const mxs_resolver_t *r) { return r ? r->pending : 0; }

void mxs_resolver_stats(const mxs_resolver_t *r, mxs_resolver_stats_t *out) {
  if (r == NULL || out == NULL) return;
  *out = r->stats;
  out->server_drops = mxs_dns_window_drops(&r->win, &out->server_drops_known, &out->window_lowest);
  out->window_now = mxs_dns_window_size(&r->win);
  out->reasked = out->drop_reasks + r->health.reasks;
}

static void free_domain_list(domain_t *d) {
  while (d) {
    domain_t *next = d->next;
    domain_free(d);
    d = next;
  }
}

void mxs_resolver_close(mxs_resolver_t *r, void (*done_cb)(void *arg), void *arg) {
  if (r == NULL || r->closing) return;
  r->closing = 1;
  r->done_cb = done_cb;
  r->done_arg = arg;
  /* Ends every query with ARES_EDESTRUCTION: query_cb ignores them now. */
  mxs_resolver_chan_close(r->chan, part_closed, r);
  r->chan = NULL;
  /* Queued queries are embedded in the domains and hosts freed here. */
  memset(r->fifo_head, 0, sizeof(r->fifo_head));
  memset(r->fifo_tail, 0, sizeof(r->fifo_tail));
  r->stats.queued = 0;
  free_domain_list(r->live);
  free_domain_list(r->done_head);
  r->live = r->done_head = r->done_tail = NULL;
  rr_free_list(r->rr_live);
  rr_free_list(r->rr_done_head);
  r->rr_live = r->rr_done_head = r->rr_done_tail = NULL;
  r->pending = 0;
  mxs_resolver_cache_free(&r->hosts, host_free);
  mxs_resolver_health_close(&r->health, health_closed);
  mxs_dns_window_close(&r->win, window_closed);
  uv_close((uv_handle_t *)&r->idle, idle_close_cb);
}
