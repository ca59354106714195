/* test_policy_cache.c - --policy-cache's file (policy/cache.h): a policy
 * with every character we escape comes back byte for byte, entries past
 * their max_age are dropped, a line that does not read is skipped and
 * named, a file that is not a cache is refused, a missing one is empty,
 * and a save that cannot be written leaves the old file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/cache.h"

#define NOW 1764633600 /* 2025-12-02 */

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/mxs-pcache.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void round_trip(void **state) {
  (void)state;
  char path[128], err[256];
  path_of(path, sizeof path, "c");
  mxs_sts_cache_t *c;
  mxs_sts_cache_load_t info;
  /* no file yet: the first run */
  assert_int_equal(mxs_sts_cache_load(path, NOW, &c, &info, err, sizeof err), 0);
  assert_int_equal(mxs_sts_cache_len(c), 0);
  const char odd[] = "version: STSv1\r\nmode: enforce\r\nmx: a\\b\tc\nmax_age: 86400\n";
  assert_int_equal(mxs_sts_cache_put(c, "a.test", "id1", NOW - 10, 86400, odd, sizeof odd - 1), 0);
  assert_int_equal(mxs_sts_cache_put(c, "b.test", "id2", NOW - 10, 86400, "x", 1), 0);
  /* replaced, not added */
  assert_int_equal(mxs_sts_cache_put(c, "b.test", "id3", NOW - 5, 3600, "y", 1), 0);
  /* what RFC 8461 does not allow as an id or what is not a domain is refused */
  assert_int_equal(mxs_sts_cache_put(c, "c.test", "not-alnum", NOW, 60, "z", 1), -1);
  assert_int_equal(mxs_sts_cache_put(c, "bad domain", "id", NOW, 60, "z", 1), -1);
  /* a policy longer than we keep is fetched every run instead */
  static char big[MXS_STS_CACHE_MAX_TEXT + 1];
  memset(big, 'a', sizeof big);
  assert_int_equal(mxs_sts_cache_put(c, "big.test", "id", NOW, 60, big, sizeof big), -1);
  assert_int_equal(mxs_sts_cache_put(c, "big.test", "id", NOW, 60, big, sizeof big - 1), 0);
  assert_non_null(mxs_sts_cache_get(c, "big.test"));
  assert_int_equal(mxs_sts_cache_put(c, "big.test", "id", NOW, 60, "small", 5), 0);
  assert_int_equal(mxs_sts_cache_len(c), 3);
  assert_int_equal(mxs_sts_cache_save(c, path, err, sizeof err), 0);
  mxs_sts_cache_free(c);

  assert_int_equal(mxs_sts_cache_load(path, NOW, &c, &info, err, sizeof err), 0);
  assert_int_equal(info.loaded, 3);
  assert_int_equal(info.skipped, 0);
  const mxs_sts_cache_entry_t *e = mxs_sts_cache_get(c, "a.test");
  assert_non_null(e);
  assert_string_equal(e->id, "id1");
  assert_int_equal(e->fetched_at, NOW - 10);
  assert_int_equal(e->max_age, 86400);
  assert_int_equal(e->len, sizeof odd - 1);
  assert_memory_equal(e->text, odd, sizeof odd - 1);
  e = mxs_sts_cache_get(c, "b.test");
  assert_non_null(e);
  assert_string_equal(e->id, "id3");
  assert_string_equal(e->text, "y");
  assert_null(mxs_sts_cache_get(c, "c.test"));
  mxs_sts_cache_free(c);

  /* an hour later b.test's max_age (3600) has run out: dropped on reading */
  assert_int_equal(mxs_sts_cache_load(path, NOW + 3600, &c, &info, err, sizeof err), 0);
  assert_int_equal(info.loaded, 1);
  assert_int_equal(info.skipped, 2);  /* b.test and big.test (max_age 60) */
  assert_int_equal(info.bad_line, 0); /* expired is not malformed */
  assert_null(mxs_sts_cache_get(c, "b.test"));
  mxs_sts_cache_free(c);
}

static void bad_lines(void **state) {
  (void)state;
  char path[128], err[256];
  path_of(path, sizeof path, "bad");
  write_file(path,
             "# mxscan policy cache 1\n"
             "ok.test\tid\t1764633000\t86400\tversion: STSv1\\nmode: none\\nmax_age: 86400\\n\n"
             "short.test\tid\t1764633000\n"
             "esc.test\tid\t1764633000\t86400\tbad \\x escape\n"
             "\n"
             "time.test\tid\tsoon\t86400\tx\n");
  mxs_sts_cache_t *c;
  mxs_sts_cache_load_t info;
  assert_int_equal(mxs_sts_cache_load(path, NOW, &c, &info, err, sizeof err), 0);
  assert_int_equal(info.loaded, 1);
  assert_int_equal(info.skipped, 3);
  assert_int_equal(info.bad_line, 3);
  assert_string_equal(info.bad_why, "not five tab-separated fields");
  assert_non_null(mxs_sts_cache_get(c, "ok.test"));
  assert_null(mxs_sts_cache_get(c, "esc.test"));
  mxs_sts_cache_free(c);
}

static void not_a_cache(void **state) {
  (void)state;
  char path[128], err[256];
  path_of(path, sizeof path, "domains.txt");
  write_file(path, "example.com\nexample.net\n");
  mxs_sts_cache_t *c = NULL;
  mxs_sts_cache_load_t info;
  assert_int_equal(mxs_sts_cache_load(path, NOW, &c, &info, err, sizeof err), -1);
  assert_null(c);
  assert_non_null(strstr(err, ":1: not an mxscan policy cache"));
  assert_non_null(strstr(err, path));
  /* a directory cannot be read as one */
  assert_int_equal(mxs_sts_cache_load(dir, NOW, &c, &info, err, sizeof err), -1);
}

static void save_fails_cleanly(void **state) {
  (void)state;
  char path[256], sub[128], err[256];
  path_of(sub, sizeof sub, "ro");
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(path, sizeof path, "%s/c", sub);
  write_file(path, "# mxscan policy cache 1\n");
  mxs_sts_cache_t *c;
  mxs_sts_cache_load_t info;
  assert_int_equal(mxs_sts_cache_load(path, NOW, &c, &info, err, sizeof err), 0);
  assert_int_equal(mxs_sts_cache_put(c, "a.test", "id1", NOW, 86400, "x", 1), 0);
  /* the path is a directory now: the rename fails, no temporary file stays */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(mxs_sts_cache_save(c, path, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", sub);
  assert_int_equal(system(cmd), 0);
  mxs_sts_cache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(not_a_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(save_fails_cleanly, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
