/* test_ehlo_name.c - the EHLO argument: RFC 5321's Domain or an address
 * literal, nothing else, and which of them count as fully qualified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probe/smtp.h"

static void good_names(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int fqdn;
  } ok[] = {
      {"mail.example.com", 1},
      {"Scanner-1.Example.NET", 1},
      {"a.b", 1},
      {"xn--bcher-kva.example", 1},
      {"1.2.3.example", 1},
      {"123.456", 1}, /* digits are letters here: RFC 5321's Let-dig */
      {"vm", 0},      /* a Domain, not fully qualified: allowed, warned about */
      {"localhost", 0},
      {"[192.0.2.1]", 1},
      {"[IPv6:2001:db8::1]", 1},
      {"[ipv6:::1]", 1},
      {"[IPv6:::ffff:192.0.2.1]", 1},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    const char *why = NULL;
    if (mxs_ehlo_name_check(ok[i].name, &why) != 0) fail_msg("'%s' refused: %s", ok[i].name, why);
    if (mxs_ehlo_name_is_fqdn(ok[i].name) != ok[i].fqdn) fail_msg("'%s': fqdn %d", ok[i].name, !ok[i].fqdn);
  }
  char label63[64], long_name[254];
  memset(label63, 'a', 63);
  label63[63] = '\0';
  assert_int_equal(mxs_ehlo_name_check(label63, &(const char *){NULL}), 0);
  /* 253 bytes: four labels of 63 and one dot each, minus one */
  snprintf(long_name, sizeof long_name, "%s.%s.%s.%.61s", label63, label63, label63, label63);
  assert_int_equal(strlen(long_name), 253);
  assert_int_equal(mxs_ehlo_name_check(long_name, &(const char *){NULL}), 0);
}

static void bad_names(void **state) {
  (void)state;
  static const struct {
    const char *name, *why;
  } bad[] = {
      {"", "empty"},
      {"bad name", "invalid character"},
      {"mail.example.com ", "invalid character"},
      {"mail\r\nRCPT TO:<x>", "invalid character"}, /* no command injection */
      {"my_host.example", "'_' is not allowed"},
      {"mail.example.com.", "trailing dot"},
      {".example.com", "leading dot"},
      {"mail..example", "empty label"},
      {"-mail.example", "starts or ends with '-'"},
      {"mail-.example", "starts or ends with '-'"},
      {"bücher.example", "invalid character"},
      {"192.0.2.1]", "invalid character"},
      {"[192.0.2.1", "an address literal is"},
      {"[]", "an address literal is"},
      {"[192.0.2.256]", "not an IPv4 address"},
      {"[2001:db8::1]", "written [IPv6:"},
      {"[IPv6:192.0.2.1]", "not an IPv6 address"},
      {"[IPv6:2001:db8::1", "an address literal is"},
      {"[example.com]", "not an IPv4 address"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *why = NULL;
    if (mxs_ehlo_name_check(bad[i].name, &why) == 0) fail_msg("'%s' accepted", bad[i].name);
    if (!why || !strstr(why, bad[i].why)) fail_msg("'%s': why '%s', want '%s'", bad[i].name, why, bad[i].why);
  }
  char label64[65];
  memset(label64, 'a', 64);
  label64[64] = '\0';
  const char *why = NULL;
  assert_int_equal(mxs_ehlo_name_check(label64, &why), -1);
  assert_non_null(strstr(why, "longer than 63"));
  char long_name[300];
  memset(long_name, 'a', sizeof long_name);
  for (size_t i = 50; i < sizeof long_name; i += 51) long_name[i] = '.';
  long_name[254] = '\0';
  assert_int_equal(mxs_ehlo_name_check(long_name, &why), -1);
  assert_non_null(strstr(why, "longer than 253"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(good_names), cmocka_unit_test(bad_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
