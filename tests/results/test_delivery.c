/* test_delivery.c - the delivery table, the `secure` name check, the
 * domain fold and the `delivery` field read back.
 *
 * delivery.c refuses to build when a class has no row; this checks what
 * the rows say for the classes whose reasons README.md gives in full (the
 * whole table is compared with README's by tests/cli/test_delivery_docs.py),
 * the name check of Postfix's `secure` level, the `dane` and `mta-sts`
 * levels from the policy fields, and the walk over MX hosts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/delivery.h"
#include "results/encoders.h"
#include "results/reader.h"

static const char *out4(mxs_class_t c, mxs_class_set_t errs, int names) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s %s %s %s", mxs_outcome_name(mxs_delivery_of(MXS_LEVEL_MAY, c, errs, names)),
           mxs_outcome_name(mxs_delivery_of(MXS_LEVEL_ENCRYPT, c, errs, names)),
           mxs_outcome_name(mxs_delivery_of(MXS_LEVEL_VERIFY, c, errs, names)),
           mxs_outcome_name(mxs_delivery_of(MXS_LEVEL_SECURE, c, errs, names)));
  return buf;
}

static void every_class_has_an_outcome(void **state) {
  (void)state;
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    for (int l = 0; l < MXS_LEVEL_COUNT; l++) {
      mxs_outcome_t o = mxs_delivery_of((mxs_level_t)l, (mxs_class_t)i, 0, 1);
      /* excluded: nothing was probed, nothing is known at any level */
      if (i == MXS_CLASS_EXCLUDED) {
        if (o != MXS_OUTCOME_UNKNOWN)
          fail_msg("excluded at %s: %s", mxs_level_name((mxs_level_t)l), mxs_outcome_name(o));
        continue;
      }
      /* a policy class: the record's TLS facts decide (policy_classes_take_their_tls) */
      const char *cell = mxs_delivery_cell_name((mxs_level_t)l, (mxs_class_t)i);
      if (!strcmp(cell, "as-its-tls")) continue;
      /* the policy levels: the class alone decides only where it defers */
      int policy = !strcmp(cell, "dane-or-may") || !strcmp(cell, "sts-or-may");
      if (policy != (o == MXS_OUTCOME_UNKNOWN) || (policy && l < MXS_LEVELS_TLS) ||
          (l >= MXS_LEVELS_TLS && !policy && o != MXS_OUTCOME_DEFERRED))
        fail_msg("%s at %s: %s (%s)", mxs_class_name((mxs_class_t)i), mxs_level_name((mxs_level_t)l),
                 mxs_outcome_name(o), cell);
    }
  /* a stricter level never delivers what a laxer one defers, nor in the
   * clear; `secure` checks another name than `verify`, so it is stricter
   * than `encrypt` only */
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    for (int l = MXS_LEVEL_ENCRYPT; l < MXS_LEVELS_TLS; l++) {
      mxs_outcome_t o = mxs_delivery_of((mxs_level_t)l, (mxs_class_t)i, 0, 1);
      mxs_level_t laxer = l == MXS_LEVEL_SECURE ? MXS_LEVEL_ENCRYPT : (mxs_level_t)(l - 1);
      if (o == MXS_OUTCOME_CLEARTEXT)
        fail_msg("%s: cleartext at %s", mxs_class_name((mxs_class_t)i), mxs_level_name((mxs_level_t)l));
      if (mxs_delivery_of(laxer, (mxs_class_t)i, 0, 1) == MXS_OUTCOME_DEFERRED)
        assert_int_equal(o, MXS_OUTCOME_DEFERRED);
    }
}

/* An MTA-STS or DANE class is what the record's TLS facts make of it for a
 * sender at the levels that ignore those policies; unknown when the
 * handshake did not complete. */
