/* test_profile_why.c - which setting makes the difference between two
 * sender profiles, and whose side it is on, from cells shaped as the
 * handshakes leave them (the real handshakes: tests/cli/test_profiles.py).
 * The oracle answers from a small table instead of OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "results/profile_why.h"

/* What each settings would offer: the modern profile offers AES-GCM and
 * ffdhe2048; everything else offers what its own lists name. */
static int fake_offers(void *arg, const mxs_tls_settings_t *set, int group, const char *name) {
  (void)arg;
  const char *list = group ? set->groups : strncmp(name, "TLS_", 4) == 0 ? set->ciphersuites : set->ciphers;
  if (set == &mxs_profile_default()->set)
    return group ? strcmp(name, "secp256r1") == 0 || strcmp(name, "ffdhe2048") == 0
                 : strstr(name, "GCM") != NULL || strncmp(name, "TLS_", 4) == 0;
  if (!list) return 1;
  return strstr(list, name) != NULL;
}

static const mxs_cmp_oracle_t oracle = {fake_offers, NULL};

static mxs_cmp_cell_t ok_cell(const char *column, const mxs_tls_settings_t *set, const char *version,
                              const char *cipher, const char *group) {
  return (mxs_cmp_cell_t){column, set, MXS_CLASS_OK, 1, version, cipher, group, "RSA", 2048, -1, 0, 0};
}

static mxs_cmp_cell_t failed(const char *column, const mxs_tls_settings_t *set, mxs_class_t cls, int alert) {
  return (mxs_cmp_cell_t){column, set, cls, 0, NULL, NULL, NULL, NULL, 0, alert, 0, 0};
}

static void expect(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, mxs_fault_t fault, const char *setting,
                   const char *words) {
  assert_true(mxs_cmp_worse(x, ok));
  mxs_cmp_finding_t f;
  mxs_cmp_explain(x, ok, &oracle, &f);
  if (f.fault != fault || strcmp(f.setting, setting) != 0 || !strstr(f.text, words))
    fail_msg("%s vs %s: %s/%s '%s', want %s/%s with '%s'", x->column, ok->column, mxs_fault_name(f.fault), f.setting,
             f.text, mxs_fault_name(fault), setting, words);
}

static const mxs_tls_settings_t *p(const char *name) { return &mxs_profile_find(name)->set; }

