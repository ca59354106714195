/* test_verdict_codec.c - a verdict packed on one machine and unpacked on
 * another must render the very same records: each MX name's record (JSON)
 * from the copy equals the original's, for a name the certificate's SAN
 * covers and one it does not.  Run under ASan, it also shows that
 * mxs_verdict_free releases an unpacked verdict completely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testcert.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/encoders.h"
#include "probe/verdict_codec.h"

/* A result shaped as probe.c leaves it after a full STARTTLS dialogue. */
static mxs_probe_result_t *tls_result(void) {
  mxs_probe_result_t *r = calloc(1, sizeof *r);
  r->cls = MXS_CLASS_OK;
  r->stage = "done";
  r->smtp_code = 250;
  r->banner = strdup("220 mx1.example.test ESMTP ready");
  const char *ext[] = {"PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"};
  r->nehlo = 4;
  r->ehlo = calloc(r->nehlo, sizeof *r->ehlo);
  for (size_t i = 0; i < r->nehlo; i++) r->ehlo[i] = strdup(ext[i]);
  r->has_ehlo = 1;
  r->tls_done = 1;
  strcpy(r->tls_version, "TLSv1.3");
  strcpy(r->cipher, "TLS_AES_256_GCM_SHA384");
  strcpy(r->group, "X25519");
  X509 *x = testcert_self_signed("mx1.example.test", "DNS:mx1.example.test,DNS:*.mail.example.test", 40);
  r->cert = mxs_cert_new(x, 1, (int64_t)time(NULL), NULL);
  X509_free(x);
  r->chain_errors = MXS_CLASS_BIT(MXS_CLASS_CERT_CHAIN_INCOMPLETE);
  strcpy(r->verify_text, "unable to get local issuer certificate");
  r->tls_fail.alert_received = -1;
  r->timings = (mxs_timings_t){-1, 3, 150, 151, 150, 12, 620};
  r->attempts = 2;
  return r;
}

/* A failed handshake explained by the legacy retry (a diagnosis). */
static void legacy_verdict(mxs_verdict_t *v) {
  mxs_probe_result_t *r = calloc(1, sizeof *r);
  r->cls = MXS_CLASS_TLS_ALERT;
  r->stage = "tls";
  r->detail = strdup("tlsv1 alert protocol version (SSL alert 70)");
  r->smtp_code = 220;
  r->banner = strdup("220 old.example.test");
  r->has_ehlo = 1;
  r->tls_fail.ssl_reason = 1050;
  r->tls_fail.alert_received = 70;
  r->tls_fail.server_hello = 1;
  r->timings = (mxs_timings_t){-1, 1, 2, 3, 4, 5, 20};
  r->attempts = 1;
  mxs_verdict_set(v, r);
  mxs_probe_result_t *l = calloc(1, sizeof *l);
  l->cls = MXS_CLASS_OK;
  l->stage = "done";
  l->tls_done = 1;
  strcpy(l->tls_version, "TLSv1");
  strcpy(l->cipher, "AES256-SHA");
  strcpy(l->group, "DH-1024");
  l->tls_fail.alert_received = -1;
  l->timings = (mxs_timings_t){-1, 1, 2, 3, 4, 5, 20};
  mxs_verdict_add_legacy(v, l);
}

/* The JSON of V's record for MX (owned by the caller). */
static char *record_json(const mxs_verdict_t *v, const char *mx) {
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_verdict_record(v, mx, &r, &tm, detail, sizeof detail);
  r.domain = "example.test";
  r.mx = mx;
  r.ip = "192.0.2.7";
  r.port = 25;
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_record_encode(&r, &j.base);
  char *s = strndup(j.buf, j.len);
  mxs_json_encoder_free(&j);
  return s;
}

