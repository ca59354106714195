/* verdict.c - class refinement and per-name record rendering. */
#include "probe/verdict.h"

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

void mxs_verdict_set_profile(mxs_verdict_t *v, const char *name, int custom, int min_version, int max_version) {
  v->profile = name;
  v->profile_custom = custom != 0;
  /* 0 in the verdict means modern's TLS 1.2; a profile with no lowest
   * version accepts anything from SSL 3 on. */
  v->min_version = (unsigned short)(min_version ? min_version : SSL3_VERSION);
  v->max_version = (unsigned short)max_version;
}

/* What the failed probe and RETRY (an ok handshake with other settings,
 * or NULL) tell about the failure. */
static mxs_class_t refined_class(const mxs_verdict_t *v, const mxs_probe_result_t *retry) {
  const mxs_probe_result_t *m = v->res;
  int ok = retry && retry->tls_done;
  mxs_tls_outcome_t o = {m->tls_fail.ssl_reason,
                         m->tls_fail.alert_received,
                         m->tls_peer_closed,
                         ok,
                         ok ? version_number(retry->tls_version) : 0,
                         v->min_version,
                         v->max_version,
                         m->tls_fail.cert_requested};
  mxs_class_t cls = mxs_class_from_tls(&o);
  if (cls == MXS_CLASS_TLS_DIED && !m->tls_peer_closed) cls = MXS_CLASS_TLS_PROTOCOL_ERROR;
  return cls;
}

/* 1 when version NAME lies outside the probe's versions. */
static int outside(const mxs_verdict_t *v, const char *name) {
  int n = version_number(name), lo = v->min_version ? v->min_version : TLS1_2_VERSION;
  return n && (n < lo || (v->max_version && n > v->max_version));
}

/* Of the handshakes that got through, the one that says most: a version
 * the probe's profile does not allow names the cause.  NULL when none did. */
static const mxs_probe_result_t *best_retry(const mxs_verdict_t *v, const mxs_probe_result_t *const *rs, size_t n) {
  const mxs_probe_result_t *best = NULL;
  for (size_t i = 0; i < n; i++)
    if (rs[i] && rs[i]->tls_done && (!best || (outside(v, rs[i]->tls_version) && !outside(v, best->tls_version))))
      best = rs[i];
  return best;
}

void mxs_verdict_refine_by(mxs_verdict_t *v, const mxs_probe_result_t *const *others, size_t n) {
  if (mxs_verdict_wants_legacy(v)) v->cls = refined_class(v, best_retry(v, others, n));
}

void mxs_verdict_rebuild_diag(mxs_verdict_t *v) {
  const mxs_probe_result_t *l = v->legacy;
  mxs_verdict_retries_t *rs = v->retries;
  for (size_t i = 0; rs && !l && i < rs->n; i++)
    if (!strcmp(rs->d[i].profile, "legacy")) l = rs->res[i];
  int ok = l && l->tls_done;
  v->diag = (mxs_diag_t){.legacy_ok = ok,
                         .legacy_version = ok ? l->tls_version : NULL,
                         .legacy_cipher = ok ? l->cipher : NULL,
                         .legacy_group = ok ? l->group : NULL,
                         .legacy_detail = ok || !l    ? NULL
                                          : l->detail ? l->detail
                                                      : "",
                         .profiles = rs ? rs->d : NULL,
                         .nprofiles = rs ? rs->n : 0,
                         .no_legacy = l == NULL};
  v->has_diag = l != NULL || rs != NULL;
}

