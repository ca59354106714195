/* test_profiles.c - the sender profile table: modern and legacy are exactly
 * the settings the probe and its retry always had, names and lists parse
 * as documented, knobs override a profile, and the description lists the
 * OpenSSL calls in the order probe/tls.c makes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "results/profiles.h"

static void table(void **state) {
  (void)state;
  static const char *const names[] = {"modern", "postfix-debian12", "tls12-only", "legacy", "strict-tls13"};
  assert_int_equal(mxs_profile_count(), 5);
  for (size_t i = 0; i < mxs_profile_count(); i++) {
    const mxs_profile_t *p = mxs_profile_at(i);
    assert_string_equal(p->name, names[i]);
    assert_ptr_equal(mxs_profile_find(names[i]), p);
    assert_non_null(p->summary);
    assert_non_null(p->origin);
    /* a profile never carries a client certificate: that is the operator's */
    assert_null(p->set.client_cert);
    assert_null(p->set.client_key);
  }
  assert_null(mxs_profile_at(5));
  assert_null(mxs_profile_find("exim"));
  assert_null(mxs_profile_find(NULL));
  assert_ptr_equal(mxs_profile_default(), mxs_profile_find("modern"));
  assert_string_equal(mxs_profile_names(), "modern, postfix-debian12, tls12-only, legacy, strict-tls13");
}

/* The values mxscan used before profiles existed: changing them changes
 * every record. */
static void modern_and_legacy_unchanged(void **state) {
  (void)state;
  const mxs_tls_settings_t *m = &mxs_profile_find("modern")->set, *l = &mxs_profile_find("legacy")->set;
  assert_int_equal(m->min_version, MXS_TLS_V1_2);
  assert_int_equal(m->max_version, 0);
  assert_int_equal(m->seclevel, 2);
  assert_string_equal(m->ciphers, "DEFAULT:@SECLEVEL=2");
  assert_null(m->ciphersuites);
  assert_null(m->groups);
  assert_null(m->sigalgs);
  assert_int_equal(m->options, 0);
  assert_int_equal(l->min_version, MXS_TLS_V1_0);
  assert_int_equal(l->max_version, 0);
  assert_int_equal(l->seclevel, 0);
  assert_string_equal(l->ciphers, "ALL:@SECLEVEL=0");
  assert_null(l->ciphersuites);
  assert_null(l->groups);
  assert_int_equal(l->options, MXS_TLSOPT_LEGACY_RENEGOTIATION);
}

static void others(void **state) {
  (void)state;
  const mxs_tls_settings_t *p = &mxs_profile_find("postfix-debian12")->set;
  assert_int_equal(p->min_version, MXS_TLS_V1_0); /* smtp_tls_protocols = >=TLSv1 */
  assert_int_equal(p->max_version, 0);
  assert_int_equal(p->seclevel, 0); /* Postfix's own choice at "may" */
  assert_string_equal(p->ciphers, "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
  assert_string_equal(p->groups, "X25519:X448:prime256v1:secp521r1:secp384r1");
  assert_int_equal(p->options, MXS_TLSOPT_BUG_WORKAROUNDS);
  const mxs_tls_settings_t *t = &mxs_profile_find("tls12-only")->set, *s = &mxs_profile_find("strict-tls13")->set;
  assert_int_equal(t->max_version, MXS_TLS_V1_2);
  assert_int_equal(t->min_version, MXS_TLS_V1_2);
  assert_int_equal(s->min_version, MXS_TLS_V1_3);
  assert_int_equal(s->max_version, MXS_TLS_V1_3);
}

static void lists(void **state) {
  (void)state;
  const mxs_profile_t *out[8];
  size_t n = 0;
  char why[256];
  assert_int_equal(mxs_profile_list_parse("legacy,tls12-only", out, 8, &n, why, sizeof why), 0);
  assert_int_equal(n, 2);
  assert_string_equal(out[0]->name, "legacy");
  assert_string_equal(out[1]->name, "tls12-only");
  assert_int_equal(mxs_profile_list_parse(" modern , legacy ", out, 8, &n, why, sizeof why), 0);
  assert_int_equal(n, 2);
  assert_int_equal(mxs_profile_list_parse("legacy,exim", out, 8, &n, why, sizeof why), -1);
  assert_non_null(strstr(why, "'exim' is not a profile (modern, "));
  assert_int_equal(mxs_profile_list_parse("legacy,legacy", out, 8, &n, why, sizeof why), -1);
  assert_non_null(strstr(why, "'legacy' is listed twice"));
  assert_int_equal(mxs_profile_list_parse(",", out, 8, &n, why, sizeof why), -1);
  assert_non_null(strstr(why, "no profile"));
  assert_int_equal(mxs_profile_list_parse("modern,legacy", out, 1, &n, why, sizeof why), -1);
  assert_non_null(strstr(why, "more than 1"));
}

static void versions(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int v;
  } ok[] = {{"1.0", MXS_TLS_V1_0},     {"TLSv1", MXS_TLS_V1_0},   {"tlsv1.0", MXS_TLS_V1_0},
            {"1.1", MXS_TLS_V1_1},     {"TLSv1.2", MXS_TLS_V1_2}, {"1.2", MXS_TLS_V1_2},
            {"TLSV1.3", MXS_TLS_V1_3}, {"1.3", MXS_TLS_V1_3},     {"none", MXS_TLS_VERSION_NONE}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int v = 0;
    assert_int_equal(mxs_tls_version_parse(ok[i].text, 1, &v), 0);
    assert_int_equal(v, ok[i].v);
  }
  static const char *const bad[] = {"", "1", "1.4", "2", "SSLv3", "TLS1.2", "1.2.0", "v1.2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int v = 7;
    if (mxs_tls_version_parse(bad[i], 1, &v) == 0) fail_msg("'%s' parsed as a version", bad[i]);
    assert_int_equal(v, 7);
  }
  int v = 0;
  assert_int_equal(mxs_tls_version_parse("none", 0, &v), -1);
  assert_string_equal(mxs_tls_version_name(MXS_TLS_V1_0), "TLSv1"); /* as records write it */
  assert_string_equal(mxs_tls_version_name(MXS_TLS_V1_3), "TLSv1.3");
  assert_string_equal(mxs_tls_version_macro(MXS_TLS_V1_2), "TLS1_2_VERSION");
  char text[64];
  mxs_tls_versions_text(&mxs_profile_find("modern")->set, text, sizeof text);
  assert_string_equal(text, "TLS 1.2 and up");
  mxs_tls_versions_text(&mxs_profile_find("strict-tls13")->set, text, sizeof text);
  assert_string_equal(text, "TLS 1.3 only");
  mxs_tls_settings_t s = {.min_version = MXS_TLS_V1_0, .max_version = MXS_TLS_V1_2};
  mxs_tls_versions_text(&s, text, sizeof text);
  assert_string_equal(text, "TLS 1.0 to 1.2");
}

