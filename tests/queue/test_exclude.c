/* test_exclude.c - the exclude list: what each kind of entry matches,
 * what it does not, and bad lines named by line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/exclude.h"

static mxs_exclude_t *from_text(const char *text, long *bad) {
  FILE *fp = fmemopen((void *)text, strlen(text), "r");
  assert_non_null(fp);
  mxs_exclude_t *x = mxs_exclude_new();
  assert_non_null(x);
  *bad = mxs_exclude_read(x, fp, "test.conf", NULL, NULL);
  fclose(fp);
  return x;
}

static const char list[] =
    "# opt-outs\n"
    "example.com            # exactly this one\n"
    "\n"
    "  .gov.example\n"
    "*.Mil.Example.\n"
    "bücher.example\n"
    "192.0.2.0/24\n"
    "198.51.100.7\n"
    "2001:db8::/32\n"
    "2001:DB8:1::/48        # inside the /32 above: still one hit\n"
    "::1\n"
    "10.0.0.0/8\n";

static void names_and_suffixes(void **state) {
  (void)state;
  long bad;
  mxs_exclude_t *x = from_text(list, &bad);
  assert_int_equal(bad, 0);
  size_t n, s, nets;
  mxs_exclude_counts(x, &n, &s, &nets);
  assert_int_equal(n, 2);
  assert_int_equal(s, 2);
  assert_int_equal(nets, 6);
  mxs_exclude_hit_t hit;
  assert_int_equal(mxs_exclude_name(x, "example.com", &hit), 1);
  assert_string_equal(hit.entry, "example.com");
  assert_int_equal(hit.line, 2);
  /* a name entry is that name only */
  assert_int_equal(mxs_exclude_name(x, "mail.example.com", &hit), 0);
  assert_int_equal(mxs_exclude_name(x, "notexample.com", &hit), 0);
  /* a suffix is every name under it, not the name itself */
  assert_int_equal(mxs_exclude_name(x, "a.gov.example", &hit), 1);
  assert_string_equal(hit.entry, ".gov.example");
  assert_int_equal(hit.line, 4);
  assert_int_equal(mxs_exclude_name(x, "x.y.z.gov.example", &hit), 1);
  assert_int_equal(mxs_exclude_name(x, "gov.example", &hit), 0);
  assert_int_equal(mxs_exclude_name(x, "agov.example", &hit), 0);
  /* "*.": the same, normalised like the domain list */
  assert_int_equal(mxs_exclude_name(x, "mx.mil.example", &hit), 1);
  assert_string_equal(hit.entry, ".mil.example");
  assert_int_equal(hit.line, 5);
  assert_int_equal(mxs_exclude_name(x, "xn--bcher-kva.example", &hit), 1);
  assert_int_equal(mxs_exclude_name(x, "other.example", &hit), 0);
  mxs_exclude_free(x);
}

static void networks(void **state) {
  (void)state;
  long bad;
  mxs_exclude_t *x = from_text(list, &bad);
  assert_int_equal(bad, 0);
  mxs_exclude_hit_t hit;
  static const struct {
    const char *ip, *entry;
    unsigned long line;
  } in[] = {
      {"192.0.2.0", "192.0.2.0/24", 7},
      {"192.0.2.255", "192.0.2.0/24", 7},
      {"198.51.100.7", "198.51.100.7/32", 8},
      {"10.200.3.4", "10.0.0.0/8", 12},
      {"2001:db8::25", "2001:db8::/32", 9},
      {"2001:db8:1::25", "2001:db8:1::/48", 10}, /* the longest prefix is named */
      {"2001:0db8:ffff::1", "2001:db8::/32", 9},
      {"::1", "::1/128", 11},
      {"::ffff:192.0.2.9", "192.0.2.0/24", 7}, /* v4-mapped: connects to 192.0.2.9 */
  };
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    if (!mxs_exclude_addr(x, in[i].ip, &hit)) fail_msg("%s not excluded", in[i].ip);
    assert_string_equal(hit.entry, in[i].entry);
    assert_int_equal(hit.line, in[i].line);
  }
  static const char *const out[] = {"192.0.3.0",   "192.0.1.255", "198.51.100.8", "11.0.0.1",  "2001:db9::1",
                                    "2001:db7::1", "::2",         "127.0.0.1",    "not an ip", ""};
  for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
    if (mxs_exclude_addr(x, out[i], &hit)) fail_msg("%s excluded by %s", out[i], hit.entry);
  mxs_exclude_free(x);
}

