/* test_vcache.c - the chain verification cache: its keys and validity
 * bounds, and real in-memory TLS handshakes (an OpenSSL server over memory
 * BIOs) whose cached second verification reports exactly what the first
 * one found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testcert.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/cert.h"
#include "probe/tls.h"
#include "probe/vcache.h"

/* A one-certificate chain, as libssl hands it to the verifier. */
static STACK_OF(X509) * chain_of(X509 *x) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  X509_up_ref(x);
  sk_X509_push(sk, x);
  return sk;
}

static X509 *cert_valid(long not_before, long not_after) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  testcert_spec_t s = {.cn = "mx.vcache.test", .not_before = not_before, .not_after = not_after};
  X509 *x = testcert_make(&s, key, NULL, NULL);
  EVP_PKEY_free(key);
  return x;
}

static void keys_and_bounds(void **state) {
  (void)state;
  mxs_vcache_t *c = mxs_vcache_new(64);
  assert_non_null(c);
  X509 *soon = cert_valid(-100, 100), *later = cert_valid(200, 10000), *gone = cert_valid(-1000, -10);
  /* "now" is when SOON was made, read back from the certificate itself:
   * a second that ticks between time() and the signing (a loaded CI
   * machine) must not move the bounds under the test. */
  int64_t now = mxs_asn1_unix(X509_get0_notBefore(soon)) + 100;
  int64_t later_from = mxs_asn1_unix(X509_get0_notBefore(later));
  STACK_OF(X509) *a = chain_of(soon), *b = chain_of(later), *g = chain_of(gone);
  STACK_OF(X509) *ab = chain_of(soon), *ba = chain_of(later);
  X509_up_ref(later);
  sk_X509_push(ab, later);
  X509_up_ref(soon);
  sk_X509_push(ba, soon);

  unsigned char ka[MXS_VCACHE_KEYLEN], ka2[MXS_VCACHE_KEYLEN], kb[MXS_VCACHE_KEYLEN], kg[MXS_VCACHE_KEYLEN],
      kab[MXS_VCACHE_KEYLEN], kba[MXS_VCACHE_KEYLEN];
  assert_int_equal(mxs_vcache_key(c, a, ka), 0);
  assert_int_equal(mxs_vcache_key(c, a, ka2), 0);
  assert_int_equal(mxs_vcache_key(c, b, kb), 0);
  assert_int_equal(mxs_vcache_key(c, g, kg), 0);
  assert_int_equal(mxs_vcache_key(c, ab, kab), 0);
  assert_int_equal(mxs_vcache_key(c, ba, kba), 0);
  assert_memory_equal(ka, ka2, MXS_VCACHE_KEYLEN);
  assert_memory_not_equal(ka, kb, MXS_VCACHE_KEYLEN);
  assert_memory_not_equal(kab, kba, MXS_VCACHE_KEYLEN); /* order matters */
  STACK_OF(X509) *empty = sk_X509_new_null();
  assert_int_equal(mxs_vcache_key(c, empty, ka2), -1);

  mxs_vcache_result_t r = {.rc = 1, .store_err = 10, .first_err = 10, .errors = 0x5}, got;
  assert_int_equal(mxs_vcache_get(c, ka, now, &got), 0);
  mxs_vcache_put(c, ka, a, now, &r);
  assert_int_equal(mxs_vcache_get(c, ka, now + 50, &got), 1);
  assert_int_equal(got.errors, 0x5);
  assert_int_equal(got.first_err, 10);
  /* past the leaf's notAfter the outcome no longer holds */
  assert_int_equal(mxs_vcache_get(c, ka, now + 101, &got), 0);
  assert_int_equal(mxs_vcache_get(c, ka, now - 1, &got), 0);
  /* not yet valid now: holds until notBefore, then must be verified again */
  mxs_vcache_put(c, kb, b, now, &r);
  assert_int_equal(mxs_vcache_get(c, kb, later_from - 1, &got), 1);
  assert_int_equal(mxs_vcache_get(c, kb, later_from, &got), 0);
  /* expired stays expired: only the TTL (10 minutes) bounds it */
  mxs_vcache_put(c, kg, g, now, &r);
  assert_int_equal(mxs_vcache_get(c, kg, now + 599, &got), 1);
  assert_int_equal(mxs_vcache_get(c, kg, now + 600, &got), 0);
  uint64_t lookups, hits;
  mxs_vcache_stats(c, &lookups, &hits);
  assert_int_equal(lookups, 8);
  assert_int_equal(hits, 3);
  mxs_vcache_free(c);

  /* one slot: a second chain evicts the first */
  c = mxs_vcache_new(1);
  mxs_vcache_put(c, ka, a, now, &r);
  mxs_vcache_put(c, kab, ab, now, &r);
  assert_int_equal(mxs_vcache_get(c, ka, now, &got), 0);
  assert_int_equal(mxs_vcache_get(c, kab, now, &got), 1);
  mxs_vcache_free(c);

  sk_X509_pop_free(a, X509_free);
  sk_X509_pop_free(b, X509_free);
  sk_X509_pop_free(g, X509_free);
  sk_X509_pop_free(ab, X509_free);
  sk_X509_pop_free(ba, X509_free);
  sk_X509_free(empty);
  X509_free(soon);
  X509_free(later);
  X509_free(gone);
}

/* ---- real handshakes ---------------------------------------------------- */

typedef struct {
  EVP_PKEY *root_key;
  X509 *root;
  char ca_path[64];
} pki_t;

