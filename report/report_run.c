/* report_run.c - run metadata for the HTML report: a small JSON reader that
 * flattens the scan's --summary file, and the Redis run hash. */
#include "report/report_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis_sync.h"

#define MAX_SUMMARY ((size_t)1 << 20) /* a summary is a few hundred bytes */
#define MAX_DEPTH   16

void mxs_run_info_init(mxs_run_info_t *ri) { *ri = (mxs_run_info_t){0}; }

void mxs_run_info_free(mxs_run_info_t *ri) {
  for (size_t i = 0; i < ri->n; i++) {
    free(ri->kv[i].key);
    free(ri->kv[i].val);
  }
  free(ri->kv);
  free(ri->source);
  mxs_run_info_init(ri);
}

const char *mxs_run_info_get(const mxs_run_info_t *ri, const char *key) {
  for (size_t i = 0; i < ri->n; i++)
    if (!strcmp(ri->kv[i].key, key)) return ri->kv[i].val;
  return NULL;
}

/* Takes KEY and VAL (malloc'ed; freed on failure). */
static int put(mxs_run_info_t *ri, char *key, char *val, int is_str) {
  if (!key || !val) goto oom;
  if (ri->n == ri->cap) {
    size_t cap = ri->cap ? ri->cap * 2 : 32;
    mxs_kv_t *kv = realloc(ri->kv, cap * sizeof *kv);
    if (!kv) goto oom;
    ri->kv = kv;
    ri->cap = cap;
  }
  ri->kv[ri->n++] = (mxs_kv_t){key, val, is_str};
  return 0;
oom:
  free(key);
  free(val);
  return -ENOMEM;
}

/* ---- JSON, flattened ------------------------------------------------------ */

typedef struct {
  const char *p, *start, *end;
  mxs_run_info_t *ri;
  int depth;
  char why[120];
} jr_t;

static int jfail(jr_t *j, const char *why) {
  if (!j->why[0]) snprintf(j->why, sizeof j->why, "byte %ld: %s", (long)(j->p - j->start), why);
  return -1;
}

static void ws(jr_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000)
    return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3F)), o[2] = (char)(0x80 | (cp & 0x3F)), 3;
  o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3F)), o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* A JSON string at j->p, decoded into a new allocation. */
static char *jstring(jr_t *j) {
  j->p++; /* the opening quote */
  char *out = malloc((size_t)(j->end - j->p) + 1), *o = out;
  if (!out) return jfail(j, "out of memory"), NULL;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20) goto bad;
    if (c != '\\') {
      *o++ = (char)c;
      j->p++;
      continue;
    }
    if (++j->p >= j->end) goto bad;
    char e = *j->p++;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (simple && e) {
      *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      continue;
    }
    unsigned cp, lo;
    if (e != 'u' || j->end - j->p < 4 || hex4(j->p, &cp) < 0) goto bad;
    j->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
      if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) < 0 || lo < 0xDC00 ||
          lo > 0xDFFF)
        goto bad;
      j->p += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      goto bad;
    }
    o += put_utf8(o, cp);
  }
  if (j->p >= j->end) goto bad;
  j->p++;
  *o = '\0';
  return out;
bad:
  free(out);
  jfail(j, "bad string");
  return NULL;
}

static char *join(const char *path, const char *k) {
  size_t a = strlen(path), b = strlen(k);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  memcpy(s, path, a);
  if (a) s[a++] = '.';
  memcpy(s + a, k, b + 1);
  return s;
}

static int jvalue(jr_t *j, const char *path);

static int jobject(jr_t *j, const char *path) {
  j->p++;
  ws(j);
  if (j->p < j->end && *j->p == '}') return j->p++, 0;
  for (;;) {
    ws(j);
    if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a key");
    char *k = jstring(j);
    if (!k) return -1;
    char *sub = join(path, k);
    free(k);
    if (!sub) return jfail(j, "out of memory");
    ws(j);
    int rc = j->p < j->end && *j->p == ':' ? (j->p++, jvalue(j, sub)) : jfail(j, "expected ':'");
    free(sub);
    if (rc < 0) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == '}') return j->p++, 0;
    return jfail(j, "expected ',' or '}'");
  }
}

static int jarray(jr_t *j, const char *path) {
  j->p++;
  ws(j);
  if (j->p < j->end && *j->p == ']') return j->p++, 0;
  for (size_t i = 0;; i++) {
    char idx[24];
    snprintf(idx, sizeof idx, "%zu", i);
    char *sub = join(path, idx);
    if (!sub) return jfail(j, "out of memory");
    ws(j);
    int rc = jvalue(j, sub);
    free(sub);
    if (rc < 0) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == ']') return j->p++, 0;
    return jfail(j, "expected ',' or ']'");
  }
}