static void merge(void **state) {
  (void)state;
  const mxs_tls_settings_t *modern = &mxs_profile_find("modern")->set;
  mxs_tls_settings_t none = {.seclevel = -1}, out;
  char given[200];
  assert_int_equal(mxs_tls_settings_merge(modern, &none, &out), 0);
  assert_int_equal(out.min_version, modern->min_version);
  assert_int_equal(out.max_version, modern->max_version);
  assert_int_equal(out.seclevel, modern->seclevel);
  assert_ptr_equal(out.ciphers, modern->ciphers);
  assert_null(out.groups);
  assert_null(out.client_cert);
  mxs_tls_knobs_given(&none, given, sizeof given);
  assert_string_equal(given, "");

  mxs_tls_settings_t k = {.max_version = MXS_TLS_V1_2, .seclevel = 0, .ciphers = "AES128-SHA", .groups = "X25519"};
  assert_int_equal(mxs_tls_settings_merge(modern, &k, &out), 1);
  assert_int_equal(out.min_version, MXS_TLS_V1_2); /* the profile's */
  assert_int_equal(out.max_version, MXS_TLS_V1_2);
  assert_int_equal(out.seclevel, 0);
  assert_string_equal(out.ciphers, "AES128-SHA");
  assert_string_equal(out.groups, "X25519");
  assert_null(out.sigalgs);
  mxs_tls_knobs_given(&k, given, sizeof given);
  assert_string_equal(given, "tls-max-version,ciphers,groups,seclevel");

  /* "none" clears a bound of the profile */
  const mxs_tls_settings_t *strict = &mxs_profile_find("strict-tls13")->set;
  mxs_tls_settings_t clear = {.max_version = MXS_TLS_VERSION_NONE, .seclevel = -1};
  assert_int_equal(mxs_tls_settings_merge(strict, &clear, &out), 1);
  assert_int_equal(out.min_version, MXS_TLS_V1_3);
  assert_int_equal(out.max_version, 0);
}

static void collect(void *arg, const char *text) {
  char *buf = arg;
  strcat(buf, text);
  strcat(buf, "\n");
}

static void describe(void **state) {
  (void)state;
  char buf[4096] = "";
  mxs_tls_settings_describe(&mxs_profile_find("modern")->set, collect, buf);
  assert_string_equal(buf,
                      "SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)\n"
                      "SSL_CTX_set_cipher_list(ctx, \"DEFAULT:@SECLEVEL=2\")\n"
                      "SSL_CTX_set_security_level(ctx, 2)\n"
                      "left as OpenSSL has them: highest version, TLS 1.3 ciphersuites, groups, signature "
                      "algorithms; no client certificate\n");
  buf[0] = '\0';
  mxs_tls_settings_t s = mxs_profile_find("postfix-debian12")->set;
  s.options |= MXS_TLSOPT_LEGACY_RENEGOTIATION;
  s.max_version = MXS_TLS_V1_3;
  s.ciphersuites = "TLS_AES_128_GCM_SHA256";
  s.sigalgs = "RSA-PSS+SHA256";
  s.client_cert = "/etc/c.pem";
  mxs_tls_settings_describe(&s, collect, buf);
  assert_string_equal(buf,
                      "SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_LEGACY_SERVER_CONNECT | "
                      "SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION)\n"
                      "SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION)\n"
                      "SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)\n"
                      "SSL_CTX_set_cipher_list(ctx, \"aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH\")\n"
                      "SSL_CTX_set_ciphersuites(ctx, \"TLS_AES_128_GCM_SHA256\")\n"
                      "SSL_CTX_set1_groups_list(ctx, \"X25519:X448:prime256v1:secp521r1:secp384r1\")\n"
                      "SSL_CTX_set1_sigalgs_list(ctx, \"RSA-PSS+SHA256\")\n"
                      "SSL_CTX_set_security_level(ctx, 0)\n"
                      "SSL_CTX_use_certificate_chain_file(ctx, \"/etc/c.pem\")\n"
                      "SSL_CTX_use_PrivateKey_file(ctx, \"/etc/c.pem\", SSL_FILETYPE_PEM)\n"
                      "SSL_CTX_check_private_key(ctx)\n"
                      "left as OpenSSL has them: nothing\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table),    cmocka_unit_test(modern_and_legacy_unchanged),
      cmocka_unit_test(others),   cmocka_unit_test(lists),
      cmocka_unit_test(versions), cmocka_unit_test(merge),
      cmocka_unit_test(describe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