static void policy_classes_take_their_tls(void **state) {
  (void)state;
  static const char *const san[] = {"mx.example.com"};
  mxs_cert_info_t cert = {.subject_cn = "mx.example.com", .san = san, .nsan = 1};
  mxs_record_t r = {.domain = "example.com",
                    .cls = MXS_CLASS_STS_WEBPKI_INVALID,
                    .tls_version = "TLSv1.3",
                    .cert = &cert,
                    .cert_errors = MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED)};
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  mxs_delivery_record(&r, out);
  assert_int_equal(out[MXS_LEVEL_MAY], MXS_OUTCOME_TLS);
  assert_int_equal(out[MXS_LEVEL_ENCRYPT], MXS_OUTCOME_TLS);
  assert_int_equal(out[MXS_LEVEL_VERIFY], MXS_OUTCOME_DEFERRED); /* as cert-expired */
  assert_int_equal(out[MXS_LEVEL_SECURE], MXS_OUTCOME_DEFERRED);
  r.cls = MXS_CLASS_DANE_REQUIRED; /* a good chain for the MX: as ok */
  r.cert_errors = 0;
  mxs_delivery_record(&r, out);
  assert_int_equal(out[MXS_LEVEL_VERIFY], MXS_OUTCOME_TLS);
  r.cls = MXS_CLASS_STS_POLICY_FETCH_ERROR; /* no handshake: the record does not say */
  r.tls_version = NULL;
  r.cert = NULL;
  mxs_delivery_record(&r, out);
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) assert_int_equal(out[l], MXS_OUTCOME_UNKNOWN);
}

static void rows(void **state) {
  (void)state;
  assert_string_equal(out4(MXS_CLASS_DNS_NXDOMAIN, 0, 1), "deferred deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_TCP_TIMEOUT, 0, 1), "deferred deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_SMTP_CLOSED, 0, 1), "deferred deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_STARTTLS_NOT_OFFERED, 0, 1), "cleartext deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_STARTTLS_REJECTED, 0, 1), "cleartext deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_TLS_DIED, 0, 1), "cleartext deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_POST_TLS_EHLO_FAILED, 0, 1), "cleartext deferred deferred deferred");
  assert_string_equal(out4(MXS_CLASS_CERT_SELF_SIGNED, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED), 1),
                      "tls tls deferred deferred");
  assert_string_equal(out4(MXS_CLASS_CERT_WEAK, MXS_CLASS_BIT(MXS_CLASS_CERT_WEAK), 1), "tls tls deferred deferred");
  assert_string_equal(out4(MXS_CLASS_OK, 0, 1), "tls tls tls tls");
  assert_string_equal(out4(MXS_CLASS_OK, 0, 0), "tls tls tls deferred");
  assert_string_equal(out4(MXS_CLASS_OK, 0, -1), "tls tls tls unknown");
  /* `secure` does not look at the MX name, only at the domain's */
  mxs_class_set_t mm = MXS_CLASS_BIT(MXS_CLASS_CERT_HOSTNAME_MISMATCH);
  assert_string_equal(out4(MXS_CLASS_CERT_HOSTNAME_MISMATCH, mm, 1), "tls tls deferred tls");
  assert_string_equal(out4(MXS_CLASS_CERT_HOSTNAME_MISMATCH, mm, 0), "tls tls deferred deferred");
  /* ... but a weak key fails its chain check all the same */
  assert_string_equal(out4(MXS_CLASS_CERT_HOSTNAME_MISMATCH, mm | MXS_CLASS_BIT(MXS_CLASS_CERT_WEAK), 1),
                      "tls tls deferred deferred");
  /* only a failed TLS attempt is "retried"; cleartext for want of STARTTLS is at once */
  assert_true(mxs_delivery_retried(MXS_LEVEL_MAY, MXS_CLASS_TLS_ALERT));
  assert_true(mxs_delivery_retried(MXS_LEVEL_MAY, MXS_CLASS_POST_TLS_EHLO_FAILED));
  assert_false(mxs_delivery_retried(MXS_LEVEL_MAY, MXS_CLASS_STARTTLS_NOT_OFFERED));
  assert_false(mxs_delivery_retried(MXS_LEVEL_ENCRYPT, MXS_CLASS_TLS_ALERT));
}

