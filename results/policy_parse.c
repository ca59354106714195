/* policy_parse.c - the texts of MTA-STS (RFC 8461) and TLS-RPT (RFC 8460):
 * the two TXT records, the policy file, the MX pattern match.
 *
 * Strict where the RFCs' grammars are (a sender that is stricter than the
 * domain expects ignores its policy, which is the failure mxscan looks
 * for), and every input is a (pointer, length): TXT records and policy
 * files come off the network and may hold NUL bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/policy.h"

static int is_alnum(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_wsp(int c) { return c == ' ' || c == '\t'; }
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Text for a message: at most 40 bytes of S, unprintable bytes as '?'. */
static const char *shown(const char *s, size_t n, char out[48]) {
  size_t k = 0;
  for (; k < n && k < 40; k++) out[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
  if (n > 40) out[k++] = '.', out[k++] = '.', out[k++] = '.';
  out[k] = '\0';
  return out;
}

/* ---- the key=value TXT records (STS and TLS-RPT share the shape) ------- */

/* The record begins with VERSION, followed by WSP, ';' or the end: it is
 * one of ours (RFC 8461 3.1 and RFC 8460 3 discard the others). */
static int has_version(const char *r, size_t n, const char *version) {
  size_t v = strlen(version);
  return n >= v && memcmp(r, version, v) == 0 && (n == v || r[v] == ';' || is_wsp(r[v]));
}

/* ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static int is_ext_name(const char *s, size_t n) {
  if (n == 0 || n > 32 || !is_alnum((unsigned char)s[0])) return 0;
  for (size_t i = 1; i < n; i++)
    if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return 0;
  return 1;
}

/* ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no blank, ';' or '='. */
static int is_ext_value(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c > 0x7e || c == ';' || c == '=') return 0;
  }
  return 1;
}

/* One field "name=value" of a record, blanks around it trimmed. */
typedef struct {
  const char *name, *value;
  size_t nlen, vlen;
} field_t;

/* Splits record R (N bytes, known to begin with the version) into its
 * fields after the version, calling FN for each; a field that is not
 * name=value, or an empty one between two ';', fails.  0 or -1 (WHY set). */
typedef int (*field_fn)(void *arg, const field_t *f, char *why, size_t wl);

static int each_field(const char *r, size_t n, size_t vlen, field_fn fn, void *arg, char *why, size_t wl) {
  size_t i = vlen, nfields = 0;
  char tmp[48];
  while (i < n) {
    while (i < n && is_wsp(r[i])) i++;
    if (i == n) break;
    if (r[i] != ';') return snprintf(why, wl, "'%s' where ';' was expected", shown(r + i, n - i, tmp)), -1;
    i++;
    while (i < n && is_wsp(r[i])) i++;
    if (i == n) break; /* a trailing ';' is allowed */
    size_t start = i;
    while (i < n && r[i] != ';') i++;
    size_t end = i;
    while (end > start && is_wsp(r[end - 1])) end--;
    const char *eq = memchr(r + start, '=', end - start);
    if (!eq) return snprintf(why, wl, "field '%s' is not name=value", shown(r + start, end - start, tmp)), -1;
    /* the value runs to the next ';': blanks inside it are the field's to judge (rua allows them after commas) */
    field_t f = {r + start, eq + 1, (size_t)(eq - (r + start)), (size_t)(r + end - (eq + 1))};
    if (fn(arg, &f, why, wl) < 0) return -1;
    nfields++;
  }
  if (nfields == 0) return snprintf(why, wl, "no field after the version"), -1;
  return 0;
}

/* Of N records, the one that begins with VERSION: its index, -1 for none,
 * -2 for several (WHY set). */
static int pick_one(const char *const *recs, const size_t *lens, size_t n, const char *version, char *why, size_t wl) {
  int found = -1;
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (has_version(recs[i], lens[i], version)) {
      if (found < 0) found = (int)i;
      count++;
    }
  if (count > 1) {
    snprintf(why, wl, "%zu TXT records begin with %s (there must be one)", count, version);
    return -2;
  }
  if (found >= 0 && memchr(recs[found], '\0', lens[found])) {
    snprintf(why, wl, "the %s TXT record holds a NUL byte", version);
    return -2;
  }
  return found;
}

/* ---- _mta-sts TXT (RFC 8461 section 3.1) ------------------------------ */

typedef struct {
  char *id;
  int have_id;
} sts_fields_t;

