/* vcache.h - chain verification results, remembered for the run.
 *
 * Large providers serve one certificate chain on thousands of MX hosts, and
 * OpenSSL 3.0 spends a tenth of a TLS 1.3 client handshake building and
 * checking that chain again each time.  The cache maps the SHA-256 of the
 * chain exactly as the server sent it (every certificate's DER, in order)
 * to what X509_verify_cert concluded, so a probe that meets a chain already
 * verified in this run replays the outcome instead.  The handshake's own
 * signature (CertificateVerify) is still checked by libssl on every probe:
 * only the chain work is skipped.
 *
 * Entries expire (VCACHE_TTL seconds, and never after the earliest
 * notAfter or before the latest notBefore of the certificates sent), so a
 * run crossing a certificate's expiry notices.  Slots are direct-mapped:
 * bounded memory, no eviction list; a collision just overwrites.
 * Thread-safe: the probe threads share one cache per SSL_CTX.
 */
#ifndef MXS_VCACHE_H
#define MXS_VCACHE_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "results/classify.h"

#define MXS_VCACHE_KEYLEN 32

typedef struct mxs_vcache_s mxs_vcache_t;

/* What one verification concluded, as the verify callback saw it. */
typedef struct {
  int rc;                 /* X509_verify_cert's return */
  int store_err;          /* X509_STORE_CTX_get_error afterwards */
  int first_err;          /* the first error the callback saw, X509_V_OK if none */
  mxs_class_set_t errors; /* every certificate class the callback collected */
} mxs_vcache_result_t;

/* SLOTS entries (rounded up to a power of two), or NULL on ENOMEM. */
mxs_vcache_t *mxs_vcache_new(size_t slots);
void mxs_vcache_free(mxs_vcache_t *c);

/* The key of CHAIN (leaf first, as sent).  -1 on failure (do not cache). */
int mxs_vcache_key(const mxs_vcache_t *c, STACK_OF(X509) * chain, unsigned char key[MXS_VCACHE_KEYLEN]);

/* 1 and *OUT when KEY holds a result still valid at NOW (unix seconds). */
int mxs_vcache_get(mxs_vcache_t *c, const unsigned char key[MXS_VCACHE_KEYLEN], int64_t now, mxs_vcache_result_t *out);

/* Remembers R for KEY from NOW, within the validity of CHAIN's certificates. */
void mxs_vcache_put(mxs_vcache_t *c, const unsigned char key[MXS_VCACHE_KEYLEN], STACK_OF(X509) * chain, int64_t now,
                    const mxs_vcache_result_t *r);

/* Lookups and hits so far (for the benchmark and the tests). */
void mxs_vcache_stats(mxs_vcache_t *c, uint64_t *lookups, uint64_t *hits);

#endif
