/* test_input.c - domain normalisation and the streaming list reader. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/input.h"

/* ---- mxs_domain_normalize ------------------------------------------------ */

static const char label63[] = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123";

static void test_normalize_good(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"example.com", "example.com"},
      {"Example.COM", "example.com"},
      {"example.com.", "example.com"},
      {"MAIL.Example.Org.", "mail.example.org"},
      {"a-b.example", "a-b.example"},
      {"1password.com", "1password.com"},
      {"123.example", "123.example"},
      {"example.c0m", "example.c0m"},
      {"mail_host.example.com", "mail_host.example.com"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
      {"bücher.example", "xn--bcher-kva.example"},
      {"BÜCHER.example", "xn--bcher-kva.example"},
      {"Bücher.Example.", "xn--bcher-kva.example"},
      {"b\x75\xcc\x88"
       "cher.example",
       "xn--bcher-kva.example"},   /* NFD u + combining diaeresis */
      {"faß.de", "xn--fa-hia.de"}, /* nontransitional: ß kept */
      {"例え.テスト", "xn--r8jz45g.xn--zckzah"},
      {"ｅｘａｍｐｌｅ.com", "example.com"}, /* fullwidth mapped by UTS #46 */
      {"a\xe2\x80\x8b"
       "b.example",
       "ab.example"}, /* UTS #46 drops a zero-width space, as browsers do */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[254];
    const char *why = NULL;
    if (mxs_domain_normalize(cases[i].in, out, sizeof out, &why) != 0)
      fail_msg("\"%s\" rejected: %s", cases[i].in, why);
    assert_string_equal(out, cases[i].out);
  }
}

static void test_normalize_limits(void **state) {
  (void)state;
  char in[600], out[254];
  const char *why = NULL;
  /* A 63-byte label is fine, 64 is not. */
  snprintf(in, sizeof in, "%s.example", label63);
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), 0);
  assert_string_equal(out, in);
  snprintf(in, sizeof in, "%sx.example", label63);
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), -1);
  assert_string_equal(why, "label longer than 63 bytes");
  /* 253 bytes total is fine (with or without the root dot), 254 is not. */
  snprintf(in, sizeof in, "%s.%s.%s.%.61s", label63, label63, label63, label63);
  assert_int_equal(strlen(in), 253);
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), 0);
  assert_string_equal(out, in);
  strcat(in, ".");
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), 0);
  assert_int_equal(strlen(out), 253);
  snprintf(in, sizeof in, "%s.%s.%s.%.62s", label63, label63, label63, label63);
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), -1);
  assert_string_equal(why, "name longer than 253 bytes");
  /* A long IDN is also refused, whatever libidn2 calls it. */
  snprintf(in, sizeof in, "%s.ü%s.%s.%s", label63, label63, label63, label63);
  why = NULL;
  assert_int_equal(mxs_domain_normalize(in, out, sizeof out, &why), -1);
  assert_non_null(why);
  /* OUT too small for the result. */
  assert_int_equal(mxs_domain_normalize("example.com", out, 5, &why), -1);
  /* Out-parameters untouched on failure. */
  strcpy(out, "keep");
  assert_int_equal(mxs_domain_normalize("com", out, sizeof out, &why), -1);
  assert_string_equal(out, "keep");
}

