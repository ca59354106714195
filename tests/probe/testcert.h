/* testcert.h - certificates made in memory for the unit tests.
 *
 * EC P-256 keys (fast to generate), validity relative to now, optional
 * dNSName SANs and CA basic constraints.  Header-only: each test is one
 * translation unit.
 */
#ifndef MXS_TESTCERT_H
#define MXS_TESTCERT_H

#include <openssl/evp.h>
#include <openssl/x509v3.h>

typedef struct {
  const char *cn;
  const char *san; /* "DNS:a,DNS:b" or NULL */
  long not_before; /* seconds from now */
  long not_after;  /* seconds from now */
  int ca;          /* basicConstraints CA:TRUE */
} testcert_spec_t;

static inline void testcert_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (e) X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

/* A certificate for KEY signed by ISSUER/ISSUER_KEY, or self-signed when
 * ISSUER is NULL.  Caller frees. */
static inline X509 *testcert_make(const testcert_spec_t *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key) {
  static long serial = 1;
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), s->not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), s->not_after);
  X509_set_pubkey(x, key);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)s->cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  if (s->ca) testcert_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
  if (s->san) testcert_ext(x, issuer ? issuer : x, NID_subject_alt_name, s->san);
  EVP_PKEY *signer = issuer ? issuer_key : key;
  /* EdDSA hashes internally: no digest */
  X509_sign(x, signer, EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448") ? NULL : EVP_sha256());
  return x;
}

/* A self-signed leaf named CN (and SAN), valid from now for DAYS days. */
static inline X509 *testcert_self_signed(const char *cn, const char *san, long days) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  testcert_spec_t s = {.cn = cn, .san = san, .not_before = 0, .not_after = days * 86400};
  X509 *x = testcert_make(&s, key, NULL, NULL);
  EVP_PKEY_free(key);
  return x;
}

#endif