static void names(void **state) {
  (void)state;
  assert_string_equal(mxs_level_name(MXS_LEVEL_MTA_STS), "mta-sts");
  assert_int_equal(mxs_level_from_name("verify"), MXS_LEVEL_VERIFY);
  assert_int_equal(mxs_level_from_name("VERIFY"), -1);
  assert_int_equal(mxs_level_from_name("none"), -1);
  assert_int_equal(mxs_outcome_from_name("cleartext"), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(mxs_outcome_from_name("bounced"), MXS_OUTCOME_UNKNOWN);
  assert_string_equal(mxs_outcome_name(MXS_OUTCOME_UNKNOWN), "unknown");
}

static int nexthop(const char *const *san, size_t nsan, const char *cn, const char *domain) {
  mxs_cert_info_t c = {.subject_cn = cn, .san = san, .nsan = nsan};
  return mxs_delivery_names_nexthop(&c, domain);
}

static void secure_name_check(void **state) {
  (void)state;
  const char *exact[] = {"Example.COM."}, *sub[] = {"mx1.mail.example.com"}, *wild[] = {"*.example.com"};
  const char *other[] = {"mx.example.net", "badexample.com", "example.com.evil"};
  assert_true(nexthop(exact, 1, NULL, "example.com"));
  assert_true(nexthop(exact, 1, NULL, "example.com."));
  assert_true(nexthop(sub, 1, NULL, "example.com"));
  assert_true(nexthop(wild, 1, NULL, "example.com"));
  assert_false(nexthop(wild, 1, NULL, "mail.example.com")); /* a wildcard is under its parent only */
  assert_false(nexthop(other, 3, NULL, "example.com"));
  assert_false(nexthop(sub, 1, NULL, "mail.example.com.au"));
  assert_false(nexthop(exact, 1, NULL, ""));
  /* the CN counts only without a SAN dNSName */
  assert_true(nexthop(NULL, 0, "mx.example.com", "example.com"));
  assert_false(nexthop(other, 1, "mx.example.com", "example.com"));
  assert_false(mxs_delivery_names_nexthop(NULL, "example.com"));
}

static mxs_outcome_t fold(const char *spec) {
  /* "10:tls 20:deferred 5:cleartext+retried" */
  mxs_delivery_fold_t f;
  mxs_delivery_fold_init(&f);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    long pref = strtol(tok, &tok, 10);
    assert_int_equal(*tok++, ':');
    int retried = strstr(tok, "+retried") != NULL;
    if (retried) *strstr(tok, "+retried") = '\0';
    mxs_delivery_fold_add(&f, mxs_outcome_from_name(tok), retried, pref);
  }
  return mxs_delivery_fold_result(&f);
}

