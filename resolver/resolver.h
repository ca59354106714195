/* resolver.h - domain -> sorted MX hosts -> addresses, on c-ares over libuv.
 *
 * One resolver per event loop.  It owns the c-ares channel (driven through
 * ARES_OPT_SOCK_STATE_CB, one uv_poll_t per socket and one uv_timer_t from
 * ares_timeout()), a per-run cache of MX host -> addresses, and a FIFO of
 * lookups waiting for a slot so c-ares never has more than max_inflight
 * queries outstanding.
 *
 * Only ares_query() is used: no search domains, no /etc/hosts, and an MX
 * target spelled like an address ("127.0.0.9") is a name queried for A
 * records, never an address.  Host results, failures included, are cached
 * for the life of the resolver: a host shared by many domains is asked once,
 * and lookups of a host already in flight wait for it.
 *
 * While open, the resolver keeps its c-ares sockets watched, so the loop
 * does not end until mxs_resolver_close().
 */
#ifndef MXS_RESOLVER_H
#define MXS_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "results/classify.h"

typedef struct mxs_resolver_s mxs_resolver_t;

/* Is the DNS server answering (resolver/health.h has the rules)? */
typedef enum {
  MXS_RESOLVER_UP,       /* answering */
  MXS_RESOLVER_CHECKING, /* a query went unanswered with nothing else answered meanwhile: asking ". NS" */
  MXS_RESOLVER_DOWN,     /* the check went unanswered too: lookups are held, the check repeats */
} mxs_resolver_state_t;

typedef struct {
  mxs_resolver_state_t state;
  uint64_t since_ms; /* CHECKING/DOWN: since the first held failure of this episode */
  size_t held;       /* lookups held, to be asked again */
  const char *why;   /* the last failure: "timeout", "connection refused" */
  unsigned outages;  /* times the server was found down in this run */
  size_t reasked;    /* timeouts asked once more while it answered others (health.h) */
  uint64_t down_ms;  /* time it spent down, the current outage included */
  char servers[256]; /* who we ask: "127.0.0.1:53,[::1]:53" */
} mxs_resolver_health_info_t;

typedef struct {
  const char *servers; /* "HOST[:PORT][,HOST[:PORT]...]" ([v6]:port too), NULL = system;
                        * HOST is an IP address, port 1-65535, default 53 */
  int timeout_ms;      /* per-try timeout, default 2000 (c-ares 1.18 doubles it each round
                        * of retries: 300 ms x 2 tries is ~900 ms in all) */
  int tries;           /* tries per query, default 3 */
  int max_inflight;    /* outstanding c-ares queries, default 512 */
  int ipv6;            /* also query AAAA for MX hosts */
  int retry_failed_ms; /* a host whose lookup timed out or failed (SERVFAIL,
                        * REFUSED) is asked again by the next domain that
                        * needs it once this long has passed: a resolver's
                        * blip must not fail its hosts for the whole run.
                        * Default 30000; negative: keep the failure. */
  /* Hold the failures the server may be to blame for (health.h) instead of
   * delivering them, and call on_health(health_arg) at every change of
   * state.  0: every failure is delivered as it comes (mxscan probe). */
  int hold_failures;
  void (*on_health)(void *arg);
  void *health_arg;
  int dnssec; /* the servers validate DNSSEC (--dnssec): every query
               * carries AD and an EDNS0 OPT with DO, and the answers'
               * AD bits are reported (the `secure` fields).  mxscan
               * validates nothing itself: it trusts the AD bit of
               * servers the operator declares validating, as Postfix
               * does with smtp_dns_support_level = dnssec.  Off: no
               * answer is secure. */
  /* A host name the caller never wants asked about (the run's --exclude
   * list): when skip_host(skip_arg, NAME) returns nonzero for an MX host
   * (lower-case, no trailing dot), nothing is queried for it and it is
   * settled at once with status MXS_CLASS_EXCLUDED.  NULL: every host is
   * looked up.  Called on the resolver's loop, once per host per run. */
  int (*skip_host)(void *arg, const char *name);
  void *skip_arg;
} mxs_resolver_opts_t;