/* Packs V, unpacks it and compares the records of both MX names. */
static void round_trip(const mxs_verdict_t *v, const char *match, const char *mismatch) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  assert_int_equal(mxs_verdict_pack(v, &sb), 0);
  mxs_verdict_t u;
  assert_int_equal(mxs_verdict_unpack(&u, sb.data, sb.size), 0);
  const char *names[] = {match, mismatch};
  for (int i = 0; i < 2; i++) {
    char *a = record_json(v, names[i]), *b = record_json(&u, names[i]);
    assert_string_equal(a, b);
    free(a);
    free(b);
  }
  /* every truncation is refused and leaves nothing allocated */
  for (size_t n = 0; n < sb.size; n += 7) {
    mxs_verdict_t bad;
    assert_int_equal(mxs_verdict_unpack(&bad, sb.data, n), -1);
    assert_null(bad.res);
  }
  mxs_verdict_free(&u);
  msgpack_sbuffer_destroy(&sb);
}

static void tls_verdict_round_trip(void **state) {
  (void)state;
  mxs_verdict_t v = {0};
  mxs_verdict_set(&v, tls_result());
  char *a = record_json(&v, "mx1.example.test"), *b = record_json(&v, "mx.other.test");
  /* the two names really differ in the host-name check */
  assert_null(strstr(a, "cert-hostname-mismatch"));
  assert_non_null(strstr(b, "cert-hostname-mismatch"));
  free(a);
  free(b);
  round_trip(&v, "mx1.example.test", "mx.other.test");
  round_trip(&v, "x.mail.example.test", "a.b.mail.example.test");
  mxs_verdict_free(&v);
}

static void legacy_verdict_round_trip(void **state) {
  (void)state;
  mxs_verdict_t v = {0};
  legacy_verdict(&v);
  round_trip(&v, "old.example.test", "mx.other.test");
  mxs_verdict_free(&v);
}

/* A failed handshake, as probe.c leaves it before any retry. */
static mxs_probe_result_t *failed_result(void) {
  mxs_probe_result_t *r = calloc(1, sizeof *r);
  r->cls = MXS_CLASS_TLS_ALERT;
  r->stage = "tls";
  r->detail = strdup("sslv3 alert handshake failure (alert 40: handshake failure)");
  r->smtp_code = 220;
  r->has_ehlo = 1;
  r->tls_fail.ssl_reason = 1040;
  r->tls_fail.alert_received = 40;
  r->tls_fail.server_hello = 1;
  r->timings = (mxs_timings_t){-1, 1, 2, 3, 4, 5, 20};
  r->attempts = 1;
  return r;
}

static mxs_probe_result_t *retry_result(const char *version, const char *cipher) {
  mxs_probe_result_t *l = calloc(1, sizeof *l);
  l->stage = "done";
  l->tls_fail.alert_received = -1;
  l->timings = (mxs_timings_t){-1, 1, 2, 3, 4, 5, 20};
  if (version) {
    l->cls = MXS_CLASS_OK;
    l->tls_done = 1;
    l->detail = strdup("legacy handshake succeeded");
    strcpy(l->tls_version, version);
    strcpy(l->cipher, cipher);
    strcpy(l->group, "X25519");
  } else {
    l->cls = MXS_CLASS_TLS_ALERT;
    l->stage = "tls";
    l->detail = strdup("tlsv1 alert protocol version (alert 70: protocol version)");
    l->tls_fail.alert_received = 70;
  }
  return l;
}

/* --diag-profiles: a custom TLS 1.3-only probe, two retries, the second
 * with TLS 1.2 (outside the probe's versions: a version mismatch). */
