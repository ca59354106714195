/* test_ratelimit.c - token bucket and retry schedule on a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue/ratelimit.h"

static void bucket_paces_to_rate(void **state) {
  (void)state;
  mxs_bucket_t b;
  mxs_bucket_init(&b, 10.0, 5.0, 1000); /* 10/s, burst 5 */
  int got = 0;
  for (int i = 0; i < 100; i++) got += mxs_bucket_take(&b, 1000);
  assert_int_equal(got, 5); /* the burst, and no more, at one instant */
  assert_int_equal(mxs_bucket_wait_ms(&b, 1000), 101);
  assert_false(mxs_bucket_take(&b, 1050));
  assert_true(mxs_bucket_take(&b, 1101));
  /* over 10 simulated seconds of polling every ms: ~100 tokens */
  got = 0;
  for (uint64_t t = 1102; t < 11102; t++) got += mxs_bucket_take(&b, t);
  assert_in_range(got, 99, 101);
}

static void bucket_unlimited_and_rate_change(void **state) {
  (void)state;
  mxs_bucket_t b;
  mxs_bucket_init(&b, 0, 1, 0);
  for (int i = 0; i < 1000; i++) assert_true(mxs_bucket_take(&b, 0));
  assert_int_equal(mxs_bucket_wait_ms(&b, 0), 0);
  mxs_bucket_init(&b, 100, 1, 0);
  assert_true(mxs_bucket_take(&b, 0));
  mxs_bucket_set_rate(&b, 1, 0); /* a provider said 421: slow down */
  assert_int_equal(mxs_bucket_wait_ms(&b, 0), 1001);
  assert_false(mxs_bucket_take(&b, 500));
  assert_true(mxs_bucket_take(&b, 1001));
}

static void backoff_grows_and_is_capped(void **state) {
  (void)state;
  uint64_t seed = 42;
  for (int round = 0; round < 200; round++) {
    uint64_t d1 = mxs_backoff_ms(1, 1000, 60000, &seed);
    uint64_t d2 = mxs_backoff_ms(2, 1000, 60000, &seed);
    uint64_t d3 = mxs_backoff_ms(3, 1000, 60000, &seed);
    uint64_t d9 = mxs_backoff_ms(9, 1000, 60000, &seed);
    assert_in_range(d1, 500, 1499);
    assert_in_range(d2, 1000, 2999);
    assert_in_range(d3, 2000, 5999);
    assert_in_range(d9, 30000, 89999); /* capped at 60 s before jitter */
  }
  /* jitter actually varies */
  uint64_t a = mxs_backoff_ms(1, 1000, 60000, &seed), b = mxs_backoff_ms(1, 1000, 60000, &seed);
  assert_true(a != b);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(bucket_paces_to_rate),
                                     cmocka_unit_test(bucket_unlimited_and_rate_change),
                                     cmocka_unit_test(backoff_grows_and_is_capped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
