/* test_smtp.c - SMTP reply framing, EHLO keywords and summaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probe/smtp.h"

static int setup(void **state) {
  *state = mxs_smtp_reader_new();
  return *state == NULL ? -1 : 0;
}

static int teardown(void **state) {
  mxs_smtp_reader_free(*state);
  return 0;
}

/* Feeds a C string in one go. */
static mxs_smtp_status_t feed(mxs_smtp_reader_t *r, const char *s, size_t *used, const mxs_smtp_reply_t **reply) {
  return mxs_smtp_reader_feed(r, s, strlen(s), used, reply);
}

static void test_single_line(void **state) {
  mxs_smtp_reader_t *r = *state;
  const char *in = "220 mx.example.com ESMTP ready\r\n";
  size_t used = 99;
  const mxs_smtp_reply_t *rep = NULL;
  assert_int_equal(feed(r, in, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, strlen(in));
  assert_non_null(rep);
  assert_int_equal(rep->code, 220);
  assert_int_equal(rep->nlines, 1);
  assert_string_equal(rep->lines[0], "mx.example.com ESMTP ready");
  assert_int_equal(mxs_smtp_reader_buffered(r), 0);
}

static void test_code_only(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t used;
  assert_int_equal(feed(r, "250\r\n", &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, 5);
  assert_int_equal(rep->code, 250);
  assert_int_equal(rep->nlines, 1);
  assert_string_equal(rep->lines[0], "");
  /* "ddd" with a bare LF, and the "\r\r\n" of broken relays. */
  assert_int_equal(feed(r, "354\n", &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(rep->code, 354);
  assert_string_equal(rep->lines[0], "");
  assert_int_equal(feed(r, "221 bye\r\r\n", &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, 10);
  assert_string_equal(rep->lines[0], "bye");
  /* "ddd\r" must be followed by the line end. */
  assert_int_equal(feed(r, "250\rX\r\n", &used, &rep), MXS_SMTP_ERR_MALFORMED);
  assert_int_equal(used, 5);
}

static const char ehlo[] =
    "250-mx.example.com Hello [192.0.2.7]\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 52428800\r\n"
    "250-starttls \r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250 SMTPUTF8\r\n";

static void test_multiline_ehlo(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t used;
  assert_int_equal(feed(r, ehlo, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, strlen(ehlo));
  assert_int_equal(rep->code, 250);
  assert_int_equal(rep->nlines, 6);
  assert_string_equal(rep->lines[0], "mx.example.com Hello [192.0.2.7]");
  assert_string_equal(rep->lines[1], "PIPELINING");
  assert_string_equal(rep->lines[2], "SIZE 52428800");
  assert_string_equal(rep->lines[3], "starttls ");
  assert_string_equal(rep->lines[5], "SMTPUTF8");
}

/* Byte-at-a-time feeding gives the same reply and consumes one byte each. */
static void test_byte_by_byte(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t n = strlen(ehlo), used;
  for (size_t i = 0; i < n; i++) {
    mxs_smtp_status_t st = mxs_smtp_reader_feed(r, ehlo + i, 1, &used, &rep);
    assert_int_equal(used, 1);
    if (i + 1 < n) {
      assert_int_equal(st, MXS_SMTP_NEED_MORE);
      assert_null(rep);
      assert_int_equal(mxs_smtp_reader_buffered(r), i + 1);
    } else {
      assert_int_equal(st, MXS_SMTP_REPLY);
    }
  }
  assert_non_null(rep);
  assert_int_equal(rep->nlines, 6);
  assert_string_equal(rep->lines[2], "SIZE 52428800");
  assert_string_equal(rep->lines[5], "SMTPUTF8");
}

/* Splitting at every point in two feeds changes nothing. */
static void test_every_split(void **state) {
  mxs_smtp_reader_t *r = *state;
  size_t n = strlen(ehlo);
  for (size_t k = 0; k <= n; k++) {
    const mxs_smtp_reply_t *rep = NULL;
    size_t u1, u2 = 0;
    mxs_smtp_reader_reset(r);
    mxs_smtp_status_t st = mxs_smtp_reader_feed(r, ehlo, k, &u1, &rep);
    assert_int_equal(u1, k);
    if (k < n) {
      assert_int_equal(st, MXS_SMTP_NEED_MORE);
      st = mxs_smtp_reader_feed(r, ehlo + k, n - k, &u2, &rep);
    }
    assert_int_equal(st, MXS_SMTP_REPLY);
    assert_int_equal(u1 + u2, n);
    assert_int_equal(rep->nlines, 6);
    assert_string_equal(rep->lines[4], "AUTH PLAIN LOGIN");
  }
}

static void test_bare_lf(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t used;
  const char *in = "220-first\n220-second\r\n220 third\n";
  assert_int_equal(feed(r, in, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, strlen(in));
  assert_int_equal(rep->nlines, 3);
  assert_string_equal(rep->lines[0], "first");
  assert_string_equal(rep->lines[1], "second");
  assert_string_equal(rep->lines[2], "third");
}

static void test_code_mismatch(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = (const mxs_smtp_reply_t *)1;
  size_t used;
  assert_int_equal(feed(r, "250-a\r\n251 b\r\n", &used, &rep), MXS_SMTP_ERR_MALFORMED);
  assert_int_equal(used, 7 + 3); /* stops at the '1' of "251" */
  assert_null(rep);
  /* Sticky until reset; nothing more is consumed. */
  assert_int_equal(feed(r, "250 ok\r\n", &used, &rep), MXS_SMTP_ERR_MALFORMED);
  assert_int_equal(used, 0);
  mxs_smtp_reader_reset(r);
  assert_int_equal(feed(r, "250 ok\r\n", &used, &rep), MXS_SMTP_REPLY);
  assert_string_equal(rep->lines[0], "ok");
}

/* Each input is malformed at byte AT (1-based): garbage is caught early. */
static void test_malformed(void **state) {
  static const struct {
    const char *in;
    size_t len, at;
  } cases[] = {
      {"999 no\r\n", 8, 1},
      {"abc\r\n", 5, 1},
      {"199 info\r\n", 10, 1},
      {"600 x\r\n", 7, 1},
      {"2x0 x\r\n", 7, 2},
      {"25a x\r\n", 7, 3},
      {"250x\r\n", 6, 4},
      {"22\r\n", 4, 3},
      {"22\n", 3, 3},
      {"\r\n", 2, 1},
      {"\n", 1, 1},
      {" 220 x\r\n", 8, 1},
      {"HTTP/1.1 400 Bad Request\r\n", 26, 1},
      {"SSH-2.0-OpenSSH_9.2\r\n", 21, 1},
      {"220 a\0b\r\n", 9, 6},
      {"220-ok\r\n220 a\0\r\n", 16, 14},
      {"\x16\x03\x01\x02\x00", 5, 1},
  };
  mxs_smtp_reader_t *r = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t used = 0;
    mxs_smtp_reader_reset(r);
    mxs_smtp_status_t st = mxs_smtp_reader_feed(r, cases[i].in, cases[i].len, &used, NULL);
    if (st != MXS_SMTP_ERR_MALFORMED || used != cases[i].at)
      fail_msg("case %zu: status %d used %zu, want MALFORMED at %zu", i, st, used, cases[i].at);
  }
}

/* A line of exactly MXS_SMTP_MAX_LINE bytes with its CRLF is accepted. */
static void test_line_limit_boundary(void **state) {
  mxs_smtp_reader_t *r = *state;
  char buf[MXS_SMTP_MAX_LINE + 2];
  const mxs_smtp_reply_t *rep = NULL;
  size_t used;
  memcpy(buf, "250 ", 4);
  memset(buf + 4, 'x', MXS_SMTP_MAX_LINE - 6);
  memcpy(buf + MXS_SMTP_MAX_LINE - 2, "\r\n", 2);
  assert_int_equal(mxs_smtp_reader_feed(r, buf, MXS_SMTP_MAX_LINE, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, MXS_SMTP_MAX_LINE);
  assert_int_equal(strlen(rep->lines[0]), MXS_SMTP_MAX_LINE - 6);
  /* One byte more is too long, caught at the byte with no room for LF. */
  memset(buf + 4, 'x', MXS_SMTP_MAX_LINE - 5);
  memcpy(buf + MXS_SMTP_MAX_LINE - 1, "\r\n", 2);
  assert_int_equal(mxs_smtp_reader_feed(r, buf, MXS_SMTP_MAX_LINE + 1, &used, &rep), MXS_SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(used, MXS_SMTP_MAX_LINE);
}

/* An endless line (slowloris) fails once the limit is passed, no matter
 * how much more is offered, and without waiting for a newline. */
static void test_endless_line(void **state) {
  mxs_smtp_reader_t *r = *state;
  enum { CHUNK = 4096 };
  char *chunk = malloc(CHUNK);
  size_t total = 0, used;
  mxs_smtp_status_t st = MXS_SMTP_NEED_MORE;
  assert_non_null(chunk);
  memset(chunk, 'a', CHUNK);
  assert_int_equal(feed(r, "220 ", &used, NULL), MXS_SMTP_NEED_MORE);
  total = used;
  for (int i = 0; i < 256 && st == MXS_SMTP_NEED_MORE; i++) { /* up to 1 MiB */
    st = mxs_smtp_reader_feed(r, chunk, CHUNK, &used, NULL);
    total += used;
  }
  assert_int_equal(st, MXS_SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(total, MXS_SMTP_MAX_LINE);
  assert_int_equal(mxs_smtp_reader_feed(r, chunk, CHUNK, &used, NULL), MXS_SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(used, 0);
  free(chunk);
}

static void test_too_many_lines(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t used, total = 0;
  /* MXS_SMTP_MAX_LINES lines is the most a reply may have. */
  for (int i = 0; i < MXS_SMTP_MAX_LINES - 1; i++)
    assert_int_equal(feed(r, "250-x\r\n", &used, &rep), MXS_SMTP_NEED_MORE);
  assert_int_equal(feed(r, "250 end\r\n", &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(rep->nlines, MXS_SMTP_MAX_LINES);
  assert_string_equal(rep->lines[MXS_SMTP_MAX_LINES - 1], "end");
  /* An endless multi-line reply fails at the line that promises one more. */
  mxs_smtp_status_t st = MXS_SMTP_NEED_MORE;
  int fed = 0;
  while (st == MXS_SMTP_NEED_MORE && fed < 10000) {
    st = feed(r, "250-more\r\n", &used, &rep);
    total += used;
    fed++;
  }
  assert_int_equal(st, MXS_SMTP_ERR_TOO_MANY_LINES);
  assert_int_equal(fed, MXS_SMTP_MAX_LINES);
  assert_int_equal(total, (MXS_SMTP_MAX_LINES - 1) * 10 + 4);
}

/* "220 ready" to STARTTLS followed by plaintext: *used stops after the
 * reply so the caller sees the injected bytes (CVE-2011-0411). */
static void test_injection(void **state) {
  mxs_smtp_reader_t *r = *state;
  const char *in = "220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 ok\r\n";
  size_t first = strlen("220 2.0.0 Ready to start TLS\r\n"), used;
  const mxs_smtp_reply_t *rep = NULL;
  assert_int_equal(feed(r, in, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, first);
  assert_int_equal(rep->code, 220);
  assert_int_equal(rep->nlines, 1);
  assert_int_equal(mxs_smtp_reader_buffered(r), 0);
  /* The rest is the next reply, readable by the caller if it wants. */
  assert_int_equal(feed(r, in + used, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, strlen(in) - first);
  assert_int_equal(rep->code, 250);
  assert_int_equal(rep->nlines, 2);
  assert_string_equal(rep->lines[0], "injected");
  /* TLS bytes right after the 220 are left unconsumed too. */
  const char tls[] = "220 go ahead\n\x16\x03\x01";
  assert_int_equal(mxs_smtp_reader_feed(r, tls, sizeof tls - 1, &used, &rep), MXS_SMTP_REPLY);
  assert_int_equal(used, 13);
}

/* The reply storage is reused: same struct and same text buffer every time,
 * and many replies do not grow memory (ASan/LSan would see leaks). */
static void test_storage_reused(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep1 = NULL, *rep2 = NULL;
  size_t used;
  assert_int_equal(feed(r, ehlo, &used, &rep1), MXS_SMTP_REPLY);
  char *text = rep1->lines[0];
  assert_int_equal(feed(r, "220 short\r\n", &used, &rep2), MXS_SMTP_REPLY);
  assert_ptr_equal(rep1, rep2);
  assert_ptr_equal(rep2->lines[0], text);
  assert_int_equal(rep2->nlines, 1);
  assert_string_equal(rep2->lines[0], "short");
  for (int i = 0; i < 10000; i++) {
    assert_int_equal(feed(r, ehlo, &used, &rep2), MXS_SMTP_REPLY);
    assert_ptr_equal(rep2->lines[0], text);
  }
  /* A partial reply is counted, and cleared by reset. */
  assert_int_equal(feed(r, "250-abc\r\n25", &used, &rep2), MXS_SMTP_NEED_MORE);
  assert_int_equal(mxs_smtp_reader_buffered(r), 11);
  mxs_smtp_reader_reset(r);
  assert_int_equal(mxs_smtp_reader_buffered(r), 0);
}

static mxs_smtp_reply_t make_reply(int code, size_t n, char **lines) {
  mxs_smtp_reply_t rep = {code, n, lines};
  return rep;
}

static void test_ehlo_has(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  size_t used;
  assert_int_equal(feed(r, ehlo, &used, &rep), MXS_SMTP_REPLY);
  assert_true(mxs_smtp_ehlo_has(rep, "STARTTLS")); /* "starttls " */
  assert_true(mxs_smtp_ehlo_has(rep, "StartTLS"));
  assert_true(mxs_smtp_ehlo_has(rep, "pipelining"));
  assert_true(mxs_smtp_ehlo_has(rep, "SIZE"));
  assert_true(mxs_smtp_ehlo_has(rep, "AUTH"));
  assert_false(mxs_smtp_ehlo_has(rep, "PLAIN")); /* a parameter, not a keyword */
  assert_false(mxs_smtp_ehlo_has(rep, "START"));
  assert_false(mxs_smtp_ehlo_has(rep, "8BITMIME"));
  assert_false(mxs_smtp_ehlo_has(rep, "mx.example.com")); /* line 1 is no keyword */
  assert_false(mxs_smtp_ehlo_has(rep, ""));
  assert_false(mxs_smtp_ehlo_has(NULL, "STARTTLS"));

  char *l1[] = {"STARTTLS", "STARTTLSX", "X-STARTTLS", "SIZE"};
  mxs_smtp_reply_t a = make_reply(250, 4, l1);
  assert_false(mxs_smtp_ehlo_has(&a, "STARTTLS"));
  char *l2[] = {"mx", "  STARTTLS\t"};
  mxs_smtp_reply_t b = make_reply(250, 2, l2);
  assert_true(mxs_smtp_ehlo_has(&b, "starttls"));
  char *l3[] = {"mx", "STARTTL"};
  mxs_smtp_reply_t c = make_reply(250, 2, l3);
  assert_false(mxs_smtp_ehlo_has(&c, "STARTTLS"));
}

static void test_summary(void **state) {
  mxs_smtp_reader_t *r = *state;
  const mxs_smtp_reply_t *rep = NULL;
  char out[64];
  size_t used;
  assert_int_equal(feed(r, "554 5.7.1 Service unavailable\r\n", &used, &rep), MXS_SMTP_REPLY);
  mxs_smtp_reply_summary(rep, out, sizeof out);
  assert_string_equal(out, "554 5.7.1 Service unavailable");
  assert_int_equal(feed(r, "421-4.7.0 Too many\r\n421 4.7.0 see https://x\r\n", &used, &rep), MXS_SMTP_REPLY);
  mxs_smtp_reply_summary(rep, out, sizeof out);
  assert_string_equal(out, "421 4.7.0 Too many 4.7.0 see https://x");
  assert_int_equal(feed(r, "250\r\n", &used, &rep), MXS_SMTP_REPLY);
  mxs_smtp_reply_summary(rep, out, sizeof out);
  assert_string_equal(out, "250");
  /* Control bytes and UTF-8 become '?'. */
  assert_int_equal(feed(r, "220 \x1b[31mhi\tb\xc3\xbc\r\n", &used, &rep), MXS_SMTP_REPLY);
  mxs_smtp_reply_summary(rep, out, sizeof out);
  assert_string_equal(out, "220 ?[31mhi?b??");
  /* Cut to outlen-1 bytes, marked with "...". */
  assert_int_equal(feed(r, ehlo, &used, &rep), MXS_SMTP_REPLY);
  mxs_smtp_reply_summary(rep, out, 20);
  assert_string_equal(out, "250 mx.example.c...");
  assert_int_equal(strlen(out), 19);
  mxs_smtp_reply_summary(rep, out, sizeof out);
  assert_int_equal(strlen(out), sizeof out - 1);
  assert_memory_equal(out + sizeof out - 4, "...", 4);
  mxs_smtp_reply_summary(rep, out, 3);
  assert_string_equal(out, "25");
  out[0] = 'x';
  mxs_smtp_reply_summary(rep, out, 1);
  assert_string_equal(out, "");
  mxs_smtp_reply_summary(NULL, out, sizeof out);
  assert_string_equal(out, "");
}

static void test_strerror(void **state) {
  (void)state;
  const mxs_smtp_status_t all[] = {MXS_SMTP_ERR_LINE_TOO_LONG, MXS_SMTP_ERR_TOO_MANY_LINES, MXS_SMTP_ERR_MALFORMED,
                                   MXS_SMTP_ERR_NOMEM};
  for (size_t i = 0; i < 4; i++) {
    assert_non_null(mxs_smtp_strerror(all[i]));
    for (size_t j = 0; j < i; j++) assert_string_not_equal(mxs_smtp_strerror(all[i]), mxs_smtp_strerror(all[j]));
  }
  assert_non_null(strstr(mxs_smtp_strerror(MXS_SMTP_ERR_LINE_TOO_LONG), "too long"));
  assert_non_null(mxs_smtp_strerror((mxs_smtp_status_t)42));
}

/* ---- property: chunking never changes the outcome ----------------------- */

static uint32_t rnd(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* Runs DATA through a fresh reader in chunks (max size MAXC, random when
 * SEED is non-zero) and logs every event, with absolute offsets. */
static void run_log(const char *data, size_t len, uint32_t seed, size_t maxc, char *log, size_t loglen) {
  mxs_smtp_reader_t *r = mxs_smtp_reader_new();
  size_t off = 0, lo = 0;
  assert_non_null(r);
  log[0] = '\0';
  while (off < len) {
    size_t n = seed != 0 ? 1 + rnd(&seed) % maxc : maxc, used = 0;
    if (n > len - off) n = len - off;
    const mxs_smtp_reply_t *rep = NULL;
    mxs_smtp_status_t st = mxs_smtp_reader_feed(r, data + off, n, &used, &rep);
    assert_true(used <= n);
    off += used;
    if (st == MXS_SMTP_NEED_MORE) continue;
    lo += (size_t)snprintf(log + lo, loglen - lo, "[%d@%zu", st, off);
    for (size_t i = 0; st == MXS_SMTP_REPLY && i < rep->nlines; i++)
      lo += (size_t)snprintf(log + lo, loglen - lo, " %d:%s", rep->code, rep->lines[i]);
    lo += (size_t)snprintf(log + lo, loglen - lo, "]");
    assert_true(lo < loglen);
    if (st < 0) break;
  }
  mxs_smtp_reader_free(r);
}

static void test_random_chunking(void **state) {
  (void)state;
  static const char *parts[] = {"250-", "250 ", "220 ",       "220-",       "ok",      "STARTTLS", "\r\n",
                                "\n",   "\r",   "x",          "5",          "9",       " ",        "\0",
                                "-",    "25",   "250-ok\r\n", "250 ok\r\n", "220 x\n", "250\r\n"};
  static char data[2048], a[65536], b[65536];
  uint32_t seed = 1;
  for (int iter = 0; iter < 2000; iter++) {
    size_t len = 0;
    while (len < sizeof data - 16) {
      uint32_t k = rnd(&seed) % (sizeof parts / sizeof parts[0]);
      size_t pl = k == 13 ? 1 : strlen(parts[k]);
      memcpy(data + len, parts[k], pl);
      len += pl;
      if (rnd(&seed) % 64 == 0) break;
    }
    run_log(data, len, 0, len, a, sizeof a);
    run_log(data, len, 0, 1, b, sizeof b);
    assert_string_equal(a, b);
    run_log(data, len, seed | 1, 7, b, sizeof b);
    assert_string_equal(a, b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_single_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_code_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_multiline_ehlo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bare_lf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_code_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_line_limit_boundary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endless_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_many_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_storage_reused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ehlo_has, setup, teardown),
      cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
      cmocka_unit_test(test_strerror),
      cmocka_unit_test(test_random_chunking),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