static void test_normalize_bad(void **state) {
  (void)state;
  static const struct {
    const char *in, *why; /* WHY NULL: any reason */
  } cases[] = {
      {"", "empty name"},
      {".", "empty name"},
      {"localhost", "single-label name (no dot), not a mail domain"},
      {"com", "single-label name (no dot), not a mail domain"},
      {"localhost.", "single-label name (no dot), not a mail domain"},
      {".example.com", "leading dot"},
      {"a..b.example", "empty label (\"..\")"},
      {"example.com..", "empty label (\"..\")"},
      {"-a.example", "label starts or ends with '-'"},
      {"a-.example", "label starts or ends with '-'"},
      {"a.-example", "label starts or ends with '-'"},
      {"exa mple.com", "invalid character (letters, digits, '-', '_' and '.' only)"},
      {"exa*mple.com", "invalid character (letters, digits, '-', '_' and '.' only)"},
      {"user@example.com", "an email address, not a domain (give the part after '@')"},
      {"mailto:user@example.com", "an email address, not a domain (give the part after '@')"},
      {"http://web.example/", "a URL, not a domain (give only its host name)"},
      {"https://web.example", "a URL, not a domain (give only its host name)"},
      {"mail.example.com:25", "a host:port, not a domain (give the name without the port)"},
      {"192.0.2.1:25", "a host:port, not a domain (give the name without the port)"},
      {"cafe.de:25", "a host:port, not a domain (give the name without the port)"},
      {"cafe.de:abc", "':' in the name"},
      {"mail.example.com:", "':' in the name"},
      {"example.net,", "',' or ';' in the name: the input is one domain per line, not CSV"},
      {"example.net,42", "',' or ';' in the name: the input is one domain per line, not CSV"},
      {"a.example;b.example", "',' or ';' in the name: the input is one domain per line, not CSV"},
      {"*.wild.example", "a wildcard, not a domain (give the domain itself)"},
      {"example.com#x", "invalid character (letters, digits, '-', '_' and '.' only)"},
      {"192.0.2.1", "IPv4 address, not a domain"},
      {"192.0.2.1.", "IPv4 address, not a domain"},
      {"1.2.3.4.5", "all-numeric top-level label"},
      {"example.123", "all-numeric top-level label"},
      {"[192.0.2.1]", "address literal, not a domain"},
      {"[IPv6:2001:db8::1]", "address literal, not a domain"},
      {"2001:db8::1", "IPv6 address, not a domain"},
      {"b\xfc"
       "cher.example",
       "invalid UTF-8"},                         /* Latin-1 */
      {"\xc0\xae.example", "invalid UTF-8"},     /* overlong '.' */
      {"\xed\xa0\x80.example", "invalid UTF-8"}, /* surrogate */
      {"b\xc3", "invalid UTF-8"},                /* truncated */
      {"bücher..example", NULL},
      {"bücher", NULL},
      {"ü-.example", NULL},
      {"bü\x01cher.example", "invalid character (letters, digits, '-', '_' and '.' only)"},
      {"ü.192.0.2.1", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[254];
    const char *why = NULL;
    if (mxs_domain_normalize(cases[i].in, out, sizeof out, &why) != -1) fail_msg("case %zu accepted as \"%s\"", i, out);
    assert_non_null(why);
    if (cases[i].why != NULL && strcmp(why, cases[i].why) != 0)
      fail_msg("case %zu: why \"%s\", want \"%s\"", i, why, cases[i].why);
  }
  const char *why = NULL;
  char out[254];
  assert_int_equal(mxs_domain_normalize(NULL, out, sizeof out, &why), -1);
  assert_string_equal(why, "empty name");
}

/* ---- the reader ---------------------------------------------------------- */

struct errs {
  int n;
  char name[32][64];
  unsigned long lineno[32];
  char line[32][256];
  char why[32][128];
};

static void on_error(void *arg, const char *name, unsigned long lineno, const char *line, const char *why) {
  struct errs *e = arg;
  assert_non_null(line);
  assert_true(strlen(line) <= 203);
  if (e->n >= 32) return;
  snprintf(e->name[e->n], sizeof e->name[0], "%s", name);
  e->lineno[e->n] = lineno;
  snprintf(e->line[e->n], sizeof e->line[0], "%s", line);
  snprintf(e->why[e->n], sizeof e->why[0], "%s", why);
  e->n++;
}

static FILE *mem(const char *s, size_t len) {
  FILE *fp = tmpfile();
  assert_non_null(fp);
  assert_int_equal(fwrite(s, 1, len, fp), len);
  rewind(fp);
  return fp;
}

/* Expects the next domain to be WANT on line LINE. */
static void expect(mxs_input_t *in, const char *want, unsigned long line) {
  char out[256];
  unsigned long ln = 0;
  assert_int_equal(mxs_input_next(in, out, sizeof out, &ln), 1);
  assert_string_equal(out, want);
  assert_int_equal(ln, line);
}

static void expect_end(mxs_input_t *in) {
  char out[256];
  assert_int_equal(mxs_input_next(in, out, sizeof out, NULL), 0);
  assert_int_equal(mxs_input_next(in, out, sizeof out, NULL), 0); /* stays at end */
}

static void test_reader_lines(void **state) {
  (void)state;
  static const char text[] =
      "# a list of domains\n"   /* 1 */
      "\n"                      /* 2 */
      "   \t \n"                /* 3 */
      "Example.COM\n"           /* 4 */
      "bad..name\n"             /* 5 */
      "example.org   # ours\n"  /* 6 */
      "example.net foo\n"       /* 7 */
      "  \t spaced.example  \n" /* 8 */
      "  # indented comment\n"  /* 9 */
      "bücher.example\n"        /* 10 */
      "localhost\n"             /* 11 */
      "last.example";           /* 12, no newline */
  struct errs e = {0};
  FILE *fp = fmemopen((void *)text, sizeof text - 1, "r");
  assert_non_null(fp);
  mxs_input_t *in = mxs_input_new(fp, "domains.txt", on_error, &e);
  assert_non_null(in);
  expect(in, "example.com", 4);
  expect(in, "example.org", 6);
  expect(in, "spaced.example", 8);
  expect(in, "xn--bcher-kva.example", 10);
  expect(in, "last.example", 12);
  expect_end(in);
  assert_int_equal(e.n, 3);
  assert_string_equal(e.name[0], "domains.txt");
  assert_int_equal(e.lineno[0], 5);
  assert_string_equal(e.line[0], "bad..name");
  assert_string_equal(e.why[0], "empty label (\"..\")");
  assert_int_equal(e.lineno[1], 7);
  assert_string_equal(e.line[1], "example.net foo");
  assert_string_equal(e.why[1], "unexpected text after domain");
  assert_int_equal(e.lineno[2], 11);
  assert_string_equal(e.why[2], "single-label name (no dot), not a mail domain");
  assert_int_equal(mxs_input_lines(in), 12);
  assert_int_equal(mxs_input_rejected(in), 3);
  mxs_input_free(in);
}

static void test_reader_crlf(void **state) {
  (void)state;
  static const char text[] =
      "\xef\xbb\xbf"
      "a.example\r\n"
      "B.Example.\r\n"
      "\r\n"
      "# comment\r\n"
      "c.example # note\r\n"
      "bad_-.example x\r\n"
      "d.example\r";
  struct errs e = {0};
  mxs_input_t *in = mxs_input_new(mem(text, sizeof text - 1), "crlf", on_error, &e);
  assert_non_null(in);
  expect(in, "a.example", 1);
  expect(in, "b.example", 2);
  expect(in, "c.example", 5);
  expect(in, "d.example", 7);
  expect_end(in);
  assert_int_equal(e.n, 1);
  assert_int_equal(e.lineno[0], 6);
  assert_string_equal(e.line[0], "bad_-.example x"); /* no CR shown */
  mxs_input_free(in);
}

/* A 1 MiB line is skipped, bounded, and reported; reading goes on. */
static void test_reader_long_line(void **state) {
  (void)state;
  enum { BIG = 1 << 20 };
  struct errs e = {0};
  FILE *fp = tmpfile();
  assert_non_null(fp);
  fputs("ok1.example\n", fp);
  for (int i = 0; i < BIG; i++) fputc(i % 3 == 0 ? '.' : 'a', fp);
  fputs("\nok2.example\n#", fp);
  for (int i = 0; i < 4095; i++) fputc('x', fp); /* a 4096-byte comment is fine */
  fputs("\n", fp);
  for (int i = 0; i < 5000; i++) fputc('b', fp); /* too long, at EOF */
  rewind(fp);
  mxs_input_t *in = mxs_input_new(fp, "big", on_error, &e);
  assert_non_null(in);
  expect(in, "ok1.example", 1);
  expect(in, "ok2.example", 3);
  expect_end(in);
  assert_int_equal(e.n, 2);
  assert_int_equal(e.lineno[0], 2);
  assert_string_equal(e.why[0], "line too long (over 4096 bytes)");
  assert_int_equal(strlen(e.line[0]), 200);
  assert_memory_equal(e.line[0], ".aa.aa", 6);
  assert_memory_equal(e.line[0] + 197, "...", 3);
  assert_int_equal(e.lineno[1], 5);
  assert_string_equal(e.why[1], "line too long (over 4096 bytes)");
  assert_int_equal(mxs_input_lines(in), 5);
  assert_int_equal(mxs_input_rejected(in), 2);
  mxs_input_free(in);
}

/* Rejected raw lines are safe to print: controls become '?', and a NUL
 * byte cannot hide the rest of the line. */
static void test_reader_hostile_bytes(void **state) {
  (void)state;
  static const char text[] =
      "ex\x1b[2Jample.com\n"
      "good.example\0evil\n"
      "b\xfc"
      "cher.example\n"
      "b\xc3\xbc"
      "cher..example\n"
      "fine.example\n";
  struct errs e = {0};
  mxs_input_t *in = mxs_input_new(mem(text, sizeof text - 1), "-", on_error, &e);
  assert_non_null(in);
  expect(in, "fine.example", 5);
  expect_end(in);
  assert_int_equal(e.n, 4);
  assert_string_equal(e.line[0], "ex?[2Jample.com");
  assert_string_equal(e.why[1], "NUL byte in line");
  assert_string_equal(e.line[1], "good.example?evil");
  assert_string_equal(e.line[2], "b?cher.example");
  assert_string_equal(e.why[2], "invalid UTF-8");
  assert_string_equal(e.line[3], "bücher..example"); /* valid UTF-8 kept */
  mxs_input_free(in);
}

static void test_reader_misc(void **state) {
  (void)state;
  char out[256];
  /* No callback: bad lines are still counted and skipped. */
  static const char text[] = "x\ny.example\n";
  mxs_input_t *in = mxs_input_new(mem(text, sizeof text - 1), NULL, NULL, NULL);
  assert_non_null(in);
  assert_int_equal(mxs_input_next(in, out, 100, NULL), -EINVAL); /* OUT too small */
  expect(in, "y.example", 2);
  expect_end(in);
  assert_int_equal(mxs_input_rejected(in), 1);
  mxs_input_free(in);
  /* An empty input. */
  in = mxs_input_new(mem("", 0), "empty", NULL, NULL);
  assert_non_null(in);
  expect_end(in);
  assert_int_equal(mxs_input_lines(in), 0);
  mxs_input_free(in);
  assert_null(mxs_input_new(NULL, "x", NULL, NULL));
}

/* A read error is returned as a negative errno, not taken for the end. */
static void test_reader_read_error(void **state) {
  (void)state;
  char out[256];
  FILE *fp = fopen("/dev/null", "w"); /* reading a write-only stream fails */
  assert_non_null(fp);
  mxs_input_t *in = mxs_input_new(fp, "w", NULL, NULL);
  assert_non_null(in);
  assert_true(mxs_input_next(in, out, sizeof out, NULL) < 0);
  mxs_input_free(in);
}

/* mxs_input_free closes a file but never stdin. */
static void test_reader_stdin_not_closed(void **state) {
  (void)state;
  assert_non_null(freopen("/dev/null", "r", stdin));
  mxs_input_t *in = mxs_input_new(stdin, "-", NULL, NULL);
  assert_non_null(in);
  expect_end(in);
  mxs_input_free(in);
  assert_int_not_equal(fcntl(STDIN_FILENO, F_GETFD), -1);
  assert_int_equal(fgetc(stdin), EOF);
  assert_false(ferror(stdin)); /* a closed FILE would report an error */
}

/* From a pipe, a domain comes out as soon as its line is in, without
 * waiting for more input or the end (alarm() fails the test if it hangs). */
static void test_reader_pipe_streams(void **state) {
  (void)state;
  int fds[2];
  char out[256];
  assert_int_equal(pipe(fds), 0);
  FILE *fp = fdopen(fds[0], "r");
  assert_non_null(fp);
  mxs_input_t *in = mxs_input_new(fp, "-", NULL, NULL);
  assert_non_null(in);
  alarm(10);
  assert_int_equal(write(fds[1], "a.example\nb.exa", 15), 15);
  expect(in, "a.example", 1);
  assert_int_equal(write(fds[1], "mple\n", 5), 5);
  expect(in, "b.example", 2);
  close(fds[1]);
  assert_int_equal(mxs_input_next(in, out, sizeof out, NULL), 0);
  alarm(0);
  mxs_input_free(in);
}

/* Many lines stream through with constant memory and exact counts. */
static void test_reader_many(void **state) {
  (void)state;
  char out[256];
  FILE *fp = tmpfile();
  assert_non_null(fp);
  for (int i = 0; i < 100000; i++) fprintf(fp, i % 10 == 9 ? "bad%d\n" : "d%d.example\n", i);
  rewind(fp);
  mxs_input_t *in = mxs_input_new(fp, "many", NULL, NULL);
  assert_non_null(in);
  unsigned long n = 0, ln = 0;
  while (mxs_input_next(in, out, sizeof out, &ln) == 1) n++;
  assert_int_equal(n, 90000);
  assert_int_equal(ln, 99999);
  assert_int_equal(mxs_input_lines(in), 100000);
  assert_int_equal(mxs_input_rejected(in), 10000);
  mxs_input_free(in);
}

/* A list saved as UTF-16, with or without its byte-order mark, is refused
 * at line 1 (every line of it would be rejected for NUL bytes). */
static void test_reader_utf16(void **state) {
  (void)state;
  static const char le_bom[] =
      "\xff\xfe"
      "o\0k\0.\0t\0e\0s\0t\0\r\0\n\0";
  static const char le[] = "o\0k\0.\0t\0e\0s\0t\0\n\0";
  static const char be_bom[] = "\xfe\xff\0o\0k\0.\0t\0e\0s\0t\0\n";
  const char *texts[] = {le_bom, le, be_bom};
  const size_t lens[] = {sizeof le_bom - 1, sizeof le - 1, sizeof be_bom - 1};
  for (int i = 0; i < 3; i++) {
    struct errs e = {0};
    mxs_input_t *in = mxs_input_new(mem(texts[i], lens[i]), "u16", on_error, &e);
    char out[256];
    assert_int_equal(mxs_input_next(in, out, sizeof out, NULL), -EILSEQ);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.lineno[0], 1);
    assert_non_null(strstr(e.why[0], "UTF-16"));
    mxs_input_free(in);
  }
  /* UTF-8 with its BOM is still read */
  static const char u8[] = "\xef\xbb\xbfok.test\n";
  mxs_input_t *in = mxs_input_new(mem(u8, sizeof u8 - 1), "u8", NULL, NULL);
  expect(in, "ok.test", 1);
  expect_end(in);
  mxs_input_free(in);
}

