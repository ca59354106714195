/* test_table.c - the string hash table, including deletion inside clusters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "queue/table.h"

static void put_get_del(void **state) {
  (void)state;
  mxs_table_t t;
  mxs_table_init(&t);
  assert_null(mxs_table_get(&t, "a"));
  assert_null(mxs_table_del(&t, "a"));
  char key[32];
  for (intptr_t i = 1; i <= 5000; i++) {
    snprintf(key, sizeof key, "10.0.%ld.%ld", (long)(i / 256), (long)(i % 256));
    assert_int_equal(mxs_table_put(&t, key, (void *)i), 0);
  }
  assert_int_equal(t.len, 5000);
  /* delete every other key, then every survivor must still be found */
  for (intptr_t i = 1; i <= 5000; i += 2) {
    snprintf(key, sizeof key, "10.0.%ld.%ld", (long)(i / 256), (long)(i % 256));
    assert_int_equal((intptr_t)mxs_table_del(&t, key), i);
  }
  for (intptr_t i = 1; i <= 5000; i++) {
    snprintf(key, sizeof key, "10.0.%ld.%ld", (long)(i / 256), (long)(i % 256));
    assert_int_equal((intptr_t)mxs_table_get(&t, key), i % 2 ? 0 : i);
  }
  assert_int_equal(t.len, 2500);
  assert_int_equal(mxs_table_put(&t, "10.0.0.2", (void *)7), 0); /* replace */
  assert_int_equal((intptr_t)mxs_table_get(&t, "10.0.0.2"), 7);
  assert_int_equal(t.len, 2500);
  mxs_table_free(&t);
}

static void count(void *arg, const char *key, void *val) {
  (void)key;
  (void)val;
  (*(int *)arg)++;
}

static void each_visits_all(void **state) {
  (void)state;
  mxs_table_t t;
  mxs_table_init(&t);
  mxs_table_put(&t, "x", (void *)1);
  mxs_table_put(&t, "y", (void *)2);
  int n = 0;
  mxs_table_each(&t, count, &n);
  assert_int_equal(n, 2);
  mxs_table_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(put_get_del), cmocka_unit_test(each_visits_all)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
