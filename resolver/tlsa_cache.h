/* tlsa_cache.h - the TLSA records (RFC 6698, RFC 7672) of each MX host,
 * asked once per run through the run's resolver.
 *
 * Only DNSSEC-secure MX hosts are asked (RFC 7672 2.2: their MX and address
 * answers validated; the caller decides), at _25._tcp.HOST (_PORT._tcp.HOST
 * with another port).  A host shared by many domains is asked once; lookups
 * while one is in flight wait for it.  A done entry stays unchanged until
 * the cache is freed, so probes on any thread may borrow its `rrset` for
 * the run.  A failed lookup is kept for the run, like a bogus answer.
 *
 * Ownership: the cache borrows the resolver.  Free it after the resolver is
 * closed (then no answer can reach a freed entry) and after the probes.
 */
#ifndef MXS_RESOLVER_TLSA_CACHE_H
#define MXS_RESOLVER_TLSA_CACHE_H

#include <stddef.h>

#include "resolver/hostcache.h"
#include "resolver/resolver.h"
#include "results/dane.h"

typedef struct mxs_tlsa_waiter_s mxs_tlsa_waiter_t;

typedef struct mxs_tlsa_entry_s {
  char *name;              /* the MX host, the TLSA base domain */
  int done;                /* the answer is in */
  mxs_rr_status_t status;  /* OK: records; NONE: no TLSA (NXDOMAIN, NODATA); FAILED */
  int secure;              /* the answer (records or denial) was authenticated */
  char error[48];          /* FAILED: the resolver's reason ("SERVFAIL", "timeout") */
  size_t usable;           /* records usable for SMTP (mxs_dane_rr_usable) */
  mxs_dane_rrset_t rrset;  /* base = name, every record (the TLS engine skips the unusable) */
  const char *const *text; /* the records in presentation form, "3 1 1 <hex>" (rrset.n) */
  mxs_tlsa_waiter_t *waiters;
  struct mxs_tlsa_entry_s *next; /* every entry, for flush and free */
} mxs_tlsa_entry_t;

typedef struct {
  mxs_resolver_t *resolver; /* borrowed */
  char qprefix[16];         /* "_25._tcp." */
  mxs_resolver_cache_t by_name;
  mxs_tlsa_entry_t *all;
  size_t lookups; /* TLSA questions asked */
} mxs_tlsa_cache_t;

/* Called once, never inside mxs_tlsa_lookup, with the done entry (NULL
 * from mxs_tlsa_flush: the run stopped first). */
typedef void (*mxs_tlsa_cb)(void *arg, const mxs_tlsa_entry_t *e);

void mxs_tlsa_cache_init(mxs_tlsa_cache_t *c, mxs_resolver_t *resolver, int port);

/* The entry of HOST (lower-case, no trailing dot) if its answer is in, else
 * NULL. */
const mxs_tlsa_entry_t *mxs_tlsa_find(const mxs_tlsa_cache_t *c, const char *host);

/* Asks for HOST's TLSA records unless asked already, and calls CB(ARG)
 * once they are known.  0, or a negative error (UV_ENOMEM, or the
 * resolver's: then HOST's entry is done, FAILED, and CB is not called). */
int mxs_tlsa_lookup(mxs_tlsa_cache_t *c, const char *host, mxs_tlsa_cb cb, void *arg);

/* The run is stopping: every waiter of an entry still in flight is called
 * now with NULL, inside this call.  Later answers only fill their entries. */
void mxs_tlsa_flush(mxs_tlsa_cache_t *c);

void mxs_tlsa_cache_free(mxs_tlsa_cache_t *c);

#endif