static int jvalue(jr_t *j, const char *path) {
  ws(j);
  if (j->p >= j->end) return jfail(j, "expected a value");
  if (++j->depth > MAX_DEPTH) return jfail(j, "nested too deep");
  int rc;
  char c = *j->p;
  if (c == '{') {
    rc = jobject(j, path);
  } else if (c == '[') {
    rc = jarray(j, path);
  } else if (c == '"') {
    char *s = jstring(j);
    rc = s ? put(j->ri, strdup(path), s, 1) : -1;
    if (rc == -ENOMEM) jfail(j, "out of memory");
  } else { /* a number or a literal: kept as written */
    const char *s = j->p;
    while (j->p < j->end && strchr("+-.0123456789eEtruefalsn", *j->p) && *j->p) j->p++;
    size_t n = (size_t)(j->p - s);
    int ok = n && ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
                   (n == 4 && !memcmp(s, "null", 4)) || strchr("-0123456789", s[0]));
    if (ok && strchr("-0123456789", s[0])) {
      char buf[64], *e;
      snprintf(buf, sizeof buf, "%.*s", (int)(n < 63 ? n : 63), s);
      (void)strtod(buf, &e);
      ok = n < 63 && !*e;
    }
    if (!ok) {
      j->p = s;
      return jfail(j, "expected a value");
    }
    rc = put(j->ri, strdup(path), strndup(s, n), 0);
    if (rc == -ENOMEM) jfail(j, "out of memory");
  }
  j->depth--;
  return rc;
}

int mxs_run_info_summary(mxs_run_info_t *ri, const char *path, char *err, size_t errlen) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return snprintf(err, errlen, "--summary: cannot open '%s': %s", path, strerror(errno)), -1;
  char *buf = malloc(MAX_SUMMARY + 1);
  size_t n = buf ? fread(buf, 1, MAX_SUMMARY + 1, fp) : 0;
  int rd_err = ferror(fp);
  fclose(fp);
  if (!buf || rd_err || n > MAX_SUMMARY) {
    free(buf);
    snprintf(err, errlen, "--summary: %s: %s", path,
             !buf     ? "out of memory"
             : rd_err ? "read error"
                      : "larger than 1 MiB: not a summary");
    return -1;
  }
  buf[n] = '\0'; /* strndup below stops at n, but a strict reader of it may not */
  jr_t j = {buf, buf, buf + n, ri, 0, ""};
  ws(&j);
  int rc = j.p < j.end && *j.p == '{' ? jvalue(&j, "") : jfail(&j, "a summary is a JSON object");
  if (rc == 0) {
    ws(&j);
    if (j.p != j.end) rc = jfail(&j, "more after the summary");
  }
  free(buf);
  if (rc < 0) {
    snprintf(err, errlen, "--summary: %s: %s", path, j.why);
    return -1;
  }
  if (!(ri->source = malloc(strlen(path) + 9))) return snprintf(err, errlen, "out of memory"), -1;
  sprintf(ri->source, "summary %s", path);
  return 0;
}

/* ---- Redis ----------------------------------------------------------------- */

int mxs_run_info_redis(mxs_run_info_t *ri, const char *url, const char *prefix, const char *run, char *err,
                       size_t errlen) {
  mxs_redis_conf_t conf;
  redisContext *rc;
  if (mxs_redis_sync_open(url, prefix, &conf, &rc, err, errlen) < 0) return -1;
  char key[400];
  snprintf(key, sizeof key, "%s:run:%s", conf.prefix, run);
  const char *av[] = {"HGETALL", key};
  redisReply *r = mxs_redis_sync_cmd(rc, 2, av, NULL, err, errlen);
  int st = r ? 0 : -1;
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && st == 0; i += 2) {
    const redisReply *k = r->element[i], *v = r->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
    char *name = malloc(k->len + 7);
    if (name) snprintf(name, k->len + 7, "redis.%s", k->str);
    st = put(ri, name, strndup(v->str, v->len), 1);
    if (st < 0) snprintf(err, errlen, "out of memory");
  }
  if (st == 0 && !(ri->source = malloc(strlen(run) + 11))) st = -1, snprintf(err, errlen, "out of memory");
  if (st == 0) sprintf(ri->source, "redis run %s", run);
  if (r) freeReplyObject(r);
  redisFree(rc);
  return st;
}
