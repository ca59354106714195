/* verdict.c - class refinement and per-name record rendering. */
#include "scanner/verdict.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void mxs_verdict_set(mxs_verdict_t *v, mxs_probe_result_t *res) {
  v->res = res;
  v->cls = res->cls;
  free(v->detail);
  v->detail = NULL; /* res->detail it is, until a legacy retry refines it */
  mxs_rfc3339((int64_t)time(NULL), v->scanned_at);
}

/* The dialogue's detail: refined by the legacy retry, or the probe's own. */
static const char *verdict_detail(const mxs_verdict_t *v) {
  return v->detail ? v->detail : v->res && v->res->detail ? v->res->detail : "";
}

void mxs_verdict_set_error(mxs_verdict_t *v, int err) {
  mxs_probe_result_t *r = calloc(1, sizeof *r);
  if (r) {
    r->cls = MXS_CLASS_TCP_UNREACHABLE;
    r->stage = "connect";
    if (asprintf(&r->detail, "cannot start the connection: %s", uv_strerror(err)) < 0) r->detail = NULL;
    r->timings = (mxs_timings_t){-1, -1, -1, -1, -1, -1, 0};
  }
  mxs_verdict_set(v, r);
}

void mxs_verdict_set_unfinished(mxs_verdict_t *v, const char *why) {
  mxs_probe_result_t *r = calloc(1, sizeof *r);
  if (r) {
    r->cls = MXS_CLASS_TCP_TIMEOUT;
    r->stage = "connect";
    r->unfinished = 1;
    r->detail = strdup(why);
    r->timings = (mxs_timings_t){-1, -1, -1, -1, -1, -1, -1};
  }
  mxs_verdict_set(v, r);
}

int mxs_verdict_wants_legacy(const mxs_verdict_t *v) {
  /* probe.c reports every failed handshake as tls-died or tls-alert until
   * it is refined here; stalls and injections need no retry. */
  return v->res && (v->res->cls == MXS_CLASS_TLS_DIED || v->res->cls == MXS_CLASS_TLS_ALERT);
}

static int version_number(const char *name) {
  static const struct {
    const char *name;
    int v;
  } map[] = {{"SSLv3", SSL3_VERSION},
             {"TLSv1", TLS1_VERSION},
             {"TLSv1.1", TLS1_1_VERSION},
             {"TLSv1.2", TLS1_2_VERSION},
             {"TLSv1.3", TLS1_3_VERSION}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].name, name) == 0) return map[i].v;
  return 0;
}

void mxs_verdict_add_legacy(mxs_verdict_t *v, mxs_probe_result_t *legacy) {
  v->legacy = legacy;
  v->has_diag = 1;
  const mxs_probe_result_t *m = v->res;
  int ok = legacy->tls_done;
  v->diag = (mxs_diag_t){ok, ok ? legacy->tls_version : NULL, ok ? legacy->cipher : NULL, ok ? legacy->group : NULL,
                         ok               ? NULL
                         : legacy->detail ? legacy->detail
                                          : ""};
  mxs_tls_outcome_t o = {m->tls_fail.ssl_reason, m->tls_fail.alert_received, m->tls_peer_closed, ok,
                         ok ? version_number(legacy->tls_version) : 0};
  v->cls = mxs_class_from_tls(&o);
  if (v->cls == MXS_CLASS_TLS_DIED && !m->tls_peer_closed) v->cls = MXS_CLASS_TLS_PROTOCOL_ERROR;
  char legacy_txt[160];
  if (ok)
    snprintf(legacy_txt, sizeof legacy_txt, "a legacy client gets %.15s %.63s", legacy->tls_version, legacy->cipher);
  else
    snprintf(legacy_txt, sizeof legacy_txt, "the legacy retry failed too: %.120s",
             legacy->detail ? legacy->detail : "");
  char *detail = NULL;
  if (asprintf(&detail, "%.230s; %.160s", m->detail ? m->detail : "", legacy_txt) < 0) detail = NULL;
  free(v->detail);
  v->detail = detail;
}

void mxs_verdict_free(mxs_verdict_t *v) {
  mxs_probe_result_free(v->res);
  mxs_probe_result_free(v->legacy);
  free(v->detail);
  memset(v, 0, sizeof *v);
}

