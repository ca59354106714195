/* fuzz_smtp.c - libFuzzer harness for the SMTP reply reader.
 *
 * Beyond "does not crash", it checks the reader's contract: feeding the
 * input all at once and in chunks (sizes taken from the first byte) yields
 * the same events at the same offsets, *used never exceeds what was
 * offered, and every reply respects the line limits.  The input is also
 * checked as an EHLO argument (mxs_ehlo_name_check).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/smtp.h"

struct log {
  char buf[1 << 16];
  size_t len;
};

static void log_event(struct log *lg, int st, size_t off, const mxs_smtp_reply_t *rep) {
  lg->len += (size_t)snprintf(lg->buf + lg->len, sizeof lg->buf - lg->len, "[%d@%zu", st, off);
  for (size_t i = 0; rep != NULL && i < rep->nlines && lg->len < sizeof lg->buf; i++)
    lg->len += (size_t)snprintf(lg->buf + lg->len, sizeof lg->buf - lg->len, "|%s", rep->lines[i]);
  if (lg->len >= sizeof lg->buf) lg->len = sizeof lg->buf - 1; /* compare the prefix */
}

static void check_reply(const mxs_smtp_reply_t *rep) {
  if (rep->code < 200 || rep->code > 599 || rep->nlines < 1 || rep->nlines > MXS_SMTP_MAX_LINES) abort();
  for (size_t i = 0; i < rep->nlines; i++)
    if (strlen(rep->lines[i]) > MXS_SMTP_MAX_LINE) abort();
  char sum[128];
  mxs_smtp_reply_summary(rep, sum, sizeof sum);
  if (strlen(sum) >= sizeof sum) abort();
  (void)mxs_smtp_ehlo_has(rep, "STARTTLS");
}

static void run(const uint8_t *data, size_t len, size_t chunk, struct log *lg) {
  mxs_smtp_reader_t *r = mxs_smtp_reader_new();
  size_t off = 0;
  if (r == NULL) abort();
  lg->len = 0;
  lg->buf[0] = '\0';
  while (off < len) {
    size_t n = len - off < chunk ? len - off : chunk, used = 0;
    const mxs_smtp_reply_t *rep = NULL;
    mxs_smtp_status_t st = mxs_smtp_reader_feed(r, (const char *)data + off, n, &used, &rep);
    if (used > n || (st == MXS_SMTP_NEED_MORE && used != n)) abort();
    off += used;
    if (st == MXS_SMTP_NEED_MORE) continue;
    if (st == MXS_SMTP_REPLY) check_reply(rep);
    log_event(lg, st, off, rep);
    if (st < 0) break;
  }
  mxs_smtp_reader_free(r);
}

/* The EHLO argument check: what it accepts is one line of printable ASCII
 * without blanks (nothing can be smuggled into the command). */
static void check_ehlo_name(const uint8_t *data, size_t len) {
  char name[512];
  const char *why = NULL;
  size_t n = len < sizeof name - 1 ? len : sizeof name - 1;
  memcpy(name, data, n);
  name[n] = '\0';
  if (mxs_ehlo_name_check(name, &why) != 0) {
    if (!why || !why[0]) abort();
    return;
  }
  for (const char *p = name; *p; p++)
    if (*p <= ' ' || *p >= 0x7f) abort();
  (void)mxs_ehlo_name_is_fqdn(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  struct log whole, parts; /* 128 KiB of stack: fine on the main thread */
  if (len == 0) return 0;
  check_ehlo_name(data, len);
  size_t chunk = 1 + data[0] % 16;
  run(data + 1, len - 1, len, &whole);
  run(data + 1, len - 1, chunk, &parts);
  if (whole.len != parts.len || memcmp(whole.buf, parts.buf, whole.len) != 0) abort();
  return 0;
}