static void versions(void **state) {
  (void)state;
  /* TLS 1.0 only: the receiver is behind */
  mxs_cmp_cell_t m = failed("modern", p("modern"), MXS_CLASS_TLS_VERSION_MISMATCH, 70);
  mxs_cmp_cell_t l = ok_cell("legacy", p("legacy"), "TLSv1", "ECDHE-RSA-AES256-SHA", "X25519");
  expect(&m, &l, MXS_FAULT_RECEIVER, "version", "at most TLSv1 (legacy negotiated it), below modern's lowest");
  /* a TLS 1.2 receiver and a TLS 1.3-only sender: the sender is stricter than current */
  mxs_cmp_cell_t s = failed("strict-tls13", p("strict-tls13"), MXS_CLASS_TLS_VERSION_MISMATCH, 70);
  mxs_cmp_cell_t m2 = ok_cell("modern", p("modern"), "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "X25519");
  expect(&s, &m2, MXS_FAULT_SENDER, "version", "stricter than a current sender's");
  /* TLS 1.3 only, a sender capped at 1.2 */
  mxs_cmp_cell_t t = failed("tls12-only", p("tls12-only"), MXS_CLASS_TLS_VERSION_MISMATCH, 70);
  mxs_cmp_cell_t m3 = ok_cell("modern", p("modern"), "TLSv1.3", "TLS_AES_256_GCM_SHA384", "X25519");
  expect(&t, &m3, MXS_FAULT_SENDER, "version", "above tls12-only's highest version TLSv1.2");
}

static void ciphers_and_groups(void **state) {
  (void)state;
  /* only Camellia: a modern sender does not offer it, Postfix's list does */
  mxs_cmp_cell_t m = failed("modern", p("modern"), MXS_CLASS_TLS_NO_SHARED_CIPHER, 40);
  mxs_cmp_cell_t pf =
      ok_cell("postfix-debian12", p("postfix-debian12"), "TLSv1.2", "ECDHE-RSA-CAMELLIA256-SHA384", "X25519");
  expect(&m, &pf, MXS_FAULT_RECEIVER, "cipher", "does not offer it (cipher list \"DEFAULT:@SECLEVEL=2\")");
  /* a custom cipher list without the one the receiver wants, which modern offers */
  mxs_tls_settings_t custom = *p("modern");
  custom.ciphers = "ECDHE-RSA-AES256-GCM-SHA384";
  mxs_cmp_cell_t c = failed("modern+custom", &custom, MXS_CLASS_TLS_NO_SHARED_CIPHER, 40);
  mxs_cmp_cell_t m2 = ok_cell("modern", p("modern"), "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "X25519");
  expect(&c, &m2, MXS_FAULT_SENDER, "cipher", "A current sender (modern) offers ECDHE-RSA-AES128-GCM-SHA256");
  /* a group: Postfix's curves, a receiver with ffdhe2048 only */
  mxs_cmp_cell_t pf2 = failed("postfix-debian12", p("postfix-debian12"), MXS_CLASS_TLS_NO_SHARED_CIPHER, 40);
  mxs_cmp_cell_t m3 = ok_cell("modern", p("modern"), "TLSv1.3", "TLS_AES_256_GCM_SHA384", "ffdhe2048");
  expect(&pf2, &m3, MXS_FAULT_SENDER, "group", "key exchange group ffdhe2048");
  /* a group nobody current offers */
  mxs_cmp_cell_t l = ok_cell("legacy", p("legacy"), "TLSv1.3", "TLS_AES_256_GCM_SHA384", "brainpoolP256r1tls13");
  expect(&pf2, &l, MXS_FAULT_RECEIVER, "group", "should accept X25519 or P-256");
  /* a finite-field DH key is no named group: nothing to say about groups */
  mxs_cmp_cell_t dh = ok_cell("legacy", p("legacy"), "TLSv1.3", "TLS_AES_256_GCM_SHA384", "DH-1024");
  expect(&pf2, &dh, MXS_FAULT_UNKNOWN, "unknown", "do not explain it");
}

static void receivers_behind(void **state) {
  (void)state;
  mxs_cmp_cell_t l = ok_cell("legacy", p("legacy"), "TLSv1.2", "DHE-RSA-AES256-GCM-SHA384", "DH-1024");
  mxs_cmp_cell_t dh = failed("modern", p("modern"), MXS_CLASS_TLS_WEAK_DH, -1);
  expect(&dh, &l, MXS_FAULT_RECEIVER, "security level",
         "(DH-1024, with DHE-RSA-AES256-GCM-SHA384) is too small for "
         "modern's security level 2; legacy, at security level 0");
  mxs_cmp_cell_t rn = failed("modern", p("modern"), MXS_CLASS_TLS_LEGACY_RENEGOTIATION, -1);
  expect(&rn, &l, MXS_FAULT_RECEIVER, "renegotiation", "RFC 5746");
  /* a weak certificate: both handshakes complete, one profile objects */
  mxs_cmp_cell_t w = ok_cell("modern", p("modern"), "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "X25519");
  w.cls = MXS_CLASS_CERT_WEAK;
  w.key_bits = 1024;
  expect(&w, &l, MXS_FAULT_RECEIVER, "security level",
         "(RSA key, 1024 bits) is too weak for modern's security level 2");
}

static void client_certificates(void **state) {
  (void)state;
  mxs_tls_settings_t with = *p("modern");
  with.client_cert = "/etc/mx/client.pem";
  mxs_cmp_cell_t good = ok_cell("modern+custom", &with, "TLSv1.3", "TLS_AES_256_GCM_SHA384", "X25519");
  good.cert_requested = good.cert_sent = 1;
  mxs_cmp_cell_t none = failed("modern", p("modern"), MXS_CLASS_TLS_ALERT, 116);
  none.cert_requested = 1;
  expect(&none, &good, MXS_FAULT_SENDER, "client certificate",
         "refused modern, which presents none (alert 116, certificate_required); modern+custom presented "
         "/etc/mx/client.pem");
  /* every profile refused: said once for the row */
  mxs_cmp_cell_t other = none;
  other.column = "modern+custom";
  other.cert_sent = 1;
  other.alert = 48;
  mxs_cmp_cell_t row[2] = {none, other};
  assert_false(mxs_cmp_worse(&row[0], &row[1]));
  mxs_cmp_finding_t f;
  mxs_cmp_explain_all(row, 2, &f);
  assert_int_equal(f.fault, MXS_FAULT_SENDER);
  assert_string_equal(f.setting, "client certificate");
  assert_non_null(strstr(f.text, "the certificate given with --client-cert too"));
  row[1].cert_sent = 0;
  mxs_cmp_explain_all(row, 2, &f);
  assert_non_null(strstr(f.text, "no profile presents one"));
}

static void no_difference(void **state) {
  (void)state;
  mxs_cmp_cell_t a = failed("modern", p("modern"), MXS_CLASS_STARTTLS_NOT_OFFERED, -1);
  mxs_cmp_cell_t b = failed("legacy", p("legacy"), MXS_CLASS_STARTTLS_NOT_OFFERED, -1);
  mxs_cmp_cell_t row[2] = {a, b};
  assert_false(mxs_cmp_worse(&a, &b));
  mxs_cmp_finding_t f;
  mxs_cmp_explain_all(row, 2, &f);
  assert_int_equal(f.fault, MXS_FAULT_UNKNOWN);
  assert_string_equal(f.text,
                      "Every profile gets starttls-not-offered: the sender's TLS settings make no difference here.");
  /* a failure before TLS is never "worse on TLS grounds" */
  mxs_cmp_cell_t t = failed("modern", p("modern"), MXS_CLASS_TCP_REFUSED, -1);
  mxs_cmp_cell_t ok = ok_cell("legacy", p("legacy"), "TLSv1.3", "TLS_AES_256_GCM_SHA384", "X25519");
  assert_false(mxs_cmp_worse(&t, &ok));
  mxs_cmp_cell_t all_ok[2] = {ok, ok};
  mxs_cmp_explain_all(all_ok, 2, &f);
  assert_string_equal(f.text, "Every profile gets ok.");
  assert_string_equal(mxs_fault_name(MXS_FAULT_RECEIVER), "receiver");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(versions),         cmocka_unit_test(ciphers_and_groups),
      cmocka_unit_test(receivers_behind), cmocka_unit_test(client_certificates),
      cmocka_unit_test(no_difference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