/* ---- repeats --------------------------------------------------------------- */

struct repeats {
  int n;
  unsigned long lineno[8];
  char domain[8][256];
};

static void on_repeat(void *arg, const char *name, unsigned long lineno, const char *domain) {
  struct repeats *r = arg;
  assert_string_equal(name, "rep");
  if (r->n < 8) {
    r->lineno[r->n] = lineno;
    snprintf(r->domain[r->n], sizeof r->domain[0], "%s", domain);
  }
  r->n++;
}

/* A domain is given once however the list spells it again: case, the
 * trailing dot, its U-label; a bad line between them changes nothing. */
static void test_reader_repeats(void **state) {
  (void)state;
  static const char text[] =
      "Example.COM.\nexample.com\nbücher.example\n# note\nb@d\n"
      "XN--BCHER-KVA.example\nother.example\nexample.com  # again\n";
  struct errs e = {0};
  struct repeats r = {0};
  mxs_input_t *in = mxs_input_new(mem(text, sizeof text - 1), "rep", on_error, &e);
  assert_non_null(in);
  mxs_input_skip_repeats(in, on_repeat, &r);
  expect(in, "example.com", 1);
  expect(in, "xn--bcher-kva.example", 3);
  expect(in, "other.example", 7);
  expect_end(in);
  assert_int_equal(r.n, 3);
  assert_int_equal(r.lineno[0], 2);
  assert_string_equal(r.domain[0], "example.com");
  assert_int_equal(r.lineno[1], 6);
  assert_string_equal(r.domain[1], "xn--bcher-kva.example");
  assert_int_equal(r.lineno[2], 8);
  assert_int_equal(mxs_input_repeats(in), 3);
  assert_int_equal(mxs_input_rejected(in), 1);
  assert_int_equal(e.n, 1);
  mxs_input_free(in);
  /* without the call every line is given, as before */
  in = mxs_input_new(mem(text, sizeof text - 1), "rep", NULL, NULL);
  char out[256];
  int n = 0;
  while (mxs_input_next(in, out, sizeof out, NULL) == 1) n++;
  assert_int_equal(n, 6);
  assert_int_equal(mxs_input_repeats(in), 0);
  mxs_input_free(in);
}

