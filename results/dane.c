/* dane.c - DANE's classes and the dane sender's delivery outcome (dane.h). */
#include "results/dane.h"

#include <stdio.h>

int mxs_dane_rr_usable(uint8_t usage, uint8_t selector, uint8_t mtype, size_t len) {
  if ((usage != 2 && usage != 3) || selector > 1) return 0;
  return mtype == 0 ? len > 0 : mtype == 1 ? len == 32 : mtype == 2 ? len == 64 : 0;
}

int mxs_dane_applies(const mxs_dane_view_t *d) { return d && d->looked_up && d->secure && d->tlsa_count > 0; }

void mxs_dane_apply(const mxs_dane_view_t *d, mxs_class_t *cls, const char **detail, char *buf, size_t buflen) {
  mxs_class_t want = MXS_CLASS_OK;
  if (d && d->error)
    want = MXS_CLASS_DNSSEC_INVALID;
  else if (d && d->required && !mxs_dane_applies(d))
    want = MXS_CLASS_DANE_REQUIRED;
  else if (mxs_dane_applies(d) && (!d->usable || d->match == 0))
    want = MXS_CLASS_TLSA_INVALID;
  /* the first in contract order: a DNS failure or a connection that never
   * reached TLS comes first; an equal class keeps its detail */
  if (want == MXS_CLASS_OK || (int)*cls <= (int)want) return;
  if (want == MXS_CLASS_DNSSEC_INVALID)
    snprintf(buf, buflen, "DANE: TLSA lookup failed: %s", d->error);
  else if (want == MXS_CLASS_DANE_REQUIRED)
    snprintf(buf, buflen, "DANE required: no DNSSEC-validated TLSA records for this MX host (%s)",
             !d->looked_up ? "its MX or address records are not DNSSEC-secure"
             : !d->secure  ? "its TLSA answer is not DNSSEC-secure"
                           : "it publishes none");
  else if (!d->usable)
    snprintf(buf, buflen, "DANE: none of the %zu TLSA record%s is usable for SMTP (only DANE-TA(2) and DANE-EE(3) are)",
             d->tlsa_count, d->tlsa_count == 1 ? "" : "s");
  else
    snprintf(buf, buflen, "DANE: the certificate matches none of the usable TLSA records%s%s",
             d->mismatch && *d->mismatch ? ": " : "", d->mismatch ? d->mismatch : "");
  *cls = want;
  *detail = buf;
}

const char *mxs_dane_delivery_name(mxs_dane_delivery_t o) {
  switch (o) {
  case MXS_DANE_DELIVER: return "deliver";
  case MXS_DANE_DEFER: return "defer";
  default: return "not-applied";
  }
}

mxs_dane_delivery_t mxs_dane_delivery_of(const mxs_dane_view_t *d, mxs_class_t cls, int tls_done) {
  if (!d) return MXS_DANE_NOT_APPLIED;
  if (d->error) return MXS_DANE_DEFER; /* RFC 7672 2.1.1: a failed lookup is no licence to downgrade */
  if (!mxs_dane_applies(d)) return d->required ? MXS_DANE_DEFER : MXS_DANE_NOT_APPLIED;
  if (!tls_done || cls == MXS_CLASS_POST_TLS_EHLO_FAILED) return MXS_DANE_DEFER; /* TLS is mandatory */
  if (!d->usable) return MXS_DANE_DELIVER;                                       /* mandatory, unauthenticated TLS */
  return d->match == 1 ? MXS_DANE_DELIVER : MXS_DANE_DEFER;
}

mxs_dane_delivery_t mxs_dane_delivery(const mxs_record_t *r) {
  if (!r) return MXS_DANE_NOT_APPLIED;
  return mxs_dane_delivery_of(r->policy ? r->policy->dane : NULL, r->cls, r->tls_version != NULL);
}

int mxs_dane_read_view(const mxs_read_record_t *r, mxs_dane_view_t *out) {
  if (!r->has_dane) return 0;
  *out = (mxs_dane_view_t){.looked_up = r->dane_tlsa_count >= 0,
                           .secure = r->dane_secure == 1,
                           .tlsa_count = r->dane_tlsa_count > 0 ? (size_t)r->dane_tlsa_count : 0,
                           .tlsa = r->ndane_tlsa ? r->dane_tlsa : NULL,
                           .usable = r->dane_usable == 1,
                           .match = r->dane_match,
                           .matched = r->dane_matched,
                           .error = r->dane_error};
  if (out->tlsa && r->ndane_tlsa < out->tlsa_count) out->tlsa = NULL; /* past the reader's list: not all kept */
  return 1;
}
