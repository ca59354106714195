/* test_health.c - the rules of resolver/health.h with a fake resolver: which
 * unanswered queries are held, when the server is checked, what happens to
 * the held ones when it answers.  No DNS: the ops record what they are told. */
#include <ares.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "resolver/health.h"

typedef struct {
  int checks_sent, changed, checked_status;
  void *requeued[8];
  int requeued_reasked[8], nrequeued;
  void *delivered[8];
  int delivered_status[8], ndelivered;
  int fail_send;
} fake_t;

static int f_send(void *arg) {
  fake_t *f = arg;
  f->checks_sent++;
  return f->fail_send ? -1 : 0;
}
static void f_requeue(void *arg, void *q, int reasked) {
  fake_t *f = arg;
  f->requeued_reasked[f->nrequeued] = reasked;
  f->requeued[f->nrequeued++] = q;
}
static void f_deliver(void *arg, void *q, int status) {
  fake_t *f = arg;
  f->delivered_status[f->ndelivered] = status;
  f->delivered[f->ndelivered++] = q;
}
static void f_changed(void *arg) { ((fake_t *)arg)->changed++; }
static void f_checked(void *arg, int status) { ((fake_t *)arg)->checked_status = status; }

typedef struct {
  uv_loop_t loop;
  fake_t f;
  mxs_resolver_health_t h;
} env_t;

static int setup(void **state) {
  env_t *e = test_calloc(1, sizeof *e);
  uv_loop_init(&e->loop);
  mxs_resolver_health_ops_t ops = {f_send, f_requeue, f_deliver, f_changed, f_checked, &e->f};
  mxs_resolver_health_init(&e->h, &e->loop, &ops);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env_t *e = *state;
  mxs_resolver_health_close(&e->h, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  test_free(e);
  return 0;
}

/* Runs the loop until the check timer has fired (a check is sent). */
static void run_until_check(env_t *e, int sent) {
  while (e->f.checks_sent < sent) uv_run(&e->loop, UV_RUN_ONCE);
}

static int q1, q2, q3; /* stand-ins for queries */

static void test_answers_pass(void **state) {
  env_t *e = *state;
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_SUCCESS, 10, 0, 20), 0);
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ENOTFOUND, 10, 0, 20), 0);
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ESERVFAIL, 10, 0, 20), 0);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 0);
}

static void test_timeout_with_answers_meanwhile_is_the_names(void **state) {
  env_t *e = *state;
  mxs_resolver_health_result(&e->h, &q2, ARES_SUCCESS, 100, 0, 150); /* answered at 150 */
  /* q1 sent at 120 timed out at 300: the server answered meanwhile.  The
   * first time it is asked again at once (a dropped burst), not checked */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ETIMEOUT, 120, 0, 300), 1);
  assert_int_equal(e->f.nrequeued, 1);
  assert_ptr_equal(e->f.requeued[0], &q1);
  assert_int_equal(e->f.requeued_reasked[0], 1);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 0);
  /* the second time it is the name's own: delivered */
  mxs_resolver_health_result(&e->h, &q2, ARES_SUCCESS, 310, 0, 320);
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ETIMEOUT, 315, 1, 500), 0);
  assert_int_equal(e->f.changed, 0);
  mxs_resolver_health_info_t hi;
  mxs_resolver_health_info(&e->h, 500, &hi);
  assert_int_equal(hi.reasked, 1);
  /* sent after the last answer: held, and the server is checked */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q3, ARES_ETIMEOUT, 400, 0, 600), 1);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 1);
}

static void test_refused_held_then_asked_once_more(void **state) {
  env_t *e = *state;
  mxs_resolver_health_result(&e->h, &q2, ARES_SUCCESS, 100, 0, 150);
  /* refused is never the name's, answers meanwhile or not */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ECONNREFUSED, 120, 0, 300), 1);
  mxs_resolver_health_info_t hi;
  mxs_resolver_health_info(&e->h, 300, &hi);
  assert_int_equal(hi.state, MXS_RESOLVER_CHECKING);
  assert_int_equal(hi.held, 1);
  assert_string_equal(hi.why, "connection refused");
  run_until_check(e, 1);
  /* the server answers the check: asked again, marked as such */
  mxs_resolver_health_check_result(&e->h, ARES_ENOTFOUND, 400);
  assert_int_equal(e->f.checked_status, ARES_ENOTFOUND);
  assert_int_equal(e->f.nrequeued, 1);
  assert_ptr_equal(e->f.requeued[0], &q1);
  assert_int_equal(e->f.requeued_reasked[0], 1);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 0);
  /* unanswered again, and the server answers the check again: the name's */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ETIMEOUT, 500, 1, 900), 1);
  run_until_check(e, 2);
  mxs_resolver_health_check_result(&e->h, ARES_SUCCESS, 950);
  assert_int_equal(e->f.ndelivered, 1);
  assert_ptr_equal(e->f.delivered[0], &q1);
  assert_int_equal(e->f.delivered_status[0], ARES_ETIMEOUT);
  mxs_resolver_health_info(&e->h, 950, &hi);
  assert_int_equal(hi.outages, 0); /* never down */
}

static void test_outage_holds_everything_then_asks_again(void **state) {
  env_t *e = *state;
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ECONNREFUSED, 0, 1, 100), 1);
  run_until_check(e, 1);
  mxs_resolver_health_check_result(&e->h, ARES_ECONNREFUSED, 200); /* down */
  mxs_resolver_health_info_t hi;
  mxs_resolver_health_info(&e->h, 200, &hi);
  assert_int_equal(hi.state, MXS_RESOLVER_DOWN);
  assert_int_equal(hi.outages, 1);
  /* in flight when it died: held too, even a query asked once already */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q2, ARES_ETIMEOUT, 150, 1, 300), 1);
  run_until_check(e, 2); /* the check repeats, after a backoff */
  mxs_resolver_health_check_result(&e->h, ARES_ETIMEOUT, 400);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 1);
  run_until_check(e, 3);
  mxs_resolver_health_check_result(&e->h, ARES_SUCCESS, 1000000500);
  /* back: every held query asked again, as new */
  assert_int_equal(e->f.nrequeued, 2);
  assert_int_equal(e->f.requeued_reasked[0], 0);
  assert_int_equal(e->f.requeued_reasked[1], 0);
  assert_int_equal(e->f.ndelivered, 0);
  mxs_resolver_health_info(&e->h, 1000000500, &hi);
  assert_int_equal(hi.state, MXS_RESOLVER_UP);
  assert_int_equal(hi.held, 0);
  assert_int_equal(hi.down_ms, 1000); /* from the first held failure at 100 ns... ~1 s */
}

static void test_any_answer_ends_a_check(void **state) {
  env_t *e = *state;
  assert_int_equal(mxs_resolver_health_result(&e->h, &q1, ARES_ETIMEOUT, 0, 0, 100), 1);
  /* a regular query that was in flight comes back answered */
  assert_int_equal(mxs_resolver_health_result(&e->h, &q2, ARES_SUCCESS, 50, 0, 150), 0);
  assert_int_equal(e->f.nrequeued, 1);
  assert_int_equal(mxs_resolver_health_blocked(&e->h), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_answers_pass, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_with_answers_meanwhile_is_the_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_held_then_asked_once_more, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outage_holds_everything_then_asks_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_any_answer_ends_a_check, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
