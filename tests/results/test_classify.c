/* test_classify.c - the class table and the error-code mappings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ares.h>
#include <openssl/ssl.h>
#include <string.h>
#include <uv.h>

#include "results/classify.h"

/* The contract's order, written out independently of the X-macro table. */
static const char *const contract_order[] = {"dns-nxdomain",
                                             "dns-servfail",
                                             "dns-timeout",
                                             "null-mx",
                                             "no-mx-no-address",
                                             "mx-no-address",
                                             "sts-policy-fetch-error",
                                             "sts-policy-invalid",
                                             "dnssec-invalid",
                                             "dane-required",
                                             "tcp-timeout",
                                             "tcp-refused",
                                             "tcp-unreachable",
                                             "smtp-banner-timeout",
                                             "smtp-timeout",
                                             "smtp-rejected",
                                             "smtp-protocol-error",
                                             "smtp-closed",
                                             "starttls-not-offered",
                                             "starttls-rejected",
                                             "tls-version-mismatch",
                                             "tls-no-shared-cipher",
                                             "tls-weak-dh",
                                             "tls-legacy-renegotiation",
                                             "tls-died",
                                             "tls-timeout",
                                             "tls-alert",
                                             "tls-protocol-error",
                                             "tlsa-invalid",
                                             "sts-webpki-invalid",
                                             "cert-expired",
                                             "cert-not-yet-valid",
                                             "cert-self-signed",
                                             "cert-chain-incomplete",
                                             "cert-untrusted",
                                             "cert-hostname-mismatch",
                                             "cert-weak",
                                             "post-tls-ehlo-failed",
                                             "excluded",
                                             "ok"};

static void table_matches_contract(void **state) {
  (void)state;
  assert_int_equal(MXS_CLASS_COUNT, sizeof contract_order / sizeof contract_order[0]);
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    assert_string_equal(mxs_class_name((mxs_class_t)i), contract_order[i]);
    assert_int_equal(mxs_class_from_name(contract_order[i]), i);
  }
  assert_int_equal(mxs_class_from_name("no-such-class"), -1);
}

static void tlsrpt_and_stage(void **state) {
  (void)state;
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_OK), "success");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_STARTTLS_NOT_OFFERED), "starttls-not-supported");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_CERT_EXPIRED), "certificate-expired");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_CERT_HOSTNAME_MISMATCH), "certificate-host-mismatch");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_CERT_SELF_SIGNED), "certificate-not-trusted");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_TLS_DIED), "validation-failure");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_TCP_TIMEOUT), "none");
  assert_string_equal(mxs_class_stage(MXS_CLASS_POST_TLS_EHLO_FAILED), "post-tls");
  assert_string_equal(mxs_class_stage(MXS_CLASS_OK), "done");
  /* the policy classes are RFC 8460's result types by name */
  for (int c = MXS_CLASS_STS_POLICY_FETCH_ERROR; c <= MXS_CLASS_DANE_REQUIRED; c++)
    assert_string_equal(mxs_class_tlsrpt((mxs_class_t)c), mxs_class_name((mxs_class_t)c));
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_TLSA_INVALID), "tlsa-invalid");
  assert_string_equal(mxs_class_tlsrpt(MXS_CLASS_STS_WEBPKI_INVALID), "sts-webpki-invalid");
}

static void first_in_order(void **state) {
  (void)state;
  assert_int_equal(mxs_class_first(0), MXS_CLASS_OK);
  mxs_class_set_t s = MXS_CLASS_BIT(MXS_CLASS_CERT_WEAK) | MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED) |
                      MXS_CLASS_BIT(MXS_CLASS_CERT_HOSTNAME_MISMATCH);
  assert_int_equal(mxs_class_first(s), MXS_CLASS_CERT_EXPIRED);
}

static void connect_errors(void **state) {
  (void)state;
  assert_int_equal(mxs_class_from_connect_error(UV_ETIMEDOUT), MXS_CLASS_TCP_TIMEOUT);
  assert_int_equal(mxs_class_from_connect_error(UV_ECONNREFUSED), MXS_CLASS_TCP_REFUSED);
  /* Unreachable is covered here: tests never aim at a non-loopback address. */
  assert_int_equal(mxs_class_from_connect_error(UV_EHOSTUNREACH), MXS_CLASS_TCP_UNREACHABLE);
  assert_int_equal(mxs_class_from_connect_error(UV_ENETUNREACH), MXS_CLASS_TCP_UNREACHABLE);
  assert_int_equal(mxs_class_from_connect_error(UV_EADDRNOTAVAIL), MXS_CLASS_TCP_UNREACHABLE);
}

static void ares_statuses(void **state) {
  (void)state;
  assert_int_equal(mxs_class_from_ares_status(ARES_ENOTFOUND), MXS_CLASS_DNS_NXDOMAIN);
  assert_int_equal(mxs_class_from_ares_status(ARES_ESERVFAIL), MXS_CLASS_DNS_SERVFAIL);
  assert_int_equal(mxs_class_from_ares_status(ARES_EREFUSED), MXS_CLASS_DNS_SERVFAIL);
  assert_int_equal(mxs_class_from_ares_status(ARES_ETIMEOUT), MXS_CLASS_DNS_TIMEOUT);
}

