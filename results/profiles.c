/* profiles.c - the sender profile table and the settings as text.
 *
 * Sources for postfix-debian12 (Postfix 3.7.11, the version Debian 12
 * ships): src/global/mail_params.h (DEF_SMTP_TLS_PROTO ">=TLSv1",
 * DEF_SMTP_TLS_CIPH "medium", DEF_TLS_MEDIUM_CLIST, DEF_TLS_EECDH_AUTO),
 * src/smtp/smtp_tls_policy.c set_cipher_grade (no exclusions at "may"),
 * src/tls/tls_client.c tls_client_init (SSL_CTX_set_security_level(ctx, 0),
 * SSL_OP_ALL via tls_bug_bits in tls_misc.c) and tls_client_start (security
 * level 1 only when the level must match a certificate), and Debian's
 * /usr/share/postfix/main.cf.tls (smtp_tls_security_level=may). */
#include "results/profiles.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MODERN_CIPHERS "DEFAULT:@SECLEVEL=2"

/* The table.  `modern` and `legacy` are exactly what mxscan has always used
 * for the probe and for its diagnostic retry; changing them changes every
 * record, so tests/results/test_profiles.c pins them. */
static const mxs_profile_t table[] = {
    {"modern",
     "a current OpenSSL 3 sender: TLS 1.2 and up, security level 2 (mxscan's default)",
     "mxscan's own default: OpenSSL 3's DEFAULT cipher list at security level 2, no TLS 1.0/1.1; TLS 1.3 "
     "suites, groups and signature algorithms as OpenSSL has them.",
     {MXS_TLS_V1_2, 0, 2, MODERN_CIPHERS, NULL, NULL, NULL, 0, NULL, NULL}},
    {"postfix-debian12",
     "the OpenSSL settings Postfix 3.7 makes on Debian 12 (OpenSSL 3.0) as an SMTP client at "
     "smtp_tls_security_level = may",
     "Postfix 3.7.11 defaults with Debian 12's main.cf (smtp_tls_security_level = may): smtp_tls_protocols = "
     ">=TLSv1; smtp_tls_ciphers = medium, i.e. tls_medium_cipherlist = aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH "
     "with no exclusions; tls_eecdh_auto_curves = X25519 X448 prime256v1 secp521r1 secp384r1 (SSL_CTX_set1_curves); "
     "Postfix itself lowers the security level to 0 for opportunistic TLS (tls_client.c; level 1 only at the "
     "verify/secure levels, so Debian's compiled-in level 2 does not apply) and sets SSL_OP_ALL (tls_bug_bits); "
     "Debian 12's /etc/ssl/openssl.cnf sets no TLS defaults; TLS 1.3 suites and signature algorithms are OpenSSL "
     "3.0's. Not covered: Postfix sends no SNI unless smtp_tls_servername is set (mxscan sends the MX name; "
     "--sni none sends none), its session cache and DANE.",
     {MXS_TLS_V1_0, 0, 0, "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", NULL, "X25519:X448:prime256v1:secp521r1:secp384r1",
      NULL, MXS_TLSOPT_BUG_WORKAROUNDS, NULL, NULL}},
    {"tls12-only",
     "modern without TLS 1.3: TLS 1.2 only, security level 2",
     "modern with the highest version capped at TLS 1.2, as a sender built against OpenSSL 1.0.2 or with TLS 1.3 "
     "turned off.",
     {MXS_TLS_V1_2, MXS_TLS_V1_2, 2, MODERN_CIPHERS, NULL, NULL, NULL, 0, NULL, NULL}},
    {"legacy",
     "an old sender: TLS 1.0 and up, security level 0, every cipher, legacy renegotiation",
     "mxscan's diagnostic retry after a failed handshake (the record's diag.legacy_*): what a sender on "
     "OpenSSL 1.1 or older, or with old protocols still enabled, accepts.",
     {MXS_TLS_V1_0, 0, 0, "ALL:@SECLEVEL=0", NULL, NULL, NULL, MXS_TLSOPT_LEGACY_RENEGOTIATION, NULL, NULL}},
    {"strict-tls13",
     "deliberately strict: TLS 1.3 only, security level 2",
     "no sender is this strict by default; it shows which receivers cannot yet speak TLS 1.3.",
     {MXS_TLS_V1_3, MXS_TLS_V1_3, 2, NULL, NULL, NULL, NULL, 0, NULL, NULL}},
};

