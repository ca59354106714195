/* test_resolver.c - the resolver against a real DNS server.
 *
 * Run through run_resolver_test.sh, which starts unbound with the test zones
 * and passes its address in MXS_TEST_DNS ("127.0.0.1:PORT").  Every test owns
 * its loop and ends with uv_loop_close() == 0, which proves the resolver
 * closed every handle it opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolver/resolver.h"
#include "resolver/servers.h"

enum { MAX_MX = 8, MAX_ADDRS = 8 };

typedef struct {
  char host[256];
  int pref;
  mxs_class_t status;
  char detail[128];
  size_t naddrs;
  char addrs[MAX_ADDRS][64];
} mx_copy_t;

/* A deep copy of one answer: the resolver's view is only valid during the
 * callback. */
typedef struct {
  int calls;
  char domain[256];
  mxs_class_t status;
  char detail[128];
  int implicit_mx;
  size_t nmx;
  mx_copy_t mx[MAX_MX];
  int dns_ms;
} answer_t;

typedef struct ctx_s {
  uv_loop_t loop;
  mxs_resolver_t *r;
  int in_resolve;       /* set around mxs_resolver_resolve() */
  int closing;          /* mxs_resolver_close() was called */
  int done_calls;       /* done_cb runs */
  int late_calls;       /* callbacks after close: must stay 0 */
  int sync_calls;       /* callbacks inside resolve: must stay 0 */
  size_t expected, got; /* answers */
  int close_when_done;  /* else uv_stop() when done */
} ctx_t;

typedef struct {
  ctx_t *ctx;
  answer_t ans;
} job_t;

static const char *dns_server(void) { return getenv("MXS_TEST_DNS"); }

static void on_closed(void *arg) {
  ctx_t *c = arg;
  c->done_calls++;
}

static void copy_answer(answer_t *dst, const mxs_domain_answer_t *a) {
  snprintf(dst->domain, sizeof(dst->domain), "%s", a->domain);
  dst->status = a->status;
  snprintf(dst->detail, sizeof(dst->detail), "%s", a->detail ? a->detail : "(null)");
  dst->implicit_mx = a->implicit_mx;
  dst->nmx = a->nmx;
  dst->dns_ms = a->dns_ms;
  for (size_t i = 0; i < a->nmx && i < MAX_MX; i++) {
    mx_copy_t *m = &dst->mx[i];
    snprintf(m->host, sizeof(m->host), "%s", a->mx[i].host);
    m->pref = a->mx[i].pref;
    m->status = a->mx[i].status;
    snprintf(m->detail, sizeof(m->detail), "%s", a->mx[i].detail ? a->mx[i].detail : "(null)");
    m->naddrs = a->mx[i].naddrs;
    for (size_t k = 0; k < a->mx[i].naddrs && k < MAX_ADDRS; k++)
      snprintf(m->addrs[k], sizeof(m->addrs[k]), "%s", a->mx[i].addrs[k]);
  }
}

static void on_answer(void *arg, const mxs_domain_answer_t *a) {
  job_t *j = arg;
  ctx_t *c = j->ctx;
  if (c->in_resolve) c->sync_calls++;
  if (c->closing) c->late_calls++;
  copy_answer(&j->ans, a);
  j->ans.calls++;
  if (++c->got == c->expected) {
    if (c->close_when_done) {
      c->closing = 1;
      mxs_resolver_close(c->r, on_closed, c); /* from inside a callback, on purpose */
    } else {
      uv_stop(&c->loop);
    }
  }
}

static void ctx_open(ctx_t *c, mxs_resolver_opts_t opts) {
  char err[256] = "";
  memset(c, 0, sizeof(*c));
  assert_int_equal(uv_loop_init(&c->loop), 0);
  if (opts.servers == NULL) opts.servers = dns_server();
  int rc = mxs_resolver_new(&c->loop, &opts, &c->r, err, sizeof(err));
  if (rc != 0) fail_msg("mxs_resolver_new: %d %s", rc, err);
  c->close_when_done = 1;
}

static void submit(ctx_t *c, job_t *j, const char *domain) {
  j->ctx = c;
  c->expected++;
  c->in_resolve = 1;
  int rc = mxs_resolver_resolve(c->r, domain, on_answer, j);
  c->in_resolve = 0;
  assert_int_equal(rc, 0);
}

