/* test_redis_conf.c - the Redis URL, its options, the environment, and that
 * no message ever shows the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "redis/redis_conf.h"

static void clear_env(void) {
  const char *vars[] = {"MXSCAN_REDIS_PASSWORD", "REDISCLI_AUTH",           "MXSCAN_REDIS_PREFIX",
                        "MXSCAN_REDIS_MAXLEN",   "MXSCAN_REDIS_DOWN_LIMIT", "MXSCAN_REDIS_SPILL_DIR"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static int setup(void **state) {
  (void)state;
  clear_env();
  return 0;
}

static void tcp_defaults(void **state) {
  (void)state;
  mxs_redis_conf_t c;
  char err[256] = "";
  assert_int_equal(mxs_redis_conf_parse("redis://127.0.0.1", &c, err, sizeof err), 0);
  assert_string_equal(c.host, "127.0.0.1");
  assert_int_equal(c.port, 6379);
  assert_int_equal(c.db, 0);
  assert_string_equal(c.path, "");
  assert_string_equal(c.password, "");
  assert_string_equal(c.prefix, "mxscan");
  assert_int_equal(c.maxlen, 10000000);
  assert_int_equal(c.down_limit_ms, 30000);
  assert_string_equal(c.spill_dir, ".");
}

static void tcp_full(void **state) {
  (void)state;
  mxs_redis_conf_t c;
  char err[256] = "";
  assert_int_equal(mxs_redis_conf_parse("redis://alice:p%40ss%2Fw@[::1]:7000/3?prefix=eu:scan&maxlen=500"
                                        "&down_limit=2.5&spill_dir=%2Ftmp&batch=8&window=100",
                                        &c, err, sizeof err),
                   0);
  assert_string_equal(c.host, "::1");
  assert_int_equal(c.port, 7000);
  assert_int_equal(c.db, 3);
  assert_string_equal(c.user, "alice");
  assert_string_equal(c.password, "p@ss/w");
  assert_string_equal(c.prefix, "eu:scan");
  assert_int_equal(c.maxlen, 500);
  assert_int_equal(c.down_limit_ms, 2500);
  assert_string_equal(c.spill_dir, "/tmp");
  assert_int_equal(c.batch, 8);
  assert_int_equal(c.window, 100);
  assert_null(strstr(c.display, "p%40ss"));
  assert_string_equal(c.display,
                      "redis://alice:***@[::1]:7000/3?prefix=eu:scan&maxlen=500&down_limit=2.5"
                      "&spill_dir=%2Ftmp&batch=8&window=100");
}

static void unix_socket(void **state) {
  (void)state;
  mxs_redis_conf_t c;
  char err[256] = "";
  assert_int_equal(mxs_redis_conf_parse("unix:///run/redis/redis.sock?db=2", &c, err, sizeof err), 0);
  assert_string_equal(c.path, "/run/redis/redis.sock");
  assert_int_equal(c.db, 2);
  assert_int_equal(mxs_redis_conf_parse("unix://:pw@/tmp/r.sock", &c, err, sizeof err), 0);
  assert_string_equal(c.path, "/tmp/r.sock");
  assert_string_equal(c.password, "pw");
  assert_string_equal(c.display, "unix://:***@/tmp/r.sock");
}

static void environment(void **state) {
  (void)state;
  mxs_redis_conf_t c;
  char err[256] = "";
  setenv("REDISCLI_AUTH", "fromcli", 1);
  assert_int_equal(mxs_redis_conf_parse("redis://h", &c, err, sizeof err), 0);
  assert_string_equal(c.password, "fromcli");
  setenv("MXSCAN_REDIS_PASSWORD", "fromenv", 1);
  setenv("MXSCAN_REDIS_PREFIX", "envp", 1);
  assert_int_equal(mxs_redis_conf_parse("redis://h", &c, err, sizeof err), 0);
  assert_string_equal(c.password, "fromenv");
  assert_string_equal(c.prefix, "envp");
  /* the URL wins over the environment */
  assert_int_equal(mxs_redis_conf_parse("redis://:url@h?prefix=q", &c, err, sizeof err), 0);
  assert_string_equal(c.password, "url");
  assert_string_equal(c.prefix, "q");
  /* a user without a password keeps the environment's password */
  assert_int_equal(mxs_redis_conf_parse("redis://bob:@h", &c, err, sizeof err), 0);
  assert_string_equal(c.user, "bob");
  assert_string_equal(c.password, "fromenv");
  clear_env();
}

