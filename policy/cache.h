/* cache.h - MTA-STS policies kept from one run to the next (RFC 8461 3.3).
 *
 * A sender caches each policy it fetched and fetches again only when the
 * domain's _mta-sts TXT id changes or the cached copy is too old: a nightly
 * scan of the same list can do the same (--policy-cache FILE).  The TXT
 * records are looked up every run; what the cache saves is the HTTPS fetch
 * of a policy whose id has not changed since it was fetched less than
 * --policy-refresh ago (and whose max_age has not run out).
 *
 * The file is ours, one line per domain after a header line:
 *
 *   # mxscan policy cache 1
 *   DOMAIN TAB ID TAB FETCHED_AT TAB MAX_AGE TAB POLICY
 *
 * FETCHED_AT is Unix seconds, MAX_AGE the policy's max_age, POLICY the
 * policy text with backslash, TAB, CR and LF written as \\ \t \r \n.  A
 * line that does not read is skipped (that domain's policy is fetched
 * again) and counted; the first such line is kept for a warning.  The file
 * is replaced whole (a temporary file in the same directory, fsync,
 * rename), so an interrupted save leaves the previous one.
 *
 * Ownership: the cache owns its entries; mxs_sts_cache_get borrows one
 * until the next put of that domain or the free.  Not thread-safe: the
 * run's loop is its only user.
 */
#ifndef MXS_POLICY_CACHE_H
#define MXS_POLICY_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* A policy longer than this is not kept: it is fetched every run.  Real
 * policies are a few hundred bytes; a domain publishing 64 KiB of them
 * must not cost every later run 64 KiB of memory and file. */
#define MXS_STS_CACHE_MAX_TEXT 8192

typedef struct mxs_sts_cache_s mxs_sts_cache_t;

typedef struct {
  const char *id;     /* the TXT id the policy was fetched under */
  int64_t fetched_at; /* Unix seconds */
  int64_t max_age;    /* the policy's max_age, seconds */
  const char *text;   /* the policy as fetched (NUL-ended, LEN bytes) */
  size_t len;
} mxs_sts_cache_entry_t;

typedef struct {
  size_t loaded;    /* entries read from the file */
  size_t skipped;   /* lines that did not read, or entries past their max_age */
  size_t bad_line;  /* the first line that did not read (0: none) */
  char bad_why[96]; /* ... and why */
} mxs_sts_cache_load_t;

/* Reads PATH into a new cache; a file that does not exist is an empty
 * cache (the first run).  Entries whose max_age has run out by NOW are
 * dropped.  0 and *OUT (and *INFO), or -1 with the reason in ERR (a file
 * that cannot be read, not a cache file, out of memory). */
int mxs_sts_cache_load(const char *path, int64_t now, mxs_sts_cache_t **out, mxs_sts_cache_load_t *info, char *err,
                       size_t errlen);

/* The entry of DOMAIN, or NULL. */
const mxs_sts_cache_entry_t *mxs_sts_cache_get(const mxs_sts_cache_t *c, const char *domain);

/* Keeps (or replaces) DOMAIN's policy TEXT (LEN bytes) fetched under ID at
 * FETCHED_AT.  0, or -1 (the cache unchanged): out of memory, or TEXT over
 * MXS_STS_CACHE_MAX_TEXT, or not a domain and an RFC 8461 id. */
int mxs_sts_cache_put(mxs_sts_cache_t *c, const char *domain, const char *id, int64_t fetched_at, int64_t max_age,
                      const char *text, size_t len);

/* Writes every entry to PATH (replaced whole).  0, or -1 with the reason
 * in ERR; PATH is then as it was. */
int mxs_sts_cache_save(const mxs_sts_cache_t *c, const char *path, char *err, size_t errlen);

size_t mxs_sts_cache_len(const mxs_sts_cache_t *c);

void mxs_sts_cache_free(mxs_sts_cache_t *c);

#endif