#define NPROFILES (sizeof table / sizeof table[0])

size_t mxs_profile_count(void) { return NPROFILES; }

const mxs_profile_t *mxs_profile_at(size_t i) { return i < NPROFILES ? &table[i] : NULL; }

const mxs_profile_t *mxs_profile_default(void) { return &table[0]; }

const mxs_profile_t *mxs_profile_find(const char *name) {
  for (size_t i = 0; name && i < NPROFILES; i++)
    if (strcmp(table[i].name, name) == 0) return &table[i];
  return NULL;
}

const char *mxs_profile_names(void) {
  static char names[256]; /* written once, the table never changes */
  if (!names[0]) {
    size_t n = 0;
    for (size_t i = 0; i < NPROFILES && n < sizeof names; i++)
      n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", table[i].name);
  }
  return names;
}

int mxs_profile_list_parse(const char *list, const mxs_profile_t **out, size_t max, size_t *n, char *why,
                           size_t whylen) {
  char buf[512];
  size_t k = 0;
  if (strlen(list) >= sizeof buf) return snprintf(why, whylen, "the list is too long"), -1;
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    const mxs_profile_t *p = mxs_profile_find(tok);
    if (!p) return snprintf(why, whylen, "'%s' is not a profile (%s)", tok, mxs_profile_names()), -1;
    for (size_t i = 0; i < k; i++)
      if (out[i] == p) return snprintf(why, whylen, "'%s' is listed twice", tok), -1;
    if (k == max) return snprintf(why, whylen, "more than %zu profiles", max), -1;
    out[k++] = p;
  }
  if (k == 0) return snprintf(why, whylen, "no profile named"), -1;
  *n = k;
  return 0;
}

static const struct {
  int v;
  const char *name, *macro, *number;
} versions[] = {
    {MXS_TLS_V1_0, "TLSv1", "TLS1_VERSION", "1.0"},
    {MXS_TLS_V1_1, "TLSv1.1", "TLS1_1_VERSION", "1.1"},
    {MXS_TLS_V1_2, "TLSv1.2", "TLS1_2_VERSION", "1.2"},
    {MXS_TLS_V1_3, "TLSv1.3", "TLS1_3_VERSION", "1.3"},
};

#define NVERSIONS (sizeof versions / sizeof versions[0])

int mxs_tls_version_parse(const char *s, int allow_none, int *out) {
  if (allow_none && !strcasecmp(s, "none")) return *out = MXS_TLS_VERSION_NONE, 0;
  const char *num = !strncasecmp(s, "TLSv", 4) ? s + 4 : s;
  for (size_t i = 0; i < NVERSIONS; i++)
    if (!strcmp(num, versions[i].number) || !strcasecmp(s, versions[i].name)) return *out = versions[i].v, 0;
  return -1;
}

const char *mxs_tls_version_name(int v) {
  for (size_t i = 0; i < NVERSIONS; i++)
    if (versions[i].v == v) return versions[i].name;
  return "any";
}

const char *mxs_tls_version_macro(int v) {
  for (size_t i = 0; i < NVERSIONS; i++)
    if (versions[i].v == v) return versions[i].macro;
  return "0";
}

static int merge_version(int profile, int knob) { return knob == MXS_TLS_VERSION_NONE ? 0 : knob ? knob : profile; }

int mxs_tls_settings_merge(const mxs_tls_settings_t *p, const mxs_tls_settings_t *k, mxs_tls_settings_t *out) {
  *out = *p;
  out->min_version = merge_version(p->min_version, k->min_version);
  out->max_version = merge_version(p->max_version, k->max_version);
  if (k->seclevel >= 0) out->seclevel = k->seclevel;
#define KNOB(f) \
  if (k->f) out->f = k->f
  KNOB(ciphers);
  KNOB(ciphersuites);
  KNOB(groups);
  KNOB(sigalgs);
  KNOB(client_cert);
  KNOB(client_key);
#undef KNOB
  return k->min_version || k->max_version || k->seclevel >= 0 || k->ciphers || k->ciphersuites || k->groups ||
         k->sigalgs || k->client_cert || k->client_key;
}

