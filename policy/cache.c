/* cache.c - MTA-STS policies kept across runs: the file, read and written
 * whole (cache.h). */
#include "policy/cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/table.h"
#include "results/policy.h"
#include "results/replace.h"

#define HEADER "# mxscan policy cache 1"

typedef struct {
  mxs_sts_cache_entry_t e;
  char id[MXS_STS_ID_MAX + 1];
  char *text; /* owned */
} entry_t;

struct mxs_sts_cache_s {
  mxs_table_t t; /* domain -> entry_t */
};

static void entry_free(void *arg, const char *key, void *val) {
  (void)arg;
  (void)key;
  entry_t *e = val;
  free(e->text);
  free(e);
}

void mxs_sts_cache_free(mxs_sts_cache_t *c) {
  if (!c) return;
  mxs_table_each(&c->t, entry_free, NULL);
  mxs_table_free(&c->t);
  free(c);
}

size_t mxs_sts_cache_len(const mxs_sts_cache_t *c) { return c ? c->t.len : 0; }

const mxs_sts_cache_entry_t *mxs_sts_cache_get(const mxs_sts_cache_t *c, const char *domain) {
  entry_t *e = c ? mxs_table_get(&c->t, domain) : NULL;
  return e ? &e->e : NULL;
}

/* RFC 8461 3.1: the id is 1 to 32 letters and digits. */
static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > MXS_STS_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9'))) return 0;
  return 1;
}

static int valid_domain(const char *d) {
  size_t n = strlen(d);
  if (n == 0 || n > 253) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)d[i] <= ' ' || (unsigned char)d[i] >= 0x7f) return 0;
  return 1;
}

int mxs_sts_cache_put(mxs_sts_cache_t *c, const char *domain, const char *id, int64_t fetched_at, int64_t max_age,
                      const char *text, size_t len) {
  if (!c || !valid_domain(domain) || !valid_id(id) || len > MXS_STS_CACHE_MAX_TEXT) return -1;
  entry_t *e = calloc(1, sizeof *e);
  if (!e || !(e->text = malloc(len + 1))) {
    free(e);
    return -1;
  }
  memcpy(e->text, text, len);
  e->text[len] = '\0';
  snprintf(e->id, sizeof e->id, "%s", id);
  e->e = (mxs_sts_cache_entry_t){e->id, fetched_at, max_age, e->text, len};
  entry_t *old = mxs_table_get(&c->t, domain);
  if (mxs_table_put(&c->t, domain, e) < 0) {
    entry_free(NULL, NULL, e);
    return -1;
  }
  if (old) entry_free(NULL, NULL, old);
  return 0;
}

/* ---- reading -------------------------------------------------------------- */

/* Undoes the escapes of POLICY in place; its new length, or -1 for an
 * escape we never write. */
static long unescape(char *s) {
  char *w = s;
  for (const char *r = s; *r; r++) {
    if (*r != '\\') {
      *w++ = *r;
      continue;
    }
    switch (*++r) {
    case '\\': *w++ = '\\'; break;
    case 't': *w++ = '\t'; break;
    case 'r': *w++ = '\r'; break;
    case 'n': *w++ = '\n'; break;
    default: return -1;
    }
  }
  *w = '\0';
  return (long)(w - s);
}

static int parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0) return -1;
  *out = v;
  return 0;
}

/* One entry line into C.  0, 1 when it has run out by NOW (skipped), or -1
 * with WHY. */
