/* test_tls_keys.c - while a TLS context lives, RSA and EC keys read from
 * certificates take OpenSSL's built-in methods (no decoder chain), other key
 * types the providers; once the context is freed, everything is as before.
 * The keys still verify signatures either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testcert.h"

#include <openssl/provider.h>

#include "probe/tls.h"

/* Serialises X, parses it again as libssl does with a server's certificate,
 * and says whether its public key is a provider key; also checks that the
 * key verifies the certificate's own (self-)signature. */
static int parsed_key_is_provided(X509 *x) {
  unsigned char *der = NULL;
  int len = i2d_X509(x, &der);
  assert_true(len > 0);
  const unsigned char *p = der;
  X509 *y = d2i_X509(NULL, &p, len);
  OPENSSL_free(der);
  assert_non_null(y);
  EVP_PKEY *k = X509_get0_pubkey(y);
  assert_non_null(k);
  assert_int_equal(X509_verify(y, k), 1);
  int provided = EVP_PKEY_get0_provider(k) != NULL;
  X509_free(y);
  return provided;
}

static X509 *self_signed(EVP_PKEY *key) {
  testcert_spec_t s = {.cn = "mx.keys.test", .not_before = 0, .not_after = 86400};
  return testcert_make(&s, key, NULL, NULL);
}

static void builtin_while_the_context_lives(void **state) {
  (void)state;
  EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256"), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  X509 *xr = self_signed(rsa), *xe = self_signed(ec), *xd = self_signed(ed);
  assert_true(parsed_key_is_provided(xr));
  assert_true(parsed_key_is_provided(xe));

  mxs_tls_ctx_t *c;
  char err[256];
  assert_int_equal(mxs_tls_ctx_new(NULL, 0, &c, err, sizeof err), 0);
  assert_false(parsed_key_is_provided(xr));
  assert_false(parsed_key_is_provided(xe));
  assert_true(parsed_key_is_provided(xd)); /* not claimed: the provider path */
  mxs_tls_ctx_free(c);

  assert_true(parsed_key_is_provided(xr));
  assert_true(parsed_key_is_provided(xe));
  X509_free(xr);
  X509_free(xe);
  X509_free(xd);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ed);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(builtin_while_the_context_lives)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