void mxs_tls_knobs_given(const mxs_tls_settings_t *k, char *out, size_t len) {
  const struct {
    int given;
    const char *name;
  } knobs[] = {
      {k->min_version != 0, "tls-min-version"},
      {k->max_version != 0, "tls-max-version"},
      {k->ciphers != NULL, "ciphers"},
      {k->ciphersuites != NULL, "ciphersuites"},
      {k->groups != NULL, "groups"},
      {k->sigalgs != NULL, "sigalgs"},
      {k->seclevel >= 0, "seclevel"},
      {k->client_cert != NULL, "client-cert"},
      {k->client_key != NULL, "client-key"},
  };
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0] && n < len; i++)
    if (knobs[i].given) n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", knobs[i].name);
}

void mxs_tls_settings_describe(const mxs_tls_settings_t *s, void (*line)(void *arg, const char *text), void *arg) {
  char buf[640], left[200] = "";
  size_t nleft = 0;
#define LEFT(what) nleft += (size_t)snprintf(left + nleft, sizeof left - nleft, "%s%s", nleft ? ", " : "", what)
  if (s->options) {
    snprintf(buf, sizeof buf, "SSL_CTX_set_options(ctx, %s%s%s)",
             s->options & MXS_TLSOPT_BUG_WORKAROUNDS ? "SSL_OP_ALL" : "",
             (s->options & MXS_TLSOPT_BUG_WORKAROUNDS) && (s->options & MXS_TLSOPT_LEGACY_RENEGOTIATION) ? " | " : "",
             s->options & MXS_TLSOPT_LEGACY_RENEGOTIATION
                 ? "SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION"
                 : "");
    line(arg, buf);
  }
  if (s->min_version) {
    snprintf(buf, sizeof buf, "SSL_CTX_set_min_proto_version(ctx, %s)", mxs_tls_version_macro(s->min_version));
    line(arg, buf);
  } else {
    LEFT("lowest version");
  }
  if (s->max_version) {
    snprintf(buf, sizeof buf, "SSL_CTX_set_max_proto_version(ctx, %s)", mxs_tls_version_macro(s->max_version));
    line(arg, buf);
  } else {
    LEFT("highest version");
  }
  const struct {
    const char *value, *call, *what;
  } strs[] = {
      {s->ciphers, "SSL_CTX_set_cipher_list", "cipher list"},
      {s->ciphersuites, "SSL_CTX_set_ciphersuites", "TLS 1.3 ciphersuites"},
      {s->groups, "SSL_CTX_set1_groups_list", "groups"},
      {s->sigalgs, "SSL_CTX_set1_sigalgs_list", "signature algorithms"},
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    if (!strs[i].value) {
      LEFT(strs[i].what);
      continue;
    }
    snprintf(buf, sizeof buf, "%s(ctx, \"%s\")", strs[i].call, strs[i].value);
    line(arg, buf);
  }
  if (s->seclevel >= 0) {
    snprintf(buf, sizeof buf, "SSL_CTX_set_security_level(ctx, %d)", s->seclevel);
    line(arg, buf);
  } else {
    LEFT("security level");
  }
  if (s->client_cert) {
    snprintf(buf, sizeof buf, "SSL_CTX_use_certificate_chain_file(ctx, \"%s\")", s->client_cert);
    line(arg, buf);
    snprintf(buf, sizeof buf, "SSL_CTX_use_PrivateKey_file(ctx, \"%s\", SSL_FILETYPE_PEM)",
             s->client_key ? s->client_key : s->client_cert);
    line(arg, buf);
    line(arg, "SSL_CTX_check_private_key(ctx)");
  }
#undef LEFT
  snprintf(buf, sizeof buf, "left as OpenSSL has them: %s%s", nleft ? left : "nothing",
           s->client_cert ? "" : "; no client certificate");
  line(arg, buf);
}

static const char *version_number(int v) {
  for (size_t i = 0; i < NVERSIONS; i++)
    if (versions[i].v == v) return versions[i].number;
  return NULL;
}

void mxs_tls_versions_text(const mxs_tls_settings_t *s, char *out, size_t len) {
  const char *lo = version_number(s->min_version), *hi = version_number(s->max_version);
  if (lo && hi && s->min_version == s->max_version)
    snprintf(out, len, "TLS %s only", lo);
  else if (lo && hi)
    snprintf(out, len, "TLS %s to %s", lo, hi);
  else if (lo)
    snprintf(out, len, "TLS %s and up", lo);
  else if (hi)
    snprintf(out, len, "TLS up to %s", hi);
  else
    snprintf(out, len, "any TLS version");
}
