/* reader_json.c - one JSON Lines record to a record, in place.
 *
 * A strict RFC 8259 parser (any JSON value is checked, so a corrupt line
 * is an error, not a half-read record) that keeps only the keys of the
 * field table.  It decodes strings in place -- an escape is never shorter
 * than what it decodes to -- and NUL-terminates them, so reading a record
 * allocates nothing: that, not a library's DOM of every value, is what
 * keeps a million-record report in seconds.
 */
#include <stdio.h>
#include <string.h>

#include "results/reader_int.h"

#define MAX_DEPTH 32

typedef struct {
  char *p, *end, *line;
  mxs_rd_t *d;
  int depth;
} jp_t;

static int jfail(jp_t *j, const char *what) {
  snprintf(j->d->why, sizeof j->d->why, "invalid JSON at column %zu: %s", (size_t)(j->p - j->line) + 1, what);
  return -1;
}

static void ws(jp_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

/* Length of the valid UTF-8 sequence at S (N bytes available), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || len > n || (len == 2 && s[0] < 0xC2) || (len == 4 && s[0] > 0xF4)) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (len == 3 && s[0] == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
  if (len == 3 && s[0] == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
  if (len == 4 && s[0] == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
  if (len == 4 && s[0] == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
  return len;
}

static int hex4(jp_t *j, unsigned *out) {
  if (j->end - j->p < 4) return jfail(j, "short \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = *j->p++;
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return jfail(j, "bad \\u escape");
  }
  *out = v;
  return 0;
}

/* The code point of a \u escape (j->p after the 'u'), pairs joined. */
static int unicode_escape(jp_t *j, unsigned *cp) {
  if (hex4(j, cp) < 0) return -1;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) return jfail(j, "lone low surrogate");
  if (*cp >= 0xD800 && *cp <= 0xDBFF) {
    unsigned lo;
    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') return jfail(j, "lone high surrogate");
    j->p += 2;
    if (hex4(j, &lo) < 0) return -1;
    if (lo < 0xDC00 || lo > 0xDFFF) return jfail(j, "bad surrogate pair");
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (*cp == 0) return jfail(j, "\\u0000 in a string");
  return 0;
}

/* Decodes the escape at j->p (a backslash) to *w. */
static int unescape(jp_t *j, char **w) {
  if (j->end - j->p < 2) return jfail(j, "unterminated string");
  char c = j->p[1], out;
  j->p += 2;
  switch (c) {
  case '"':
  case '\\':
  case '/': out = c; break;
  case 'b': out = '\b'; break;
  case 'f': out = '\f'; break;
  case 'n': out = '\n'; break;
  case 'r': out = '\r'; break;
  case 't': out = '\t'; break;
  case 'u': out = 0; break;
  default: return jfail(j, "bad escape");
  }
  if (out) {
    *(*w)++ = out;
    return 0;
  }
  unsigned cp;
  if (unicode_escape(j, &cp) < 0) return -1;
  unsigned char *o = (unsigned char *)*w;
  if (cp < 0x80) {
    *o++ = (unsigned char)cp;
  } else if (cp < 0x800) {
    *o++ = (unsigned char)(0xC0 | cp >> 6);
    *o++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (unsigned char)(0xE0 | cp >> 12);
    *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (unsigned char)(0xF0 | cp >> 18);
    *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (unsigned char)(0x80 | (cp & 0x3F));
  }
  *w = (char *)o;
  return 0;
}

/* Parses the string at j->p (a quote) in place: *out is its NUL-ended
 * text, *len its length. */
static int parse_string(jp_t *j, char **out, size_t *len) {
  char *s = ++j->p, *w = s; /* w == j->p until the first escape */
  while (j->p < j->end) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') {
      *w = '\0';
      j->p++;
      *out = s;
      *len = (size_t)(w - s);
      return 0;
    }
    if (c == '\\') {
      if (unescape(j, &w) < 0) return -1;
      continue;
    }
    if (c < 0x20) return jfail(j, "control character in a string");
    size_t n = 1;
    if (c >= 0x80 && !(n = utf8_len((unsigned char *)j->p, (size_t)(j->end - j->p))))
      return jfail(j, "invalid UTF-8 in a string");
    if (w != j->p) memmove(w, j->p, n);
    w += n;
    j->p += n;
  }
  return jfail(j, "unterminated string");
}

static int is_digit(jp_t *j) { return j->p < j->end && *j->p >= '0' && *j->p <= '9'; }