/* Runs the loop to the end: the last answer closes the resolver. */
static void ctx_finish(ctx_t *c) {
  uv_run(&c->loop, UV_RUN_DEFAULT);
  if (!c->closing) {
    c->closing = 1;
    mxs_resolver_close(c->r, on_closed, c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
  }
  assert_int_equal(c->done_calls, 1);
  assert_int_equal(c->late_calls, 0);
  assert_int_equal(c->sync_calls, 0);
  assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* Resolves NAMES with OPTS, one job each, and checks every one answered once. */
static void resolve_all(mxs_resolver_opts_t opts, const char *const *names, job_t *jobs, size_t n) {
  ctx_t c;
  ctx_open(&c, opts);
  memset(jobs, 0, n * sizeof(*jobs));
  for (size_t i = 0; i < n; i++) submit(&c, &jobs[i], names[i]);
  assert_int_equal(mxs_resolver_pending(c.r), n);
  ctx_finish(&c);
  for (size_t i = 0; i < n; i++) {
    if (jobs[i].ans.calls != 1) fail_msg("%s: %d callbacks", names[i], jobs[i].ans.calls);
    assert_string_equal(jobs[i].ans.domain, names[i]);
  }
}

static answer_t resolve_one(mxs_resolver_opts_t opts, const char *name) {
  job_t j;
  resolve_all(opts, &name, &j, 1);
  return j.ans;
}

static const mxs_resolver_opts_t plain = {0};

#define SKIP_WITHOUT_DNS()                                            \
  do {                                                                \
    if (dns_server() == NULL) {                                       \
      print_message("MXS_TEST_DNS unset: run through the wrapper\n"); \
      skip();                                                         \
    }                                                                 \
  } while (0)

static void assert_class(mxs_class_t got, mxs_class_t want, const char *what) {
  if (got != want) fail_msg("%s: class %s, want %s", what, mxs_class_name(got), mxs_class_name(want));
}

static void test_mx_sorted_by_pref(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "mx3.test");
  assert_class(a.status, MXS_CLASS_OK, "mx3.test");
  assert_int_equal(a.implicit_mx, 0);
  assert_string_equal(a.detail, "");
  assert_int_equal(a.nmx, 3);
  assert_string_equal(a.mx[0].host, "a.mx.test");
  assert_int_equal(a.mx[0].pref, 10);
  assert_class(a.mx[0].status, MXS_CLASS_OK, "a.mx.test");
  assert_string_equal(a.mx[0].detail, "");
  assert_int_equal(a.mx[0].naddrs, 2);
  assert_string_equal(a.mx[0].addrs[0], "192.0.2.1");
  assert_string_equal(a.mx[0].addrs[1], "192.0.2.2");
  assert_string_equal(a.mx[1].host, "b.mx.test");
  assert_int_equal(a.mx[1].pref, 20);
  assert_int_equal(a.mx[1].naddrs, 1); /* no AAAA without ipv6 */
  assert_string_equal(a.mx[1].addrs[0], "192.0.2.3");
  assert_string_equal(a.mx[2].host, "c.mx.test");
  assert_int_equal(a.mx[2].pref, 30);
  assert_class(a.mx[2].status, MXS_CLASS_MX_NO_ADDRESS, "c.mx.test");
  assert_int_equal(a.mx[2].naddrs, 0);
  assert_true(a.dns_ms >= 0 && a.dns_ms < 5000);
}

static void test_ties_keep_answer_order(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "tie.test");
  assert_class(a.status, MXS_CLASS_OK, "tie.test");
  assert_int_equal(a.nmx, 4);
  assert_string_equal(a.mx[0].host, "b.mx.test");
  assert_string_equal(a.mx[1].host, "z.mx.test");
  assert_string_equal(a.mx[2].host, "a.mx.test");
  assert_string_equal(a.mx[3].host, "c.mx.test");
  assert_class(a.mx[1].status, MXS_CLASS_MX_NO_ADDRESS, "z.mx.test (NXDOMAIN)");
  assert_string_equal(a.mx[1].detail, "host does not exist (NXDOMAIN)");
}

static void test_dedupe_and_lowercase(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "dup.test");
  assert_class(a.status, MXS_CLASS_OK, "dup.test");
  assert_int_equal(a.nmx, 1);
  assert_string_equal(a.mx[0].host, "a.mx.test");
  assert_int_equal(a.mx[0].pref, 10);
}