static void diag_profiles_round_trip(void **state) {
  (void)state;
  mxs_verdict_t v = {0};
  mxs_verdict_set(&v, failed_result());
  mxs_verdict_set_profile(&v, "strict-tls13", 1, 0x0304, 0x0304);
  assert_int_equal(mxs_verdict_add_retry(&v, "tls12-only", retry_result(NULL, NULL)), 0);
  assert_int_equal(v.cls, MXS_CLASS_TLS_NO_SHARED_CIPHER); /* nothing got through yet: the alert says it */
  assert_int_equal(mxs_verdict_add_retry(&v, "modern", retry_result("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")), 0);
  assert_int_equal(v.cls, MXS_CLASS_TLS_VERSION_MISMATCH);
  char *a = record_json(&v, "mx.example.test");
  assert_non_null(strstr(a, "\"profile\":\"strict-tls13+custom\""));
  assert_non_null(strstr(a,
                         "\"diag\":{\"profiles\":[{\"profile\":\"tls12-only\",\"ok\":false,"
                         "\"class\":\"tls-version-mismatch\""));
  assert_non_null(strstr(a, "{\"profile\":\"modern\",\"ok\":true,\"version\":\"TLSv1.2\""));
  assert_null(strstr(a, "legacy_ok")); /* no legacy retry ran */
  assert_non_null(strstr(a, "; profile modern gets TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"));
  free(a);
  round_trip(&v, "mx.example.test", "mx.other.test");
  mxs_verdict_free(&v);
  /* the legacy profile among them fills the legacy_* keys too */
  mxs_verdict_set(&v, failed_result());
  mxs_verdict_set_profile(&v, "modern", 0, 0x0303, 0);
  assert_int_equal(mxs_verdict_add_retry(&v, "legacy", retry_result("TLSv1", "AES256-SHA")), 0);
  assert_int_equal(v.cls, MXS_CLASS_TLS_VERSION_MISMATCH);
  a = record_json(&v, "mx.example.test");
  assert_non_null(strstr(a, "\"diag\":{\"legacy_ok\":true,\"legacy_version\":\"TLSv1\""));
  assert_non_null(strstr(a, "\"profile\":\"modern\",\"delivery\":")); /* the record's profile, before delivery */
  free(a);
  round_trip(&v, "mx.example.test", "mx.other.test");
  mxs_verdict_free(&v);
}

static void unfinished_round_trip(void **state) {
  (void)state;
  mxs_verdict_t v = {0};
  mxs_verdict_set_unfinished(&v, "not finished: the run was interrupted");
  round_trip(&v, "a.example.test", "b.example.test");
  mxs_verdict_free(&v);
}

static void garbage_refused(void **state) {
  (void)state;
  mxs_verdict_t u;
  assert_int_equal(mxs_verdict_unpack(&u, "\x93\x01\x02\x03", 4), -1);
  assert_int_equal(mxs_verdict_unpack(&u, "", 0), -1);
  assert_int_equal(mxs_verdict_unpack(&u, "\xc0", 1), -1);
}

/* Found by fuzz_verdict (tests/fuzz/corpus/verdict/crash-huge-array): a
 * header claiming an array of 2^32 elements (or a map of 2^32 pairs) made
 * msgpack-c ask malloc for ~100 GiB before reading one element (ASan
 * aborts on it; glibc may grant it lazily).  Such bytes are refused before
 * msgpack-c sees them: the ASan pass of the suite fails on the allocation. */
static void huge_container_refused(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
  } bad[] = {
      {"\xdd\xff\xff\xff\xff", 5},                                  /* array32 */
      {"\xdf\xff\xff\xff\xff\xc0\xc0", 7},                          /* map32 */
      {"\x98\xdd\x10\x00\x00\x00", 6},                              /* nested array32 */
      {"\x98\x02\x20\xc0\x00\x00\xdc\xff\xff", 9},                  /* array16 in the 7th field */
      {"\x98\xfe\xe9\xc0\x30\xdf\x3a\x30\x30\x3a\x00\x2d\x31", 13}, /* the fuzzer's, cut */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mxs_verdict_t u;
    assert_int_equal(mxs_verdict_unpack(&u, bad[i].bytes, bad[i].len), -1);
    assert_null(u.res);
  }
}

/* Found by fuzz_verdict (tests/fuzz/corpus/verdict/crash-unterminated):
 * strings were copied with strndup(), which takes its argument for a C
 * string; msgpack strings are not NUL-terminated, and ASan (with the test
 * command's strict_string_checks) reads on to the next NUL, past the end
 * of the buffer.  Here nothing after the banner is a 0 byte, and the
 * buffer is exactly as long as the bytes. */
