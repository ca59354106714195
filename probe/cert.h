/* cert.h - what a record says about a leaf certificate, extracted once.
 *
 * A probe result keeps one mxs_cert_t per address probed: the contract's
 * fields copied out of the X509 (so the SSL object can be freed at once),
 * plus the X509 itself so the host-name check can run for every MX name
 * that shares the address.
 */
#ifndef MXS_CERT_H
#define MXS_CERT_H

#include <openssl/x509.h>
#include <stdint.h>

#include "results/classify.h"
#include "results/record.h"

typedef struct {
  mxs_cert_info_t info;          /* strings owned by this struct */
  mxs_class_set_t leaf_problems; /* cert-weak, from the key and signature */
} mxs_cert_t;

/* Copies the fields of LEAF (borrowed) as of unix time NOW.  SHA256 makes
 * the fingerprint: a digest fetched once for the run (EVP_sha256() would be
 * fetched again on every call, under OpenSSL's store locks), or NULL for
 * EVP_sha256().  NULL on allocation failure.  Caller frees with
 * mxs_cert_free. */
mxs_cert_t *mxs_cert_new(X509 *leaf, int chain_len, int64_t now, const EVP_MD *sha256);
void mxs_cert_free(mxs_cert_t *c);

/* Problems visible in the leaf alone: cert-weak (RSA/DSA < 2048 bits, EC <
 * 224, MD5/SHA-1 signature).  Returns a class set. */
mxs_class_set_t mxs_cert_leaf_problems(const mxs_cert_t *c);

/* 1 when HOST matches a SAN dNSName (or the CN when there is no dNSName
 * SAN), case-insensitively; a wildcard only as the whole left-most label,
 * matching exactly one label (RFC 6125 6.4.3, as OpenSSL's X509_check_host
 * with NO_PARTIAL_WILDCARDS). */
int mxs_name_matches(const char *pattern, const char *host);
int mxs_cert_matches_host(const mxs_cert_t *c, const char *host);

/* T as unix seconds (UTC); 0 when T is NULL or unreadable. */
int64_t mxs_asn1_unix(const ASN1_TIME *t);

#endif
