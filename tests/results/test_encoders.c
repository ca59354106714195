/* test_encoders.c - a record encodes to the same map in JSON and msgpack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <string.h>

#include "results/encoders.h"
#include "results/record.h"

static mxs_record_t sample(mxs_cert_info_t *cert, mxs_timings_t *tm, mxs_diag_t *diag) {
  static const char *const ehlo[] = {"PIPELINING", "SIZE 1000", "STARTTLS"};
  static const char *const san[] = {"mx.example.test"};
  *cert = (mxs_cert_info_t){.subject_cn = "mx.example.test",
                            .san = san,
                            .nsan = 1,
                            .issuer = "CN=Test CA",
                            .not_before = "2026-01-01T00:00:00Z",
                            .not_after = "2027-01-01T00:00:00Z",
                            .days_left = 33,
                            .key_type = "EC",
                            .key_bits = 256,
                            .sig_alg = "ecdsa-with-SHA256",
                            .sha256 = "00ff",
                            .chain_len = 2};
  *tm = (mxs_timings_t){1, 2, 3, 4, 5, 6, 21};
  *diag = (mxs_diag_t){1, "TLSv1", "AES128-SHA", "prime256v1", NULL, NULL, 0, 0};
  mxs_record_t r = {.domain = "example.test",
                    .cls = MXS_CLASS_CERT_EXPIRED,
                    .stage = "cert",
                    .detail = "quote \" backslash \\ newline \n tab \t ctl \x01 utf8 \xc3\xbc bad \xff end",
                    .scanned_at = "2026-11-28T02:00:07Z",
                    .mx = "mx.example.test",
                    .pref = 10,
                    .ip = "127.0.0.1",
                    .port = 25,
                    .smtp_code = 250,
                    .banner = "220 hi",
                    .ehlo = ehlo,
                    .nehlo = 3,
                    .has_ehlo = 1,
                    .tls_version = "TLSv1.3",
                    .cipher = "TLS_AES_256_GCM_SHA384",
                    .group = "X25519",
                    .cert = cert,
                    .cert_errors = MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED),
                    .diag = diag,
                    .timings = tm,
                    .attempts = 1};
  return r;
}

static void json_is_exact(void **state) {
  (void)state;
  mxs_cert_info_t c;
  mxs_timings_t tm;
  mxs_diag_t d;
  mxs_record_t r = sample(&c, &tm, &d);
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_false(j.oom);
  /* escapes, replacement of invalid UTF-8, nested containers and commas */
  assert_non_null(strstr(j.buf,
                         "\"detail\":\"quote \\\" backslash \\\\ newline \\u000a tab \\u0009 ctl \\u0001 "
                         "utf8 \xc3\xbc bad \xef\xbf\xbd end\""));
  assert_non_null(strstr(j.buf, "\"ehlo\":[\"PIPELINING\",\"SIZE 1000\",\"STARTTLS\"],"));
  /* a record with a certificate names the SNI it was fetched under: null when none was sent */
  assert_non_null(strstr(j.buf, "\"cert_errors\":[\"cert-expired\"],\"sni\":null,"));
  r.sni = "mx.example.com";
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_non_null(strstr(j.buf, "\"sni\":\"mx.example.com\""));
  assert_non_null(strstr(j.buf,
                         "\"timings_ms\":{\"dns\":1,\"connect\":2,\"banner\":3,\"ehlo\":4,\"starttls\":5,"
                         "\"handshake\":6,\"total\":21},\"attempts\":1,\"tlsrpt\":\"certificate-expired\","
                         "\"delivery\":{\"may\":\"tls\",\"encrypt\":\"tls\",\"verify\":\"deferred\","
                         "\"secure\":\"deferred\"}}"));
  assert_int_equal(j.buf[0], '{');
  assert_int_equal(j.buf[j.len - 1], '}');
  mxs_json_encoder_free(&j);
}

static void msgpack_has_same_keys(void **state) {
  (void)state;
  mxs_cert_info_t c;
  mxs_timings_t tm;
  mxs_diag_t d;
  mxs_record_t r = sample(&c, &tm, &d);
  mxs_msgpack_encoder_t m;
  mxs_msgpack_encoder_init(&m);
  mxs_record_encode(&r, &m.base);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  assert_int_equal(msgpack_unpack_next(&u, m.sbuf.data, m.sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, m.sbuf.size); /* exactly one object, no trailing bytes */
  msgpack_object o = u.data;
  assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
  const char *keys[] = {"domain", "class",       "stage",      "detail",   "scanned_at", "mx",
                        "pref",   "implicit_mx", "ip",         "port",     "smtp_code",  "banner",
                        "ehlo",   "tls_version", "cipher",     "group",    "cert",       "cert_errors",
                        "sni",    "diag",        "timings_ms", "attempts", "tlsrpt",     "delivery"};
  assert_int_equal(o.via.map.size, sizeof keys / sizeof keys[0]);
  for (size_t i = 0; i < o.via.map.size; i++) {
    msgpack_object k = o.via.map.ptr[i].key;
    assert_int_equal(k.type, MSGPACK_OBJECT_STR);
    assert_int_equal(k.via.str.size, strlen(keys[i]));
    assert_memory_equal(k.via.str.ptr, keys[i], k.via.str.size);
  }
  assert_int_equal(o.via.map.ptr[16].val.type, MSGPACK_OBJECT_MAP);
  assert_int_equal(o.via.map.ptr[16].val.via.map.size, 11);
  msgpack_unpacked_destroy(&u);
  mxs_msgpack_encoder_free(&m);
}

static void minimal_dns_record(void **state) {
  (void)state;
  mxs_record_t r = {.domain = "nx.test",
                    .cls = MXS_CLASS_DNS_NXDOMAIN,
                    .stage = "dns",
                    .detail = "NXDOMAIN",
                    .scanned_at = "2026-11-28T02:00:07Z"};
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_record_encode(&r, &j.base);
  assert_string_equal(j.buf,
                      "{\"domain\":\"nx.test\",\"class\":\"dns-nxdomain\",\"stage\":\"dns\",\"detail\":"
                      "\"NXDOMAIN\",\"scanned_at\":\"2026-11-28T02:00:07Z\",\"tlsrpt\":\"none\",\"delivery\":"
                      "{\"may\":\"deferred\",\"encrypt\":\"deferred\",\"verify\":\"deferred\",\"secure\":"
                      "\"deferred\",\"dane\":\"deferred\",\"mta-sts\":\"deferred\"}}");
  mxs_json_encoder_free(&j);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(json_is_exact), cmocka_unit_test(msgpack_has_same_keys),
                                     cmocka_unit_test(minimal_dns_record)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
