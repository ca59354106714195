/* test_answer.c - resolver/answer.c on DNS messages built byte by byte: the
 * MX order, null MX, CNAME-only answers, the address cap and text, and
 * names c-ares would expand beyond the bound refused before it does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/answer.h"

/* A DNS message under construction. */
typedef struct {
  unsigned char b[8192];
  size_t n;
} msg_t;

static void put(msg_t *m, const void *p, size_t n) {
  assert_true(m->n + n <= sizeof m->b);
  memcpy(m->b + m->n, p, n);
  m->n += n;
}
static void put16(msg_t *m, unsigned v) { put(m, (unsigned char[]){(unsigned char)(v >> 8), (unsigned char)v}, 2); }
static void put_name(msg_t *m, const char *name) {
  for (const char *p = name; *p;) {
    size_t l = strcspn(p, ".");
    unsigned char len = (unsigned char)l;
    put(m, &len, 1);
    put(m, p, l);
    p += l + (p[l] == '.');
  }
  put(m, "", 1);
}

/* Header (answer count AN) and the question NAME TYPE. */
static void start(msg_t *m, unsigned an, const char *name, unsigned type) {
  m->n = 0;
  put16(m, 0x1234);
  put16(m, 0x8180);
  put16(m, 1);
  put16(m, an);
  put16(m, 0);
  put16(m, 0);
  put_name(m, name);
  put16(m, type);
  put16(m, 1);
}

/* An answer record owned by the question name (pointer to offset 12). */
static void rr_head(msg_t *m, unsigned type, unsigned rdlen) {
  put(m, "\xc0\x0c", 2);
  put16(m, type);
  put16(m, 1);
  put(m, "\0\0\x01\x2c", 4);
  put16(m, rdlen);
}
static void add_mx(msg_t *m, unsigned pref, const char *host) {
  msg_t tmp = {.n = 0};
  put_name(&tmp, host);
  rr_head(m, 15, (unsigned)tmp.n + 2);
  put16(m, pref);
  put(m, tmp.b, tmp.n);
}

static void mx_sorted_null_counted(void **state) {
  (void)state;
  msg_t m;
  start(&m, 5, "example.test", 15);
  add_mx(&m, 20, "mx2.example.test");
  add_mx(&m, 10, "mx1.example.test");
  add_mx(&m, 0, "");
  add_mx(&m, 10, "mx1b.example.test");
  add_mx(&m, 5, "mx0.example.test");
  mxs_dns_mx_t r;
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_SUCCESS);
  assert_int_equal(r.nmx, 4);
  assert_int_equal(r.nnull, 1);
  static const char *const want[] = {"mx0.example.test", "mx1.example.test", "mx1b.example.test", "mx2.example.test"};
  for (size_t i = 0; i < 4; i++) assert_string_equal(r.mx[i]->host, want[i]); /* ties keep answer order */
  mxs_dns_mx_free(&r);

  start(&m, 1, "example.test", 15);
  add_mx(&m, 0, "");
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_SUCCESS);
  assert_int_equal(r.nmx, 0);
  assert_int_equal(r.nnull, 1);
  mxs_dns_mx_free(&r);
}

static void mx_nodata_and_failures(void **state) {
  (void)state;
  msg_t m;
  start(&m, 1, "example.test", 15);
  msg_t target = {.n = 0};
  put_name(&target, "alias.example.test");
  rr_head(&m, 5, (unsigned)target.n);
  put(&m, target.b, target.n);
  mxs_dns_mx_t r;
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_ENODATA); /* a CNAME, no MX */
  assert_null(r.list);
  mxs_dns_mx_free(&r);
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_ETIMEOUT, NULL, 0), ARES_ETIMEOUT);   /* the bytes are not read */
  assert_int_not_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, 20), ARES_SUCCESS); /* cut short: c-ares refuses */
}

