/* smtp.c - SMTP reply framing: a byte-at-a-time state machine, no I/O.
 *
 * Every byte goes through one function (step), so the result, the error and
 * *used are the same however the input is split into feeds.  Garbage is
 * rejected at the first byte that cannot start or continue a reply line, so
 * an HTTP or SSH server, or an endless line, is caught without waiting for
 * a newline that may never come.
 *
 * Storage: the text of the lines of the reply being read is appended to one
 * arena, NUL-separated.  The arena starts small (a greeting or an EHLO reply
 * fits), doubles on demand, is never larger than MXS_SMTP_MAX_LINES lines of
 * MXS_SMTP_MAX_LINE bytes, and is reused from one reply to the next.
 */
#include "probe/smtp.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARENA_INITIAL 1024
/* Text of a line is at most MAX_LINE - 4 ("ddd ") - 1 (LF) bytes, + NUL. */
#define ARENA_MAX ((size_t)MXS_SMTP_MAX_LINES * MXS_SMTP_MAX_LINE)

struct mxs_smtp_reader_s {
  mxs_smtp_status_t err; /* sticky error, or NEED_MORE */
  int done;              /* a reply was returned: start afresh on next feed */
  size_t pos;            /* bytes of the current line so far, LF excluded */
  char prefix[4];        /* "ddd" and the separator of the current line */
  size_t line_start;     /* arena offset of the current line's text */
  size_t pending;        /* raw bytes consumed of the incomplete reply */
  char *arena;
  size_t arena_len, arena_cap;
  size_t off[MXS_SMTP_MAX_LINES]; /* arena offsets of complete lines */
  char *lines[MXS_SMTP_MAX_LINES];
  mxs_smtp_reply_t reply;
};

mxs_smtp_reader_t *mxs_smtp_reader_new(void) {
  mxs_smtp_reader_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->arena = malloc(ARENA_INITIAL);
  if (r->arena == NULL) {
    free(r);
    return NULL;
  }
  r->arena_cap = ARENA_INITIAL;
  r->reply.lines = r->lines;
  return r;
}

void mxs_smtp_reader_free(mxs_smtp_reader_t *r) {
  if (r == NULL) return;
  free(r->arena);
  free(r);
}

void mxs_smtp_reader_reset(mxs_smtp_reader_t *r) {
  r->err = MXS_SMTP_NEED_MORE;
  r->done = 0;
  r->pos = 0;
  r->line_start = 0;
  r->pending = 0;
  r->arena_len = 0;
  r->reply.code = 0;
  r->reply.nlines = 0;
}

size_t mxs_smtp_reader_buffered(const mxs_smtp_reader_t *r) { return r->done ? 0 : r->pending; }

/* Appends one text byte; the cap can never be hit by a well-framed reply
 * because line length and line count are checked before text is stored. */
static int arena_put(mxs_smtp_reader_t *r, char c) {
  if (r->arena_len == r->arena_cap) {
    size_t cap = r->arena_cap * 2;
    if (cap > ARENA_MAX) cap = ARENA_MAX;
    if (cap <= r->arena_len) return MXS_SMTP_ERR_LINE_TOO_LONG;
    char *p = realloc(r->arena, cap);
    if (p == NULL) return MXS_SMTP_ERR_NOMEM;
    r->arena = p;
    r->arena_cap = cap;
  }
  r->arena[r->arena_len++] = c;
  return MXS_SMTP_NEED_MORE;
}

/* The first four bytes of a line: "ddd" then ' ', '-' or CR.  Checked as
 * they arrive so that non-SMTP peers fail fast. */
static int step_prefix(mxs_smtp_reader_t *r, char c) {
  size_t i = r->pos;
  if (i == 0 && (c < '2' || c > '5')) return MXS_SMTP_ERR_MALFORMED;
  if ((i == 1 || i == 2) && (c < '0' || c > '9')) return MXS_SMTP_ERR_MALFORMED;
  if (i == 3 && c != ' ' && c != '-' && c != '\r') return MXS_SMTP_ERR_MALFORMED;
  r->prefix[i] = c;
  if (i == 2) {
    int code = (r->prefix[0] - '0') * 100 + (r->prefix[1] - '0') * 10 + (c - '0');
    if (r->reply.nlines == 0)
      r->reply.code = code;
    else if (code != r->reply.code)
      return MXS_SMTP_ERR_MALFORMED;
  }
  /* A continuation on the last allowed line promises one line too many. */
  if (i == 3 && c == '-' && r->reply.nlines + 1 == MXS_SMTP_MAX_LINES) return MXS_SMTP_ERR_TOO_MANY_LINES;
  return MXS_SMTP_NEED_MORE;
}