static void test_null_mx(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "nullmx.test");
  assert_class(a.status, MXS_CLASS_NULL_MX, "nullmx.test");
  assert_int_equal(a.nmx, 0);
}

static void test_implicit_mx(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "implicit.test");
  assert_class(a.status, MXS_CLASS_OK, "implicit.test");
  assert_int_equal(a.implicit_mx, 1);
  assert_int_equal(a.nmx, 1);
  assert_string_equal(a.mx[0].host, "implicit.test");
  assert_int_equal(a.mx[0].pref, 0);
  assert_int_equal(a.mx[0].naddrs, 1);
  assert_string_equal(a.mx[0].addrs[0], "192.0.2.50");
  /* Trailing dot and case are the caller's spelling; the MX host is not. */
  a = resolve_one(plain, "Implicit.TEST.");
  assert_class(a.status, MXS_CLASS_OK, "Implicit.TEST.");
  assert_string_equal(a.mx[0].host, "implicit.test");
}

static void test_no_mx_no_address(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "txtonly.test");
  assert_class(a.status, MXS_CLASS_NO_MX_NO_ADDRESS, "txtonly.test");
  assert_int_equal(a.implicit_mx, 0);
  assert_int_equal(a.nmx, 0);
  /* An AAAA-only domain has no route unless ipv6 is on. */
  a = resolve_one(plain, "implicit6.test");
  assert_class(a.status, MXS_CLASS_NO_MX_NO_ADDRESS, "implicit6.test");
  mxs_resolver_opts_t v6 = {.ipv6 = 1};
  a = resolve_one(v6, "implicit6.test");
  assert_class(a.status, MXS_CLASS_OK, "implicit6.test ipv6");
  assert_int_equal(a.implicit_mx, 1);
  assert_int_equal(a.mx[0].naddrs, 1);
  assert_string_equal(a.mx[0].addrs[0], "2001:db8::50");
}

static void test_mx_no_address(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "noaddr.test");
  assert_class(a.status, MXS_CLASS_OK, "noaddr.test");
  assert_int_equal(a.nmx, 2);
  assert_class(a.mx[0].status, MXS_CLASS_MX_NO_ADDRESS, "c.mx.test (NODATA)");
  assert_string_equal(a.mx[0].detail, "no A record");
  assert_class(a.mx[1].status, MXS_CLASS_MX_NO_ADDRESS, "nosuch.mx.test (NXDOMAIN)");
  assert_int_equal(a.mx[1].naddrs, 0);
}

static void test_ip_literal_mx_is_a_name(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "ipmx.test");
  assert_class(a.status, MXS_CLASS_OK, "ipmx.test");
  assert_int_equal(a.nmx, 1);
  assert_string_equal(a.mx[0].host, "127.0.0.9");
  assert_class(a.mx[0].status, MXS_CLASS_MX_NO_ADDRESS, "127.0.0.9");
  assert_int_equal(a.mx[0].naddrs, 0);
}

/* The resolver does not chase CNAMEs itself (the recursive server does);
 * unbound's local data answers the bare CNAME, which is "no address". */
static void test_cname_without_address(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "mxcname.test");
  assert_class(a.status, MXS_CLASS_OK, "mxcname.test");
  assert_string_equal(a.mx[0].host, "cname.mx.test");
  assert_class(a.mx[0].status, MXS_CLASS_MX_NO_ADDRESS, "cname.mx.test");
  assert_string_equal(a.mx[0].detail, "no A record");
}

static void test_ipv6_order(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  mxs_resolver_opts_t v6 = {.ipv6 = 1};
  answer_t a = resolve_one(v6, "v6.test");
  assert_int_equal(a.nmx, 2);
  assert_int_equal(a.mx[0].naddrs, 2);
  assert_string_equal(a.mx[0].addrs[0], "192.0.2.3");
  assert_string_equal(a.mx[0].addrs[1], "2001:db8::3");
  assert_class(a.mx[1].status, MXS_CLASS_OK, "v6only ipv6");
  assert_string_equal(a.mx[1].addrs[0], "2001:db8::6");
  a = resolve_one(plain, "v6.test");
  assert_class(a.mx[1].status, MXS_CLASS_MX_NO_ADDRESS, "v6only without ipv6");
}