static void addresses(void **state) {
  (void)state;
  msg_t m;
  start(&m, 40, "mx.example.test", 1);
  for (unsigned i = 0; i < 40; i++) {
    rr_head(&m, 1, 4);
    put(&m, (unsigned char[]){198, 51, 100, (unsigned char)i}, 4);
  }
  mxs_dns_addrs_t a;
  mxs_dns_addrs_parse(&a, 0, ARES_SUCCESS, m.b, (int)m.n);
  assert_int_equal(a.status, ARES_SUCCESS);
  assert_int_equal(a.n, MXS_DNS_MAX_ADDRS);
  assert_string_equal(a.buf, "198.51.100.0");
  assert_string_equal(a.buf + strlen(a.buf) + 1, "198.51.100.1");
  mxs_dns_addrs_free(&a);

  start(&m, 1, "mx.example.test", 28);
  rr_head(&m, 28, 16);
  put(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25", 16);
  mxs_dns_addrs_parse(&a, 1, ARES_SUCCESS, m.b, (int)m.n);
  assert_int_equal(a.status, ARES_SUCCESS);
  assert_int_equal(a.n, 1);
  assert_string_equal(a.buf, "2001:db8::25");
  mxs_dns_addrs_free(&a);

  start(&m, 0, "mx.example.test", 1); /* NOERROR, no address */
  mxs_dns_addrs_parse(&a, 0, ARES_SUCCESS, m.b, (int)m.n);
  assert_int_equal(a.status, ARES_ENODATA);
  assert_int_equal(a.n, 0);
  mxs_dns_addrs_free(&a);
}

/* A name of LABELS labels of 63 octets (64 with its length byte) and one
 * of REST - 2 more, REST + 64 x LABELS + 1 octets on the wire. */
static void long_name(char *out, int labels, int rest) {
  out[0] = '\0';
  for (int i = 0; i < labels; i++) {
    strcat(out, i ? "." : "");
    size_t n = strlen(out);
    memset(out + n, 'a' + i % 26, 63);
    out[n + 63] = '\0';
  }
  if (rest >= 2) {
    size_t n = strlen(out);
    out[n++] = '.';
    memset(out + n, 'z', (size_t)rest - 2 + 1);
    out[n + (size_t)rest - 1] = '\0';
  }
}

/* Found by fuzz_dns (tests/fuzz/corpus/dns/crash-long-name): c-ares 1.18
 * expands names without any length check, and compression pointers into
 * labels read before let a 463-byte answer give a 369-octet MX name (a
 * 64 KiB answer could give megabytes per record).  Names of more than
 * MXS_DNS_MAX_NAME octets, label types that do not exist and pointer loops
 * are refused before c-ares expands anything; longer than RFC 1035's 255
 * but within the bound still pass (the resolver's host-name check says
 * such an MX target is not a host name). */
static void names_past_the_limits(void **state) {
  (void)state;
  unsigned char fuzz[1024];
  FILE *fp = fopen(MXS_FUZZ_CORPUS "/dns/crash-long-name", "rb");
  assert_non_null(fp);
  size_t n = fread(fuzz, 1, sizeof fuzz, fp);
  fclose(fp);
  assert_int_equal(n, 463);
  mxs_dns_mx_t r;
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, fuzz, (int)n), ARES_SUCCESS);
  for (size_t i = 0; i < r.nmx; i++) assert_true(strlen(r.mx[i]->host) <= 4 * MXS_DNS_MAX_NAME);
  mxs_dns_mx_free(&r);

  /* over 255 octets: passed on; at the bound too; one past it is refused */
  static char host[2 * MXS_DNS_MAX_NAME];
  msg_t m;
  long_name(host, 4, 10); /* 4 x 64 + 10 + 1 = 267 octets */
  start(&m, 1, "example.test", 15);
  add_mx(&m, 10, host);
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_SUCCESS);
  assert_string_equal(r.mx[0]->host, host);
  mxs_dns_mx_free(&r);
  long_name(host, 15, MXS_DNS_MAX_NAME - 15 * 64 - 1); /* exactly the bound */
  start(&m, 1, "example.test", 15);
  add_mx(&m, 10, host);
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_SUCCESS);
  mxs_dns_mx_free(&r);
  long_name(host, 15, MXS_DNS_MAX_NAME - 15 * 64); /* one octet more */
  start(&m, 1, "example.test", 15);
  add_mx(&m, 10, host);
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_EBADNAME);
  start(&m, 1, "mx.example.test", 1); /* an A answer whose CNAME target is that long */
  msg_t target = {.n = 0};
  put_name(&target, host);
  rr_head(&m, 5, (unsigned)target.n);
  put(&m, target.b, target.n);
  mxs_dns_addrs_t a;
  mxs_dns_addrs_parse(&a, 0, ARES_SUCCESS, m.b, (int)m.n);
  assert_int_equal(a.status, ARES_EBADNAME);
  assert_int_equal(a.n, 0);

  /* a length byte of 64 (the reserved label type 01), and a pointer that loops */
  start(&m, 1, "example.test", 15);
  rr_head(&m, 15, 2 + 1 + 64 + 1);
  put16(&m, 10);
  put(&m, "\x40", 1);
  for (int i = 0; i < 64; i++) put(&m, "b", 1);
  put(&m, "", 1);
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_EBADNAME);
  start(&m, 1, "example.test", 15);
  size_t at = m.n + 12; /* where the MX target starts: owner 2 + 10, preference 2 */
  rr_head(&m, 15, 4);
  put16(&m, 10);
  put16(&m, 0xc000 | (unsigned)(at + 2)); /* points at itself */
  assert_int_equal(mxs_dns_mx_parse(&r, ARES_SUCCESS, m.b, (int)m.n), ARES_EBADNAME);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mx_sorted_null_counted),
      cmocka_unit_test(mx_nodata_and_failures),
      cmocka_unit_test(addresses),
      cmocka_unit_test(names_past_the_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