static int read_line(mxs_sts_cache_t *c, char *line, int64_t now, const char **why) {
  char *f[5];
  int n = 0;
  for (char *p = line; n < 5; n++) {
    f[n] = p;
    char *tab = n < 4 ? strchr(p, '\t') : NULL;
    if (n < 4 && !tab) {
      *why = "not five tab-separated fields";
      return -1;
    }
    if (tab) {
      *tab = '\0';
      p = tab + 1;
    }
  }
  int64_t at, max_age;
  if (!valid_domain(f[0])) return *why = "not a domain", -1;
  if (!valid_id(f[1])) return *why = "not an MTA-STS id", -1;
  if (parse_int64(f[2], &at) < 0 || parse_int64(f[3], &max_age) < 0) return *why = "not a time and a max_age", -1;
  long len = unescape(f[4]);
  if (len < 0) return *why = "not a policy text", -1;
  if (len > MXS_STS_CACHE_MAX_TEXT) return *why = "a policy text longer than we keep", -1;
  if (at > now || now - at >= max_age) return 1; /* expired (or from the future): fetch again */
  if (mxs_sts_cache_put(c, f[0], f[1], at, max_age, f[4], (size_t)len) < 0) return *why = "out of memory", -1;
  return 0;
}

int mxs_sts_cache_load(const char *path, int64_t now, mxs_sts_cache_t **out, mxs_sts_cache_load_t *info, char *err,
                       size_t errlen) {
  memset(info, 0, sizeof *info);
  mxs_sts_cache_t *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "policy cache %s: out of memory", path);
    return -1;
  }
  mxs_table_init(&c->t);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    if (errno == ENOENT) { /* the first run */
      *out = c;
      return 0;
    }
    snprintf(err, errlen, "policy cache %s: %s", path, strerror(errno));
    mxs_sts_cache_free(c);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &cap, fp)) >= 0) {
    lineno++;
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (lineno == 1) {
      if (strcmp(line, HEADER) != 0) {
        /* someone else's file: never overwrite it */
        snprintf(err, errlen, "policy cache %s:1: not an mxscan policy cache (want \"%s\")", path, HEADER);
        rc = -1;
        break;
      }
      continue;
    }
    if (len == 0) continue;
    const char *why = NULL;
    int r = (size_t)len != strlen(line) ? (why = "a NUL byte", -1) : read_line(c, line, now, &why);
    if (r == 0) {
      info->loaded++;
    } else {
      info->skipped++;
      if (r < 0 && !info->bad_line) {
        info->bad_line = lineno;
        snprintf(info->bad_why, sizeof info->bad_why, "%s", why);
      }
    }
  }
  if (rc == 0 && ferror(fp)) {
    snprintf(err, errlen, "policy cache %s: %s", path, strerror(errno));
    rc = -1;
  }
  free(line);
  fclose(fp);
  if (rc < 0) {
    mxs_sts_cache_free(c);
    return -1;
  }
  *out = c;
  return 0;
}

/* ---- writing -------------------------------------------------------------- */

static void write_entry(void *arg, const char *key, void *val) {
  FILE *fp = arg;
  const entry_t *e = val;
  fprintf(fp, "%s\t%s\t%lld\t%lld\t", key, e->id, (long long)e->e.fetched_at, (long long)e->e.max_age);
  for (size_t i = 0; i < e->e.len; i++) {
    char ch = e->text[i];
    switch (ch) {
    case '\\': fputs("\\\\", fp); break;
    case '\t': fputs("\\t", fp); break;
    case '\r': fputs("\\r", fp); break;
    case '\n': fputs("\\n", fp); break;
    case '\0': break; /* the parser stops reading a policy at none either way */
    default: fputc(ch, fp);
    }
  }
  fputc('\n', fp);
}

int mxs_sts_cache_save(const mxs_sts_cache_t *c, const char *path, char *err, size_t errlen) {
  char tmpl[4096];
  mxs_replace_t out;
  int rc = snprintf(tmpl, sizeof tmpl, "%s.tmp-XXXXXX", path) >= (int)sizeof tmpl ? -ENAMETOOLONG
                                                                                  : mxs_replace_open(&out, tmpl);
  if (rc == 0) {
    fprintf(out.fp, "%s\n", HEADER);
    mxs_table_each(&c->t, write_entry, out.fp);
    rc = mxs_replace_commit(&out, path);
  }
  if (rc < 0) snprintf(err, errlen, "policy cache %s: %s", path, strerror(-rc));
  return rc < 0 ? -1 : 0;
}
