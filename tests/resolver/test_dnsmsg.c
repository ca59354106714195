/* test_dnsmsg.c - the DNS wire pieces of resolver/dnsmsg.h on hand-made
 * messages: the query with AD and DO, the header flags, TLSA answers with
 * compressed names, CNAMEs and RRSIGs, and truncated or malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/dnsmsg.h"

static void test_query_plain(void **state) {
  (void)state;
  unsigned char q[MXS_DNS_QUERY_MAX];
  int n = mxs_dns_build_query("_25._tcp.mx.example.", 52, 0, q, sizeof q);
  static const unsigned char want[] = {0,   0,   1,   0,   0,   1,   0,   0,   0,  0,   0,   0, 3,
                                       '_', '2', '5', 4,   '_', 't', 'c', 'p', 2,  'm', 'x', 7, 'e',
                                       'x', 'a', 'm', 'p', 'l', 'e', 0,   0,   52, 0,   1};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(q, want, sizeof want);
}

static void test_query_dnssec(void **state) {
  (void)state;
  unsigned char q[MXS_DNS_QUERY_MAX];
  int n = mxs_dns_build_query("a.b", 15, 1, q, sizeof q);
  /* header: RD and AD, one question, one additional (OPT) */
  static const unsigned char want[] = {0, 0, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 'b', 0, 0, 15, 0, 1,
                                       /* OPT: root, type 41, UDP 1232, ext-rcode 0, version 0, DO, no rdata */
                                       0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(q, want, sizeof want);
  mxs_dns_header_t h;
  assert_int_equal(mxs_dns_header(q, (size_t)n, &h), 0);
  assert_int_equal(h.ad, 1);
  assert_int_equal(h.rd, 1);
  assert_int_equal(h.arcount, 1);
}

static void test_query_bad_names(void **state) {
  (void)state;
  unsigned char q[MXS_DNS_QUERY_MAX];
  char label64[80], long_name[300];
  memset(label64, 'a', 64);
  label64[64] = '\0';
  for (int i = 0; i < 128; i++) memcpy(long_name + 2 * i, "a.", 2);
  long_name[256] = '\0'; /* 128 labels: 257 bytes on the wire */
  assert_int_equal(mxs_dns_build_query("a..b", 1, 0, q, sizeof q), -1);
  assert_int_equal(mxs_dns_build_query(".a", 1, 0, q, sizeof q), -1);
  assert_int_equal(mxs_dns_build_query("a..", 1, 0, q, sizeof q), -1);
  assert_int_equal(mxs_dns_build_query(label64, 1, 0, q, sizeof q), -1);
  assert_int_equal(mxs_dns_build_query(long_name, 1, 0, q, sizeof q), -1);
  assert_int_equal(mxs_dns_build_query("mx.example", 1, 1, q, 20), -1); /* buffer too small */
  label64[63] = '\0';
  assert_true(mxs_dns_build_query(label64, 1, 0, q, sizeof q) > 0);
  assert_int_equal(mxs_dns_build_query(".", 2, 0, q, sizeof q), 17); /* the root: one zero byte */
}

/* An answer to _25._tcp.mx.t TLSA: a CNAME to c.t, then at c.t (a pointer
 * into the CNAME's RDATA) two TLSA records and an RRSIG between them. */
static const unsigned char answer[] = {
    0x12, 0x34, 0x81, 0xa0, 0, 1,   0,   4,   0,   0,  0,   0, /* QR RD RA AD, NOERROR, 4 answers */
    3,    '_',  '2',  '5',  4, '_', 't', 'c', 'p', 2,  'm', 'x', 1, 't', 0,    0,    52,   0,    1, /* question at 12 */
    0xc0, 12,   0,    5,    0, 1,   0,   0,   1,   44, 0,   4,   1, 'c', 0xc0, 24, /* CNAME -> c.t (t at 24) */
    0xc0, 43,   0,    52,   0, 1,   0,   0,   1,   44, 0,   6,   3, 1,   1,    0xaa, 0xbb, 0xcc, /* TLSA 3 1 1 aabbcc */
    0xc0, 43,   0,    46,   0, 1,   0,   0,   1,   44, 0,   3,   1, 2,   3,          /* RRSIG (junk rdata) */
    0xc0, 43,   0,    52,   0, 1,   0,   0,   1,   44, 0,   4,   2, 0,   2,    0x01, /* TLSA 2 0 2 01 */
};

