/* test_names.c - certificate name matching (RFC 6125), checked against
 * OpenSSL's X509_check_host on real certificates built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testcert.h"

#include <stdio.h>
#include <time.h>

#include "probe/cert.h"

static void patterns(void **state) {
  (void)state;
  assert_true(mxs_name_matches("mx.example.com", "mx.example.com"));
  assert_true(mxs_name_matches("MX.Example.COM", "mx.example.com"));
  assert_true(mxs_name_matches("mx.example.com.", "mx.example.com"));
  assert_true(mxs_name_matches("*.example.com", "mx.example.com"));
  assert_false(mxs_name_matches("*.example.com", "example.com"));
  assert_false(mxs_name_matches("*.example.com", "a.mx.example.com"));
  assert_false(mxs_name_matches("*.com", "example.com"));
  assert_false(mxs_name_matches("m*.example.com", "mx.example.com"));
  assert_false(mxs_name_matches("mx.example.com", "mx.example.co"));
  assert_false(mxs_name_matches("", "mx.example.com"));
}

static void same_answer_as_openssl(void **state) {
  (void)state;
  const char *hosts[] = {"mx.example.com", "example.com", "a.mx.example.com", "other.test", "mx2.example.com"};
  struct {
    const char *cn, *san;
  } certs[] = {{"mx.example.com", NULL},
               {"ignored.example.com", "DNS:*.example.com"},
               {"mx.example.com", "DNS:other.test"},
               {"x", "DNS:mx.example.com,DNS:mx2.example.com"}};
  for (size_t c = 0; c < sizeof certs / sizeof certs[0]; c++) {
    X509 *x = testcert_self_signed(certs[c].cn, certs[c].san, 1);
    mxs_cert_t *mc = mxs_cert_new(x, 1, (int64_t)time(NULL), NULL);
    assert_non_null(mc);
    for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++) {
      int want = X509_check_host(x, hosts[h], 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
      if (mxs_cert_matches_host(mc, hosts[h]) != want) fail_msg("cert %zu host %s: want %d", c, hosts[h], want);
    }
    /* the fingerprint: the leaf DER's SHA-256 in lower-case hex, the same
     * with a digest fetched once as with EVP_sha256() */
    unsigned char md[32];
    unsigned int mdlen = 0;
    char want[65];
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
    for (unsigned i = 0; i < mdlen; i++) snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(mc->info.sha256, want);
    EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    mxs_cert_t *mc2 = mxs_cert_new(x, 1, (int64_t)time(NULL), fetched);
    assert_string_equal(mc2->info.sha256, want);
    mxs_cert_free(mc2);
    EVP_MD_free(fetched);
    assert_string_equal(mc->info.key_type, "EC");
    assert_int_equal(mc->info.key_bits, 256);
    assert_int_equal(mxs_cert_leaf_problems(mc), 0);
    mxs_cert_free(mc);
    X509_free(x);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(patterns), cmocka_unit_test(same_answer_as_openssl)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