static int sts_field(void *arg, const field_t *f, char *why, size_t wl) {
  sts_fields_t *s = arg;
  char tmp[48];
  if (f->nlen == 2 && memcmp(f->name, "id", 2) == 0) {
    if (s->have_id) return snprintf(why, wl, "id given twice"), -1;
    if (f->vlen < 1 || f->vlen > MXS_STS_ID_MAX)
      return snprintf(why, wl, "id '%s' is not 1 to 32 letters and digits", shown(f->value, f->vlen, tmp)), -1;
    for (size_t i = 0; i < f->vlen; i++)
      if (!is_alnum((unsigned char)f->value[i]))
        return snprintf(why, wl, "id '%s' is not 1 to 32 letters and digits", shown(f->value, f->vlen, tmp)), -1;
    memcpy(s->id, f->value, f->vlen);
    s->id[f->vlen] = '\0';
    s->have_id = 1;
    return 0;
  }
  if (!is_ext_name(f->name, f->nlen) || !is_ext_value(f->value, f->vlen))
    return snprintf(why, wl, "malformed field '%s'", shown(f->name, f->nlen + 1 + f->vlen, tmp)), -1;
  return 0; /* an extension: ignored */
}

mxs_sts_txt_t mxs_sts_txt_pick(const char *const *recs, const size_t *lens, size_t n, char id[MXS_STS_ID_MAX + 1],
                               char *why, size_t whylen) {
  int k = pick_one(recs, lens, n, "v=STSv1", why, whylen);
  if (k == -1) return MXS_STS_TXT_NONE;
  if (k < 0) return MXS_STS_TXT_INVALID;
  sts_fields_t s = {id, 0};
  char inner[160];
  if (each_field(recs[k], lens[k], 7, sts_field, &s, inner, sizeof inner) < 0 ||
      (!s.have_id && snprintf(inner, sizeof inner, "no id field") >= 0)) {
    snprintf(why, whylen, "_mta-sts TXT record: %s", inner);
    return MXS_STS_TXT_INVALID;
  }
  return MXS_STS_TXT_OK;
}

/* ---- _smtp._tls TXT (RFC 8460 section 3) ------------------------------ */

typedef struct {
  const char *rua;
  size_t rualen;
  int have_rua;
} rpt_fields_t;

static int rpt_field(void *arg, const field_t *f, char *why, size_t wl) {
  rpt_fields_t *s = arg;
  char tmp[48];
  if (f->nlen == 3 && memcmp(f->name, "rua", 3) == 0) {
    if (s->have_rua) return snprintf(why, wl, "rua given twice"), -1;
    s->rua = f->value;
    s->rualen = f->vlen;
    s->have_rua = 1;
    return 0;
  }
  if (!is_ext_name(f->name, f->nlen) || !is_ext_value(f->value, f->vlen))
    return snprintf(why, wl, "malformed field '%s'", shown(f->name, f->nlen + 1 + f->vlen, tmp)), -1;
  return 0;
}

/* A URI of rua: mailto: or https: and something after it, no blanks. */
static int rua_uri_ok(const char *u, size_t n) {
  size_t k = n >= 7 && !strncmp(u, "mailto:", 7) ? 7 : n >= 8 && !strncmp(u, "https://", 8) ? 8 : 0;
  if (k == 0 || n == k) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f) return 0;
  return 1;
}