/* LF: closes the current line, and the reply if it was the last line. */
static int step_eol(mxs_smtp_reader_t *r) {
  if (r->pos < 3) return MXS_SMTP_ERR_MALFORMED; /* "", "2", "22" */
  /* Strip CRs before the LF: "\r\n", and "\r\r\n" from broken relays. */
  while (r->arena_len > r->line_start && r->arena[r->arena_len - 1] == '\r') r->arena_len--;
  int rc = arena_put(r, '\0');
  if (rc != MXS_SMTP_NEED_MORE) return rc;
  r->off[r->reply.nlines++] = r->line_start;
  r->line_start = r->arena_len;
  int last = r->pos == 3 || r->prefix[3] != '-';
  r->pos = 0;
  if (!last) return MXS_SMTP_NEED_MORE;
  for (size_t i = 0; i < r->reply.nlines; i++) r->lines[i] = r->arena + r->off[i];
  return MXS_SMTP_REPLY;
}

/* One byte of input: NEED_MORE, REPLY (this byte completed it) or an error. */
static int step(mxs_smtp_reader_t *r, char c) {
  if (c == '\0') return MXS_SMTP_ERR_MALFORMED;
  if (c == '\n') return step_eol(r);
  /* Room must remain for the LF: the line limit counts CRLF. */
  if (r->pos + 1 >= MXS_SMTP_MAX_LINE) return MXS_SMTP_ERR_LINE_TOO_LONG;
  if (r->pos < 4) {
    int rc = step_prefix(r, c);
    if (rc != MXS_SMTP_NEED_MORE) return rc;
    r->pos++;
    return MXS_SMTP_NEED_MORE;
  }
  /* "ddd\r" may only be followed by more CRs, then the LF. */
  if (r->prefix[3] == '\r' && c != '\r') return MXS_SMTP_ERR_MALFORMED;
  r->pos++;
  return arena_put(r, c);
}

mxs_smtp_status_t mxs_smtp_reader_feed(mxs_smtp_reader_t *r, const char *data, size_t len, size_t *used,
                                       const mxs_smtp_reply_t **reply) {
  size_t n = 0;
  int rc = r->err;
  if (reply != NULL) *reply = NULL;
  if (rc == MXS_SMTP_NEED_MORE) {
    if (r->done) { /* the previous reply expires now: reuse its storage */
      mxs_smtp_reader_reset(r);
    }
    while (n < len && rc == MXS_SMTP_NEED_MORE) rc = step(r, data[n++]);
    r->pending += n;
    if (rc == MXS_SMTP_REPLY) {
      r->done = 1;
      if (reply != NULL) *reply = &r->reply;
    } else if (rc < 0) {
      r->err = rc;
    }
  }
  if (used != NULL) *used = n;
  return rc;
}