static void strings_need_no_terminator(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 9); /* version, class, detail, scanned_at, result, legacy, profile, custom, retries */
  msgpack_pack_int(&pk, MXS_VERDICT_CODEC_VERSION);
  msgpack_pack_int(&pk, MXS_CLASS_OK);
  msgpack_pack_nil(&pk);
  msgpack_pack_str_with_body(&pk, "x", 1);
  msgpack_pack_array(&pk, 21);
  msgpack_pack_int(&pk, MXS_CLASS_OK);
  msgpack_pack_str_with_body(&pk, "done", 4);
  msgpack_pack_str_with_body(&pk, "detail", 6);
  msgpack_pack_int(&pk, 250);
  msgpack_pack_str_with_body(&pk, "220 banner", 10);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_str_with_body(&pk, "STARTTLS", 8);
  for (int i = 0; i < 2; i++) msgpack_pack_int(&pk, 1);
  for (int i = 0; i < 3; i++) msgpack_pack_str_with_body(&pk, "t", 1);
  msgpack_pack_nil(&pk);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_str_with_body(&pk, "v", 1);
  msgpack_pack_array(&pk, 5); /* tls_fail */
  for (int i = 0; i < 5; i++) msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_array(&pk, 7);
  for (int i = 0; i < 7; i++) msgpack_pack_int(&pk, 1);
  for (int i = 0; i < 3; i++) msgpack_pack_int(&pk, 1);
  msgpack_pack_str_with_body(&pk, "sni", 3);
  msgpack_pack_str_with_body(&pk, "end", 3); /* the legacy result: not an array, refused */
  msgpack_pack_str_with_body(&pk, "p", 1);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_str_with_body(&pk, "r", 1);
  const char *banner = memmem(sb.data, sb.size, "220 banner", 10);
  assert_non_null(banner);
  assert_null(memchr(banner, 0, sb.size - (size_t)(banner - sb.data)));
  char *exact = malloc(sb.size);
  memcpy(exact, sb.data, sb.size);
  mxs_verdict_t u;
  assert_int_equal(mxs_verdict_unpack(&u, exact, sb.size), -1);
  assert_null(u.res);
  free(exact);
  msgpack_sbuffer_destroy(&sb);
}

/* Found by fuzz_verdict (tests/fuzz/corpus/verdict/crash-cert-class-no-cert):
 * a published verdict says the handshake completed with a certificate
 * class (cert-weak, cert-chain-incomplete, cert-hostname-mismatch) but
 * carries no certificate; the record's detail read the missing
 * certificate's fields (a NULL dereference in every worker that took the
 * verdict).  The probe never makes such a verdict; Redis may hold one. */
static void cert_class_without_cert(void **state) {
  (void)state;
  static const mxs_class_t classes[] = {MXS_CLASS_CERT_WEAK, MXS_CLASS_CERT_CHAIN_INCOMPLETE,
                                        MXS_CLASS_CERT_HOSTNAME_MISMATCH, MXS_CLASS_CERT_EXPIRED};
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
    mxs_probe_result_t *r = calloc(1, sizeof *r);
    r->cls = MXS_CLASS_OK;
    r->stage = "done";
    r->tls_done = 1;
    strcpy(r->tls_version, "TLSv1.3");
    strcpy(r->verify_text, "ok");
    r->timings = (mxs_timings_t){-1, -1, -1, -1, -1, -1, -1};
    mxs_verdict_t v = {0};
    mxs_verdict_set(&v, r);
    v.cls = classes[i]; /* as decoded from the bytes */
    char *json = record_json(&v, "mx.example.test");
    assert_non_null(strstr(json, "\"detail\":\""));
    free(json);
    mxs_verdict_free(&v);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tls_verdict_round_trip),
      cmocka_unit_test(legacy_verdict_round_trip),
      cmocka_unit_test(diag_profiles_round_trip),
      cmocka_unit_test(unfinished_round_trip),
      cmocka_unit_test(garbage_refused),
      cmocka_unit_test(huge_container_refused),
      cmocka_unit_test(strings_need_no_terminator),
      cmocka_unit_test(cert_class_without_cert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