static void errors_never_show_the_password(void **state) {
  (void)state;
  const char *bad[] = {
      "http://:sekret@h",
      "redis://:sekret@h:99999",
      "redis://:sekret@h:6379/x",
      "redis://:sekret@:6379",
      "redis://:sekret@h?nope=1",
      "redis://:sekret@h?maxlen=-1",
      "rediss://:sekret@h",
      "unix://:sekret@relative.sock",
      "redis://:sek/ret@h:1",
      "redis://sekret@h?prefix=a b",
      "redis://:sekret@h?down_limit=0",
      "redis://:se%zzret@h",
      /* not URLs we read, or a secret where no option is: masked all the same */
      "redis:/:sekret@h",
      "redis//:sekret@h",
      "sekret@h:6379",
      "redis://h?password=sekret",
      "redis://:sekret@h?prefix=p&requirePass=sekret&maxlen=5",
      "unix:///tmp/r.sock?auth=sekret",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mxs_redis_conf_t c;
    char err[256] = "";
    assert_int_equal(mxs_redis_conf_parse(bad[i], &c, err, sizeof err), -22);
    assert_true(err[0] != '\0');
    if (strstr(err, "sek") || strstr(err, "ret@")) fail_msg("password in message for %s: %s", bad[i], err);
  }
}

static void mask(void **state) {
  (void)state;
  char out[128];
  mxs_redis_mask("redis://:pw@h:1/0", out, sizeof out);
  assert_string_equal(out, "redis://:***@h:1/0");
  mxs_redis_mask("redis://user:pw@h", out, sizeof out);
  assert_string_equal(out, "redis://user:***@h");
  mxs_redis_mask("redis://pwonly@h", out, sizeof out);
  assert_string_equal(out, "redis://***@h");
  mxs_redis_mask("redis://h:1", out, sizeof out);
  assert_string_equal(out, "redis://h:1");
  mxs_redis_mask("--redis", out, sizeof out);
  assert_string_equal(out, "--redis");
  /* what is no URL of ours: all before the '@' may be a password */
  mxs_redis_mask("redis:/:pw@h:1", out, sizeof out);
  assert_string_equal(out, "***@h:1");
  mxs_redis_mask("pw@h", out, sizeof out);
  assert_string_equal(out, "***@h");
  /* query keys that name a secret lose their value, the others keep theirs */
  mxs_redis_mask("redis://h:1/0?prefix=eu&password=pw&maxlen=5", out, sizeof out);
  assert_string_equal(out, "redis://h:1/0?prefix=eu&password=***&maxlen=5");
  mxs_redis_mask("redis://:pw@h?Auth=pw&token=pw&db=1&", out, sizeof out);
  assert_string_equal(out, "redis://:***@h?Auth=***&token=***&db=1&");
  mxs_redis_mask("unix:///r.sock?db=2", out, sizeof out);
  assert_string_equal(out, "unix:///r.sock?db=2");
  char small[12];
  mxs_redis_mask("redis://h?password=pw", small, sizeof small);
  assert_null(strstr(small, "pw"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(tcp_defaults, setup),
      cmocka_unit_test_setup(tcp_full, setup),
      cmocka_unit_test_setup(unix_socket, setup),
      cmocka_unit_test_setup(environment, setup),
      cmocka_unit_test_setup(errors_never_show_the_password, setup),
      cmocka_unit_test(mask),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
