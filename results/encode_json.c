/* encode_json.c - JSON text encoder (one object, no trailing newline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/encoders.h"

void mxs_json_put_raw(mxs_json_encoder_t *j, const char *s, size_t n) {
  if (j->oom) return;
  if (j->len + n + 1 > j->cap) {
    size_t cap = j->cap ? j->cap : 1024;
    while (cap < j->len + n + 1) cap *= 2;
    char *nb = realloc(j->buf, cap);
    if (!nb) {
      j->oom = 1;
      return;
    }
    j->buf = nb;
    j->cap = cap;
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = '\0';
}

static void put(mxs_json_encoder_t *j, const char *s, size_t n) { mxs_json_put_raw(j, s, n); }

/* Emits the separator a value needs: nothing after a key, a comma between
 * items of a container. */
static void sep(mxs_json_encoder_t *j) {
  if (j->after_key) {
    j->after_key = 0;
    return;
  }
  if (j->depth > 0) {
    if (!(j->first[j->depth] & 1)) put(j, ",", 1);
    j->first[j->depth] &= 0x80;
  }
}

static void open_container(mxs_json_encoder_t *j, char c) {
  sep(j);
  put(j, &c, 1);
  if (j->depth < (int)sizeof j->first - 1) j->depth++;
  /* bit 0: next item is the first; bit 7: this level is a map */
  j->first[j->depth] = (unsigned char)(1 | (c == '{' ? 0x80 : 0));
}

static void j_map(mxs_encoder_t *e, size_t n) {
  (void)n;
  open_container((mxs_json_encoder_t *)e, '{');
}
static void j_array(mxs_encoder_t *e, size_t n) {
  (void)n;
  open_container((mxs_json_encoder_t *)e, '[');
}

static void j_end(mxs_encoder_t *e) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  put(j, (j->first[j->depth] & 0x80) ? "}" : "]", 1);
  if (j->depth > 0) j->depth--;
}

/* Length of a valid UTF-8 sequence at S, or 0. */
static size_t utf8_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || (n == 2 && s[0] < 0xC2) || (n == 4 && s[0] > 0xF4)) return 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && s[0] == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
  if (n == 3 && s[0] == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
  if (n == 4 && s[0] == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
  if (n == 4 && s[0] == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
  return n;
}

void mxs_json_put_string(mxs_json_encoder_t *j, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  put(j, "\"", 1);
  while (*p) {
    const unsigned char *run = p;
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    put(j, (const char *)run, (size_t)(p - run));
    if (!*p) break;
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      put(j, esc, 2);
      p++;
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      put(j, esc, 6);
      p++;
    } else {
      size_t n = utf8_len(p);
      if (n)
        put(j, (const char *)p, n);
      else
        put(j, "\xEF\xBF\xBD", 3);
      p += n ? n : 1;
    }
  }
  put(j, "\"", 1);
}

static void j_key(mxs_encoder_t *e, const char *k) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  sep(j);
  mxs_json_put_string(j, k);
  put(j, ":", 1);
  j->after_key = 1;
}

static void j_str(mxs_encoder_t *e, const char *s) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  sep(j);
  mxs_json_put_string(j, s);
}

static void j_int(mxs_encoder_t *e, int64_t v) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  char b[24];
  int n = snprintf(b, sizeof b, "%lld", (long long)v);
  sep(j);
  put(j, b, (size_t)n);
}

static void j_bool(mxs_encoder_t *e, int v) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  sep(j);
  put(j, v ? "true" : "false", v ? 4 : 5);
}

static void j_nil(mxs_encoder_t *e) {
  mxs_json_encoder_t *j = (mxs_json_encoder_t *)e;
  sep(j);
  put(j, "null", 4);
}

void mxs_json_encoder_init(mxs_json_encoder_t *j) {
  memset(j, 0, sizeof *j);
  j->base = (mxs_encoder_t){j_map, j_array, j_end, j_key, j_str, j_int, j_bool, j_nil};
}

void mxs_json_encoder_reset(mxs_json_encoder_t *j) {
  j->len = 0;
  j->oom = 0;
  j->depth = 0;
  j->after_key = 0;
  j->first[0] = 1;
  if (j->buf) j->buf[0] = '\0';
}

void mxs_json_encoder_free(mxs_json_encoder_t *j) {
  free(j->buf);
  j->buf = NULL;
  j->len = j->cap = 0;
}