/* One MX host of a domain, with its addresses.  status is MXS_CLASS_OK when
 * naddrs > 0, else MXS_CLASS_MX_NO_ADDRESS (NODATA/NXDOMAIN for the host),
 * MXS_CLASS_DNS_TIMEOUT or MXS_CLASS_DNS_SERVFAIL, MXS_CLASS_EXCLUDED (the
 * opts' skip_host said so: not looked up), with detail saying why
 * ("no A record", "host does not exist (NXDOMAIN)", "A lookup: timeout",
 * "AAAA lookup: REFUSED" ...).  Any address makes the host OK even if the
 * other family failed.  At most 32 addresses per family are kept.  A target
 * that is not a host name (resolver/hostname.h: over 253 characters, a
 * label over 63, a character other than a letter, digit, '-' or '_') is
 * not looked up: MX_NO_ADDRESS with detail "not a host name: why". */
typedef struct {
  const char *host; /* lower-case, no trailing dot */
  int pref;
  mxs_class_t status;
  const char *detail; /* "" when status is OK */
  size_t naddrs;
  const char *const *addrs; /* textual IPv4 first, then IPv6 */
  int secure;               /* --dnssec: every address lookup (A, and AAAA with ipv6)
                             * was answered with AD, data or a proven denial */
} mxs_mx_host_t;

/* The answer for one domain.  status is MXS_CLASS_OK when nmx > 0; else one of
 * DNS_NXDOMAIN, DNS_SERVFAIL, DNS_TIMEOUT, NULL_MX, NO_MX_NO_ADDRESS with
 * detail naming the resolver error (e.g. "MX lookup: SERVFAIL", "MX lookup:
 * REFUSED", "MX lookup: timeout", "no MX; A lookup: timeout").  With
 * implicit_mx, mx[0] is the domain itself with pref 0 (implicit_mx is 0
 * whenever nmx is 0).  MX hosts are sorted by preference, ties in answer
 * order, lower-cased, duplicates dropped (the best preference kept); null
 * targets are skipped and a domain with only those is NULL_MX; at most 32
 * MX hosts are kept, the best preferences (a hostile answer of hundreds must
 * not become thousands of probes).  A domain is
 * OK as soon as it has an MX host, even if every host failed: look at
 * mx[i].status.  domain is the caller's spelling. */
typedef struct {
  const char *domain;
  mxs_class_t status;
  const char *detail;
  int implicit_mx;
  size_t nmx;
  const mxs_mx_host_t *mx;
  int dns_ms;    /* wall time from submission to answer, queueing included */
  int mx_secure; /* --dnssec: the MX answer (for an implicit MX: its NODATA) carried AD */
} mxs_domain_answer_t;

/* The answer and everything it points to is borrowed for the duration of
 * the callback only.  The callback is never called from inside
 * mxs_resolver_resolve(). */
typedef void (*mxs_resolve_cb)(void *arg, const mxs_domain_answer_t *answer);

/* Creates a resolver on LOOP.  Returns 0 and sets *out, or a negative error
 * (UV_EINVAL for a bad server list, with a message in errbuf). */
int mxs_resolver_new(uv_loop_t *loop, const mxs_resolver_opts_t *opts, mxs_resolver_t **out, char *errbuf,
                     size_t errlen);

/* Queues the full lookup of DOMAIN (copied).  Returns 0 or a negative error:
 * UV_EINVAL for a NULL/empty/"."/over-long name or NULL cb, UV_ECANCELED
 * after mxs_resolver_close(), UV_ENOMEM. */
int mxs_resolver_resolve(mxs_resolver_t *r, const char *domain, mxs_resolve_cb cb, void *arg);

/* One question of another type, for what a domain publishes besides its MX
 * records (policy/: the MTA-STS and TLS-RPT TXT records, the policy host's
 * addresses).  It shares the slot gate with the MX lookups but no cache:
 * each call is one query, and its answer is delivered once. */
typedef enum { MXS_RR_TXT, MXS_RR_A, MXS_RR_AAAA, MXS_RR_TLSA } mxs_rr_type_t;

typedef enum {
  MXS_RR_OK,     /* n >= 1 items */
  MXS_RR_NONE,   /* the name does not exist (NXDOMAIN) or has no such record (NODATA) */
  MXS_RR_FAILED, /* no answer: timeout, SERVFAIL, REFUSED ...: detail says which */
} mxs_rr_status_t;

