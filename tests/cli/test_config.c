/* test_config.c - option values as operators write them: durations with
 * units, rates per second, minute or hour, TLS versions, cipher strings
 * and sender profiles, and clear errors otherwise. */
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
#include "results/delivery.h"

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

/* --fail-on takes classes and the word `deferred`; a later value replaces
 * both; --sender-level takes the levels mxscan computes, nothing else. */
static void fail_on_deferred_and_levels(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_equal(c.sender_level, MXS_LEVEL_MAY);
  assert_int_equal(set(&c, "fail-on", "tls-died, deferred", why, sizeof why), 0);
  assert_true(c.fail_on == MXS_CLASS_BIT(MXS_CLASS_TLS_DIED));
  assert_true(c.fail_on_deferred);
  assert_int_equal(set(&c, "fail-on", "deferred", why, sizeof why), 0);
  assert_true(c.fail_on == 0 && c.fail_on_deferred);
  assert_int_equal(set(&c, "fail-on", "cert-expired", why, sizeof why), 0);
  assert_false(c.fail_on_deferred);
  assert_int_not_equal(set(&c, "fail-on", "deferred,bounced", why, sizeof why), 0);
  assert_non_null(strstr(why, "'bounced' is not a class"));
  assert_int_equal(set(&c, "sender-level", "verify", why, sizeof why), 0);
  assert_int_equal(c.sender_level, MXS_LEVEL_VERIFY);
  assert_int_equal(set(&c, "sender-level", "mta-sts", why, sizeof why), 0);
  assert_int_equal(c.sender_level, MXS_LEVEL_MTA_STS);
  assert_int_equal(set(&c, "sender-level", "dane", why, sizeof why), 0);
  assert_int_equal(c.sender_level, MXS_LEVEL_DANE);
  assert_int_not_equal(set(&c, "sender-level", "Encrypt", why, sizeof why), 0);
  assert_non_null(strstr(why, "'Encrypt' is not a level: may, encrypt, verify, secure, dane, mta-sts"));
  assert_int_equal(c.sender_level, MXS_LEVEL_DANE); /* an error changes nothing */
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

/* The TLS options: versions as operators write them, strings OpenSSL must
 * accept, profile names, all checked while the options are read. */
static void tls_options(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_equal(c.tls.seclevel, -1); /* not given: the profile's */
  assert_int_equal(set(&c, "tls-min-version", "TLSv1.1", why, sizeof why), 0);
  assert_int_equal(c.tls.min_version, MXS_TLS_V1_1);
  assert_int_equal(set(&c, "tls-max-version", "none", why, sizeof why), 0);
  assert_int_equal(c.tls.max_version, MXS_TLS_VERSION_NONE);
  assert_int_not_equal(set(&c, "tls-max-version", "1.4", why, sizeof why), 0);
  assert_non_null(strstr(why, "--tls-max-version: '1.4' is not a TLS version"));
  assert_int_equal(set(&c, "seclevel", "0", why, sizeof why), 0);
  assert_int_equal(c.tls.seclevel, 0);
  assert_int_not_equal(set(&c, "seclevel", "6", why, sizeof why), 0);
  assert_int_equal(set(&c, "ciphers", "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA", why, sizeof why), 0);
  assert_string_equal(c.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA");
  static const struct {
    const char *opt, *value;
  } bad[] = {{"ciphers", "NOSUCHCIPHER"},       {"ciphersuites", "TLS_NOPE"}, {"groups", "X25519:nosuchgroup"},
             {"sigalgs", "NOPE+SHA0"},          {"sender-profile", "exim"},   {"diag-profiles", "legacy,exim"},
             {"diag-profiles", "legacy,legacy"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (set(&c, bad[i].opt, bad[i].value, why, sizeof why) == 0) fail_msg("--%s %s accepted", bad[i].opt, bad[i].value);
    char want[128];
    snprintf(want, sizeof want, "--%s: '", bad[i].opt);
    if (!strstr(why, want)) fail_msg("--%s %s: error '%s'", bad[i].opt, bad[i].value, why);
  }
  assert_string_equal(c.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA"); /* a refused value changes nothing */
  assert_null(c.tls.groups);
  assert_int_equal(set(&c, "groups", "X25519:prime256v1", why, sizeof why), 0);
  assert_int_equal(set(&c, "sender-profile", "postfix-debian12", why, sizeof why), 0);
  assert_int_equal(set(&c, "diag-profiles", "legacy, tls12-only", why, sizeof why), 0);
  /* merged: the profile with the knobs on top */
  const mxs_profile_t *p;
  mxs_tls_settings_t out;
  assert_int_equal(mxs_config_tls_settings(&c, &p, &out), 1);
  assert_string_equal(p->name, "postfix-debian12");
  assert_int_equal(out.min_version, MXS_TLS_V1_1);
  assert_int_equal(out.max_version, 0);
  assert_int_equal(out.seclevel, 0);
  assert_string_equal(out.groups, "X25519:prime256v1");
  mxs_config_free(&c);
  mxs_config_defaults(&c);
  assert_int_equal(mxs_config_tls_settings(&c, &p, &out), 0);
  assert_string_equal(p->name, "modern");
  mxs_config_free(&c);
}

/* What only the options together say: versions the wrong way round, a key
 * without a certificate, a certificate that does not load. */
static void tls_options_together(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_equal(set(&c, "sender-profile", "strict-tls13", why, sizeof why), 0);
  FILE *err = tmpfile();
  assert_int_equal(mxs_config_check_tls(&c, err), 0);
  assert_int_equal(set(&c, "tls-max-version", "1.2", why, sizeof why), 0);
  assert_int_equal(mxs_config_check_tls(&c, err), -1);
  assert_int_equal(set(&c, "tls-min-version", "1.2", why, sizeof why), 0);
  assert_int_equal(mxs_config_check_tls(&c, err), 0);
  assert_int_equal(set(&c, "client-key", "/nonexistent.key", why, sizeof why), 0);
  assert_int_equal(mxs_config_check_tls(&c, err), -1);
  assert_int_equal(set(&c, "client-cert", "/nonexistent.pem", why, sizeof why), 0);
  assert_int_equal(mxs_config_check_tls(&c, err), -1);
  fflush(err);
  rewind(err);
  size_t n = fread(why, 1, sizeof why - 1, err);
  why[n] = '\0';
  if (!strstr(why, "--tls-min-version TLSv1.3 is above --tls-max-version TLSv1.2") ||
      !strstr(why, "--client-key /nonexistent.key: needs --client-cert") ||
      !strstr(why, "--client-cert /nonexistent.pem: No such file or directory"))
    fail_msg("errors: %s", why);
  fclose(err);
  mxs_config_free(&c);
}

/* The [tls] section of a config file holds the same keys. */
static void config_file_tls(void **state) {
  (void)state;
  char path[] = "/tmp/mxs_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  assert_non_null(fp);
  fputs(
      "[scan]\ndiag_profiles = postfix-debian12\n[tls]\nsender_profile = tls12-only\ntls_min_version = 1.0\n"
      "ciphersuites = TLS_AES_128_GCM_SHA256\nsigalgs = RSA-PSS+SHA256:ECDSA+SHA256\nseclevel = 1\n",
      fp);
  fclose(fp);
  mxs_config_t c;
  mxs_config_defaults(&c);
  FILE *err = tmpfile();
  assert_int_equal(mxs_config_load_file(&c, path, err), 0);
  assert_string_equal(c.diag_profiles, "postfix-debian12");
  assert_string_equal(c.sender_profile, "tls12-only");
  assert_int_equal(c.tls.min_version, MXS_TLS_V1_0);
  assert_string_equal(c.tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
  assert_string_equal(c.tls.sigalgs, "RSA-PSS+SHA256:ECDSA+SHA256");
  assert_int_equal(c.tls.seclevel, 1);
  mxs_config_free(&c);
  fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("[tls]\nseclevel = 2\nciphers = NOSUCHCIPHER\n", fp);
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
  if (!strstr(why, want) || !strstr(why, "'NOSUCHCIPHER' is refused by OpenSSL")) fail_msg("error: %s", why);
  fclose(err);
  mxs_config_free(&c);
  unlink(path);
}

/* Found by fuzz_config (tests/fuzz/corpus/config/crash-getopt-state): a
 * parse that stopped at a bad option inside a cluster ("-qZW") left
 * getopt pointing into that argv, and the next parse in the process read
 * it after it was freed.  Each parse starts getopt afresh. */
static void parse_after_a_failed_parse(void **state) {
  (void)state;
  char *bad[] = {strdup("scan"), strdup("-qZW"), NULL};
  mxs_config_t c;
  mxs_config_defaults(&c);
  FILE *err = tmpfile();
  assert_int_equal(mxs_config_parse(&c, 2, bad, err), -1);
  mxs_config_free(&c);
  /* The old argv is gone (here: overwritten, as memory reused after a
   * free would be); the next parse must not read it. */
  for (int i = 0; bad[i]; i++) memset(bad[i], 'W', strlen(bad[i]));
  char *good[] = {"scan", "--port", "2525", "domains.txt", NULL};
  mxs_config_defaults(&c);
  assert_int_equal(mxs_config_parse(&c, 4, good, err), 0);
  assert_int_equal(c.port, 2525);
  assert_string_equal(c.input, "domains.txt");
  assert_int_equal(c.quiet, 0);
  mxs_config_free(&c);
  for (int i = 0; bad[i]; i++) free(bad[i]);
  fclose(err);
}

/* --ehlo-name takes a domain or an address literal, from a flag or the
 * file; anything else is an error naming the option (or file and line)
 * and the value. */
static void ehlo_names(void **state) {
  (void)state;
  static const char *const ok[] = {"scanner.example.net", "[192.0.2.1]", "[IPv6:2001:db8::1]", "vm"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    mxs_config_t c;
    mxs_config_defaults(&c);
    char why[512];
    if (set(&c, "ehlo-name", ok[i], why, sizeof why) != 0) fail_msg("--ehlo-name %s: %s", ok[i], why);
    assert_string_equal(c.ehlo_name, ok[i]);
    mxs_config_free(&c);
  }
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_not_equal(set(&c, "ehlo-name", "bad name", why, sizeof why), 0);
  assert_non_null(strstr(why, "--ehlo-name: 'bad name' is not a domain name or an address literal"));
  assert_null(c.ehlo_name);
  mxs_config_free(&c);

  char path[] = "/tmp/mxs_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fputs("[scan]\nport = 25\nehlo_name = mail.example.com.\n", fp);
  fclose(fp);
  mxs_config_defaults(&c);
  FILE *err = tmpfile();
  assert_int_not_equal(mxs_config_load_file(&c, path, err), 0);
  rewind(err);
  size_t n = fread(why, 1, sizeof why - 1, err);
  why[n] = '\0';
  char want[128];
  snprintf(want, sizeof want, "%s:3: 'mail.example.com.' is not a domain name or an address literal: trailing dot",
           path);
  if (!strstr(why, want)) fail_msg("error: %s", why);
  fclose(err);
  mxs_config_free(&c);
  unlink(path);
}

/* A bad value or key is quoted without its control characters: a CR LF or
 * an escape sequence from a flag or a hostile config file must not forge
 * lines in the operator's log or drive the terminal. */
static void bad_values_quoted_printable(void **state) {
  (void)state;
  mxs_config_t c;
  mxs_config_defaults(&c);
  char why[512];
  assert_int_not_equal(set(&c, "port", "25\r\nmxscan: all is well", why, sizeof why), 0);
  assert_non_null(strstr(why, "'25??mxscan: all is well' is not a whole number"));
  mxs_config_free(&c);
  char path[] = "/tmp/mxs_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fputs("[scan]\n\x1b[31mport = 25\n", fp);
  fclose(fp);
  mxs_config_defaults(&c);
  FILE *err = tmpfile();
  assert_int_not_equal(mxs_config_load_file(&c, path, err), 0);
  rewind(err);
  size_t n = fread(why, 1, sizeof why - 1, err);
  why[n] = '\0';
  if (!strstr(why, "unknown key '?[31mport' in [scan]")) fail_msg("error: %s", why);
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
      cmocka_unit_test(tls_options),
      cmocka_unit_test(tls_options_together),
      cmocka_unit_test(config_file_tls),
      cmocka_unit_test(fail_on_deferred_and_levels),
      cmocka_unit_test(parse_after_a_failed_parse),
      cmocka_unit_test(ehlo_names),
      cmocka_unit_test(bad_values_quoted_printable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