mxs_tlsrpt_txt_t mxs_tlsrpt_txt_pick(const char *const *recs, const size_t *lens, size_t n, char ***rua, size_t *nrua,
                                     char *why, size_t whylen) {
  int k = pick_one(recs, lens, n, "v=TLSRPTv1", why, whylen);
  if (k == -1) return MXS_TLSRPT_NONE;
  if (k < 0) return MXS_TLSRPT_INVALID;
  rpt_fields_t s = {NULL, 0, 0};
  char inner[160], tmp[48];
  if (each_field(recs[k], lens[k], 10, rpt_field, &s, inner, sizeof inner) < 0 ||
      (!s.have_rua && snprintf(inner, sizeof inner, "no rua field") >= 0)) {
    snprintf(why, whylen, "_smtp._tls TXT record: %s", inner);
    return MXS_TLSRPT_INVALID;
  }
  /* the URIs, comma-separated with optional blanks, checked and counted */
  const char *starts[MXS_POLICY_MAX_LIST];
  size_t lens_[MXS_POLICY_MAX_LIST], count = 0, bytes = 0;
  for (size_t i = 0; i <= s.rualen;) {
    size_t j = i;
    while (j < s.rualen && s.rua[j] != ',') j++;
    size_t a = i, b = j;
    while (a < b && is_wsp(s.rua[a])) a++;
    while (b > a && is_wsp(s.rua[b - 1])) b--;
    if (!rua_uri_ok(s.rua + a, b - a)) {
      snprintf(why, whylen, "_smtp._tls TXT record: rua URI '%s' is not mailto: or https://",
               shown(s.rua + a, b - a, tmp));
      return MXS_TLSRPT_INVALID;
    }
    if (count < MXS_POLICY_MAX_LIST) {
      starts[count] = s.rua + a;
      lens_[count++] = b - a;
      bytes += b - a + 1;
    }
    i = j + 1;
  }
  char **v = malloc(count * sizeof *v + bytes);
  if (!v) {
    snprintf(why, whylen, "out of memory");
    return MXS_TLSRPT_INVALID;
  }
  char *p = (char *)(v + count);
  for (size_t i = 0; i < count; i++) {
    memcpy(p, starts[i], lens_[i]);
    p[lens_[i]] = '\0';
    v[i] = p;
    p += lens_[i] + 1;
  }
  *rua = v;
  *nrua = count;
  return MXS_TLSRPT_OK;
}

/* ---- the policy file (RFC 8461 section 3.2) --------------------------- */

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
 * (RFC 5321), with an optional leading "*." for a pattern. */
static int is_mx_pattern(const char *s, size_t n) {
  if (n >= 2 && s[0] == '*' && s[1] == '.') s += 2, n -= 2;
  if (n == 0 || n > 253) return 0;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      label = 0;
      continue;
    }
    if (!is_alnum(c) && !(c == '-' && label > 0)) return 0;
    if (++label > 63) return 0;
  }
  return label > 0 && s[n - 1] != '-';
}

/* sts-policy-ext-value: visible characters (UTF-8 allowed), inner blanks. */
static int is_policy_value(const char *s, size_t n) {
  if (n == 0 || is_wsp(s[n - 1])) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x21 && c != ' ') || c == 0x7f) return 0;
  }
  return 1;
}

static int add_mx(mxs_sts_policy_t *p, const char *s, size_t n) {
  if (p->nmx == MXS_POLICY_MAX_LIST) return 0; /* kept: the first 64 */
  char **v = realloc(p->mx, (p->nmx + 1) * sizeof *v);
  if (!v) return -1;
  p->mx = v;
  char *c = malloc(n + 1);
  if (!c) return -1;
  for (size_t i = 0; i < n; i++) c[i] = (char)lower((unsigned char)s[i]);
  c[n] = '\0';
  p->mx[p->nmx++] = c;
  return 0;
}

void mxs_sts_policy_free(mxs_sts_policy_t *p) {
  for (size_t i = 0; i < p->nmx; i++) free(p->mx[i]);
  free(p->mx);
  memset(p, 0, sizeof *p);
}

/* One "key: value" line (without its terminator).  SEEN: bit per key. */
static int policy_line(mxs_sts_policy_t *p, const char *l, size_t n, unsigned *seen, char *why, size_t wl) {
  char tmp[48];
  const char *colon = memchr(l, ':', n);
  if (!colon) return snprintf(why, wl, "'%s' is not key: value", shown(l, n, tmp)), -1;
  size_t klen = (size_t)(colon - l), vs = klen + 1;
  while (vs < n && is_wsp(l[vs])) vs++;
  size_t ve = n;
  while (ve > vs && is_wsp(l[ve - 1])) ve--; /* sts-policy-field *WSP */
  const char *v = l + vs;
  size_t vlen = ve - vs;
  if (!is_ext_name(l, klen)) return snprintf(why, wl, "'%s' is not a key", shown(l, klen, tmp)), -1;
  if (!is_policy_value(v, vlen)) return snprintf(why, wl, "%.*s: empty or malformed value", (int)klen, l), -1;
  static const char *const keys[] = {"version", "mode", "max_age", "mx"};
  int k = 0;
  while (k < 4 && !(strlen(keys[k]) == klen && memcmp(keys[k], l, klen) == 0)) k++;
  if (k == 4) return 0;                        /* an extension: ignored */
  if (k != 3 && (*seen & (1u << k))) return 0; /* a repeated key: the first one counts */
  *seen |= 1u << k;
  switch (k) {
  case 0:
    if (vlen != 5 || memcmp(v, "STSv1", 5) != 0)
      return snprintf(why, wl, "version '%s' is not STSv1", shown(v, vlen, tmp)), -1;
    return 0;
  case 1:
    if (vlen == 7 && !memcmp(v, "enforce", 7))
      p->mode = MXS_STS_ENFORCE;
    else if (vlen == 7 && !memcmp(v, "testing", 7))
      p->mode = MXS_STS_TESTING;
    else if (vlen == 4 && !memcmp(v, "none", 4))
      p->mode = MXS_STS_NONE;
    else
      return snprintf(why, wl, "mode '%s' is not enforce, testing or none", shown(v, vlen, tmp)), -1;
    return 0;
  case 2: {
    int64_t age = 0;
    if (vlen > 10) return snprintf(why, wl, "max_age '%s' has more than 10 digits", shown(v, vlen, tmp)), -1;
    for (size_t i = 0; i < vlen; i++) {
      if (v[i] < '0' || v[i] > '9')
        return snprintf(why, wl, "max_age '%s' is not a number of seconds", shown(v, vlen, tmp)), -1;
      age = age * 10 + (v[i] - '0');
    }
    p->max_age = age;
    return 0;
  }
  default:
    if (!is_mx_pattern(v, vlen))
      return snprintf(why, wl, "mx '%s' is not a host name pattern", shown(v, vlen, tmp)), -1;
    if (add_mx(p, v, vlen) < 0) return snprintf(why, wl, "out of memory"), -1;
    return 0;
  }
}

