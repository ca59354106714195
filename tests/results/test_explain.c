/* test_explain.c - the explanation table has a full row for every class.
 *
 * explain.c already refuses to build when a class has no row or a row is
 * out of order; this checks the rows say something: every field non-empty,
 * written as sentences, and no two classes sharing a text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "results/explain.h"

static void check_sentence(const char *cls, const char *field, const char *text) {
  size_t n = text ? strlen(text) : 0;
  if (n < 20) fail_msg("%s: %s is missing or too short: '%s'", cls, field, text ? text : "(null)");
  if (text[0] < 'A' || text[0] > 'Z') fail_msg("%s: %s does not start with a capital: '%s'", cls, field, text);
  if (text[n - 1] != '.') fail_msg("%s: %s does not end with a full stop: '%s'", cls, field, text);
}

static void test_every_class_has_a_row(void **state) {
  (void)state;
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    const char *name = mxs_class_name((mxs_class_t)i);
    const mxs_explain_t *e = mxs_explain((mxs_class_t)i);
    assert_non_null(e);
    check_sentence(name, "what", e->what);
    check_sentence(name, "cause", e->cause);
    check_sentence(name, "fix", e->fix);
  }
}

static void test_rows_are_distinct(void **state) {
  (void)state;
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    for (int k = i + 1; k < MXS_CLASS_COUNT; k++) {
      const mxs_explain_t *a = mxs_explain((mxs_class_t)i), *b = mxs_explain((mxs_class_t)k);
      if (!strcmp(a->what, b->what) || !strcmp(a->fix, b->fix))
        fail_msg("%s and %s share a text", mxs_class_name((mxs_class_t)i), mxs_class_name((mxs_class_t)k));
    }
}

static void test_out_of_range(void **state) {
  (void)state;
  assert_null(mxs_explain(MXS_CLASS_COUNT));
  assert_null(mxs_explain((mxs_class_t)-1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_class_has_a_row),
      cmocka_unit_test(test_rows_are_distinct),
      cmocka_unit_test(test_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