static void domain_fold(void **state) {
  (void)state;
  assert_int_equal(fold(""), MXS_OUTCOME_DEFERRED);
  assert_int_equal(fold("0:deferred"), MXS_OUTCOME_DEFERRED);
  assert_int_equal(fold("10:deferred 20:tls"), MXS_OUTCOME_TLS);        /* the next MX takes it */
  assert_int_equal(fold("10:tls 20:cleartext"), MXS_OUTCOME_TLS);       /* the first that works */
  assert_int_equal(fold("20:cleartext 10:tls"), MXS_OUTCOME_TLS);       /* whatever the record order */
  assert_int_equal(fold("10:cleartext 20:tls"), MXS_OUTCOME_CLEARTEXT); /* preference beats TLS */
  assert_int_equal(fold("10:tls 10:cleartext"), MXS_OUTCOME_CLEARTEXT); /* random among equals */
  assert_int_equal(fold("10:tls 10:deferred"), MXS_OUTCOME_TLS);
  assert_int_equal(fold("10:cleartext+retried 20:tls"), MXS_OUTCOME_TLS); /* Postfix tries mx2 first */
  assert_int_equal(fold("10:cleartext+retried 20:deferred"), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(fold("10:cleartext+retried"), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(fold("10:unknown 20:tls"), MXS_OUTCOME_UNKNOWN);
  assert_int_equal(fold("10:tls 10:unknown"), MXS_OUTCOME_UNKNOWN);
  assert_int_equal(fold("10:tls 20:unknown"), MXS_OUTCOME_TLS); /* never reached */
  assert_int_equal(fold("10:deferred 20:unknown"), MXS_OUTCOME_UNKNOWN);
  assert_int_equal(fold("70000:tls 65535:cleartext"), MXS_OUTCOME_CLEARTEXT); /* out of range: last */
  /* a zeroed fold (a calloc'ed domain) is an empty one */
  mxs_delivery_fold_t z;
  memset(&z, 0, sizeof z);
  assert_int_equal(mxs_delivery_fold_result(&z), MXS_OUTCOME_DEFERRED);
  mxs_delivery_fold_add(&z, MXS_OUTCOME_UNKNOWN, 0, 20);
  mxs_delivery_fold_add(&z, MXS_OUTCOME_TLS, 0, 10);
  assert_int_equal(mxs_delivery_fold_result(&z), MXS_OUTCOME_TLS);
}

static void whole_records(void **state) {
  (void)state;
  const char *san_mx[] = {"mx.example.net"}, *san_both[] = {"mx.example.net", "example.com"};
  mxs_cert_info_t c = {.san = san_mx, .nsan = 1};
  mxs_record_t r = {.domain = "example.com", .cls = MXS_CLASS_OK, .mx = "mx.example.net", .pref = 10, .cert = &c};
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  mxs_delivery_record(&r, out);
  assert_int_equal(out[MXS_LEVEL_VERIFY], MXS_OUTCOME_TLS);
  assert_int_equal(out[MXS_LEVEL_SECURE], MXS_OUTCOME_DEFERRED); /* a hosted domain: the MX is the provider's */
  c.san = san_both;
  c.nsan = 2;
  mxs_delivery_record(&r, out);
  assert_int_equal(out[MXS_LEVEL_SECURE], MXS_OUTCOME_TLS);

  /* the domain: mx1 (10) refuses TLS at encrypt, mx2 (20) has a trusted certificate */
  mxs_delivery_domain_t d;
  mxs_delivery_domain_init(&d);
  mxs_record_t bad = {.domain = "example.com", .cls = MXS_CLASS_STARTTLS_NOT_OFFERED, .mx = "mx1", .pref = 10};
  mxs_delivery_domain_add(&d, &bad);
  mxs_delivery_domain_add(&d, &r);
  assert_int_equal(mxs_delivery_fold_result(&d.level[MXS_LEVEL_MAY]), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(mxs_delivery_fold_result(&d.level[MXS_LEVEL_ENCRYPT]), MXS_OUTCOME_TLS);
  assert_int_equal(mxs_delivery_fold_result(&d.level[MXS_LEVEL_SECURE]), MXS_OUTCOME_TLS);

  /* the encoder writes the levels in order, the policy levels where known */
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  j.base.map(&j.base, 1);
  j.base.key(&j.base, "delivery");
  mxs_delivery_encode(&bad, &j.base);
  j.base.end(&j.base);
  assert_string_equal(j.buf,
                      "{\"delivery\":{\"may\":\"cleartext\",\"encrypt\":\"deferred\",\"verify\":\"deferred\","
                      "\"secure\":\"deferred\"}}");
  mxs_json_encoder_reset(&j);
  bad.policy_checked = 1; /* the domain publishes no MTA-STS: as `may` */
  mxs_delivery_encode(&bad, &j.base);
  assert_string_equal(j.buf,
                      "{\"may\":\"cleartext\",\"encrypt\":\"deferred\",\"verify\":\"deferred\","
                      "\"secure\":\"deferred\",\"mta-sts\":\"cleartext\"}");
  mxs_json_encoder_reset(&j);
  mxs_record_t dns = {.domain = "example.com", .cls = MXS_CLASS_DNS_SERVFAIL}; /* defers whatever the policy */
  mxs_delivery_encode(&dns, &j.base);
  assert_string_equal(j.buf,
                      "{\"may\":\"deferred\",\"encrypt\":\"deferred\",\"verify\":\"deferred\","
                      "\"secure\":\"deferred\",\"dane\":\"deferred\",\"mta-sts\":\"deferred\"}");
  mxs_json_encoder_free(&j);
}

/* A record of class CLS (TLS up when TLS) under policy PV: its outcomes. */
static void policy_outcomes(mxs_class_t cls, int tls, mxs_class_set_t errs, const mxs_policy_view_t *pv, int checked,
                            mxs_outcome_t out[MXS_LEVEL_COUNT]) {
  static const char *const san[] = {"mx.example.com"};
  static const mxs_cert_info_t cert = {.subject_cn = "mx.example.com", .san = san, .nsan = 1};
  mxs_record_t r = {.domain = "example.com",
                    .cls = cls,
                    .mx = "mx.example.com",
                    .tls_version = tls ? "TLSv1.3" : NULL,
                    .cert = tls ? &cert : NULL,
                    .cert_errors = errs,
                    .policy = pv,
                    .policy_checked = checked};
  mxs_delivery_record(&r, out);
}

static mxs_outcome_t at(mxs_level_t l, mxs_class_t cls, int tls, mxs_class_set_t errs, const mxs_policy_view_t *pv,
                        int checked) {
  mxs_outcome_t out[MXS_LEVEL_COUNT];
  policy_outcomes(cls, tls, errs, pv, checked, out);
  return out[l];
}

/* Postfix's `dane` (postconf(5) smtp_tls_security_level, RFC 7672 2.2):
 * DANE's verdict where the host has secure TLSA records, a bogus lookup
 * defers, and without DANE it is `may`. */
static void dane_level(void **state) {
  (void)state;
  const mxs_class_t SELF = MXS_CLASS_CERT_SELF_SIGNED, OK = MXS_CLASS_OK, NOTLS = MXS_CLASS_STARTTLS_NOT_OFFERED;
  const mxs_class_set_t self = MXS_CLASS_BIT(SELF);
  static const char *const tlsa[] = {"3 1 1 00"};
  mxs_dane_view_t dv = {.looked_up = 1, .secure = 1, .tlsa_count = 1, .tlsa = tlsa, .usable = 1, .match = 1};
  mxs_policy_view_t pv = {.dane = &dv};
  /* a match delivers whatever WebPKI says; the handshake is mandatory */
  assert_int_equal(at(MXS_LEVEL_DANE, SELF, 1, self, &pv, 0), MXS_OUTCOME_TLS);
  assert_int_equal(at(MXS_LEVEL_VERIFY, SELF, 1, self, &pv, 0), MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_DANE, NOTLS, 0, 0, &pv, 0), MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_TLS_DIED, 0, 0, &pv, 0), MXS_OUTCOME_DEFERRED);
  dv.match = 0; /* the certificate matches no record: tlsa-invalid */
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_TLSA_INVALID, 1, 0, &pv, 0), MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_MAY, MXS_CLASS_TLSA_INVALID, 1, 0, &pv, 0), MXS_OUTCOME_TLS);
  dv.usable = 0; /* only unusable records: TLS mandatory, unauthenticated */
  dv.match = -1;
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_TLSA_INVALID, 1, 0, &pv, 0), MXS_OUTCOME_TLS);
  assert_int_equal(at(MXS_LEVEL_DANE, NOTLS, 0, 0, &pv, 0), MXS_OUTCOME_DEFERRED);
  /* insecure, or secure without TLSA records: as `may` */
  dv = (mxs_dane_view_t){.looked_up = 1, .secure = 0};
  assert_int_equal(at(MXS_LEVEL_DANE, NOTLS, 0, 0, &pv, 0), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(at(MXS_LEVEL_DANE, SELF, 1, self, &pv, 0), MXS_OUTCOME_TLS);
  dv = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .tlsa_count = 0};
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_TLS_DIED, 0, 0, &pv, 0), MXS_OUTCOME_CLEARTEXT);
  /* --require-dane (dane-required) is the sender's `dane-only`, not `dane` */
  dv.required = 1;
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_DANE_REQUIRED, 1, 0, &pv, 0), MXS_OUTCOME_TLS);
  /* a bogus TLSA answer: deferred, never a downgrade (RFC 7672 2.1.1) */
  dv = (mxs_dane_view_t){.looked_up = 1, .secure = 0, .error = "SERVFAIL"};
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_DNSSEC_INVALID, 1, 0, &pv, 0), MXS_OUTCOME_DEFERRED);
  /* DANE not checked (no --dnssec): unknown, but no route is no route */
  assert_int_equal(at(MXS_LEVEL_DANE, OK, 1, 0, NULL, 1), MXS_OUTCOME_UNKNOWN);
  assert_int_equal(at(MXS_LEVEL_DANE, MXS_CLASS_TCP_TIMEOUT, 0, 0, NULL, 1), MXS_OUTCOME_DEFERRED);
  /* the fold ranks a `may` fallback after a failed handshake as at `may` */
  assert_true(mxs_delivery_retried(MXS_LEVEL_DANE, MXS_CLASS_TLS_DIED));
  assert_true(mxs_delivery_retried(MXS_LEVEL_MTA_STS, MXS_CLASS_POST_TLS_EHLO_FAILED));
  assert_false(mxs_delivery_retried(MXS_LEVEL_DANE, NOTLS));
  assert_false(mxs_delivery_retried(MXS_LEVEL_MTA_STS, OK));
}

