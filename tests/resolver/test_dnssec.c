/* test_dnssec.c - --dnssec against a validating unbound (policyfix.py):
 * the AD bit of MX, address and TLSA answers, authenticated denials, and a
 * bogus zone or RRset (SERVFAIL); and the same server without --dnssec,
 * where nothing is secure.  Run as
 *   policyfix.py run dnssec-zones.json -- test_dnssec
 * which puts the resolver's address in POLICYFIX_DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/resolver.h"
#include "resolver/tlsa_cache.h"

typedef struct {
  int calls;
  mxs_class_t status;
  int mx_secure, implicit;
  size_t nmx;
  char host[64];
  mxs_class_t host_status;
  int host_secure;
  size_t naddrs;
} dom_t;

typedef struct {
  int calls;
  mxs_rr_status_t status;
  int secure;
  char detail[64];
  size_t n;
  unsigned char rdata[4][64];
  size_t lens[4];
} rr_t;

typedef struct {
  uv_loop_t loop;
  mxs_resolver_t *r;
  int expected, got;
} ctx_t;

static ctx_t *g_ctx;

static void one_done(void) {
  if (++g_ctx->got == g_ctx->expected) uv_stop(&g_ctx->loop);
}

static void on_domain(void *arg, const mxs_domain_answer_t *a) {
  dom_t *d = arg;
  d->calls++;
  d->status = a->status;
  d->mx_secure = a->mx_secure;
  d->implicit = a->implicit_mx;
  d->nmx = a->nmx;
  if (a->nmx) {
    snprintf(d->host, sizeof d->host, "%s", a->mx[0].host);
    d->host_status = a->mx[0].status;
    d->host_secure = a->mx[0].secure;
    d->naddrs = a->mx[0].naddrs;
  }
  one_done();
}

static void on_rr(void *arg, const mxs_rr_answer_t *a) {
  rr_t *q = arg;
  q->calls++;
  q->status = a->status;
  q->secure = a->secure;
  snprintf(q->detail, sizeof q->detail, "%s", a->detail);
  q->n = a->n;
  for (size_t i = 0; i < a->n && i < 4; i++) {
    q->lens[i] = a->lens[i] < 64 ? a->lens[i] : 64;
    memcpy(q->rdata[i], a->items[i], q->lens[i]);
  }
  one_done();
}

static void open_ctx(ctx_t *c, int dnssec, int ipv6) {
  memset(c, 0, sizeof *c);
  g_ctx = c;
  assert_int_equal(uv_loop_init(&c->loop), 0);
  char err[256];
  mxs_resolver_opts_t o = {
      .servers = getenv("POLICYFIX_DNS"), .timeout_ms = 1000, .tries = 2, .dnssec = dnssec, .ipv6 = ipv6};
  assert_int_equal(mxs_resolver_new(&c->loop, &o, &c->r, err, sizeof err), 0);
}

static void resolve(ctx_t *c, const char *name, dom_t *d) {
  memset(d, 0, sizeof *d);
  c->expected++;
  assert_int_equal(mxs_resolver_resolve(c->r, name, on_domain, d), 0);
}

static void query(ctx_t *c, const char *name, mxs_rr_type_t t, rr_t *q) {
  memset(q, 0, sizeof *q);
  c->expected++;
  assert_int_equal(mxs_resolver_query(c->r, name, t, on_rr, q), 0);
}

static void run_and_close(ctx_t *c) {
  uv_run(&c->loop, UV_RUN_DEFAULT);
  assert_int_equal(c->got, c->expected);
  mxs_resolver_close(c->r, NULL, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&c->loop), 0);
}

static void test_ad_bits(void **state) {
  (void)state;
  ctx_t c;
  open_ctx(&c, 1, 1);
  dom_t sec, plain, broken, implicit;
  rr_t tlsa, bad, none, insecure;
  resolve(&c, "sec.test", &sec);
  resolve(&c, "plain.test", &plain);
  resolve(&c, "broken.test", &broken);
  resolve(&c, "nomx.sec.test", &implicit);
  rr_t a_sec, a_plain, a_none;
  query(&c, "bad.sec.test", MXS_RR_A, &a_sec);
  query(&c, "mx.plain.test", MXS_RR_A, &a_plain);
  query(&c, "nosuch.sec.test", MXS_RR_A, &a_none);
  query(&c, "_25._tcp.mx.sec.test", MXS_RR_TLSA, &tlsa);
  query(&c, "_25._tcp.bad.sec.test", MXS_RR_TLSA, &bad);
  query(&c, "_25._tcp.nomx.sec.test", MXS_RR_TLSA, &none);
  query(&c, "_25._tcp.mx.plain.test", MXS_RR_TLSA, &insecure);
  run_and_close(&c);

  /* a signed zone: MX, A and AAAA authenticated */
  assert_int_equal(sec.status, MXS_CLASS_OK);
  assert_int_equal(sec.mx_secure, 1);
  assert_string_equal(sec.host, "mx.sec.test");
  assert_int_equal(sec.naddrs, 2);
  assert_int_equal(sec.host_secure, 1);
  /* unsigned: the same answers without AD */
  assert_int_equal(plain.status, MXS_CLASS_OK);
  assert_int_equal(plain.mx_secure, 0);
  assert_int_equal(plain.host_secure, 0);
  /* a bogus zone: the validator answers SERVFAIL */
  assert_int_equal(broken.status, MXS_CLASS_DNS_SERVFAIL);
  assert_int_equal(broken.mx_secure, 0);
  /* no MX: the authenticated NODATA makes the implicit MX secure, and its
   * A record (NODATA for AAAA) too */
  assert_int_equal(implicit.status, MXS_CLASS_OK);
  assert_int_equal(implicit.implicit, 1);
  assert_int_equal(implicit.mx_secure, 1);
  assert_int_equal(implicit.host_secure, 1);
  /* mxs_resolver_query answers say it too: data, an authenticated
   * NXDOMAIN (NSEC), and data from an unsigned zone */
  assert_int_equal(a_sec.status, MXS_RR_OK);
  assert_int_equal(a_sec.secure, 1);
  assert_int_equal(a_none.status, MXS_RR_NONE);
  assert_int_equal(a_none.secure, 1);
  assert_int_equal(a_plain.status, MXS_RR_OK);
  assert_int_equal(a_plain.secure, 0);
  /* TLSA: both records, as RDATA, authenticated */
  assert_int_equal(tlsa.status, MXS_RR_OK);
  assert_int_equal(tlsa.secure, 1);
  assert_int_equal(tlsa.n, 2);
  size_t i311 = tlsa.rdata[0][0] == 3 ? 0 : 1;
  assert_int_equal(tlsa.lens[i311], 35);
  assert_memory_equal(tlsa.rdata[i311], "\x03\x01\x01\xaa\xbb\xcc", 6);
  assert_int_equal(tlsa.lens[1 - i311], 5);
  assert_memory_equal(tlsa.rdata[1 - i311], "\x02\x00\x02\x01\x02", 5);
  /* one bogus RRset in a signed zone: SERVFAIL, never secure */
  assert_int_equal(bad.status, MXS_RR_FAILED);
  assert_string_equal(bad.detail, "SERVFAIL");
  assert_int_equal(bad.secure, 0);
  /* no TLSA, and the denial is authenticated (NSEC) */
  assert_int_equal(none.status, MXS_RR_NONE);
  assert_int_equal(none.secure, 1);
  /* TLSA in an unsigned zone: present, not secure */
  assert_int_equal(insecure.status, MXS_RR_OK);
  assert_int_equal(insecure.n, 1);
  assert_int_equal(insecure.secure, 0);
}