/* 200,000 distinct names through the set's growth, then all of them
 * again: every first one kept, every second one skipped. */
static void test_reader_repeats_many(void **state) {
  (void)state;
  FILE *fp = tmpfile();
  assert_non_null(fp);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < 200000; i++) fprintf(fp, pass ? "D%d.Example.\n" : "d%d.example\n", i);
  rewind(fp);
  mxs_input_t *in = mxs_input_new(fp, "many", NULL, NULL);
  mxs_input_skip_repeats(in, NULL, NULL);
  char out[256];
  unsigned long n = 0, ln = 0;
  while (mxs_input_next(in, out, sizeof out, &ln) == 1) n++;
  assert_int_equal(n, 200000);
  assert_int_equal(ln, 200000);
  assert_int_equal(mxs_input_repeats(in), 200000);
  mxs_input_free(in);
}

/* The reference vectors of SipHash-2-4 (key 00..0f, message 00..n-1). */
static void test_siphash_vectors(void **state) {
  (void)state;
  unsigned char m[16];
  for (int i = 0; i < 16; i++) m[i] = (unsigned char)i;
  const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  assert_true(mxs_siphash24(k0, k1, m, 0) == 0x726fdb47dd0e0e31ULL);
  assert_true(mxs_siphash24(k0, k1, m, 1) == 0x74f839c593dc67fdULL);
  assert_true(mxs_siphash24(k0, k1, m, 8) == 0x93f5f5799a932462ULL);
  assert_true(mxs_siphash24(k0, k1, m, 15) == 0xa129ca6149be45e5ULL);
  /* two sets draw two keys: a list cannot be built against all runs */
  mxs_seen_t a, b;
  mxs_seen_init(&a);
  mxs_seen_init(&b);
  assert_true(a.k0 != b.k0 || a.k1 != b.k1);
  assert_int_equal(mxs_seen_add(&a, "x.example", 9), 1);
  assert_int_equal(mxs_seen_add(&a, "x.example", 9), 0);
  assert_int_equal(mxs_seen_add(&a, "x.exampl", 8), 1);
  assert_int_equal(a.len, 2);
  mxs_seen_free(&a);
  mxs_seen_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_utf16),         cmocka_unit_test(test_reader_repeats),
      cmocka_unit_test(test_reader_repeats_many),  cmocka_unit_test(test_siphash_vectors),
      cmocka_unit_test(test_normalize_good),       cmocka_unit_test(test_normalize_limits),
      cmocka_unit_test(test_normalize_bad),        cmocka_unit_test(test_reader_lines),
      cmocka_unit_test(test_reader_crlf),          cmocka_unit_test(test_reader_long_line),
      cmocka_unit_test(test_reader_hostile_bytes), cmocka_unit_test(test_reader_misc),
      cmocka_unit_test(test_reader_read_error),    cmocka_unit_test(test_reader_stdin_not_closed),
      cmocka_unit_test(test_reader_pipe_streams),  cmocka_unit_test(test_reader_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
