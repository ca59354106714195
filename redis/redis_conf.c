/* redis_conf.c - parses the Redis exporter's URL, options and environment.
 *
 * Every message names the URL through its masked form only: a password must
 * never reach a terminal or a log, even when the URL is malformed (the mask
 * is computed from the raw text before anything else is parsed).
 */
#include "redis/redis_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Does query key K (N bytes) name a secret?  There is no such option, but
 * other tools take "?password=" in a Redis URL, and the message saying it
 * is unknown quotes the URL. */
static int secret_key(const char *k, size_t n) {
  static const char *const words[] = {"pass", "pwd", "auth", "secret", "token"};
  for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
    for (size_t wl = strlen(words[w]), i = 0; i + wl <= n; i++)
      if (strncasecmp(k + i, words[w], wl) == 0) return 1;
  return 0;
}

/* Replaces in place the value of every secret-looking key of the query
 * string of OUT (after its '?'); OUT holds OUTLEN bytes. */
static void mask_query(char *out, size_t outlen) {
  char *q = strchr(out, '?'), tmp[1024];
  if (!q) return;
  size_t o = 0;
  for (const char *p = q + 1; *p && o < sizeof tmp;) {
    size_t n = strcspn(p, "&"), kl = strcspn(p, "=&");
    int hide = kl < n && secret_key(p, kl);
    const char *sep = p[n] == '&' ? "&" : "";
    int w = snprintf(tmp + o, sizeof tmp - o, "%.*s%s%s", (int)(hide ? kl : n), p, hide ? "=***" : "", sep);
    if (w < 0) break;
    o += (size_t)w; /* OUT is shorter than TMP: never cut */
    p += n + (*sep != '\0');
  }
  tmp[o < sizeof tmp ? o : sizeof tmp - 1] = '\0';
  snprintf(q + 1, outlen - (size_t)(q + 1 - out), "%s", tmp);
}

void mxs_redis_mask(const char *in, char *out, size_t outlen) {
  const char *start = strstr(in, "://");
  const char *at = strrchr(in, '@');
  if (!at) {
    snprintf(out, outlen, "%s", in);
  } else if (!start || at < start + 3) {
    /* Not a URL we read ("redis:/:pw@h", "pw@h"): whatever comes before
     * the '@' may be a password. */
    snprintf(out, outlen, "***%s", at);
  } else {
    start += 3;
    /* "user:pw@" keeps the user; "pw@" (redis-cli's reading of a userinfo
     * without a colon) is all password.  The last '@' is taken so that an
     * unencoded '@' or '/' in the password is masked too. */
    const char *colon = memchr(start, ':', (size_t)(at - start));
    size_t keep = colon ? (size_t)(colon + 1 - in) : (size_t)(start - in);
    snprintf(out, outlen, "%.*s***%s", (int)keep, in, at);
  }
  if (outlen) mask_query(out, outlen);
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = tolower(ch);
  return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes N bytes of S into OUT; -1 when it does not fit, a %XX is
 * malformed, or it decodes to NUL. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int ch = (unsigned char)s[i];
    if (ch == '%') {
      if (n - i < 3) return -1;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi | lo) == 0) return -1;
      ch = hi * 16 + lo;
      i += 2;
    }
    if (o + 1 >= outlen) return -1;
    out[o++] = (char)ch;
  }
  out[o] = '\0';
  return 0;
}

static int parse_ll(const char *s, size_t n, long long lo, long long hi, long long *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || *end || v < lo || v > hi || !isdigit((unsigned char)buf[0])) return -1;
  *out = v;
  return 0;
}

/* Seconds, decimals allowed, into milliseconds (0 < S <= 86400). */
static int parse_ms(const char *s, size_t n, int *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (errno || *end || !(v > 0) || v > 86400) return -1;
  *out = (int)(v * 1000 + 0.5);
  if (*out < 1) *out = 1;
  return 0;
}

/* A prefix is part of key names and of the spill file's name. */
static int valid_prefix(const char *p) {
  if (!*p) return 0;
  for (; *p; p++)
    if (*p <= ' ' || *p >= 127 || *p == '/') return 0;
  return 1;
}

static int set_str(char *dst, size_t dstlen, const char *s, size_t n) {
  if (n >= dstlen) return -1;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return 0;
}