/* Without --dnssec the queries ask for nothing: no answer is secure, and
 * the records still parse. */
static void test_without_dnssec(void **state) {
  (void)state;
  ctx_t c;
  open_ctx(&c, 0, 0);
  dom_t sec;
  rr_t tlsa;
  resolve(&c, "sec.test", &sec);
  query(&c, "_25._tcp.mx.sec.test", MXS_RR_TLSA, &tlsa);
  run_and_close(&c);
  assert_int_equal(sec.status, MXS_CLASS_OK);
  assert_int_equal(sec.mx_secure, 0);
  assert_int_equal(sec.host_secure, 0);
  assert_int_equal(sec.naddrs, 1);
  assert_int_equal(tlsa.status, MXS_RR_OK);
  assert_int_equal(tlsa.n, 2);
  assert_int_equal(tlsa.secure, 0);
}

/* The run's TLSA cache: one question per host however many ask, the
 * records kept (usable counted), a bogus RRset kept as failed, and flush
 * for a run that stops. */
typedef struct {
  int calls;
  const mxs_tlsa_entry_t *e;
} tl_t;

static void on_entry(void *arg, const mxs_tlsa_entry_t *e) {
  tl_t *t = arg;
  t->calls++;
  t->e = e;
  one_done();
}

static void test_tlsa_cache(void **state) {
  (void)state;
  ctx_t c;
  open_ctx(&c, 1, 0);
  mxs_tlsa_cache_t tc;
  mxs_tlsa_cache_init(&tc, c.r, 25);
  tl_t a = {0}, b = {0}, bad = {0}, stopped = {0};
  c.expected = 3;
  assert_int_equal(mxs_tlsa_lookup(&tc, "mx.sec.test", on_entry, &a), 0);
  assert_int_equal(mxs_tlsa_lookup(&tc, "mx.sec.test", on_entry, &b), 0); /* waits for the first */
  assert_int_equal(mxs_tlsa_lookup(&tc, "bad.sec.test", on_entry, &bad), 0);
  assert_null(mxs_tlsa_find(&tc, "mx.sec.test"));
  assert_int_equal(tc.lookups, 2);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 1);
  assert_ptr_equal(a.e, b.e);
  const mxs_tlsa_entry_t *e = mxs_tlsa_find(&tc, "mx.sec.test");
  assert_ptr_equal(e, a.e);
  assert_int_equal(e->status, MXS_RR_OK);
  assert_int_equal(e->secure, 1);
  assert_int_equal(e->rrset.n, 2);
  assert_string_equal(e->rrset.base, "mx.sec.test");
  assert_int_equal(e->usable, 1); /* 3 1 1 with 32 bytes; 2 0 2 with 2 bytes is malformed */
  assert_int_equal(bad.calls, 1);
  assert_int_equal(bad.e->status, MXS_RR_FAILED);
  assert_string_equal(bad.e->error, "SERVFAIL");
  assert_int_equal(bad.e->secure, 0);
  /* a known host is found, not asked again */
  assert_true(mxs_tlsa_lookup(&tc, "mx.sec.test", on_entry, &a) < 0);
  /* the run stops while a lookup is in flight: its waiter is called with NULL */
  assert_int_equal(mxs_tlsa_lookup(&tc, "nomx.sec.test", on_entry, &stopped), 0);
  mxs_tlsa_flush(&tc);
  assert_int_equal(stopped.calls, 1);
  assert_null(stopped.e);
  c.expected = c.got; /* nothing more to wait for */
  mxs_resolver_close(c.r, NULL, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&c.loop), 0);
  mxs_tlsa_cache_free(&tc);
}

int main(void) {
  if (!getenv("POLICYFIX_DNS")) {
    fprintf(stderr, "test_dnssec: POLICYFIX_DNS not set (run it through policyfix.py): skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ad_bits),
      cmocka_unit_test(test_without_dnssec),
      cmocka_unit_test(test_tlsa_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