/* RFC 8461 5: under a valid enforce policy only a listed MX with a
 * WebPKI-valid certificate for its name gets the mail; otherwise the
 * sender's own level, `may`. */
static void sts_level(void **state) {
  (void)state;
  const mxs_class_t OK = MXS_CLASS_OK, NOTLS = MXS_CLASS_STARTTLS_NOT_OFFERED;
  static const char *const mx[] = {"mx.example.com"};
  mxs_sts_view_t sv = {.txt_id = "1", .mode = MXS_STS_ENFORCE, .max_age = 86400, .mx = mx, .nmx = 1, .mx_match = 1};
  mxs_policy_view_t pv = {.sts = &sv};
  assert_int_equal(at(MXS_LEVEL_MTA_STS, OK, 1, 0, &pv, 1), MXS_OUTCOME_TLS);
  assert_int_equal(
      at(MXS_LEVEL_MTA_STS, MXS_CLASS_STS_WEBPKI_INVALID, 1, MXS_CLASS_BIT(MXS_CLASS_CERT_EXPIRED), &pv, 1),
      MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_MTA_STS, NOTLS, 0, 0, &pv, 1), MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_MTA_STS, MXS_CLASS_TLS_DIED, 0, 0, &pv, 1), MXS_OUTCOME_DEFERRED);
  /* under DANE a WebPKI failure keeps its cert class; an MTA-STS-only sender still defers */
  assert_int_equal(
      at(MXS_LEVEL_MTA_STS, MXS_CLASS_CERT_SELF_SIGNED, 1, MXS_CLASS_BIT(MXS_CLASS_CERT_SELF_SIGNED), &pv, 1),
      MXS_OUTCOME_DEFERRED);
  sv.mx_match = 0; /* an MX the policy does not list: not even connected to */
  assert_int_equal(at(MXS_LEVEL_MTA_STS, MXS_CLASS_STS_POLICY_INVALID, 1, 0, &pv, 1), MXS_OUTCOME_DEFERRED);
  assert_int_equal(at(MXS_LEVEL_MAY, MXS_CLASS_STS_POLICY_INVALID, 1, 0, &pv, 1), MXS_OUTCOME_TLS);
  /* testing, none, a failed fetch or an invalid policy: as without one, `may` */
  sv.mode = MXS_STS_TESTING;
  assert_int_equal(at(MXS_LEVEL_MTA_STS, NOTLS, 0, 0, &pv, 1), MXS_OUTCOME_CLEARTEXT);
  sv = (mxs_sts_view_t){.txt_id = "1", .mx_match = -1, .fetch_error = "HTTP 404"};
  assert_int_equal(at(MXS_LEVEL_MTA_STS, MXS_CLASS_STS_POLICY_FETCH_ERROR, 1, 0, &pv, 1), MXS_OUTCOME_TLS);
  sv = (mxs_sts_view_t){.mode = MXS_STS_ENFORCE, .mx_match = 1, .invalid = "several STS records"};
  assert_int_equal(at(MXS_LEVEL_MTA_STS, NOTLS, 0, 0, &pv, 1), MXS_OUTCOME_CLEARTEXT);
  /* no policy: `may` when the domain was looked up, unknown when not (--no-policy) */
  assert_int_equal(at(MXS_LEVEL_MTA_STS, MXS_CLASS_TLS_DIED, 0, 0, NULL, 1), MXS_OUTCOME_CLEARTEXT);
  assert_int_equal(at(MXS_LEVEL_MTA_STS, OK, 1, 0, NULL, 0), MXS_OUTCOME_UNKNOWN);
  /* a lookup the run cut short: what policy.sts has so far does not decide */
  sv = (mxs_sts_view_t){.txt_id = "1", .mx_match = -1};
  assert_int_equal(at(MXS_LEVEL_MTA_STS, OK, 1, 0, &pv, 0), MXS_OUTCOME_UNKNOWN);
  assert_int_equal(at(MXS_LEVEL_MTA_STS, MXS_CLASS_NULL_MX, 0, 0, NULL, 0), MXS_OUTCOME_DEFERRED);
}