int mxs_sts_policy_parse(const char *text, size_t len, mxs_sts_policy_t *out, char *why, size_t whylen) {
  mxs_sts_policy_t p = {MXS_STS_MODE_UNSET, -1, NULL, 0};
  unsigned seen = 0;
  size_t i = 0, lineno = 0;
  char inner[160];
  int rc = 0;
  memset(out, 0, sizeof *out);
  if (len > MXS_STS_MAX_POLICY) {
    snprintf(why, whylen, "policy larger than %zu bytes", MXS_STS_MAX_POLICY);
    return -1;
  }
  while (i < len && rc == 0) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    size_t n = e - i;
    if (n > 0 && text[i + n - 1] == '\r') n--;
    lineno++;
    if (memchr(text + i, '\0', n)) {
      snprintf(inner, sizeof inner, "a NUL byte");
      rc = -1;
    } else if (n == 0) {
      /* sts-policy-term separates fields: a blank line is no field */
      if (e < len || lineno == 1) {
        snprintf(inner, sizeof inner, "an empty line");
        rc = -1;
      }
    } else {
      rc = policy_line(&p, text + i, n, &seen, inner, sizeof inner);
    }
    if (rc < 0) snprintf(why, whylen, "policy line %zu: %s", lineno, inner);
    i = e + 1;
  }
  if (rc == 0) {
    const char *missing = !(seen & 1)                             ? "version"
                          : !(seen & 2)                           ? "mode"
                          : !(seen & 4)                           ? "max_age"
                          : !(seen & 8) && p.mode != MXS_STS_NONE ? "mx"
                                                                  : NULL;
    if (missing) {
      snprintf(why, whylen, "policy has no %s line", missing);
      rc = -1;
    }
  }
  if (rc < 0) {
    mxs_sts_policy_free(&p);
    return -1;
  }
  *out = p;
  return 0;
}

/* ---- MX patterns (RFC 8461 section 4.1) ------------------------------- */

static int name_eq(const char *a, size_t an, const char *b, size_t bn) {
  if (an != bn) return 0;
  for (size_t i = 0; i < an; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return 1;
}

int mxs_sts_mx_match(const char *pattern, const char *host) {
  size_t pn = strlen(pattern), hn = strlen(host);
  if (pn && pattern[pn - 1] == '.') pn--;
  if (hn && host[hn - 1] == '.') hn--;
  if (pn == 0 || hn == 0) return 0;
  if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    /* "*.example.com": HOST is one label, then ".example.com" */
    const char *dot = memchr(host, '.', hn);
    if (!dot || dot == host) return 0;
    return name_eq(dot, hn - (size_t)(dot - host), pattern + 1, pn - 1);
  }
  return name_eq(pattern, pn, host, hn);
}

int mxs_sts_mx_match_any(const char *const *patterns, size_t n, const char *host) {
  for (size_t i = 0; i < n; i++)
    if (mxs_sts_mx_match(patterns[i], host)) return 1;
  return 0;
}