static void pki_init(pki_t *p, const char *cn) {
  p->root_key = EVP_EC_gen("P-256");
  testcert_spec_t s = {.cn = cn, .not_before = -86400, .not_after = 365 * 86400, .ca = 1};
  p->root = testcert_make(&s, p->root_key, NULL, NULL);
  snprintf(p->ca_path, sizeof p->ca_path, "/tmp/mxs-vcache-XXXXXX");
  int fd = mkstemp(p->ca_path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  PEM_write_X509(fp, p->root);
  fclose(fp);
}

static void pki_free(pki_t *p) {
  unlink(p->ca_path);
  X509_free(p->root);
  EVP_PKEY_free(p->root_key);
}

/* A server context presenting LEAF (signed by the root unless SELF). */
static SSL_CTX *server_ctx(const pki_t *p, long not_before, long not_after, int self, const pki_t *other) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  testcert_spec_t s = {
      .cn = "mx.vcache.test", .san = "DNS:mx.vcache.test", .not_before = not_before, .not_after = not_after};
  const pki_t *ca = other ? other : p;
  X509 *leaf = self ? testcert_make(&s, key, NULL, NULL) : testcert_make(&s, key, ca->root, ca->root_key);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  assert_int_equal(SSL_CTX_use_certificate(ctx, leaf), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  X509_free(leaf);
  EVP_PKEY_free(key);
  return ctx;
}

/* One handshake between mxscan's client and an OpenSSL server, bytes
 * carried by hand.  Returns mxs_tls_handshake's last answer. */
static int handshake(mxs_tls_ctx_t *cctx, SSL_CTX *sctx, mxs_class_set_t *errors, char *verify, size_t vlen) {
  mxs_tls_t *c = mxs_tls_new(cctx, "mx.vcache.test", 0);
  SSL *s = SSL_new(sctx);
  BIO *srb = BIO_new(BIO_s_mem()), *swb = BIO_new(BIO_s_mem());
  SSL_set_bio(s, srb, swb);
  SSL_set_accept_state(s);
  int rc = 0;
  char buf[16384];
  for (int round = 0; round < 10 && rc == 0; round++) {
    rc = mxs_tls_handshake(c);
    size_t n;
    while ((n = mxs_tls_take(c, buf, sizeof buf)) > 0) BIO_write(srb, buf, (int)n);
    SSL_do_handshake(s);
    int m;
    while ((m = BIO_read(swb, buf, sizeof buf)) > 0) mxs_tls_feed(c, buf, (size_t)m);
  }
  *errors = mxs_tls_cert_errors(c);
  snprintf(verify, vlen, "%s", mxs_tls_verify_text(c));
  mxs_tls_free(c);
  SSL_free(s);
  return rc;
}

static void replayed_outcomes(void **state) {
  (void)state;
  pki_t pki, stranger;
  pki_init(&pki, "vcache test root");
  pki_init(&stranger, "some other root");
  struct {
    const char *name;
    long nb, na;
    int self, foreign;
    mxs_class_set_t want;
  } cases[] = {
      {"good", -3600, 86400, 0, 0, 0},
      {"expired", -86400, -3600, 0, 0, MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED)},
      {"self-signed", -3600, 86400, 1, 0, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED)},
      {"unknown issuer", -3600, 86400, 0, 1, MXS_CLASS_BIT(MXS_CLASS_CERT_CHAIN_INCOMPLETE)},
  };
  /* The servers first: mxscan's context switches the whole process to
   * OpenSSL's built-in RSA/EC key code (probe/tls_keys.h), and a server
   * set up after that would hold a provider key next to a built-in one. */
  SSL_CTX *servers[sizeof cases / sizeof cases[0]];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    servers[i] = server_ctx(&pki, cases[i].nb, cases[i].na, cases[i].self, cases[i].foreign ? &stranger : NULL);
  mxs_tls_ctx_t *cached, *fresh;
  char err[256];
  assert_int_equal(mxs_tls_ctx_new(pki.ca_path, 64, &cached, err, sizeof err), 0);
  assert_int_equal(mxs_tls_ctx_new(pki.ca_path, 0, &fresh, err, sizeof err), 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    SSL_CTX *sctx = servers[i];
    mxs_class_set_t e0, e1, e2;
    char v0[128], v1[128], v2[128];
    uint64_t l0, h0, l1, h1;
    assert_int_equal(handshake(fresh, sctx, &e0, v0, sizeof v0), 1);
    mxs_tls_ctx_cache_stats(cached, &l0, &h0);
    assert_int_equal(handshake(cached, sctx, &e1, v1, sizeof v1), 1); /* verified, remembered */
    assert_int_equal(handshake(cached, sctx, &e2, v2, sizeof v2), 1); /* replayed */
    mxs_tls_ctx_cache_stats(cached, &l1, &h1);
    if (e0 != cases[i].want)
      fail_msg("%s: errors %#llx, want %#llx", cases[i].name, (unsigned long long)e0,
               (unsigned long long)cases[i].want);
    if (e1 != e0 || e2 != e0)
      fail_msg("%s: cached errors %#llx/%#llx, fresh %#llx", cases[i].name, (unsigned long long)e1,
               (unsigned long long)e2, (unsigned long long)e0);
    assert_string_equal(v1, v0);
    assert_string_equal(v2, v0);
    assert_int_equal(l1 - l0, 2);
    assert_int_equal(h1 - h0, 1);
    SSL_CTX_free(sctx);
  }
  uint64_t l, h;
  mxs_tls_ctx_cache_stats(fresh, &l, &h);
  assert_int_equal(l, 0);
  mxs_tls_ctx_free(cached);
  mxs_tls_ctx_free(fresh);
  pki_free(&pki);
  pki_free(&stranger);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(keys_and_bounds), cmocka_unit_test(replayed_outcomes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
