/* test_dane.c - policy.dane in a record, the DANE classes a sender meets
 * (results/dane.h), DANE before MTA-STS enforce (RFC 8461 section 2), and
 * the delivery outcome at the "dane" sender level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/dane.h"
#include "results/encoders.h"

static const char *json(mxs_json_encoder_t *j, const mxs_record_t *r) {
  mxs_json_encoder_reset(j);
  mxs_record_encode(r, &j->base);
  return j->buf;
}

static void encoded(void **state) {
  (void)state;
  const char *const tlsa[] = {"3 1 1 aabb", "2 0 1 ccdd"};
  mxs_dane_view_t d = {
      .looked_up = 1, .secure = 1, .tlsa_count = 2, .tlsa = tlsa, .usable = 1, .match = 1, .matched = "3 1 1"};
  mxs_policy_view_t p = {.dane = &d};
  mxs_record_t r = {.domain = "a.test", .cls = MXS_CLASS_OK, .stage = "done", .detail = "", .policy = &p};
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  assert_non_null(strstr(json(&j, &r),
                         ",\"policy\":{\"dane\":{\"secure\":true,\"tlsa_count\":2,"
                         "\"tlsa\":[\"3 1 1 aabb\",\"2 0 1 ccdd\"],\"usable\":true,"
                         "\"match\":true,\"matched\":\"3 1 1\"}}}"));
  /* insecure: not looked up, so only `secure` */
  d = (mxs_dane_view_t){.match = -1};
  assert_non_null(strstr(json(&j, &r), ",\"policy\":{\"dane\":{\"secure\":false}}}"));
  /* a failed lookup */
  d = (mxs_dane_view_t){.looked_up = 1, .match = -1, .error = "SERVFAIL"};
  assert_non_null(strstr(json(&j, &r),
                         "\"dane\":{\"secure\":false,\"tlsa_count\":0,\"usable\":false,"
                         "\"error\":\"SERVFAIL\"}"));
  /* beside MTA-STS: sts, dane, then TLS-RPT */
  const char *const rua[] = {"mailto:r@a.test"};
  mxs_sts_view_t s = {.txt_id = "1", .mx_match = -1, .fetch_error = "HTTP 404"};
  p = (mxs_policy_view_t){.sts = &s, .tlsrpt_rua = rua, .ntlsrpt_rua = 1, .dane = &d};
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .match = -1};
  assert_non_null(strstr(json(&j, &r),
                         "\"policy\":{\"sts\":{\"txt_id\":\"1\",\"fetch_error\":\"HTTP 404\"},"
                         "\"dane\":{\"secure\":true,\"tlsa_count\":0,\"usable\":false},"
                         "\"tlsrpt_rua\":[\"mailto:r@a.test\"]}}"));
  /* no dane, nothing else: no policy key */
  p = (mxs_policy_view_t){0};
  assert_null(strstr(json(&j, &r), "policy"));
  mxs_json_encoder_free(&j);
}

static void usable_records(void **state) {
  (void)state;
  assert_true(mxs_dane_rr_usable(3, 1, 1, 32));
  assert_true(mxs_dane_rr_usable(3, 0, 0, 700));
  assert_true(mxs_dane_rr_usable(2, 0, 2, 64));
  assert_false(mxs_dane_rr_usable(0, 1, 1, 32)); /* PKIX-TA */
  assert_false(mxs_dane_rr_usable(1, 1, 1, 32)); /* PKIX-EE */
  assert_false(mxs_dane_rr_usable(4, 1, 1, 32));
  assert_false(mxs_dane_rr_usable(3, 2, 1, 32));
  assert_false(mxs_dane_rr_usable(3, 1, 3, 32));
  /* malformed: a digest of the wrong length, no data */
  assert_false(mxs_dane_rr_usable(3, 1, 1, 31));
  assert_false(mxs_dane_rr_usable(3, 1, 2, 32));
  assert_false(mxs_dane_rr_usable(3, 1, 0, 0));
}

static mxs_class_t apply(const mxs_dane_view_t *d, mxs_class_t cls, const char **detail, char *buf) {
  *detail = "probe detail";
  strcpy(buf, "untouched");
  mxs_policy_view_t p = {.dane = d};
  mxs_policy_apply(&p, &cls, 0, detail, buf, 300);
  return cls;
}