static void test_dns_errors(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  mxs_resolver_opts_t fast = {.timeout_ms = 300, .tries = 2};
  const char *names[] = {"nxdomain.test", "refused.test", "servfail.test", "timeout.test"};
  job_t j[4];
  resolve_all(fast, names, j, 4);
  assert_class(j[0].ans.status, MXS_CLASS_DNS_NXDOMAIN, names[0]);
  assert_string_equal(j[0].ans.detail, "MX lookup: NXDOMAIN");
  assert_class(j[1].ans.status, MXS_CLASS_DNS_SERVFAIL, names[1]);
  assert_string_equal(j[1].ans.detail, "MX lookup: REFUSED");
  assert_class(j[2].ans.status, MXS_CLASS_DNS_SERVFAIL, names[2]);
  assert_string_equal(j[2].ans.detail, "MX lookup: SERVFAIL");
  assert_class(j[3].ans.status, MXS_CLASS_DNS_TIMEOUT, names[3]);
  assert_string_equal(j[3].ans.detail, "MX lookup: timeout");
  /* Two tries of 300 ms (c-ares doubles the second): bounded, not instant. */
  assert_true(j[3].ans.dns_ms >= 250);
  assert_true(j[3].ans.dns_ms < 5000);
  for (int i = 0; i < 4; i++) assert_int_equal(j[i].ans.nmx, 0);
}

static void test_mx_host_errors(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  mxs_resolver_opts_t fast = {.timeout_ms = 300, .tries = 2};
  answer_t a = resolve_one(fast, "badmx.test");
  assert_class(a.status, MXS_CLASS_OK, "badmx.test");
  assert_int_equal(a.nmx, 4);
  assert_class(a.mx[0].status, MXS_CLASS_DNS_TIMEOUT, a.mx[0].host);
  assert_string_equal(a.mx[0].detail, "A lookup: timeout");
  assert_class(a.mx[1].status, MXS_CLASS_DNS_SERVFAIL, a.mx[1].host);
  assert_string_equal(a.mx[1].detail, "A lookup: REFUSED");
  assert_class(a.mx[2].status, MXS_CLASS_DNS_SERVFAIL, a.mx[2].host);
  assert_string_equal(a.mx[2].detail, "A lookup: SERVFAIL");
  assert_class(a.mx[3].status, MXS_CLASS_OK, a.mx[3].host);
}

/* Two domains sharing one MX host in flight together: one A query, the
 * second waits on the first; a third later is a cache hit. */
static void test_cache_coalescing(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  ctx_t c;
  job_t j[3];
  mxs_resolver_stats_t st;
  memset(j, 0, sizeof(j));
  ctx_open(&c, plain);
  c.close_when_done = 0;
  submit(&c, &j[0], "sharea.test");
  submit(&c, &j[1], "shareb.test");
  uv_run(&c.loop, UV_RUN_DEFAULT);
  mxs_resolver_stats(c.r, &st);
  assert_int_equal(st.mx_queries, 2);
  assert_int_equal(st.addr_queries, 1);
  assert_int_equal(st.host_lookups, 1);
  assert_int_equal(st.cache_waits, 1);
  assert_int_equal(st.cache_hits, 0);
  c.close_when_done = 1;
  submit(&c, &j[2], "sharec.test");
  ctx_finish(&c);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(j[i].ans.calls, 1);
    assert_string_equal(j[i].ans.mx[0].host, "shared.mx.test");
    assert_string_equal(j[i].ans.mx[0].addrs[0], "192.0.2.100");
  }
}

/* A host whose lookup timed out or failed is asked again by a later domain
 * once retry_failed_ms has passed (a resolver blip must not fail its hosts
 * for the whole run), and never with a negative retry_failed_ms.  The
 * broken hosts of badmx.test stay broken, so the answers do not change. */
static void run_badmx_twice(int retry_failed_ms, mxs_resolver_stats_t *st, job_t *j) {
  ctx_t c;
  mxs_resolver_opts_t o = {.timeout_ms = 200, .tries = 1, .retry_failed_ms = retry_failed_ms};
  ctx_open(&c, o);
  c.close_when_done = 0;
  submit(&c, &j[0], "badmx.test");
  uv_run(&c.loop, UV_RUN_DEFAULT);
  usleep(250 * 1000); /* past a 100 ms retry_failed_ms */
  submit(&c, &j[1], "badmx.test");
  uv_run(&c.loop, UV_RUN_DEFAULT);
  mxs_resolver_stats(c.r, st);
  c.close_when_done = 1;
  ctx_finish(&c);
}