static void test_tlsa_answer(void **state) {
  (void)state;
  mxs_dns_header_t h;
  assert_int_equal(mxs_dns_header(answer, sizeof answer, &h), 0);
  assert_int_equal(h.id, 0x1234);
  assert_int_equal(h.qr, 1);
  assert_int_equal(h.ad, 1);
  assert_int_equal(h.ra, 1);
  assert_int_equal(h.cd, 0);
  assert_int_equal(h.tc, 0);
  assert_int_equal(h.rcode, 0);
  assert_int_equal(h.ancount, 4);
  mxs_tlsa_rr_t rr[4];
  size_t n = 99;
  assert_int_equal(mxs_dns_parse_tlsa(answer, sizeof answer, rr, 4, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rr[0].usage, 3);
  assert_int_equal(rr[0].selector, 1);
  assert_int_equal(rr[0].mtype, 1);
  assert_int_equal(rr[0].len, 3);
  assert_memory_equal(rr[0].data, "\xaa\xbb\xcc", 3);
  assert_int_equal(rr[1].usage, 2);
  assert_int_equal(rr[1].selector, 0);
  assert_int_equal(rr[1].mtype, 2);
  assert_int_equal(rr[1].len, 1);
  assert_int_equal(rr[1].data[0], 1);
  /* room for one: the count still says two */
  assert_int_equal(mxs_dns_parse_tlsa(answer, sizeof answer, rr, 1, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rr[0].usage, 3);
}

static void test_tlsa_flags_and_rcode(void **state) {
  (void)state;
  unsigned char m[sizeof answer];
  memcpy(m, answer, sizeof m);
  m[2] = 0x83; /* QR, TC, RD */
  m[3] = 0x92; /* RA, CD, SERVFAIL; no AD */
  mxs_dns_header_t h;
  assert_int_equal(mxs_dns_header(m, sizeof m, &h), 0);
  assert_int_equal(h.ad, 0);
  assert_int_equal(h.tc, 1);
  assert_int_equal(h.cd, 1);
  assert_int_equal(h.rcode, 2);
  assert_int_equal(mxs_dns_header(m, 11, &h), -1);
}

static void test_tlsa_malformed(void **state) {
  (void)state;
  mxs_tlsa_rr_t rr[4];
  size_t n;
  /* every truncation of the answer is an error or, cut between RRs, ... never a crash */
  for (size_t len = 0; len < sizeof answer; len++) {
    int rc = mxs_dns_parse_tlsa(answer, len, rr, 4, &n);
    assert_int_equal(rc, -1); /* ancount promises 4 RRs: any cut is truncated */
  }
  unsigned char m[sizeof answer];
  memcpy(m, answer, sizeof m);
  m[12] = 0x40; /* an extended label type in the question */
  assert_int_equal(mxs_dns_parse_tlsa(m, sizeof m, rr, 4, &n), -1);
  memcpy(m, answer, sizeof m);
  m[sizeof m - 5] = 9; /* the last RR's rdlength runs past the end */
  assert_int_equal(mxs_dns_parse_tlsa(m, sizeof m, rr, 4, &n), -1);
  /* a TLSA with 2 octets of RDATA is skipped, not read past */
  static const unsigned char short_rr[] = {0, 0,  0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0,
                                           0, 52, 0,    1,    0, 0, 0, 0, 0, 2, 3, 1};
  assert_int_equal(mxs_dns_parse_tlsa(short_rr, sizeof short_rr, rr, 4, &n), 0);
  assert_int_equal(n, 0);
  /* NODATA: no answers at all */
  assert_int_equal(mxs_dns_parse_tlsa(answer, 12, rr, 4, &n), -1); /* qdcount 1 but no question */
  static const unsigned char nodata[] = {0, 0, 0x81, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(mxs_dns_parse_tlsa(nodata, sizeof nodata, rr, 4, &n), 0);
  assert_int_equal(n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_plain),          cmocka_unit_test(test_query_dnssec),
      cmocka_unit_test(test_query_bad_names),      cmocka_unit_test(test_tlsa_answer),
      cmocka_unit_test(test_tlsa_flags_and_rcode), cmocka_unit_test(test_tlsa_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