void mxs_verdict_add_legacy(mxs_verdict_t *v, mxs_probe_result_t *legacy) {
  v->legacy = legacy;
  mxs_verdict_rebuild_diag(v);
  const mxs_probe_result_t *m = v->res;
  int ok = legacy->tls_done;
  v->cls = refined_class(v, legacy);
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

/* A retry's own class: ok, or what its failure alone says. */
static mxs_class_t retry_class(const mxs_probe_result_t *r) {
  if (r->tls_done) return MXS_CLASS_OK;
  if (r->cls != MXS_CLASS_TLS_DIED && r->cls != MXS_CLASS_TLS_ALERT)
    return r->cls; /* a stall, not TLS, no connection */
  mxs_tls_outcome_t o = {r->tls_fail.ssl_reason,    r->tls_fail.alert_received, r->tls_peer_closed, 0, 0, 0, 0,
                         r->tls_fail.cert_requested};
  mxs_class_t cls = mxs_class_from_tls(&o);
  return cls == MXS_CLASS_TLS_DIED && !r->tls_peer_closed ? MXS_CLASS_TLS_PROTOCOL_ERROR : cls;
}

int mxs_verdict_add_retry(mxs_verdict_t *v, const char *profile, mxs_probe_result_t *res) {
  if (!v->retries) v->retries = calloc(1, sizeof *v->retries);
  mxs_verdict_retries_t *rs = v->retries;
  if (!rs || rs->n == MXS_DIAG_MAX) {
    mxs_probe_result_free(res);
    return -1;
  }
  int ok = res->tls_done;
  rs->res[rs->n] = res;
  rs->d[rs->n] = (mxs_diag_profile_t){profile,
                                      ok,
                                      ok ? res->tls_version : NULL,
                                      ok ? res->cipher : NULL,
                                      ok ? res->group : NULL,
                                      retry_class(res),
                                      ok            ? "the handshake completed"
                                      : res->detail ? res->detail
                                                    : ""};
  rs->n++;
  mxs_verdict_rebuild_diag(v);
  v->cls = refined_class(v, best_retry(v, (const mxs_probe_result_t *const *)rs->res, rs->n));
  /* The detail: the probe's, then what each retry got. */
  char text[600];
  int n = snprintf(text, sizeof text, "%.230s", v->res->detail ? v->res->detail : "");
  for (size_t i = 0; i < rs->n && n > 0 && (size_t)n < sizeof text; i++) {
    const mxs_probe_result_t *r = rs->res[i];
    if (r->tls_done)
      n += snprintf(text + n, sizeof text - (size_t)n, "; profile %s gets %.15s %.63s", rs->d[i].profile,
                    r->tls_version, r->cipher);
    else
      n += snprintf(text + n, sizeof text - (size_t)n, "; profile %s fails too: %.80s", rs->d[i].profile,
                    rs->d[i].detail);
  }
  char *detail = strdup(text);
  if (detail) {
    free(v->detail);
    v->detail = detail;
  }
  return 0;
}

void mxs_verdict_free(mxs_verdict_t *v) {
  mxs_probe_result_free(v->res);
  mxs_probe_result_free(v->legacy);
  for (size_t i = 0; v->retries && i < v->retries->n; i++) mxs_probe_result_free(v->retries->res[i]);
  free(v->retries);
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

/* The detail of a record whose handshake completed.  A certificate class
 * without a certificate never comes from a probe, but a verdict read from
 * Redis may say so: it gets the generic detail, not the fields of a
 * certificate that is not there. */
static void tls_detail(const mxs_verdict_t *v, mxs_class_t cls, const char *mx, char *out, size_t len) {
  const mxs_probe_result_t *r = v->res;
  const mxs_cert_info_t *c = r->cert ? &r->cert->info : NULL;
  if (!c && (cls == MXS_CLASS_CERT_HOSTNAME_MISMATCH || cls == MXS_CLASS_CERT_WEAK ||
             cls == MXS_CLASS_CERT_CHAIN_INCOMPLETE)) {
    snprintf(out, len, "%s (no certificate in the verdict)", mxs_class_hint(cls));
    return;
  }
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
    r->profile = v->profile; /* a connection was made with it */
    r->profile_custom = v->profile_custom;
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
  const mxs_tls_dane_result_t *m = r && r->tls_done ? r->dane : NULL;
  if (m && m->usable > 0 && m->match >= 0) {
    out->match = m->match;
    if (m->match) {
      snprintf(matched, 16, "%u %u %u", m->usage, m->selector, m->mtype);
      out->matched = matched;
    } else {
      out->mismatch = m->why;
    }
  }
}
