/* test_egress.c - the blocked-port watch's thresholds: during the run (50
 * failed connects over 10 providers), at the end (20 over 5), and never
 * once a single connection got through, however many failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scanner/egress.h"

static void fail_n(mxs_egress_t *e, int n, int providers) {
  char p[32];
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "p%d.example", i % providers);
    mxs_egress_note(e, p, 0);
  }
}

static void thresholds(void **state) {
  (void)state;
  mxs_egress_t e = {0};
  fail_n(&e, 49, 10);
  assert_false(mxs_egress_blocked(&e, 0)); /* one short during the run */
  assert_true(mxs_egress_blocked(&e, 1));  /* enough at the end */
  fail_n(&e, 1, 10);
  assert_true(mxs_egress_blocked(&e, 0));
  char msg[512];
  mxs_egress_message(&e, 25, msg, sizeof msg);
  assert_non_null(strstr(msg, "not one of 50 connection(s) to port 25 reached a server, at least 10 different"));
  /* many failures at few providers: one provider's outage, not this machine */
  mxs_egress_t one = {0};
  fail_n(&one, 500, 4);
  assert_false(mxs_egress_blocked(&one, 0));
  assert_false(mxs_egress_blocked(&one, 1));
  mxs_egress_message(&one, 2525, msg, sizeof msg);
  assert_non_null(strstr(msg, "at 4 different providers: outbound port 2525"));
  /* a small run: 19 failures are too few to say anything */
  mxs_egress_t small = {0};
  fail_n(&small, 19, 19);
  assert_false(mxs_egress_blocked(&small, 1));
}

static void one_connection_clears_it(void **state) {
  (void)state;
  mxs_egress_t e = {0};
  fail_n(&e, 30, 10);
  mxs_egress_note(&e, "live.example", 1);
  fail_n(&e, 1000, 10);
  assert_false(mxs_egress_blocked(&e, 0));
  assert_false(mxs_egress_blocked(&e, 1));
  assert_int_equal(e.connected, 1);
  assert_int_equal(e.failed, 1030);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(thresholds), cmocka_unit_test(one_connection_clears_it)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