static void classes(void **state) {
  (void)state;
  char buf[300];
  const char *detail;
  mxs_dane_view_t d = {.looked_up = 1,
                       .secure = 1,
                       .tlsa_count = 1,
                       .usable = 1,
                       .match = 0,
                       .mismatch = "no matching DANE TLSA records"};
  /* no match: tlsa-invalid, before cert-* and ok */
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_TLSA_INVALID);
  assert_string_equal(detail,
                      "DANE: the certificate matches none of the usable TLSA records: "
                      "no matching DANE TLSA records");
  assert_int_equal(apply(&d, MXS_CLASS_CERT_SELF_SIGNED, &detail, buf), MXS_CLASS_TLSA_INVALID);
  /* ... but a failure met before the handshake stays */
  assert_int_equal(apply(&d, MXS_CLASS_STARTTLS_NOT_OFFERED, &detail, buf), MXS_CLASS_STARTTLS_NOT_OFFERED);
  assert_string_equal(detail, "probe detail");
  assert_string_equal(buf, "untouched");
  /* a match: the WebPKI class stays (the first failing check), and so does ok */
  d.match = 1;
  assert_int_equal(apply(&d, MXS_CLASS_CERT_SELF_SIGNED, &detail, buf), MXS_CLASS_CERT_SELF_SIGNED);
  assert_string_equal(detail, "probe detail");
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_OK);
  /* only unusable records */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .tlsa_count = 2, .usable = 0, .match = -1};
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_TLSA_INVALID);
  assert_non_null(strstr(detail, "none of the 2 TLSA records is usable"));
  /* insecure TLSA records are ignored, whatever they say */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 0, .tlsa_count = 1, .usable = 1, .match = 0};
  assert_int_equal(apply(&d, MXS_CLASS_CERT_UNTRUSTED, &detail, buf), MXS_CLASS_CERT_UNTRUSTED);
  /* a failed lookup: dnssec-invalid, before the connection, after DNS */
  d = (mxs_dane_view_t){.looked_up = 1, .match = -1, .error = "SERVFAIL"};
  assert_int_equal(apply(&d, MXS_CLASS_TCP_TIMEOUT, &detail, buf), MXS_CLASS_DNSSEC_INVALID);
  assert_string_equal(detail, "DANE: TLSA lookup failed: SERVFAIL");
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_DNSSEC_INVALID);
  assert_int_equal(apply(&d, MXS_CLASS_MX_NO_ADDRESS, &detail, buf), MXS_CLASS_MX_NO_ADDRESS);
  /* a sender that requires DANE: dane-required where DANE does not apply */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .match = -1, .required = 1};
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_DANE_REQUIRED);
  assert_string_equal(detail, "DANE required: no DNSSEC-validated TLSA records for this MX host (it publishes none)");
  d = (mxs_dane_view_t){.match = -1, .required = 1};
  assert_int_equal(apply(&d, MXS_CLASS_TCP_TIMEOUT, &detail, buf), MXS_CLASS_DANE_REQUIRED);
  assert_non_null(strstr(detail, "its MX or address records are not DNSSEC-secure"));
  assert_int_equal(apply(&d, MXS_CLASS_MX_NO_ADDRESS, &detail, buf), MXS_CLASS_MX_NO_ADDRESS);
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 1, .match = 1, .required = 1};
  assert_int_equal(apply(&d, MXS_CLASS_OK, &detail, buf), MXS_CLASS_OK);
  /* no TLSA records: nothing */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .match = -1};
  assert_int_equal(apply(&d, MXS_CLASS_CERT_EXPIRED, &detail, buf), MXS_CLASS_CERT_EXPIRED);
  assert_string_equal(buf, "untouched");
}

/* RFC 8461 section 2: where DANE applies, MTA-STS enforce does not turn a
 * WebPKI failure into sts-webpki-invalid. */
static void dane_before_sts(void **state) {
  (void)state;
  char buf[300];
  const char *detail = "self signed certificate";
  const char *const mx[] = {"mx.a.test"};
  mxs_sts_view_t s = {"1", MXS_STS_ENFORCE, 86400, mx, 1, 1, NULL, NULL, 0};
  mxs_dane_view_t d = {.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 1, .match = 1};
  mxs_policy_view_t p = {.sts = &s, .dane = &d};
  mxs_class_t c = MXS_CLASS_CERT_SELF_SIGNED;
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_CERT_SELF_SIGNED);
  /* DANE does not apply: MTA-STS enforce does */
  d.secure = 0;
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_STS_WEBPKI_INVALID);
  /* both fail: tlsa-invalid comes first in contract order */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 1, .match = 0};
  c = MXS_CLASS_CERT_SELF_SIGNED;
  detail = "self signed certificate";
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_TLSA_INVALID);
  assert_non_null(strstr(detail, "DANE: the certificate matches none"));
}

static mxs_dane_delivery_t deliver(const mxs_dane_view_t *d, mxs_class_t cls, const char *tls_version) {
  mxs_policy_view_t p = {.dane = d};
  mxs_record_t r = {.domain = "a.test", .cls = cls, .tls_version = tls_version, .policy = d ? &p : NULL};
  return mxs_dane_delivery(&r);
}