static void everything_and_nothing(void **state) {
  (void)state;
  long bad;
  mxs_exclude_t *x = from_text("0.0.0.0/0\n::/0\n", &bad);
  assert_int_equal(bad, 0);
  assert_int_equal(mxs_exclude_addr(x, "203.0.113.1", NULL), 1);
  assert_int_equal(mxs_exclude_addr(x, "2001:db8::1", NULL), 1);
  assert_int_equal(mxs_exclude_name(x, "example.com", NULL), 0);
  mxs_exclude_free(x);
  x = from_text("", &bad);
  assert_int_equal(bad, 0);
  assert_int_equal(mxs_exclude_addr(x, "203.0.113.1", NULL), 0);
  assert_int_equal(mxs_exclude_name(x, "example.com", NULL), 0);
  mxs_exclude_free(x);
}

typedef struct {
  unsigned long lines[16];
  char why[16][160];
  int n;
} errs_t;

static void on_bad(void *arg, const char *name, unsigned long line, const char *text, const char *why) {
  errs_t *e = arg;
  (void)text;
  assert_string_equal(name, "bad.conf");
  if (e->n < 16) {
    e->lines[e->n] = line;
    snprintf(e->why[e->n], sizeof e->why[0], "%s", why);
  }
  e->n++;
}

static void bad_lines_named(void **state) {
  (void)state;
  static const struct {
    const char *line, *why;
  } bad[] = {
      {"192.0.2.1/24", "host bits set"},
      {"192.0.2.0/33", "prefix length over 32"},
      {"2001:db8::/129", "prefix length over 128"},
      {"192.0.2.0/", "not a number"},
      {"192.0.2.0/2x", "not a number"},
      {"300.1.2.3", "not an IPv4 or IPv6 address"},
      {"2001:db8::g", "not an IPv4 or IPv6 address"},
      {"exa mple.com", "unexpected text after the entry"},
      {"*.", "empty suffix"},
      {".", "empty suffix"},
      {"..example", "empty label"},
      {"*example.com", "invalid character"},
      {"localhost", "single-label"},
      {"[192.0.2.1]", "address literal"},
  };
  char text[2048] = "good.example\n";
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    strcat(text, bad[i].line);
    strcat(text, "\n");
  }
  strcat(text, "also-good.example\n");
  FILE *fp = fmemopen(text, strlen(text), "r");
  mxs_exclude_t *x = mxs_exclude_new();
  errs_t e = {0};
  assert_int_equal(mxs_exclude_read(x, fp, "bad.conf", on_bad, &e), (long)(sizeof bad / sizeof bad[0]));
  fclose(fp);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(e.lines[i], i + 2);
    if (!strstr(e.why[i], bad[i].why)) fail_msg("'%s': why '%s', want '%s'", bad[i].line, e.why[i], bad[i].why);
  }
  /* the good lines around them were taken */
  assert_int_equal(mxs_exclude_name(x, "good.example", NULL), 1);
  assert_int_equal(mxs_exclude_name(x, "also-good.example", NULL), 1);
  mxs_exclude_free(x);
}

/* The whole file: a bad line stops the run, naming file and line. */
static void load_names_file_and_line(void **state) {
  (void)state;
  char path[] = "/tmp/mxs_test_exclude_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char text[] = "# list\r\nexample.com\r\n10.0.0.0/33\r\n";
  assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  char *msg = NULL;
  size_t len = 0;
  FILE *err = open_memstream(&msg, &len);
  mxs_exclude_t *x = NULL;
  assert_int_equal(mxs_exclude_load(path, &x, err), -1);
  fclose(err);
  assert_null(x);
  char want[128];
  snprintf(want, sizeof want, "%s:3: bad exclude entry '10.0.0.0/33': prefix length over 32", path);
  if (!strstr(msg, want)) fail_msg("message: %s", msg);
  free(msg);
  /* fixed, it loads (CRLF lines) */
  FILE *fp = fopen(path, "w");
  fputs("# list\r\nexample.com\r\n10.0.0.0/8\r\n", fp);
  fclose(fp);
  err = open_memstream(&msg, &len);
  assert_int_equal(mxs_exclude_load(path, &x, err), 0);
  fclose(err);
  free(msg);
  assert_int_equal(mxs_exclude_name(x, "example.com", NULL), 1);
  assert_int_equal(mxs_exclude_addr(x, "10.1.2.3", NULL), 1);
  mxs_exclude_free(x);
  unlink(path);
  err = open_memstream(&msg, &len);
  assert_int_equal(mxs_exclude_load(path, &x, err), -1);
  fclose(err);
  assert_non_null(strstr(msg, "cannot read exclude file"));
  free(msg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_and_suffixes),       cmocka_unit_test(networks),
      cmocka_unit_test(everything_and_nothing),   cmocka_unit_test(bad_lines_named),
      cmocka_unit_test(load_names_file_and_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
