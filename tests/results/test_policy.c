/* test_policy.c - the MTA-STS and TLS-RPT texts (RFC 8461, RFC 8460), the MX
 * pattern match, what a policy makes of a probe's class, and the `policy`
 * map in a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/encoders.h"
#include "results/policy.h"

static mxs_sts_txt_t sts1(const char *rec, char id[33], char *why) {
  const char *recs[] = {rec};
  size_t lens[] = {strlen(rec)};
  return mxs_sts_txt_pick(recs, lens, 1, id, why, 160);
}

static void sts_txt(void **state) {
  (void)state;
  char id[33], why[160];
  assert_int_equal(sts1("v=STSv1; id=20240101;", id, why), MXS_STS_TXT_OK);
  assert_string_equal(id, "20240101");
  assert_int_equal(sts1("v=STSv1;id=abcDEF123", id, why), MXS_STS_TXT_OK);
  assert_string_equal(id, "abcDEF123");
  assert_int_equal(sts1("v=STSv1 ; id=x1 ; ext_1=val", id, why), MXS_STS_TXT_OK);
  assert_string_equal(id, "x1");
  /* not STS records at all: no policy */
  assert_int_equal(sts1("v=spf1 -all", id, why), MXS_STS_TXT_NONE);
  assert_int_equal(sts1("v=STSv10; id=1", id, why), MXS_STS_TXT_NONE);
  assert_int_equal(sts1("V=STSv1; id=1", id, why), MXS_STS_TXT_NONE); /* %s"v=STSv1": case-sensitive */
  /* STS records that do not parse */
  assert_int_equal(sts1("v=STSv1", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1;", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1; ext=1", id, why), MXS_STS_TXT_INVALID);
  assert_non_null(strstr(why, "no id"));
  assert_int_equal(sts1("v=STSv1; id=", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1; id=has-dash", id, why), MXS_STS_TXT_INVALID);
  assert_non_null(strstr(why, "has-dash"));
  assert_int_equal(sts1("v=STSv1; id=123456789012345678901234567890123", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1; id=1; id=2", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1 id=1", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1; id=1 2", id, why), MXS_STS_TXT_INVALID);
  assert_int_equal(sts1("v=STSv1; id=1; x y=2", id, why), MXS_STS_TXT_INVALID);
  /* several STS records: none is used */
  const char *two[] = {"v=STSv1; id=1", "v=spf1 -all", "v=STSv1; id=2"};
  size_t lens[] = {13, 11, 13};
  assert_int_equal(mxs_sts_txt_pick(two, lens, 3, id, why, sizeof why), MXS_STS_TXT_INVALID);
  assert_non_null(strstr(why, "2 TXT records"));
  /* one STS record among others: used */
  assert_int_equal(mxs_sts_txt_pick(two, lens, 2, id, why, sizeof why), MXS_STS_TXT_OK);
  assert_string_equal(id, "1");
  /* a NUL byte inside: invalid, not cut short */
  const char nul[] = "v=STSv1; id=1\0junk";
  const char *nrec[] = {nul};
  size_t nlen[] = {sizeof nul - 1};
  assert_int_equal(mxs_sts_txt_pick(nrec, nlen, 1, id, why, sizeof why), MXS_STS_TXT_INVALID);
  assert_int_equal(mxs_sts_txt_pick(NULL, NULL, 0, id, why, sizeof why), MXS_STS_TXT_NONE);
}

static int parse(const char *text, mxs_sts_policy_t *p, char *why) {
  return mxs_sts_policy_parse(text, strlen(text), p, why, 160);
}

static void sts_policy(void **state) {
  (void)state;
  mxs_sts_policy_t p;
  char why[160];
  assert_int_equal(
      parse("version: STSv1\nmode: enforce\nmx: mx1.Example.com\nmx: *.example.net\nmax_age: 86400\n", &p, why), 0);
  assert_int_equal(p.mode, MXS_STS_ENFORCE);
  assert_int_equal(p.max_age, 86400);
  assert_int_equal(p.nmx, 2);
  assert_string_equal(p.mx[0], "mx1.example.com");
  assert_string_equal(p.mx[1], "*.example.net");
  mxs_sts_policy_free(&p);
  /* CRLF, no final terminator, blanks after the colon and at line ends, unknown keys */
  assert_int_equal(parse("version: STSv1\r\nmode:testing \r\nmx:\tmx.a.test\r\nfoo: bar baz\r\nmax_age: 0", &p, why),
                   0);
  assert_int_equal(p.mode, MXS_STS_TESTING);
  assert_int_equal(p.max_age, 0);
  assert_int_equal(p.nmx, 1);
  mxs_sts_policy_free(&p);
  /* mode none may leave out mx */
  assert_int_equal(parse("version: STSv1\nmode: none\nmax_age: 1\n", &p, why), 0);
  assert_int_equal(p.mode, MXS_STS_NONE);
  assert_int_equal(p.nmx, 0);
  mxs_sts_policy_free(&p);
  /* a repeated key keeps its first value */
  assert_int_equal(parse("version: STSv1\nmode: testing\nmode: enforce\nmx: a.test\nmax_age: 5\n", &p, why), 0);
  assert_int_equal(p.mode, MXS_STS_TESTING);
  mxs_sts_policy_free(&p);
  /* what makes a policy invalid, and the message says where */
  static const struct {
    const char *text, *why;
  } bad[] = {
      {"mode: enforce\nmx: a.test\nmax_age: 5\n", "no version"},
      {"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 5\n", "line 1: version 'STSv2'"},
      {"version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 5\n", "line 2: mode 'Enforce'"},
      {"version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"},
      {"version: STSv1\nmode: enforce\nmax_age: 5\n", "no mx"},
      {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -5\n", "line 4: max_age"},
      {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n", "more than 10 digits"},
      {"version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 5\n", "line 3: mx 'a..test'"},
      {"version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 5\n", "line 3: mx"},
      {"version: STSv1\nmode: enforce\nmx: -a.test\nmax_age: 5\n", "line 3: mx"},
      {"version: STSv1\nmode: enforce\n\nmx: a.test\nmax_age: 5\n", "line 3: an empty line"},
      {"<html><body>hello</body></html>\n", "line 1: '<html><body>hello</body></html>' is not key: value"},
      {"version STSv1\n", "line 1"},
      {"version: STSv1\nmode:\nmx: a.test\nmax_age: 5\n", "line 2: mode: empty"},
      {"", "no version"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    assert_int_equal(parse(bad[i].text, &p, why), -1);
    if (!strstr(why, bad[i].why)) fail_msg("case %zu: '%s' lacks '%s'", i, why, bad[i].why);
    assert_null(p.mx);
  }
  /* a NUL byte and the 64 KiB limit */
  const char nul[] = "version: STSv1\nmode: none\0\nmax_age: 1\n";
  assert_int_equal(mxs_sts_policy_parse(nul, sizeof nul - 1, &p, why, sizeof why), -1);
  assert_non_null(strstr(why, "NUL"));
  size_t big = MXS_STS_MAX_POLICY + 1;
  char *text = malloc(big);
  memset(text, 'a', big);
  assert_int_equal(mxs_sts_policy_parse(text, big, &p, why, sizeof why), -1);
  assert_non_null(strstr(why, "larger than 65536"));
  free(text);
}

static void mx_patterns(void **state) {
  (void)state;
  assert_true(mxs_sts_mx_match("mx.example.com", "mx.example.com"));
  assert_true(mxs_sts_mx_match("mx.example.com", "MX.Example.COM."));
  assert_false(mxs_sts_mx_match("mx.example.com", "mx2.example.com"));
  assert_true(mxs_sts_mx_match("*.example.com", "mx.example.com"));
  assert_true(mxs_sts_mx_match("*.example.com", "MX1.EXAMPLE.com"));
  assert_false(mxs_sts_mx_match("*.example.com", "example.com"));
  assert_false(mxs_sts_mx_match("*.example.com", "a.b.example.com"));
  assert_false(mxs_sts_mx_match("*.example.com", ".example.com"));
  assert_false(mxs_sts_mx_match("*.example.com", "mx.example.com.evil"));
  assert_false(mxs_sts_mx_match("*.example.com", "mxexample.com"));
  assert_false(mxs_sts_mx_match("", "a"));
  const char *const pats[] = {"a.test", "*.b.test"};
  assert_true(mxs_sts_mx_match_any(pats, 2, "x.b.test"));
  assert_false(mxs_sts_mx_match_any(pats, 2, "x.a.test"));
}

static mxs_tlsrpt_txt_t rpt1(const char *rec, char ***rua, size_t *n, char *why) {
  const char *recs[] = {rec};
  size_t lens[] = {strlen(rec)};
  return mxs_tlsrpt_txt_pick(recs, lens, 1, rua, n, why, 160);
}

static void tlsrpt_txt(void **state) {
  (void)state;
  char **rua = NULL, why[160];
  size_t n = 0;
  assert_int_equal(rpt1("v=TLSRPTv1; rua=mailto:tlsrpt@a.test", &rua, &n, why), MXS_TLSRPT_OK);
  assert_int_equal(n, 1);
  assert_string_equal(rua[0], "mailto:tlsrpt@a.test");
  free(rua);
  assert_int_equal(rpt1("v=TLSRPTv1;rua=mailto:a@a.test, https://r.a.test/v1 ,mailto:b@a.test;", &rua, &n, why),
                   MXS_TLSRPT_OK);
  assert_int_equal(n, 3);
  assert_string_equal(rua[1], "https://r.a.test/v1");
  assert_string_equal(rua[2], "mailto:b@a.test");
  free(rua);
  assert_int_equal(rpt1("v=spf1 -all", &rua, &n, why), MXS_TLSRPT_NONE);
  assert_int_equal(rpt1("v=TLSRPTv1;", &rua, &n, why), MXS_TLSRPT_INVALID);
  assert_int_equal(rpt1("v=TLSRPTv1; ruf=mailto:a@a.test", &rua, &n, why), MXS_TLSRPT_INVALID);
  assert_non_null(strstr(why, "no rua"));
  assert_int_equal(rpt1("v=TLSRPTv1; rua=ftp://a.test/", &rua, &n, why), MXS_TLSRPT_INVALID);
  assert_non_null(strstr(why, "ftp://a.test/"));
  assert_int_equal(rpt1("v=TLSRPTv1; rua=mailto:a@a.test,", &rua, &n, why), MXS_TLSRPT_INVALID);
  assert_int_equal(rpt1("v=TLSRPTv1; rua=mailto:", &rua, &n, why), MXS_TLSRPT_INVALID);
  const char *two[] = {"v=TLSRPTv1; rua=mailto:a@a.test", "v=TLSRPTv1; rua=mailto:b@a.test"};
  size_t lens[] = {strlen(two[0]), strlen(two[1])};
  assert_int_equal(mxs_tlsrpt_txt_pick(two, lens, 2, &rua, &n, why, sizeof why), MXS_TLSRPT_INVALID);
  assert_non_null(strstr(why, "2 TXT records"));
}

static void apply(void **state) {
  (void)state;
  const char *const mx[] = {"mx.a.test"};
  mxs_sts_view_t s = {"1", MXS_STS_ENFORCE, 86400, mx, 1, 1, NULL, NULL, 0};
  mxs_policy_view_t p = {&s, NULL, 0, NULL, NULL};
  char buf[300];
  const char *detail = "probe detail";
  mxs_class_t c = MXS_CLASS_OK;
  /* enforce, listed, valid: unchanged */
  mxs_policy_apply(&p, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_OK);
  assert_string_equal(detail, "probe detail");
  /* enforce and a certificate problem: the sender refuses it */
  c = MXS_CLASS_CERT_HOSTNAME_MISMATCH;
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_HOSTNAME_MISMATCH), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_STS_WEBPKI_INVALID);
  assert_non_null(strstr(detail, "probe detail"));
  /* ... but a TLS failure comes first */
  detail = "probe detail";
  c = MXS_CLASS_TLS_ALERT;
  mxs_policy_apply(&p, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_TLS_ALERT);
  /* testing: the same certificate problem stays what it is */
  s.mode = MXS_STS_TESTING;
  c = MXS_CLASS_CERT_EXPIRED;
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_CERT_EXPIRED);
  /* enforce and an MX the policy does not list: before connecting */
  s.mode = MXS_STS_ENFORCE;
  s.mx_match = 0;
  c = MXS_CLASS_TCP_TIMEOUT;
  mxs_policy_apply(&p, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_STS_POLICY_INVALID);
  /* a fetch error: after DNS, before everything else */
  s = (mxs_sts_view_t){"1", MXS_STS_MODE_UNSET, 0, NULL, 0, -1, "HTTP 404", NULL, 0};
  c = MXS_CLASS_OK;
  mxs_policy_apply(&p, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_STS_POLICY_FETCH_ERROR);
  assert_non_null(strstr(detail, "HTTP 404"));
  c = MXS_CLASS_MX_NO_ADDRESS;
  detail = "no A record";
  mxs_policy_apply(&p, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_MX_NO_ADDRESS);
  assert_string_equal(detail, "no A record");
  /* no STS: nothing */
  p.sts = NULL;
  c = MXS_CLASS_CERT_EXPIRED;
  mxs_policy_apply(&p, &c, MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED), &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_CERT_EXPIRED);
  mxs_policy_apply(NULL, &c, 0, &detail, buf, sizeof buf);
  assert_int_equal(c, MXS_CLASS_CERT_EXPIRED);
}

static void encoded(void **state) {
  (void)state;
  const char *const mx[] = {"mx.a.test", "*.b.test"};
  const char *const rua[] = {"mailto:r@a.test"};
  mxs_sts_view_t s = {"20240101", MXS_STS_ENFORCE, 86400, mx, 2, 0, NULL, NULL, 0};
  mxs_policy_view_t p = {&s, rua, 1, NULL, NULL};
  mxs_record_t r = {.domain = "a.test", .cls = MXS_CLASS_OK, .stage = "done", .detail = "", .policy = &p};
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_non_null(strstr(j.buf,
                         ",\"policy\":{\"sts\":{\"txt_id\":\"20240101\",\"mode\":\"enforce\",\"max_age\":86400,"
                         "\"mx\":[\"mx.a.test\",\"*.b.test\"],\"mx_match\":false},"
                         "\"tlsrpt_rua\":[\"mailto:r@a.test\"]}}"));
  /* nothing found: no policy key at all, as before */
  mxs_policy_view_t none = {NULL, NULL, 0, NULL, NULL};
  r.policy = &none;
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_null(strstr(j.buf, "policy"));
  /* a fetch error: no mode, so no mx or mx_match */
  s = (mxs_sts_view_t){"7", MXS_STS_MODE_UNSET, 0, NULL, 0, -1, "HTTP 404", NULL, 0};
  mxs_policy_view_t f = {&s, NULL, 0, "_smtp._tls TXT record: no rua field", NULL};
  r.policy = &f;
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_non_null(strstr(j.buf,
                         "\"policy\":{\"sts\":{\"txt_id\":\"7\",\"fetch_error\":\"HTTP 404\"},"
                         "\"tlsrpt_error\":\"_smtp._tls TXT record: no rua field\"}}"));
  mxs_json_encoder_free(&j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sts_txt),    cmocka_unit_test(sts_policy), cmocka_unit_test(mx_patterns),
      cmocka_unit_test(tlsrpt_txt), cmocka_unit_test(apply),      cmocka_unit_test(encoded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