static void delivery(void **state) {
  (void)state;
  mxs_dane_view_t d = {.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 1, .match = 1};
  /* a self-signed certificate with a matching DANE-EE record: a success */
  assert_int_equal(deliver(&d, MXS_CLASS_CERT_SELF_SIGNED, "TLSv1.3"), MXS_DANE_DELIVER);
  assert_int_equal(deliver(&d, MXS_CLASS_OK, "TLSv1.3"), MXS_DANE_DELIVER);
  assert_int_equal(deliver(&d, MXS_CLASS_POST_TLS_EHLO_FAILED, "TLSv1.3"), MXS_DANE_DEFER);
  d.match = 0;
  assert_int_equal(deliver(&d, MXS_CLASS_TLSA_INVALID, "TLSv1.3"), MXS_DANE_DEFER);
  /* TLS is mandatory under DANE */
  d.match = -1;
  assert_int_equal(deliver(&d, MXS_CLASS_STARTTLS_NOT_OFFERED, NULL), MXS_DANE_DEFER);
  /* only unusable records: mandatory TLS, unauthenticated */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 0, .match = -1};
  assert_int_equal(deliver(&d, MXS_CLASS_TLSA_INVALID, "TLSv1.2"), MXS_DANE_DELIVER);
  assert_int_equal(deliver(&d, MXS_CLASS_TLS_ALERT, NULL), MXS_DANE_DEFER);
  /* a failed TLSA lookup: defer */
  d = (mxs_dane_view_t){.looked_up = 1, .match = -1, .error = "SERVFAIL"};
  assert_int_equal(deliver(&d, MXS_CLASS_DNSSEC_INVALID, "TLSv1.3"), MXS_DANE_DEFER);
  /* no DANE: not applied, whatever happened */
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .match = -1};
  assert_int_equal(deliver(&d, MXS_CLASS_STARTTLS_NOT_OFFERED, NULL), MXS_DANE_NOT_APPLIED);
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 0, .tlsa_count = 1, .usable = 1, .match = -1};
  assert_int_equal(deliver(&d, MXS_CLASS_CERT_UNTRUSTED, "TLSv1.3"), MXS_DANE_NOT_APPLIED);
  assert_int_equal(deliver(NULL, MXS_CLASS_OK, "TLSv1.3"), MXS_DANE_NOT_APPLIED);
  /* ... unless the sender requires DANE */
  d.required = 1;
  assert_int_equal(deliver(&d, MXS_CLASS_DANE_REQUIRED, "TLSv1.3"), MXS_DANE_DEFER);
  assert_string_equal(mxs_dane_delivery_name(MXS_DANE_DEFER), "defer");
  assert_string_equal(mxs_dane_delivery_name(MXS_DANE_DELIVER), "deliver");
  assert_string_equal(mxs_dane_delivery_name(MXS_DANE_NOT_APPLIED), "not-applied");
}

/* A record read back gives the same view, and so the same outcome. */
static void read_back(void **state) {
  (void)state;
  mxs_read_record_t rr = {.domain = "a.test", .cls = MXS_CLASS_CERT_SELF_SIGNED, .tls_version = "TLSv1.3"};
  mxs_dane_view_t v;
  assert_int_equal(mxs_dane_read_view(&rr, &v), 0); /* no dane map */
  rr.has_dane = 1;
  rr.dane_secure = 1;
  rr.dane_tlsa_count = 1;
  rr.dane_usable = 1;
  rr.dane_match = 1;
  rr.dane_matched = "3 1 1";
  rr.ndane_tlsa = 1;
  rr.dane_tlsa[0] = "3 1 1 aa";
  assert_int_equal(mxs_dane_read_view(&rr, &v), 1);
  assert_true(mxs_dane_applies(&v));
  assert_string_equal(v.tlsa[0], "3 1 1 aa");
  assert_int_equal(mxs_dane_delivery_of(&v, rr.cls, 1), MXS_DANE_DELIVER);
  rr.dane_match = 0;
  mxs_dane_read_view(&rr, &v);
  assert_int_equal(mxs_dane_delivery_of(&v, MXS_CLASS_TLSA_INVALID, 1), MXS_DANE_DEFER);
  /* insecure: secure false, nothing looked up */
  rr = (mxs_read_record_t){
      .domain = "a.test", .has_dane = 1, .dane_secure = 0, .dane_tlsa_count = -1, .dane_usable = -1, .dane_match = -1};
  mxs_dane_read_view(&rr, &v);
  assert_false(v.looked_up);
  assert_int_equal(mxs_dane_delivery_of(&v, MXS_CLASS_OK, 1), MXS_DANE_NOT_APPLIED);
  assert_int_equal(mxs_dane_delivery_of(NULL, MXS_CLASS_OK, 1), MXS_DANE_NOT_APPLIED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encoded),         cmocka_unit_test(usable_records), cmocka_unit_test(classes),
      cmocka_unit_test(dane_before_sts), cmocka_unit_test(delivery),       cmocka_unit_test(read_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