const char *mxs_smtp_strerror(mxs_smtp_status_t s) {
  switch (s) {
  case MXS_SMTP_NEED_MORE: return "incomplete SMTP reply";
  case MXS_SMTP_REPLY: return "complete SMTP reply";
  case MXS_SMTP_ERR_LINE_TOO_LONG: return "SMTP reply line too long";
  case MXS_SMTP_ERR_TOO_MANY_LINES: return "too many lines in SMTP reply";
  case MXS_SMTP_ERR_MALFORMED: return "malformed SMTP reply (not \"ddd text\" CRLF)";
  case MXS_SMTP_ERR_NOMEM: return "out of memory reading SMTP reply";
  }
  return "unknown SMTP reader status";
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/* Like Postfix, leading blanks are skipped and the keyword ends at a blank
 * or the end of the line, so "STARTTLSX" is not "STARTTLS". */
static int line_has_keyword(const char *line, const char *kw) {
  while (is_blank(*line)) line++;
  for (; *kw != '\0'; kw++, line++)
    if (ascii_lower((unsigned char)*line) != ascii_lower((unsigned char)*kw)) return 0;
  return *line == '\0' || is_blank(*line);
}

int mxs_smtp_ehlo_has(const mxs_smtp_reply_t *ehlo, const char *kw) {
  if (ehlo == NULL || kw == NULL || *kw == '\0') return 0;
  for (size_t i = 1; i < ehlo->nlines; i++)
    if (line_has_keyword(ehlo->lines[i], kw)) return 1;
  return 0;
}

struct outbuf {
  char *p;
  size_t cap, len; /* cap excludes the NUL */
  int truncated;
};

static void out_putc(struct outbuf *o, unsigned char c) {
  if (o->len == o->cap) {
    o->truncated = 1;
    return;
  }
  /* Printable ASCII only: the summary goes into logs, JSON and terminals. */
  o->p[o->len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

static void out_puts(struct outbuf *o, const char *s) {
  while (*s != '\0' && !o->truncated) out_putc(o, (unsigned char)*s++);
}

void mxs_smtp_reply_summary(const mxs_smtp_reply_t *reply, char *out, size_t outlen) {
  if (out == NULL || outlen == 0) return;
  out[0] = '\0';
  if (reply == NULL) return;
  struct outbuf o = {out, outlen - 1, 0, 0};
  char code[4];
  int c = reply->code >= 0 && reply->code <= 999 ? reply->code : 0;
  code[0] = (char)('0' + c / 100);
  code[1] = (char)('0' + c / 10 % 10);
  code[2] = (char)('0' + c % 10);
  code[3] = '\0';
  out_puts(&o, code);
  for (size_t i = 0; i < reply->nlines && !o.truncated; i++) {
    if (reply->lines[i][0] == '\0') continue;
    out_putc(&o, ' ');
    out_puts(&o, reply->lines[i]);
  }
  /* Mark a cut so nobody mistakes it for the whole reply. */
  if (o.truncated && o.cap >= 3) memcpy(o.p + o.cap - 3, "...", 3);
  out[o.len] = '\0';
}

/* ---- the EHLO argument (RFC 5321 4.1.1.1) ------------------------------- */

enum {
  EHLO_MAX_DOMAIN = 253, /* RFC 1035 2.3.4, in text form without the root dot */
  EHLO_MAX_LABEL = 63,
};

static int is_let_dig(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (the tag is case-insensitive). */
static int check_literal(const char *s, size_t n, const char **why) {
  char inner[64];
  unsigned char bin[16];
  if (n < 3 || s[n - 1] != ']') return *why = "an address literal is [192.0.2.1] or [IPv6:2001:db8::1]", -1;
  if (n - 2 >= sizeof inner) return *why = "not an IPv4 or IPv6 address between the brackets", -1;
  memcpy(inner, s + 1, n - 2);
  inner[n - 2] = '\0';
  if (!strncasecmp(inner, "IPv6:", 5)) {
    if (inet_pton(AF_INET6, inner + 5, bin) == 1) return 0;
    return *why = "not an IPv6 address after [IPv6:", -1;
  }
  if (inet_pton(AF_INET, inner, bin) == 1) return 0;
  return *why = strchr(inner, ':') ? "an IPv6 address literal is written [IPv6:2001:db8::1]"
                                   : "not an IPv4 address between the brackets ([192.0.2.1])",
         -1;
}

int mxs_ehlo_name_check(const char *name, const char **why) {
  const char *w = NULL;
  size_t n = name ? strlen(name) : 0;
  if (n == 0) return *why = "empty name", -1;
  if (name[0] == '[') return check_literal(name, n, why);
  if (n > EHLO_MAX_DOMAIN) return *why = "name longer than 253 bytes", -1;
  for (size_t i = 0, start = 0; i <= n && !w; i++) {
    if (i < n && name[i] != '.') {
      if (!is_let_dig(name[i]) && name[i] != '-')
        w = name[i] == '_' ? "'_' is not allowed in a host name (letters, digits and '-' only)"
                           : "invalid character (letters, digits, '-' and '.' only; an address is written [192.0.2.1])";
      continue;
    }
    size_t len = i - start;
    if (len == 0)
      w = i == n ? "trailing dot (write the name without it)" : start == 0 ? "leading dot" : "empty label (\"..\")";
    else if (len > EHLO_MAX_LABEL)
      w = "label longer than 63 bytes";
    else if (!is_let_dig(name[start]) || !is_let_dig(name[i - 1]))
      w = "label starts or ends with '-'";
    start = i + 1;
  }
  if (w) return *why = w, -1;
  return 0;
}

int mxs_ehlo_name_is_fqdn(const char *name) { return name[0] == '[' || strchr(name, '.') != NULL; }