/* A JSON number; *is_int when it is an integer that fits int64. */
static int parse_number(jp_t *j, int64_t *v, int *is_int) {
  int neg = j->p < j->end && *j->p == '-';
  if (neg) j->p++;
  if (!is_digit(j)) return jfail(j, "bad number");
  uint64_t u = 0;
  int fits = 1;
  if (*j->p == '0') {
    j->p++;
  } else {
    while (is_digit(j)) {
      unsigned dg = (unsigned)(*j->p++ - '0');
      if (u > (UINT64_C(1) << 63) / 10 || u * 10 + dg > (UINT64_C(1) << 63))
        fits = 0;
      else
        u = u * 10 + dg;
    }
  }
  int frac = 0;
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (!is_digit(j)) return jfail(j, "bad number");
    while (is_digit(j)) j->p++;
    frac = 1;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (!is_digit(j)) return jfail(j, "bad number");
    while (is_digit(j)) j->p++;
    frac = 1;
  }
  *is_int = fits && !frac && (neg || u <= (uint64_t)INT64_MAX);
  if (*is_int) *v = neg ? (int64_t)(0 - u) : (int64_t)u;
  return 0;
}

static int literal(jp_t *j, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return jfail(j, "unexpected character");
  j->p += n;
  return 0;
}

static int parse_value(jp_t *j, int scope, int id);

/* An object's members; SCOPE says which keys to keep (-1: none). */
static int parse_object(jp_t *j, int scope) {
  if (++j->depth > MAX_DEPTH) return jfail(j, "nested too deep");
  j->p++;
  ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    j->depth--;
    return 0;
  }
  for (;;) {
    char *k;
    size_t klen;
    ws(j);
    if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a key");
    if (parse_string(j, &k, &klen) < 0) return -1;
    ws(j);
    if (j->p >= j->end || *j->p != ':') return jfail(j, "expected ':'");
    j->p++;
    ws(j);
    if (parse_value(j, scope, scope < 0 ? MXS_RD_NONE : mxs_rd_lookup(scope, k, klen)) < 0) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == '}') break;
    return jfail(j, "expected ',' or '}'");
  }
  j->p++;
  j->depth--;
  return 0;
}

/* An array; a kept list ID (of SCOPE) must hold strings only, kept. */
static int parse_array(jp_t *j, int scope, int id) {
  if (++j->depth > MAX_DEPTH) return jfail(j, "nested too deep");
  j->p++;
  ws(j);
  if (j->p < j->end && *j->p == ']') {
    j->p++;
    j->depth--;
    return 0;
  }
  for (;;) {
    ws(j);
    if (id) {
      char *s;
      size_t n;
      if (j->p >= j->end || *j->p != '"') return mxs_rd_bad_type(j->d, scope, id);
      if (parse_string(j, &s, &n) < 0) return -1;
      mxs_rd_add_str(j->d, id, s);
    } else if (parse_value(j, -1, MXS_RD_NONE) < 0) {
      return -1;
    }
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == ']') break;
    return jfail(j, "expected ',' or ']'");
  }
  j->p++;
  j->depth--;
  return 0;
}

/* Any value; stored when ID is a kept key (of SCOPE), after a type check. */
static int parse_value(jp_t *j, int scope, int id) {
  if (j->p >= j->end) return jfail(j, "expected a value");
  char c = *j->p;
  char *s;
  size_t n;
  int64_t v = 0;
  int is_int = 0;
  switch (c) {
  case '"':
    if (id && id > MXS_RD_LAST_STR) return mxs_rd_bad_type(j->d, scope, id);
    if (parse_string(j, &s, &n) < 0) return -1;
    return id ? mxs_rd_set_str(j->d, id, s) : 0;
  case '{':
    if (id && mxs_rd_map_scope(id) < 0) return mxs_rd_bad_type(j->d, scope, id);
    if (id) mxs_rd_set_bool(j->d, id, 1);
    return parse_object(j, id ? mxs_rd_map_scope(id) : -1);
  case '[':
    if (id && !mxs_rd_is_list(id)) return mxs_rd_bad_type(j->d, scope, id);
    return parse_array(j, scope, id);
  case 't':
  case 'f':
    if (id && !mxs_rd_is_bool(id)) return mxs_rd_bad_type(j->d, scope, id);
    if (literal(j, c == 't' ? "true" : "false") < 0) return -1;
    if (id) mxs_rd_set_bool(j->d, id, c == 't');
    return 0;
  case 'n':
    if (id) return mxs_rd_bad_type(j->d, scope, id);
    return literal(j, "null");
  default:
    if (c != '-' && !(c >= '0' && c <= '9')) return jfail(j, "unexpected character");
    if (parse_number(j, &v, &is_int) < 0) return -1;
    if (!id) return 0;
    if (id <= MXS_RD_LAST_STR || id > MXS_RD_LAST_INT || !is_int) return mxs_rd_bad_type(j->d, scope, id);
    mxs_rd_set_int(j->d, id, v);
    return 0;
  }
}

int mxs_rd_json(mxs_rd_t *d, char *p, char *end) {
  jp_t j = {p, end, p, d, 0};
  ws(&j);
  if (j.p >= j.end || *j.p != '{') return jfail(&j, "a record is a JSON object");
  if (parse_object(&j, MXS_RD_IN_TOP) < 0) return -1;
  ws(&j);
  if (j.p != j.end) return jfail(&j, "more after the record");
  return mxs_rd_end(d);
}