/* One "name=value" of the query string. */
static int query_opt(mxs_redis_conf_t *c, const char *k, size_t kn, const char *v, size_t vn) {
  long long n;
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)
  if (KEY("prefix")) return set_str(c->prefix, sizeof c->prefix, v, vn);
  if (KEY("run")) return set_str(c->run, sizeof c->run, v, vn);
  if (KEY("worker")) return set_str(c->worker, sizeof c->worker, v, vn);
  if (KEY("spill_dir")) return pct_decode(v, vn, c->spill_dir, sizeof c->spill_dir);
  if (KEY("maxlen")) return parse_ll(v, vn, 1, (long long)1 << 50, &c->maxlen);
  if (KEY("db")) {
    if (parse_ll(v, vn, 0, 1 << 30, &n) < 0) return -1;
    c->db = (int)n;
    return 0;
  }
  if (KEY("window") || KEY("batch")) {
    if (parse_ll(v, vn, 1, KEY("batch") ? MXS_REDIS_MAX_BATCH : 10000000, &n) < 0) return -1;
    *(KEY("batch") ? &c->batch : &c->window) = (int)n;
    return 0;
  }
  if (KEY("connect_timeout")) return parse_ms(v, vn, &c->connect_timeout_ms);
  if (KEY("command_timeout")) return parse_ms(v, vn, &c->command_timeout_ms);
  if (KEY("down_limit")) return parse_ms(v, vn, &c->down_limit_ms);
  if (KEY("close_timeout")) return parse_ms(v, vn, &c->close_timeout_ms);
#undef KEY
  return -2;
}

static int parse_query(mxs_redis_conf_t *c, const char *q, char *err, size_t errlen) {
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', len);
    if (len > 0) {
      int rc = eq ? query_opt(c, q, (size_t)(eq - q), eq + 1, len - (size_t)(eq + 1 - q)) : -2;
      if (rc < 0) {
        snprintf(err, errlen, "redis URL '%s': %s option '%.*s'", c->display, rc == -2 ? "unknown" : "bad value for",
                 (int)(eq ? eq - q : (long)len), q);
        return -EINVAL;
      }
    }
    q += len + (amp ? 1 : 0);
  }
  return 0;
}

/* "user:pw" or "pw" (redis-cli's reading) before the '@'. */
static int parse_userinfo(mxs_redis_conf_t *c, const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  if (colon) {
    if (pct_decode(s, (size_t)(colon - s), c->user, sizeof c->user) < 0) return -1;
    n -= (size_t)(colon + 1 - s);
    s = colon + 1;
  }
  /* An empty password ("user:@host") leaves the environment's in place. */
  char pw[sizeof c->password];
  if (pct_decode(s, n, pw, sizeof pw) < 0) return -1;
  if (pw[0]) memcpy(c->password, pw, sizeof pw);
  return 0;
}

/* HOST[:PORT] or [V6]:PORT. */
static int parse_hostport(mxs_redis_conf_t *c, const char *s, size_t n) {
  const char *port = NULL;
  size_t hn = n;
  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (!rb) return -1;
    if (set_str(c->host, sizeof c->host, s + 1, (size_t)(rb - s - 1)) < 0) return -1;
    if (rb + 1 < s + n) {
      if (rb[1] != ':') return -1;
      port = rb + 2;
    }
  } else {
    const char *colon = memchr(s, ':', n);
    if (colon) {
      hn = (size_t)(colon - s);
      port = colon + 1;
    }
    if (set_str(c->host, sizeof c->host, s, hn) < 0) return -1;
  }
  if (!c->host[0]) return -1;
  if (port) {
    long long p;
    if (parse_ll(port, (size_t)(s + n - port), 1, 65535, &p) < 0) return -1;
    c->port = (int)p;
  }
  return 0;
}

/* After "redis://": [USERINFO@]HOST[:PORT][/DB][?QUERY]. */
static int parse_tcp(mxs_redis_conf_t *c, const char *s, const char **query) {
  size_t alen = strcspn(s, "/?");
  const char *at = NULL;
  for (const char *p = s; p < s + alen; p++)
    if (*p == '@') at = p;
  const char *host = s;
  if (at) {
    if (parse_userinfo(c, s, (size_t)(at - s)) < 0) return -1;
    host = at + 1;
  }
  if (parse_hostport(c, host, (size_t)(s + alen - host)) < 0) return -1;
  s += alen;
  if (*s == '/') {
    size_t dlen = strcspn(++s, "?");
    long long db;
    if (dlen > 0 && parse_ll(s, dlen, 0, 1 << 30, &db) < 0) return -1;
    if (dlen > 0) c->db = (int)db;
    s += dlen;
  }
  *query = *s == '?' ? s + 1 : s;
  return 0;
}

/* After "unix://": [USERINFO@]/PATH[?QUERY]. */
static int parse_unix(mxs_redis_conf_t *c, const char *s, const char **query) {
  if (*s != '/') {
    const char *at = strchr(s, '@');
    if (!at || at[1] != '/') return -1;
    if (parse_userinfo(c, s, (size_t)(at - s)) < 0) return -1;
    s = at + 1;
  }
  size_t plen = strcspn(s, "?");
  if (plen < 2 || pct_decode(s, plen, c->path, sizeof c->path) < 0) return -1;
  s += plen;
  *query = *s == '?' ? s + 1 : s;
  return 0;
}

