/* record.c - walks a record into an encoder in contract field order. */
#include "results/record.h"

#include <stdio.h>
#include <time.h>

#include "results/delivery.h"

void mxs_rfc3339(int64_t t, char out[24]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void mxs_enc_kv_str(mxs_encoder_t *e, const char *k, const char *v) {
  e->key(e, k);
  e->str(e, v ? v : "");
}

void mxs_enc_kv_int(mxs_encoder_t *e, const char *k, int64_t v) {
  e->key(e, k);
  e->integer(e, v);
}

static void encode_str_array(mxs_encoder_t *e, const char *const *v, size_t n) {
  e->array(e, n);
  for (size_t i = 0; i < n; i++) e->str(e, v[i]);
  e->end(e);
}

static void encode_cert(mxs_encoder_t *e, const mxs_cert_info_t *c) {
  e->map(e, 11);
  mxs_enc_kv_str(e, "subject_cn", c->subject_cn);
  e->key(e, "san");
  encode_str_array(e, c->san, c->nsan);
  mxs_enc_kv_str(e, "issuer", c->issuer);
  mxs_enc_kv_str(e, "not_before", c->not_before);
  mxs_enc_kv_str(e, "not_after", c->not_after);
  mxs_enc_kv_int(e, "days_left", c->days_left);
  mxs_enc_kv_str(e, "key_type", c->key_type);
  mxs_enc_kv_int(e, "key_bits", c->key_bits);
  mxs_enc_kv_str(e, "sig_alg", c->sig_alg);
  mxs_enc_kv_str(e, "sha256", c->sha256);
  mxs_enc_kv_int(e, "chain_len", c->chain_len);
  e->end(e);
}

static void encode_cert_errors(mxs_encoder_t *e, mxs_class_set_t set) {
  size_t n = 0;
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    if (set & MXS_CLASS_BIT(i)) n++;
  e->array(e, n);
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    if (set & MXS_CLASS_BIT(i)) e->str(e, mxs_class_name((mxs_class_t)i));
  e->end(e);
}

static void encode_diag_profile(mxs_encoder_t *e, const mxs_diag_profile_t *p) {
  e->map(e, 4 + (p->ok ? 3 : 0));
  mxs_enc_kv_str(e, "profile", p->profile);
  e->key(e, "ok");
  e->boolean(e, p->ok);
  if (p->ok) {
    mxs_enc_kv_str(e, "version", p->version);
    mxs_enc_kv_str(e, "cipher", p->cipher);
    mxs_enc_kv_str(e, "group", p->group);
  }
  mxs_enc_kv_str(e, "class", mxs_class_name(p->cls));
  mxs_enc_kv_str(e, "detail", p->detail);
  e->end(e);
}

static void encode_diag(mxs_encoder_t *e, const mxs_diag_t *d) {
  size_t n = d->no_legacy ? 0 : 1 + (d->legacy_ok ? 3 : 0) + (d->legacy_detail ? 1 : 0);
  e->map(e, n + (d->profiles != NULL));
  if (!d->no_legacy) {
    e->key(e, "legacy_ok");
    e->boolean(e, d->legacy_ok);
    if (d->legacy_ok) {
      mxs_enc_kv_str(e, "legacy_version", d->legacy_version);
      mxs_enc_kv_str(e, "legacy_cipher", d->legacy_cipher);
      mxs_enc_kv_str(e, "legacy_group", d->legacy_group);
    }
    if (d->legacy_detail) mxs_enc_kv_str(e, "legacy_detail", d->legacy_detail);
  }
  if (d->profiles) {
    e->key(e, "profiles");
    e->array(e, d->nprofiles);
    for (size_t i = 0; i < d->nprofiles; i++) encode_diag_profile(e, &d->profiles[i]);
    e->end(e);
  }
  e->end(e);
}

static void encode_timings(mxs_encoder_t *e, const mxs_timings_t *t) {
  const char *names[] = {"dns", "connect", "banner", "ehlo", "starttls", "handshake", "total"};
  const int vals[] = {t->dns, t->connect, t->banner, t->ehlo, t->starttls, t->handshake, t->total};
  size_t n = 0;
  for (size_t i = 0; i < 7; i++) n += vals[i] >= 0;
  e->map(e, n);
  for (size_t i = 0; i < 7; i++)
    if (vals[i] >= 0) mxs_enc_kv_int(e, names[i], vals[i]);
  e->end(e);
}

static void encode_sts(mxs_encoder_t *e, const mxs_sts_view_t *s) {
  int has_mode = s->mode != MXS_STS_MODE_UNSET;
  e->map(e, (s->txt_id != NULL) + (has_mode ? 3 : 0) + (has_mode && s->mx_match >= 0) + (s->fetch_error != NULL) +
                (s->invalid != NULL) + (has_mode && s->cached_at > 0));
  if (s->txt_id) mxs_enc_kv_str(e, "txt_id", s->txt_id);
  if (has_mode) {
    mxs_enc_kv_str(e, "mode", mxs_sts_mode_name(s->mode));
    mxs_enc_kv_int(e, "max_age", s->max_age);
    e->key(e, "mx");
    encode_str_array(e, s->mx, s->nmx);
    if (s->mx_match >= 0) {
      e->key(e, "mx_match");
      e->boolean(e, s->mx_match);
    }
  }
  if (s->fetch_error) mxs_enc_kv_str(e, "fetch_error", s->fetch_error);
  if (s->invalid) mxs_enc_kv_str(e, "invalid", s->invalid);
  if (has_mode && s->cached_at > 0) {
    char at[24];
    mxs_rfc3339(s->cached_at, at);
    mxs_enc_kv_str(e, "cached_at", at);
  }
  e->end(e);
}

static void encode_dane(mxs_encoder_t *e, const mxs_dane_view_t *d) {
  int tlsa = d->looked_up && d->tlsa && d->tlsa_count > 0;
  e->map(e, 1 + (d->looked_up ? 2 : 0) + tlsa + (d->match >= 0) + (d->matched != NULL) + (d->error != NULL));
  e->key(e, "secure");
  e->boolean(e, d->secure);
  if (d->looked_up) {
    mxs_enc_kv_int(e, "tlsa_count", (int64_t)d->tlsa_count);
    if (tlsa) {
      e->key(e, "tlsa");
      encode_str_array(e, d->tlsa, d->tlsa_count);
    }
    e->key(e, "usable");
    e->boolean(e, d->usable);
  }
  if (d->match >= 0) {
    e->key(e, "match");
    e->boolean(e, d->match);
  }
  if (d->matched) mxs_enc_kv_str(e, "matched", d->matched);
  if (d->error) mxs_enc_kv_str(e, "error", d->error);
  e->end(e);
}

/* The `policy` map: sts, dane, then the TLS-RPT fields. */
static void encode_policy(mxs_encoder_t *e, const mxs_policy_view_t *p) {
  e->map(e, (p->sts != NULL) + (p->dane != NULL) + (p->ntlsrpt_rua > 0) + (p->tlsrpt_error != NULL));
  if (p->sts) {
    e->key(e, "sts");
    encode_sts(e, p->sts);
  }
  if (p->dane) {
    e->key(e, "dane");
    encode_dane(e, p->dane);
  }
  if (p->ntlsrpt_rua) {
    e->key(e, "tlsrpt_rua");
    encode_str_array(e, p->tlsrpt_rua, p->ntlsrpt_rua);
  }
  if (p->tlsrpt_error) mxs_enc_kv_str(e, "tlsrpt_error", p->tlsrpt_error);
  e->end(e);
}

static size_t count_fields(const mxs_record_t *r) {
  size_t n = 6; /* domain class stage detail scanned_at tlsrpt */
  if (r->mx) n += 3;
  if (r->ip) n += 2;
  if (r->smtp_code) n++;
  if (r->banner) n++;
  if (r->has_ehlo) n++;
  if (r->tls_version) n += 3;
  if (r->cert) n += 3;
  if (r->diag) n++;
  if (r->timings) n += 2;
  if (r->unfinished) n++;
  if (r->profile) n++;
  if (r->cls != MXS_CLASS_EXCLUDED) n++; /* delivery; an excluded record has none: nothing is known */
  if (!mxs_policy_view_empty(r->policy)) n++;
  return n;
}

void mxs_record_encode(const mxs_record_t *r, mxs_encoder_t *e) {
  e->map(e, count_fields(r));
  mxs_enc_kv_str(e, "domain", r->domain);
  mxs_enc_kv_str(e, "class", mxs_class_name(r->cls));
  mxs_enc_kv_str(e, "stage", r->stage ? r->stage : mxs_class_stage(r->cls));
  mxs_enc_kv_str(e, "detail", r->detail);
  mxs_enc_kv_str(e, "scanned_at", r->scanned_at);
  if (r->mx) {
    mxs_enc_kv_str(e, "mx", r->mx);
    mxs_enc_kv_int(e, "pref", r->pref);
    e->key(e, "implicit_mx");
    e->boolean(e, r->implicit_mx);
  }
  if (r->ip) {
    mxs_enc_kv_str(e, "ip", r->ip);
    mxs_enc_kv_int(e, "port", r->port);
  }
  if (r->smtp_code) mxs_enc_kv_int(e, "smtp_code", r->smtp_code);
  if (r->banner) mxs_enc_kv_str(e, "banner", r->banner);
  if (r->has_ehlo) {
    e->key(e, "ehlo");
    encode_str_array(e, r->ehlo, r->nehlo);
  }
  if (r->tls_version) {
    mxs_enc_kv_str(e, "tls_version", r->tls_version);
    mxs_enc_kv_str(e, "cipher", r->cipher);
    mxs_enc_kv_str(e, "group", r->group);
  }
  if (r->cert) {
    e->key(e, "cert");
    encode_cert(e, r->cert);
    e->key(e, "cert_errors");
    encode_cert_errors(e, r->cert_errors);
    e->key(e, "sni");
    if (r->sni)
      e->str(e, r->sni);
    else
      e->nil(e);
  }
  if (r->diag) {
    e->key(e, "diag");
    encode_diag(e, r->diag);
  }
  if (r->timings) {
    e->key(e, "timings_ms");
    encode_timings(e, r->timings);
    mxs_enc_kv_int(e, "attempts", r->attempts);
  }
  mxs_enc_kv_str(e, "tlsrpt", mxs_class_tlsrpt(r->cls));
  if (r->unfinished) {
    e->key(e, "unfinished");
    e->boolean(e, 1);
  }
  if (r->profile) {
    char name[80];
    snprintf(name, sizeof name, "%s%s", r->profile, r->profile_custom ? "+custom" : "");
    mxs_enc_kv_str(e, "profile", name);
  }
  if (r->cls != MXS_CLASS_EXCLUDED) {
    e->key(e, "delivery"); /* what a sender does with the mail, per TLS level */
    mxs_delivery_encode(r, e);
  }
  if (!mxs_policy_view_empty(r->policy)) {
    e->key(e, "policy");
    encode_policy(e, r->policy);
  }
  e->end(e);
}