/* Borrowed for the duration of the callback.  TXT: one item per record, its
 * character-strings joined in order (a record longer than 255 bytes is
 * published as several strings: RFC 7208 3.3, RFC 8461 3.1), NUL-ended,
 * with lens[i] its length (a NUL byte inside is possible).  A/AAAA: the
 * textual addresses (at most 32).  TLSA: each record's RDATA as on the wire
 * (usage, selector, matching type octets, then the data; lens[i] >= 3), at
 * most 64 records. */
typedef struct {
  const char *name; /* as given */
  mxs_rr_type_t type;
  mxs_rr_status_t status;
  const char *detail; /* "" for OK; "NXDOMAIN", "no data", "SERVFAIL", "timeout" ... */
  size_t n;
  const char *const *items;
  const size_t *lens;
  int secure; /* --dnssec: OK or NONE, and the answer carried AD (for NONE: an
               * authenticated denial); a FAILED answer is never secure */
} mxs_rr_answer_t;

typedef void (*mxs_rr_cb)(void *arg, const mxs_rr_answer_t *answer);

/* Queues the TYPE query of NAME (copied).  CB runs once, never from inside
 * this call, unless the resolver is closed first.  0, or UV_EINVAL (bad
 * name, NULL cb), UV_ECANCELED (closed), UV_ENOMEM. */
int mxs_resolver_query(mxs_resolver_t *r, const char *name, mxs_rr_type_t type, mxs_rr_cb cb, void *arg);

/* Lookups submitted and not yet answered. */
size_t mxs_resolver_pending(const mxs_resolver_t *r);

/* Cancels outstanding lookups (their callbacks run with DNS_TIMEOUT-free
 * status "cancelled" is NOT reported: callbacks are simply not called after
 * this), closes every handle and frees R from the last close callback, then
 * calls done_cb(arg) if non-NULL.  Safe from inside a resolve callback; done_cb
 * never runs inside this call; a second close is ignored. */
void mxs_resolver_close(mxs_resolver_t *r, void (*done_cb)(void *arg), void *arg);

/* Whether the server answers, and what is held (see hold_failures). */
void mxs_resolver_health(const mxs_resolver_t *r, mxs_resolver_health_info_t *out);

/* Asks the server ". NS" now, with the configured timeout and tries, and
 * calls cb(arg, answered, why) from the loop: ANSWERED 1 for any answer,
 * any rcode (NXDOMAIN and SERVFAIL included: someone is there); 0 with WHY
 * ("connection refused", "timeout") when none came.  One at a time. */
int mxs_resolver_check(mxs_resolver_t *r, void (*cb)(void *arg, int answered, const char *why), void *arg);

/* Counters for tests and the run report. */
typedef struct {
  uint64_t queries;      /* c-ares queries submitted, all types */
  uint64_t mx_queries;   /* MX queries (one per domain) */
  uint64_t addr_queries; /* A and AAAA queries (MX hosts and implicit MX) */
  uint64_t host_lookups; /* host lookups started (retries included) */
  uint64_t host_retries; /* failed hosts asked again (retry_failed_ms) */
  uint64_t cache_hits;   /* host already resolved: no query */
  uint64_t cache_waits;  /* host lookup in flight: coalesced onto it */
  size_t inflight;       /* c-ares queries outstanding now */
  size_t peak_inflight;  /* most ever outstanding (never above max_inflight) */
  size_t queued;         /* queries waiting in the FIFO for a slot */
  uint64_t rr_queries;   /* mxs_resolver_query() questions submitted (TXT, policy hosts) */
  /* The server's own socket, when it is on this machine (window.h): the
   * queries its kernel dropped for a full buffer while we ran, and the
   * lowest window that made us keep to (max_inflight when none). */
  int server_drops_known;
  uint64_t server_drops;
  size_t window_lowest;
  uint64_t drop_reasks; /* timeouts asked again because those drops were seen meanwhile */
  uint64_t reasked;     /* all timeouts asked again: those, and health.h's (answers meanwhile) */
  size_t window_now;    /* queries allowed outstanding now */
} mxs_resolver_stats_t;

/* Copies the counters of R into *out. */
void mxs_resolver_stats(const mxs_resolver_t *r, mxs_resolver_stats_t *out);

#endif