static void defaults(mxs_redis_conf_t *c) {
  memset(c, 0, sizeof *c);
  c->port = 6379;
  snprintf(c->prefix, sizeof c->prefix, "mxscan");
  c->maxlen = 10000000;
  c->window = 10000;
  c->batch = 64;
  c->connect_timeout_ms = 5000;
  c->command_timeout_ms = 10000;
  c->down_limit_ms = 30000;
  c->close_timeout_ms = 60000;
  snprintf(c->spill_dir, sizeof c->spill_dir, ".");
}

/* The environment, below the URL's own options. */
static int from_env(mxs_redis_conf_t *c, char *err, size_t errlen) {
  const char *v;
  if ((v = getenv("MXSCAN_REDIS_PREFIX")) && *v && set_str(c->prefix, sizeof c->prefix, v, strlen(v)) < 0) {
    snprintf(err, errlen, "MXSCAN_REDIS_PREFIX is too long");
    return -EINVAL;
  }
  if ((v = getenv("MXSCAN_REDIS_MAXLEN")) && *v && parse_ll(v, strlen(v), 1, (long long)1 << 50, &c->maxlen) < 0) {
    snprintf(err, errlen, "MXSCAN_REDIS_MAXLEN: '%s' is not a positive number", v);
    return -EINVAL;
  }
  if ((v = getenv("MXSCAN_REDIS_DOWN_LIMIT")) && *v && parse_ms(v, strlen(v), &c->down_limit_ms) < 0) {
    snprintf(err, errlen, "MXSCAN_REDIS_DOWN_LIMIT: '%s' is not a number of seconds", v);
    return -EINVAL;
  }
  if ((v = getenv("MXSCAN_REDIS_SPILL_DIR")) && *v && set_str(c->spill_dir, sizeof c->spill_dir, v, strlen(v)) < 0) {
    snprintf(err, errlen, "MXSCAN_REDIS_SPILL_DIR is too long");
    return -EINVAL;
  }
  if (((v = getenv("MXSCAN_REDIS_PASSWORD")) && *v) || ((v = getenv("REDISCLI_AUTH")) && *v)) {
    if (set_str(c->password, sizeof c->password, v, strlen(v)) < 0) {
      snprintf(err, errlen, "the Redis password in the environment is too long");
      return -EINVAL;
    }
  }
  return 0;
}

int mxs_redis_conf_parse(const char *url, mxs_redis_conf_t *c, char *err, size_t errlen) {
  defaults(c);
  mxs_redis_mask(url, c->display, sizeof c->display);
  if (strlen(url) >= 255) { /* the registry keeps 255 bytes of a target */
    snprintf(err, errlen, "redis URL '%.40s...' is too long (at most 254 characters)", c->display);
    return -EINVAL;
  }
  int rc = from_env(c, err, errlen);
  if (rc < 0) return rc;
  const char *query = "";
  if (strncmp(url, "rediss://", 9) == 0) {
    snprintf(err, errlen, "redis URL '%s': TLS (rediss://) is not supported with hiredis 0.14", c->display);
    return -EINVAL;
  }
  if (strncmp(url, "redis://", 8) == 0)
    rc = parse_tcp(c, url + 8, &query);
  else if (strncmp(url, "unix://", 7) == 0)
    rc = parse_unix(c, url + 7, &query);
  else {
    snprintf(err, errlen, "redis URL '%s': expected redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]",
             c->display);
    return -EINVAL;
  }
  if (rc < 0) {
    snprintf(err, errlen, "redis URL '%s': malformed %s", c->display,
             url[0] == 'u' ? "socket path (unix:///PATH[?db=N])" : "host, port or database (HOST[:PORT][/DB])");
    return -EINVAL;
  }
  if ((rc = parse_query(c, query, err, errlen)) < 0) return rc;
  if (!valid_prefix(c->prefix)) {
    snprintf(err, errlen, "redis key prefix '%s' must be printable, without blanks or '/'", c->prefix);
    return -EINVAL;
  }
  /* Both become parts of key names, like the prefix. */
  if ((c->run[0] && !valid_prefix(c->run)) || (c->worker[0] && !valid_prefix(c->worker))) {
    snprintf(err, errlen, "redis run id and worker name must be printable, without blanks or '/'");
    return -EINVAL;
  }
  if (c->batch > c->window) c->batch = c->window;
  return 0;
}