static mxs_class_t tls(int reason, int alert, int closed, int legacy_ok, int legacy_version) {
  mxs_tls_outcome_t o = {reason, alert, closed, legacy_ok, legacy_version, 0, 0, 0};
  return mxs_class_from_tls(&o);
}

/* The failed probe had a sender profile's versions MIN..MAX, and a retry
 * got VERSION. */
static mxs_class_t tls_range(int reason, int alert, int retry_version, int min, int max) {
  mxs_tls_outcome_t o = {reason, alert, 0, retry_version != 0, retry_version, min, max, 0};
  return mxs_class_from_tls(&o);
}

static void tls_profile_versions(void **state) {
  (void)state;
  /* Capped at TLS 1.2 against a TLS 1.3-only server that a full client reaches. */
  assert_int_equal(tls_range(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, TLS1_3_VERSION, TLS1_2_VERSION, TLS1_2_VERSION),
                   MXS_CLASS_TLS_VERSION_MISMATCH);
  /* TLS 1.3 only against a TLS 1.2 server. */
  assert_int_equal(tls_range(0, 40, TLS1_2_VERSION, TLS1_3_VERSION, TLS1_3_VERSION), MXS_CLASS_TLS_VERSION_MISMATCH);
  /* A sender that allows TLS 1.0 itself: a TLS 1.0 retry says nothing about versions. */
  assert_int_equal(tls_range(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, TLS1_VERSION, TLS1_VERSION, 0),
                   MXS_CLASS_TLS_NO_SHARED_CIPHER);
  /* Inside the range: not a version problem. */
  assert_int_equal(tls_range(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, TLS1_3_VERSION, TLS1_2_VERSION, 0),
                   MXS_CLASS_TLS_NO_SHARED_CIPHER);
  /* A handshake_failure after a CertificateRequest is about the client
   * certificate, not the cipher. */
  mxs_tls_outcome_t o = {SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, 0, 0, 0, 0, 0, 1};
  assert_int_equal(mxs_class_from_tls(&o), MXS_CLASS_TLS_ALERT);
  o.cert_requested = 0;
  assert_int_equal(mxs_class_from_tls(&o), MXS_CLASS_TLS_NO_SHARED_CIPHER);
  /* ... even when a profile allowing other versions got through (with a
   * certificate): the version was agreed before the CertificateRequest. */
  o = (mxs_tls_outcome_t){
      SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, 0, 1, TLS1_3_VERSION, TLS1_2_VERSION, TLS1_2_VERSION, 1};
  assert_int_equal(mxs_class_from_tls(&o), MXS_CLASS_TLS_ALERT);
}

static void tls_failures(void **state) {
  (void)state;
  /* TLS 1.0-only server: it answers our 1.2+ hello with a protocol_version alert. */
  assert_int_equal(tls(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, 70, 0, 1, TLS1_VERSION), MXS_CLASS_TLS_VERSION_MISMATCH);
  assert_int_equal(tls(SSL_R_UNSUPPORTED_PROTOCOL, -1, 0, 0, 0), MXS_CLASS_TLS_VERSION_MISMATCH);
  /* A server that just hangs up on a modern hello but speaks TLS 1.0. */
  assert_int_equal(tls(0, -1, 1, 1, TLS1_VERSION), MXS_CLASS_TLS_VERSION_MISMATCH);
  assert_int_equal(tls(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, 40, 0, 1, TLS1_2_VERSION), MXS_CLASS_TLS_NO_SHARED_CIPHER);
  assert_int_equal(tls(SSL_R_DH_KEY_TOO_SMALL, -1, 0, 1, TLS1_2_VERSION), MXS_CLASS_TLS_WEAK_DH);
  assert_int_equal(tls(SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED, -1, 0, 1, TLS1_2_VERSION),
                   MXS_CLASS_TLS_LEGACY_RENEGOTIATION);
  assert_int_equal(tls(0, -1, 1, 0, 0), MXS_CLASS_TLS_DIED);
  assert_int_equal(tls(0, -1, 1, 1, TLS1_2_VERSION), MXS_CLASS_TLS_DIED);
  assert_int_equal(tls(SSL_R_TLSV1_ALERT_ACCESS_DENIED, 49, 0, 0, 0), MXS_CLASS_TLS_ALERT);
  assert_int_equal(tls(SSL_R_TLSV1_ALERT_INTERNAL_ERROR, 80, 1, 0, 0), MXS_CLASS_TLS_ALERT);
  assert_int_equal(tls(SSL_R_WRONG_VERSION_NUMBER, -1, 0, 0, 0), MXS_CLASS_TLS_PROTOCOL_ERROR);
  assert_int_equal(tls(SSL_R_WRONG_VERSION_NUMBER, -1, 1, 0, 0), MXS_CLASS_TLS_PROTOCOL_ERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_matches_contract), cmocka_unit_test(tlsrpt_and_stage), cmocka_unit_test(first_in_order),
      cmocka_unit_test(connect_errors),         cmocka_unit_test(ares_statuses),    cmocka_unit_test(tls_failures),
      cmocka_unit_test(tls_profile_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