/* The policy levels only add requirements: whatever the policy, a class
 * that defers at `may` defers there, and cleartext needs `may`'s. */
static void policy_levels_never_laxer(void **state) {
  (void)state;
  static const char *const mx[] = {"mx.example.com"};
  mxs_dane_view_t dvs[] = {{.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 1, .match = 1},
                           {.looked_up = 1, .secure = 1, .tlsa_count = 1, .usable = 0, .match = -1},
                           {.looked_up = 1, .secure = 0}};
  mxs_sts_view_t svs[] = {{.mode = MXS_STS_ENFORCE, .mx = mx, .nmx = 1, .mx_match = 1},
                          {.mode = MXS_STS_TESTING, .mx = mx, .nmx = 1, .mx_match = 0}};
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    for (size_t k = 0; k < 3 * 2 * 2; k++) {
      mxs_policy_view_t pv = {.sts = &svs[k % 2], .dane = &dvs[(k / 2) % 3]};
      mxs_outcome_t out[MXS_LEVEL_COUNT];
      policy_outcomes((mxs_class_t)i, (int)(k / 6), 0, &pv, 1, out);
      for (int l = MXS_LEVELS_TLS; l < MXS_LEVEL_COUNT; l++) {
        if (out[MXS_LEVEL_MAY] == MXS_OUTCOME_DEFERRED && out[l] != MXS_OUTCOME_DEFERRED)
          fail_msg("%s at %s: %s where may defers", mxs_class_name((mxs_class_t)i), mxs_level_name((mxs_level_t)l),
                   mxs_outcome_name(out[l]));
        if (out[l] == MXS_OUTCOME_CLEARTEXT && out[MXS_LEVEL_MAY] != MXS_OUTCOME_CLEARTEXT)
          fail_msg("%s: cleartext at %s only", mxs_class_name((mxs_class_t)i), mxs_level_name((mxs_level_t)l));
      }
    }
}