static void hostname_detail(const mxs_cert_info_t *c, const char *mx, char *out, size_t len) {
  int n =
      snprintf(out, len, "certificate does not match %s: CN=%s, SAN=", mx, c->subject_cn ? c->subject_cn : "(none)");
  for (size_t i = 0; i < c->nsan && n > 0 && (size_t)n < len; i++)
    n += snprintf(out + n, len - (size_t)n, "%s%s", i ? "," : "", c->san[i]);
  if (c->nsan == 0 && n > 0 && (size_t)n < len) snprintf(out + n, len - (size_t)n, "(none)");
}

/* The detail of a record whose handshake completed. */
static void tls_detail(const mxs_verdict_t *v, mxs_class_t cls, const char *mx, char *out, size_t len) {
  const mxs_probe_result_t *r = v->res;
  const mxs_cert_info_t *c = r->cert ? &r->cert->info : NULL;
  switch (cls) {
  case MXS_CLASS_OK: snprintf(out, len, "%s %s, certificate valid for %s", r->tls_version, r->cipher, mx); break;
  case MXS_CLASS_CERT_HOSTNAME_MISMATCH: hostname_detail(c, mx, out, len); break;
  case MXS_CLASS_CERT_WEAK:
    snprintf(out, len, "weak certificate: %s %d-bit key, %s signature", c->key_type, c->key_bits, c->sig_alg);
    break;
  case MXS_CLASS_CERT_CHAIN_INCOMPLETE:
    snprintf(out, len, "%s: the server sent %d certificate(s) and not the intermediate issuing it", r->verify_text,
             c->chain_len);
    break;
  case MXS_CLASS_POST_TLS_EHLO_FAILED: snprintf(out, len, "%s", verdict_detail(v)); break;
  default: snprintf(out, len, "%s", r->verify_text[0] ? r->verify_text : mxs_class_hint(cls)); break;
  }
}

void mxs_verdict_record(const mxs_verdict_t *v, const char *mx_name, mxs_record_t *r, mxs_timings_t *tm, char *detail,
                        size_t detail_len) {
  const mxs_probe_result_t *p = v->res;
  memset(r, 0, sizeof *r);
  memcpy(r->scanned_at, v->scanned_at, sizeof r->scanned_at);
  r->cls = v->cls;
  r->stage = p->stage;
  r->detail = verdict_detail(v);
  r->smtp_code = p->smtp_code;
  r->banner = p->banner;
  r->has_ehlo = p->has_ehlo;
  r->ehlo = (const char *const *)p->ehlo;
  r->nehlo = p->nehlo;
  if (p->tls_done) {
    r->tls_version = p->tls_version;
    r->cipher = p->cipher;
    r->group = p->group;
  }
  if (p->cert) {
    r->cert = &p->cert->info;
    r->sni = p->sni; /* the name this certificate was fetched under, not always MX_NAME */
    r->cert_errors = p->chain_errors;
    if (!mxs_cert_matches_host(p->cert, mx_name)) r->cert_errors |= MXS_CLASS_BIT(MXS_CLASS_CERT_HOSTNAME_MISMATCH);
  }
  if (p->tls_done) {
    if (r->cert_errors) {
      r->cls = mxs_class_first(r->cert_errors);
      r->stage = "cert";
    }
    tls_detail(v, r->cls, mx_name, detail, detail_len);
    r->detail = detail;
  }
  r->diag = v->has_diag ? &v->diag : NULL;
  r->unfinished = p->unfinished;
  if (p->timings.total >= 0) {
    *tm = p->timings;
    r->timings = tm;
    r->attempts = p->attempts;
  }
}

void mxs_verdict_dane_view(const mxs_verdict_t *v, int probed_with, const mxs_tlsa_entry_t *e, int required,
                           mxs_dane_view_t *out, char matched[16]) {
  *out = (mxs_dane_view_t){.match = -1, .required = required};
  if (!e) return;
  out->looked_up = 1;
  if (e->status == MXS_RR_FAILED) {
    out->error = e->error;
    return;
  }
  out->secure = e->secure;
  out->tlsa_count = e->status == MXS_RR_OK ? e->rrset.n : 0;
  out->tlsa = e->text;
  out->usable = e->usable > 0;
  const mxs_probe_result_t *r = v && probed_with ? v->res : NULL;
  if (r && r->tls_done && r->dane.usable > 0 && r->dane.match >= 0) {
    out->match = r->dane.match;
    if (r->dane.match) {
      snprintf(matched, 16, "%u %u %u", r->dane.usage, r->dane.selector, r->dane.mtype);
      out->matched = matched;
    } else {
      out->mismatch = r->dane.why;
    }
  }
}