static void test_failed_host_retried(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  job_t j[2];
  mxs_resolver_stats_t st;
  memset(j, 0, sizeof(j));
  run_badmx_twice(100, &st, j);
  assert_int_equal(st.host_retries, 3); /* timeout, REFUSED, SERVFAIL; a.mx.test was fine */
  assert_int_equal(st.host_lookups, 4 + 3);
  assert_int_equal(st.cache_hits, 1);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(j[i].ans.nmx, 4);
    assert_class(j[i].ans.mx[0].status, MXS_CLASS_DNS_TIMEOUT, j[i].ans.mx[0].host);
    assert_class(j[i].ans.mx[1].status, MXS_CLASS_DNS_SERVFAIL, j[i].ans.mx[1].host);
    assert_class(j[i].ans.mx[2].status, MXS_CLASS_DNS_SERVFAIL, j[i].ans.mx[2].host);
    assert_class(j[i].ans.mx[3].status, MXS_CLASS_OK, j[i].ans.mx[3].host);
  }

  memset(j, 0, sizeof(j));
  run_badmx_twice(-1, &st, j);
  assert_int_equal(st.host_retries, 0);
  assert_int_equal(st.host_lookups, 4);
  assert_int_equal(st.cache_hits, 4);
  assert_class(j[1].ans.mx[0].status, MXS_CLASS_DNS_TIMEOUT, j[1].ans.mx[0].host);
}

static void test_many_small_window(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  enum { N_MX = 300, N_NX = 100, N = N_MX + N_NX };
  static job_t j[N];
  static char names[N][64];
  ctx_t c;
  mxs_resolver_opts_t o = {.max_inflight = 4};
  mxs_resolver_stats_t st;
  memset(j, 0, sizeof(j));
  ctx_open(&c, o);
  for (int i = 0; i < N; i++) {
    if (i % 4 == 3)
      snprintf(names[i], sizeof(names[i]), "nx%d.many.test", i / 4);
    else
      snprintf(names[i], sizeof(names[i]), "m%d.many.test", i - i / 4);
    submit(&c, &j[i], names[i]);
  }
  mxs_resolver_stats(c.r, &st);
  assert_true(st.inflight <= 4);
  assert_int_equal(mxs_resolver_pending(c.r), N);
  c.close_when_done = 0;
  uv_run(&c.loop, UV_RUN_DEFAULT);
  mxs_resolver_stats(c.r, &st);
  assert_int_equal(mxs_resolver_pending(c.r), 0);
  assert_int_equal(st.inflight, 0);
  assert_int_equal(st.queued, 0);
  assert_true(st.peak_inflight <= 4);
  assert_int_equal(st.peak_inflight, 4);
  assert_int_equal(st.mx_queries, N);
  assert_int_equal(st.host_lookups, 2);
  assert_int_equal(st.addr_queries, 2);
  ctx_finish(&c);
  for (int i = 0; i < N; i++) {
    assert_int_equal(j[i].ans.calls, 1);
    if (i % 4 == 3) {
      assert_class(j[i].ans.status, MXS_CLASS_DNS_NXDOMAIN, names[i]);
    } else {
      assert_class(j[i].ans.status, MXS_CLASS_OK, names[i]);
      assert_int_equal(j[i].ans.nmx, 2);
      assert_string_equal(j[i].ans.mx[0].host, "shared.mx.test");
      assert_string_equal(j[i].ans.mx[1].host, "a.mx.test");
    }
  }
}

static void close_timer_cb(uv_timer_t *t) {
  ctx_t *c = t->data;
  c->closing = 1;
  mxs_resolver_close(c->r, on_closed, c);
  uv_close((uv_handle_t *)t, NULL);
}

/* Close with queries on the wire, queued, and answered but not delivered. */
static void test_close_outstanding(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  enum { N = 40 };
  static job_t j[N];
  static const char *const mix[] = {"timeout.test", "mx3.test", "badmx.test", "implicit.test"};
  ctx_t c;
  uv_timer_t t;
  mxs_resolver_opts_t o = {.timeout_ms = 2000, .max_inflight = 8};
  memset(j, 0, sizeof(j));
  ctx_open(&c, o);
  for (int i = 0; i < N; i++) submit(&c, &j[i], mix[i % 4]);
  uv_timer_init(&c.loop, &t);
  t.data = &c;
  uv_timer_start(&t, close_timer_cb, 100, 0);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  assert_int_equal(c.done_calls, 1);
  assert_int_equal(c.late_calls, 0);
  assert_int_equal(c.sync_calls, 0);
  assert_true(c.got < N); /* the timeout.test ones cannot have answered */
  assert_int_equal(uv_loop_close(&c.loop), 0);
}