/* One JSON Lines file through the reader; calls CHECK on each record. */
static void read_lines(const char *text, void (*check)(int i, const mxs_read_record_t *r)) {
  char path[] = "/tmp/mxs-delivery-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  mxs_reader_t *rd;
  char err[256];
  assert_int_equal(mxs_reader_open(path, &rd, err, sizeof err), 0);
  mxs_read_record_t rec;
  int i = 0, rc;
  while ((rc = mxs_reader_next(rd, &rec)) == 1) check(i++, &rec);
  if (rc < 0) fail_msg("%s", mxs_reader_error(rd));
  mxs_reader_close(rd);
  unlink(path);
}

static void check_read(int i, const mxs_read_record_t *r) {
  const mxs_outcome_t T = MXS_OUTCOME_TLS, C = MXS_OUTCOME_CLEARTEXT, D = MXS_OUTCOME_DEFERRED, U = MXS_OUTCOME_UNKNOWN;
  const mxs_outcome_t want[][MXS_LEVELS_COMPUTED] = {
      /* stated in the record, an unknown word included; no policy fields: mta-sts unknown */
      {C, D, D, U, T, U},
      /* an older record of class ok: its class decides all but `secure`, no policy says the rest */
      {T, T, T, U, U, U},
      /* partly stated: the rest from the class */
      {T, T, D, D, U, U},
      /* a record of an mxscan before the policy levels: from policy.dane and policy.sts */
      {T, T, D, D, T, D},
      /* ... a testing policy and an insecure host: as `may` (a fallback after a failed handshake) */
      {C, D, D, D, C, C},
      /* no route: deferred whatever the policy */
      {D, D, D, D, D, D},
  };
  assert_true(i < 6);
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++)
    if (r->delivery[l] != want[i][l])
      fail_msg("record %d at %s: %s", i, mxs_level_name((mxs_level_t)l), mxs_outcome_name(r->delivery[l]));
}

