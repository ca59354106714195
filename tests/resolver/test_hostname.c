/* test_hostname.c - which MX targets are host names (resolver/hostname.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/hostname.h"

static void expect_ok(const char *name) {
  char why[64] = "";
  if (mxs_resolver_hostname_check(name, why, sizeof why) != 0) fail_msg("%s rejected: %s", name, why);
}

static void expect_bad(const char *name, const char *want) {
  char why[64] = "";
  assert_int_equal(mxs_resolver_hostname_check(name, why, sizeof why), -1);
  assert_string_equal(why, want);
}

static void test_host_names(void **state) {
  (void)state;
  expect_ok("mx.example.com");
  expect_ok("MX1.Example.COM");
  expect_ok("mx_1.example.com"); /* tolerated, as Postfix does */
  expect_ok("127.0.0.9");        /* a name like any other */
  expect_ok("xn--bcher-kva.example");
  char label63[80];
  memset(label63, 'a', 63);
  strcpy(label63 + 63, ".test");
  expect_ok(label63);
}

static void test_not_host_names(void **state) {
  (void)state;
  char name[400];
  memset(name, 'a', 64);
  strcpy(name + 64, ".test");
  expect_bad(name, "a label of 64 characters (at most 63)");
  /* 312 characters in labels of 59 */
  name[0] = '\0';
  for (int i = 0; i < 5; i++) strcat(name, "l0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
  strcat(name, "hostile.test");
  expect_bad(name, "312 characters (at most 253)");
  expect_bad("", "an empty name");
  expect_bad("a..b", "an empty label");
  expect_bad("*.example.com", "the character '*'");
  expect_bad("a/b.example.com", "the character '/'");
  expect_bad("a\x01.example.com", "the byte 0x01");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_host_names), cmocka_unit_test(test_not_host_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