/* Close before the loop ever ran, with work queued: nothing is delivered. */
static void test_close_immediately(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  ctx_t c;
  job_t j[2];
  memset(j, 0, sizeof(j));
  ctx_open(&c, plain);
  submit(&c, &j[0], "mx3.test");
  submit(&c, &j[1], "a..b"); /* may fail synchronously inside c-ares */
  c.closing = 1;
  mxs_resolver_close(c.r, on_closed, &c);
  mxs_resolver_close(c.r, on_closed, &c); /* second close: ignored */
  assert_int_equal(c.done_calls, 0);      /* done_cb is never synchronous */
  uv_run(&c.loop, UV_RUN_DEFAULT);
  assert_int_equal(c.done_calls, 1);
  assert_int_equal(c.got, 0);
  assert_int_equal(uv_loop_close(&c.loop), 0);
}

/* A name c-ares refuses to encode fails inside ares_query(); the answer
 * must still arrive later, from the loop. */
static void test_bad_name_is_deferred(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  answer_t a = resolve_one(plain, "a..b");
  assert_class(a.status, MXS_CLASS_DNS_SERVFAIL, "a..b");
  assert_non_null(strstr(a.detail, "MX lookup: "));
}

static void test_bad_arguments(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  ctx_t c;
  ctx_open(&c, plain);
  assert_int_equal(mxs_resolver_resolve(c.r, "", on_answer, NULL), UV_EINVAL);
  assert_int_equal(mxs_resolver_resolve(c.r, ".", on_answer, NULL), UV_EINVAL);
  assert_int_equal(mxs_resolver_resolve(c.r, NULL, on_answer, NULL), UV_EINVAL);
  assert_int_equal(mxs_resolver_resolve(c.r, "x.test", NULL, NULL), UV_EINVAL);
  char big[300];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(mxs_resolver_resolve(c.r, big, on_answer, NULL), UV_EINVAL);
  assert_int_equal(mxs_resolver_pending(c.r), 0);
  ctx_finish(&c);
}

static void test_server_list_parsing(void **state) {
  (void)state;
  static const char *const in_out[][2] = {
      {"127.0.0.1", "127.0.0.1:53"},
      {"127.0.0.1:5353,[::1]:53", "127.0.0.1:5353,[::1]:53"},
      {"[::1]", "[::1]:53"},
      {"::1", "[::1]:53"},
      {" 192.0.2.1:53 , 2001:db8::1 ", "192.0.2.1:53,[2001:db8::1]:53"},
  };
  static const char *const bad[] = {
      "",          "not-an-ip", "dns.example:53", "127.0.0.1:53,,x", "1.2.3.4:99999",     "1.2.3.4:",
      "1.2.3.4:0", "[::1]:",    "[::1]x",         "1.2.3.4:53:53",   "[fe80::1%eth0]:53", ","};
  for (size_t i = 0; i < sizeof(in_out) / sizeof(in_out[0]); i++) {
    char *out = NULL, err[200] = "";
    if (mxs_resolver_servers_csv(in_out[i][0], &out, err, sizeof(err)) != 0)
      fail_msg("\"%s\" rejected: %s", in_out[i][0], err);
    assert_string_equal(out, in_out[i][1]);
    free(out);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *out = NULL, err[200] = "";
    int rc = mxs_resolver_servers_csv(bad[i], &out, err, sizeof(err));
    if (rc != UV_EINVAL) fail_msg("\"%s\" accepted as \"%s\"", bad[i], out ? out : "");
    assert_true(strlen(err) > 0);
  }
}