static void read_back(void **state) {
  (void)state;
  read_lines(
      "{\"domain\":\"a.test\",\"class\":\"tls-died\",\"delivery\":{\"may\":\"cleartext\",\"encrypt\":"
      "\"deferred\",\"verify\":\"deferred\",\"secure\":\"maybe\",\"dane\":\"tls\"}}\n"
      "{\"domain\":\"b.test\",\"class\":\"ok\"}\n"
      "{\"domain\":\"c.test\",\"class\":\"cert-untrusted\",\"delivery\":{\"may\":\"tls\"}}\n"
      "{\"domain\":\"d.test\",\"class\":\"cert-self-signed\",\"tls_version\":\"TLSv1.3\",\"delivery\":{\"may\":"
      "\"tls\",\"encrypt\":\"tls\",\"verify\":\"deferred\",\"secure\":\"deferred\"},\"policy\":{\"sts\":{"
      "\"txt_id\":\"1\",\"mode\":\"enforce\",\"max_age\":86400,\"mx\":[\"mx.d.test\"],\"mx_match\":true},"
      "\"dane\":{\"secure\":true,\"tlsa_count\":1,\"tlsa\":[\"3 1 1 00\"],\"usable\":true,\"match\":true,"
      "\"matched\":\"3 1 1\"}}}\n"
      "{\"domain\":\"e.test\",\"class\":\"tls-died\",\"policy\":{\"sts\":{\"mode\":\"testing\",\"mx_match\":"
      "false},\"dane\":{\"secure\":false}}}\n"
      "{\"domain\":\"f.test\",\"class\":\"dns-nxdomain\",\"delivery\":{\"may\":\"deferred\"}}\n",
      check_read);
  /* a delivery value of the wrong type is an error that names it */
  char path[] = "/tmp/mxs-delivery-XXXXXX";
  int fd = mkstemp(path);
  const char bad[] = "{\"domain\":\"a.test\",\"class\":\"ok\",\"delivery\":{\"verify\":1}}\n";
  assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
  close(fd);
  mxs_reader_t *rd;
  char err[256];
  assert_int_equal(mxs_reader_open(path, &rd, err, sizeof err), 0);
  mxs_read_record_t rec;
  assert_true(mxs_reader_next(rd, &rec) < 0);
  assert_non_null(strstr(mxs_reader_error(rd), "'delivery.verify' is not a string"));
  mxs_reader_close(rd);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_class_has_an_outcome),
      cmocka_unit_test(rows),
      cmocka_unit_test(policy_classes_take_their_tls),
      cmocka_unit_test(names),
      cmocka_unit_test(secure_name_check),
      cmocka_unit_test(domain_fold),
      cmocka_unit_test(whole_records),
      cmocka_unit_test(dane_level),
      cmocka_unit_test(sts_level),
      cmocka_unit_test(policy_levels_never_laxer),
      cmocka_unit_test(read_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
