/* policy.h - what each domain publishes about its own TLS: MTA-STS (RFC
 * 8461) and TLS-RPT (RFC 8460), looked up once per domain for the run.
 *
 * Per domain: the _mta-sts and _smtp._tls TXT records through the run's
 * resolver; when the first announces a policy (one valid v=STSv1 record),
 * the address of mta-sts.DOMAIN, then the policy file over HTTPS (fetch.h)
 * and its parse (results/policy.h).  The TXT lookup decides whether to
 * fetch, so the many domains that publish nothing cost two DNS questions.
 * (DANE's TLSA lookups belong here too, per MX host, when they come.)
 *
 * Results are shared: the checker keeps each publishing domain's result
 * for the run (a domain listed twice, or asked while in flight, is looked
 * up once), and every caller gets its own reference.  Results of domains
 * that publish nothing are not kept.
 *
 * Ownership: the checker borrows the resolver and must be closed after it
 * (mxs_resolver_close first: then no DNS answer can arrive for a freed
 * result).
 */
#ifndef MXS_POLICY_POLICY_H
#define MXS_POLICY_POLICY_H

#include <stdint.h>
#include <uv.h>

#include "policy/cache.h"
#include "policy/fetch.h"
#include "queue/exclude.h"
#include "resolver/resolver.h"
#include "results/policy.h"

typedef struct mxs_policy_s mxs_policy_t;
typedef struct mxs_policy_result_s mxs_policy_result_t;

typedef struct {
  mxs_fetch_opts_t fetch;
  int ipv6; /* also ask AAAA for a policy host without an A record */
  /* --exclude (queue/exclude.h; borrowed, NULL: none): a policy host whose
   * name or address is on it is not fetched from; the fetch error says so,
   * naming EXCLUDE_PATH, the line and the entry. */
  const mxs_exclude_t *exclude;
  const char *exclude_path;
  /* --policy-cache (cache.h; borrowed, NULL: none): a policy fetched under
   * the domain's current TXT id less than REFRESH_S seconds ago (and within
   * its max_age) is taken from it instead of fetched; every policy fetched
   * is put in it. */
  mxs_sts_cache_t *cache;
  int64_t refresh_s;
} mxs_policy_opts_t;

typedef struct {
  uint64_t lookups;    /* domains asked for */
  uint64_t cache_hits; /* answered from a result already kept or in flight */
  uint64_t sts;        /* domains with an STS record (valid or not) or a failed lookup */
  uint64_t fetched;    /* policies fetched and valid */
  uint64_t from_cache; /* policies taken from --policy-cache instead */
  uint64_t fetch_errors;
  uint64_t invalid; /* an invalid TXT record or policy */
  uint64_t tlsrpt;  /* domains with a valid TLS-RPT record */
} mxs_policy_stats_t;

/* RES is a reference the callee now owns: give it back with
 * mxs_policy_release() when done with it. */
typedef void (*mxs_policy_cb)(void *arg, mxs_policy_result_t *res);

/* Creates a checker on LOOP using RESOLVER (borrowed).  0 and *out, or a
 * negative error with a message in err. */
int mxs_policy_new(uv_loop_t *loop, mxs_resolver_t *resolver, const mxs_policy_opts_t *opts, mxs_policy_t **out,
                   char *err, size_t errlen);

/* Looks up DOMAIN (lower-case A-label, copied).  CB runs once, never inside
 * this call.  0, or UV_ENOMEM / UV_EINVAL. */
int mxs_policy_lookup(mxs_policy_t *p, const char *domain, mxs_policy_cb cb, void *arg);

/* The record's `policy` map for a record of RES about MX host MX (NULL for
 * a record without one), built in *OUT with *STS as its sts part; both
 * borrow from RES. */
void mxs_policy_view(const mxs_policy_result_t *res, const char *mx, mxs_sts_view_t *sts, mxs_policy_view_t *out);

/* The run ended before RES was complete (mxs_policy_stop). */
int mxs_policy_unfinished(const mxs_policy_result_t *res);

void mxs_policy_release(mxs_policy_result_t *res);

/* The run is stopping: every lookup still in flight ends now, as far as it
 * got, unfinished; the callbacks run inside this call. */
void mxs_policy_stop(mxs_policy_t *p);

void mxs_policy_stats(const mxs_policy_t *p, mxs_policy_stats_t *out);

/* Frees P and every result it keeps.  Call it after the resolver is closed
 * and once every reference handed out is released.  NULL is fine. */
void mxs_policy_close(mxs_policy_t *p);

#endif