static void test_new_with_server_lists(void **state) {
  (void)state;
  static const char *const good[] = {"127.0.0.1", "127.0.0.1:5353,[::1]:53", "[::1]:53"};
  static const char *const bad[] = {"", "not-an-ip", "1.2.3.4:99999"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    uv_loop_t loop;
    mxs_resolver_t *r = NULL;
    char err[256] = "";
    mxs_resolver_opts_t o = {.servers = good[i]};
    assert_int_equal(uv_loop_init(&loop), 0);
    int rc = mxs_resolver_new(&loop, &o, &r, err, sizeof(err));
    if (rc != 0) fail_msg("%s rejected: %s", good[i], err);
    mxs_resolver_close(r, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uv_loop_t loop;
    mxs_resolver_t *r = NULL;
    char err[256] = "";
    mxs_resolver_opts_t o = {.servers = bad[i]};
    assert_int_equal(uv_loop_init(&loop), 0);
    int rc = mxs_resolver_new(&loop, &o, &r, err, sizeof(err));
    if (rc != UV_EINVAL) fail_msg("\"%s\" accepted (rc %d)", bad[i], rc);
    assert_null(r);
    assert_true(strlen(err) > 0);
    assert_int_equal(uv_loop_close(&loop), 0);
  }
  mxs_resolver_opts_t neg = {.tries = -1};
  uv_loop_t loop;
  mxs_resolver_t *r = NULL;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(mxs_resolver_new(&loop, &neg, &r, NULL, 0), UV_EINVAL);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A UDP port nobody listens on (bound, read, released). */
static int closed_udp_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(s >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

/* A server port that answers with ICMP port-unreachable: c-ares closes and
 * reopens its socket (usually on the same fd number) and the POLLERR path
 * runs.  Every lookup must still end, as a server failure or a timeout. */
static void test_server_port_closed(void **state) {
  (void)state;
  enum { N = 8 };
  char servers[64];
  const char *names[N];
  char buf[N][32];
  job_t j[N];
  snprintf(servers, sizeof(servers), "127.0.0.1:%d", closed_udp_port());
  for (int i = 0; i < N; i++) {
    snprintf(buf[i], sizeof(buf[i]), "r%d.test", i);
    names[i] = buf[i];
  }
  mxs_resolver_opts_t o = {.servers = servers, .timeout_ms = 200, .tries = 2, .max_inflight = 3};
  resolve_all(o, names, j, N);
  for (int i = 0; i < N; i++) {
    if (j[i].ans.status != MXS_CLASS_DNS_SERVFAIL && j[i].ans.status != MXS_CLASS_DNS_TIMEOUT)
      fail_msg("%s: %s (%s)", names[i], mxs_class_name(j[i].ans.status), j[i].ans.detail);
    assert_true(j[i].ans.dns_ms < 5000);
  }
}

/* Resolving from inside a callback: the chain runs to the end. */
typedef struct {
  ctx_t *ctx;
  int left;
  int answered;
  mxs_class_t last;
} chain_t;

static void on_chain(void *arg, const mxs_domain_answer_t *a) {
  chain_t *ch = arg;
  ch->answered++;
  ch->last = a->status;
  if (ch->ctx->in_resolve) ch->ctx->sync_calls++;
  if (--ch->left > 0) {
    ch->ctx->in_resolve = 1;
    assert_int_equal(mxs_resolver_resolve(ch->ctx->r, "mx3.test", on_chain, ch), 0);
    ch->ctx->in_resolve = 0;
    return;
  }
  ch->ctx->closing = 1;
  mxs_resolver_close(ch->ctx->r, on_closed, ch->ctx);
}

/* ---- mxs_resolver_query: TXT records and plain addresses ---- */

typedef struct {
  ctx_t *ctx;
  int calls;
  mxs_rr_status_t status;
  char detail[64];
  size_t n;
  char items[4][128];
  size_t lens[4];
} rr_job_t;

static void on_rr(void *arg, const mxs_rr_answer_t *a) {
  rr_job_t *j = arg;
  ctx_t *c = j->ctx;
  if (c->in_resolve) c->sync_calls++;
  if (c->closing) c->late_calls++;
  j->calls++;
  j->status = a->status;
  snprintf(j->detail, sizeof j->detail, "%s", a->detail);
  j->n = a->n;
  for (size_t i = 0; i < a->n && i < 4; i++) {
    snprintf(j->items[i], sizeof j->items[i], "%s", a->items[i]);
    j->lens[i] = a->lens[i];
  }
  if (++c->got == c->expected) uv_stop(&c->loop);
}

static void rr_submit(ctx_t *c, rr_job_t *j, const char *name, mxs_rr_type_t type) {
  memset(j, 0, sizeof *j);
  j->ctx = c;
  c->expected++;
  c->in_resolve = 1;
  assert_int_equal(mxs_resolver_query(c->r, name, type, on_rr, j), 0);
  c->in_resolve = 0;
}

static void test_rr_queries(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  ctx_t c;
  ctx_open(&c, (mxs_resolver_opts_t){.timeout_ms = 300, .tries = 1});
  c.close_when_done = 0;
  rr_job_t split, two, none, nxdomain, addr, refused, timeout, noaaaa;
  rr_submit(&c, &split, "_mta-sts.txt.test", MXS_RR_TXT);
  rr_submit(&c, &two, "two.txt.test", MXS_RR_TXT);
  rr_submit(&c, &none, "host.txt.test", MXS_RR_TXT);
  rr_submit(&c, &nxdomain, "nosuch.txt.test", MXS_RR_TXT);
  rr_submit(&c, &addr, "host.txt.test", MXS_RR_A);
  rr_submit(&c, &noaaaa, "host.txt.test", MXS_RR_AAAA);
  rr_submit(&c, &refused, "_mta-sts.x.refused.test", MXS_RR_TXT);
  rr_submit(&c, &timeout, "_mta-sts.x.timeout.test", MXS_RR_TXT);
  ctx_finish(&c);
  /* a record published as two strings is one record, the strings joined */
  assert_int_equal(split.calls, 1);
  assert_int_equal(split.status, MXS_RR_OK);
  assert_int_equal(split.n, 1);
  assert_string_equal(split.items[0], "v=STSv1 id=split1");
  assert_int_equal(split.lens[0], strlen("v=STSv1 id=split1"));
  /* two records stay two, in answer order; an empty first string is kept */
  assert_int_equal(two.status, MXS_RR_OK);
  assert_int_equal(two.n, 2);
  assert_string_equal(two.items[0], "first");
  assert_string_equal(two.items[1], "second");
  assert_int_equal(none.status, MXS_RR_NONE);
  assert_int_equal(none.n, 0);
  assert_int_equal(nxdomain.status, MXS_RR_NONE);
  assert_string_equal(nxdomain.detail, "NXDOMAIN");
  assert_int_equal(addr.status, MXS_RR_OK);
  assert_int_equal(addr.n, 1);
  assert_string_equal(addr.items[0], "192.0.2.77");
  assert_int_equal(noaaaa.status, MXS_RR_NONE);
  assert_int_equal(refused.status, MXS_RR_FAILED);
  assert_string_equal(refused.detail, "REFUSED");
  assert_int_equal(timeout.status, MXS_RR_FAILED);
  assert_string_equal(timeout.detail, "timeout");
}

static void test_resolve_from_callback(void **state) {
  (void)state;
  SKIP_WITHOUT_DNS();
  ctx_t c;
  chain_t ch = {.ctx = &c, .left = 5};
  ctx_open(&c, plain);
  assert_int_equal(mxs_resolver_resolve(c.r, "mx3.test", on_chain, &ch), 0);
  ctx_finish(&c);
  assert_int_equal(ch.answered, 5);
  assert_class(ch.last, MXS_CLASS_OK, "mx3.test");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mx_sorted_by_pref),
      cmocka_unit_test(test_rr_queries),
      cmocka_unit_test(test_ties_keep_answer_order),
      cmocka_unit_test(test_dedupe_and_lowercase),
      cmocka_unit_test(test_null_mx),
      cmocka_unit_test(test_implicit_mx),
      cmocka_unit_test(test_no_mx_no_address),
      cmocka_unit_test(test_mx_no_address),
      cmocka_unit_test(test_ip_literal_mx_is_a_name),
      cmocka_unit_test(test_cname_without_address),
      cmocka_unit_test(test_ipv6_order),
      cmocka_unit_test(test_dns_errors),
      cmocka_unit_test(test_mx_host_errors),
      cmocka_unit_test(test_cache_coalescing),
      cmocka_unit_test(test_failed_host_retried),
      cmocka_unit_test(test_many_small_window),
      cmocka_unit_test(test_close_outstanding),
      cmocka_unit_test(test_close_immediately),
      cmocka_unit_test(test_bad_name_is_deferred),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_resolve_from_callback),
      cmocka_unit_test(test_server_list_parsing),
      cmocka_unit_test(test_new_with_server_lists),
      cmocka_unit_test(test_server_port_closed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
