/* test_config.c - option values as operators write them: durations with
 * units, rates per second, minute or hour, and clear errors otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/options.h"

/* Sets --NAME VALUE on fresh defaults; returns the status and leaves the
 * error text (if any) in WHY. */
static int set(mxs_config_t *c, const char *name, const char *value, char *why, size_t whylen) {
  FILE *err = tmpfile();
  assert_non_null(err);
  int rc = mxs_config_set(c, name, value, err);
  rewind(err);
  size_t n = fread(why, 1, whylen - 1, err);
  why[n] = '\0';
  fclose(err);
  return rc;
}

static void durations(void **state) {
  (void)state;
  static const struct {
    const char *opt, *value;
    int ms;
  } ok[] = {
      {"max-runtime", "90", 90000},      {"max-runtime", "1.5", 1500},     {"max-runtime", "500ms", 500},
      {"max-runtime", "90s", 90000},     {"max-runtime", "90S", 90000},    {"max-runtime", "30m", 1800000},
      {"max-runtime", "30min", 1800000}, {"max-runtime", "8h", 28800000},  {"max-runtime", "1h30m", 5400000},
      {"max-runtime", "2d", 172800000},  {"max-runtime", "7d", 604800000}, {"connect-timeout", "2.5s", 2500},
      {"per-ip-interval", "0", 0},       {"retry-delay", "250ms", 250},    {"status-interval", "1m", 60000},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    mxs_config_t c;
    mxs_config_defaults(&c);
    char why[512];
    assert_int_equal(set(&c, ok[i].opt, ok[i].value, why, sizeof why), 0);
    int got = !strcmp(ok[i].opt, "max-runtime")       ? c.max_runtime_ms
              : !strcmp(ok[i].opt, "connect-timeout") ? c.connect_timeout_ms
              : !strcmp(ok[i].opt, "per-ip-interval") ? c.per_ip_interval_ms
              : !strcmp(ok[i].opt, "retry-delay")     ? c.retry_delay_ms
                                                      : c.status_interval_ms;
    if (got != ok[i].ms) fail_msg("--%s %s: %d ms, want %d", ok[i].opt, ok[i].value, got, ok[i].ms);
    mxs_config_free(&c);
  }
}

static void bad_durations(void **state) {
  (void)state;
  static const char *const bad[] = {"",   "h",   "8x", "1h30", "0h30", "-5", "+5",
                                    " 5", "5 s", "8d", "nan",  "inf",  "0",  "0ms"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mxs_config_t c;
    mxs_config_defaults(&c);
    char why[512];
    if (set(&c, "max-runtime", bad[i], why, sizeof why) == 0) fail_msg("--max-runtime '%s' accepted", bad[i]);
    char want[64];
    snprintf(want, sizeof want, "--max-runtime: '%s' is not a number of seconds above 0", bad[i]);
    if (!strstr(why, want)) fail_msg("--max-runtime '%s': error '%s'", bad[i], why);
    mxs_config_free(&c);
  }
}

static void rates(void **state) {
  (void)state;
  static const struct {
    const char *value;
    double per_sec;
  } ok[] = {{"200", 200}, {"200/s", 200}, {"200/sec", 200}, {"600/m", 10}, {"30/min", 0.5}, {"3600/h", 1}, {"0", 0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    mxs_config_t c;
    mxs_config_defaults(&c);
    char why[512];
    assert_int_equal(set(&c, "rate", ok[i].value, why, sizeof why), 0);
    assert_int_equal(set(&c, "provider-rate", ok[i].value, why, sizeof why), 0);
    if (c.rate != ok[i].per_sec || c.provider_rate != ok[i].per_sec)
      fail_msg("--rate %s: %g/%g per second, want %g", ok[i].value, c.rate, c.provider_rate, ok[i].per_sec);
    mxs_config_free(&c);
  }
  static const char *const bad[] = {"", "/s", "10/x", "10/", "-1", "ten", "10/s/s"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mxs_config_t c;
    mxs_config_defaults(&c);
    char why[512];
    if (set(&c, "rate", bad[i], why, sizeof why) == 0) fail_msg("--rate '%s' accepted", bad[i]);
    if (!strstr(why, "is not a rate per second")) fail_msg("--rate '%s': error '%s'", bad[i], why);
    mxs_config_free(&c);
  }
}

static void counts_take_no_units(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_equal(set(&c, "redis-maxlen", "1000000", why, sizeof why), 0);
  assert_true(c.redis_maxlen == 1000000);
  assert_int_not_equal(set(&c, "redis-maxlen", "1000/s", why, sizeof why), 0);
  assert_int_not_equal(set(&c, "redis-maxlen", "1.5", why, sizeof why), 0);
  assert_non_null(strstr(why, "is not a whole number"));
  mxs_config_free(&c);
}

/* --sni mx|none (and the sni key); the cap of name probes per address. */
static void sni_choices(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_equal(c.sni_none, 0); /* the MX name by default, as DANE and the large senders */
  assert_int_equal(set(&c, "sni", "none", why, sizeof why), 0);
  assert_int_equal(c.sni_none, 1);
  assert_int_equal(set(&c, "sni", "mx", why, sizeof why), 0);
  assert_int_equal(c.sni_none, 0);
  assert_int_not_equal(set(&c, "sni", "off", why, sizeof why), 0);
  assert_non_null(strstr(why, "'off' is not mx or none"));
  assert_int_equal(c.sni_probes_per_address, 0); /* no cap */
  assert_int_equal(set(&c, "sni-probes-per-address", "3", why, sizeof why), 0);
  assert_int_equal(c.sni_probes_per_address, 3);
  assert_int_not_equal(set(&c, "sni-probes-per-address", "-1", why, sizeof why), 0);
  mxs_config_free(&c);
}

/* The config file goes through the same parser: units work there too, and
 * a bad value names the file and line. */
static void config_file_units(void **state) {
  (void)state;
  char path[] = "/tmp/mxs_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  assert_non_null(fp);
  fputs("[scan]\nmax_runtime = 6h\n\n[limits]\nrate = 1200/m\nper_ip_interval = 250ms\n", fp);
  fclose(fp);
  mxs_config_t c;
  mxs_config_defaults(&c);
  FILE *err = tmpfile();
  assert_int_equal(mxs_config_load_file(&c, path, err), 0);
  assert_int_equal(c.max_runtime_ms, 6 * 3600 * 1000);
  assert_true(c.rate == 20);
  assert_int_equal(c.per_ip_interval_ms, 250);
  mxs_config_free(&c);

  fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("[scan]\nconcurrency = 10\nmax_runtime = 6 hours\n", fp);
  fclose(fp);
  mxs_config_defaults(&c);
  rewind(err);
  assert_int_not_equal(mxs_config_load_file(&c, path, err), 0);
  fflush(err);
  rewind(err);
  char why[512];
  size_t n = fread(why, 1, sizeof why - 1, err);
  why[n] = '\0';
  char want[128];
  snprintf(want, sizeof want, "%s:3:", path);
  if (!strstr(why, want) || !strstr(why, "'6 hours' is not a number of seconds")) fail_msg("error: %s", why);
  fclose(err);
  mxs_config_free(&c);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(durations),
      cmocka_unit_test(bad_durations),
      cmocka_unit_test(rates),
      cmocka_unit_test(counts_take_no_units),
      cmocka_unit_test(config_file_units),
      cmocka_unit_test(sni_choices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
