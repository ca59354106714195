/* delivery.c - the delivery table: one row per class of classify.h, one
 * cell per security level, and the fold of a domain's records.
 *
 * Cells (README.md "What happens to the mail" says why each is what it is,
 * citing Postfix's postconf(5) and TLS_README and Exim's specification):
 *   T  tls: the handshake completed and the level asks no more of it
 *   C  cleartext at once: no STARTTLS, or STARTTLS refused; the sender goes
 *      on in the clear on the same connection (only `may` allows it)
 *   F  cleartext after a failed TLS attempt: the handshake or the TLS
 *      session failed; at `may` Postfix retries the same server without
 *      TLS (on a later delivery attempt, after trying the other MX hosts),
 *      Exim at once (tls_tempfail_tryclear)
 *   D  deferred: this MX does not take the mail at this level
 *   N  `secure`: tls when the certificate names the recipient domain (or a
 *      subdomain) and has no problem but the MX name, else deferred
 *   R  a policy class (MTA-STS, DANE) at a level that ignores policies:
 *      the cell of the class the record's TLS facts give (tls_class)
 *   A  `dane`: DANE's verdict where it applies, else the `may` cell
 *   S  `mta-sts`: the enforce policy's verdict where one applies, else the
 *      `may` cell (both from the policy fields: mxs_delivery_policy_levels)
 * At `dane` and `mta-sts` the classes that defer at `may` defer too (no
 * route, no SMTP session: a policy only adds requirements), and so do the
 * policy failures that defer under that policy whatever else the record
 * says: dnssec-invalid at `dane` (a bogus TLSA lookup), sts-webpki-invalid
 * at `mta-sts` (a listed MX whose certificate WebPKI rejects).
 *   U  `excluded`: nothing was probed, so nothing is known (unknown at
 *      every level)
 */
#include "results/delivery.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "results/dane.h"

enum { T, C, F, D, N, R, A, S, U };

/* X(class enum suffix, may, encrypt, verify, secure, dane, mta-sts), in
 * MXS_CLASS_TABLE order. */
#define MXS_DELIVERY_TABLE(X)                   \
  X(DNS_NXDOMAIN, D, D, D, D, D, D)             \
  X(DNS_SERVFAIL, D, D, D, D, D, D)             \
  X(DNS_TIMEOUT, D, D, D, D, D, D)              \
  X(NULL_MX, D, D, D, D, D, D)                  \
  X(NO_MX_NO_ADDRESS, D, D, D, D, D, D)         \
  X(MX_NO_ADDRESS, D, D, D, D, D, D)            \
  X(STS_POLICY_FETCH_ERROR, R, R, R, R, A, S)   \
  X(STS_POLICY_INVALID, R, R, R, R, A, S)       \
  X(DNSSEC_INVALID, R, R, R, R, D, S)           \
  X(DANE_REQUIRED, R, R, R, R, A, S)            \
  X(TCP_TIMEOUT, D, D, D, D, D, D)              \
  X(TCP_REFUSED, D, D, D, D, D, D)              \
  X(TCP_UNREACHABLE, D, D, D, D, D, D)          \
  X(SMTP_BANNER_TIMEOUT, D, D, D, D, D, D)      \
  X(SMTP_TIMEOUT, D, D, D, D, D, D)             \
  X(SMTP_REJECTED, D, D, D, D, D, D)            \
  X(SMTP_PROTOCOL_ERROR, D, D, D, D, D, D)      \
  X(SMTP_CLOSED, D, D, D, D, D, D)              \
  X(STARTTLS_NOT_OFFERED, C, D, D, D, A, S)     \
  X(STARTTLS_REJECTED, C, D, D, D, A, S)        \
  X(TLS_VERSION_MISMATCH, F, D, D, D, A, S)     \
  X(TLS_NO_SHARED_CIPHER, F, D, D, D, A, S)     \
  X(TLS_WEAK_DH, F, D, D, D, A, S)              \
  X(TLS_LEGACY_RENEGOTIATION, F, D, D, D, A, S) \
  X(TLS_DIED, F, D, D, D, A, S)                 \
  X(TLS_TIMEOUT, F, D, D, D, A, S)              \
  X(TLS_ALERT, F, D, D, D, A, S)                \
  X(TLS_PROTOCOL_ERROR, F, D, D, D, A, S)       \
  X(TLSA_INVALID, R, R, R, R, A, S)             \
  X(STS_WEBPKI_INVALID, R, R, R, R, A, D)       \
  X(CERT_EXPIRED, T, T, D, D, A, S)             \
  X(CERT_NOT_YET_VALID, T, T, D, D, A, S)       \
  X(CERT_SELF_SIGNED, T, T, D, D, A, S)         \
  X(CERT_CHAIN_INCOMPLETE, T, T, D, D, A, S)    \
  X(CERT_UNTRUSTED, T, T, D, D, A, S)           \
  X(CERT_HOSTNAME_MISMATCH, T, T, D, N, A, S)   \
  X(CERT_WEAK, T, T, D, D, A, S)                \
  X(POST_TLS_EHLO_FAILED, F, D, D, D, A, S)     \
  X(EXCLUDED, U, U, U, U, U, U)                 \
  X(OK, T, T, T, N, A, S)

/* Every class has exactly one row, in its place: a missing or extra row
 * fails the count, a misplaced one its own assertion, a row naming no
 * class does not compile. */
enum {
#define MXS_DELIVERY_POS(id, may, enc, ver, sec, dane, sts) MXS_DELIVERY_POS_##id,
  MXS_DELIVERY_TABLE(MXS_DELIVERY_POS)
#undef MXS_DELIVERY_POS
      MXS_DELIVERY_ROWS
};
_Static_assert((int)MXS_DELIVERY_ROWS == (int)MXS_CLASS_COUNT, "delivery.c: one row per class");
#define MXS_DELIVERY_CHECK(id, may, enc, ver, sec, dane, sts) \
  _Static_assert((int)MXS_DELIVERY_POS_##id == (int)MXS_CLASS_##id, "delivery.c: row out of order: " #id);
MXS_DELIVERY_TABLE(MXS_DELIVERY_CHECK)
#undef MXS_DELIVERY_CHECK
_Static_assert(MXS_LEVEL_COUNT == 6 && MXS_LEVELS_TLS == MXS_LEVEL_DANE, "delivery.c: a cell per level");

static const unsigned char cells[MXS_CLASS_COUNT][MXS_LEVEL_COUNT] = {
#define MXS_DELIVERY_ROW(id, may, enc, ver, sec, dane, sts) {may, enc, ver, sec, dane, sts},
    MXS_DELIVERY_TABLE(MXS_DELIVERY_ROW)
#undef MXS_DELIVERY_ROW
};

static const char *const levels[MXS_LEVEL_COUNT] = {
#define MXS_LEVEL_ROW(id, name) name,
    MXS_LEVEL_TABLE(MXS_LEVEL_ROW)
#undef MXS_LEVEL_ROW
};

static const char *const outcome_names[] = {"tls", "cleartext", "deferred", "unknown"};

const char *mxs_level_name(mxs_level_t l) { return (unsigned)l < MXS_LEVEL_COUNT ? levels[l] : "?"; }

int mxs_level_from_name(const char *name) {
  for (int i = 0; i < MXS_LEVEL_COUNT; i++)
    if (!strcmp(levels[i], name)) return i;
  return -1;
}

const char *mxs_outcome_name(mxs_outcome_t o) {
  return (unsigned)o <= MXS_OUTCOME_UNKNOWN ? outcome_names[o] : "unknown";
}

mxs_outcome_t mxs_outcome_from_name(const char *name) {
  for (int i = 0; i < MXS_OUTCOMES; i++)
    if (!strcmp(outcome_names[i], name)) return (mxs_outcome_t)i;
  return MXS_OUTCOME_UNKNOWN;
}

mxs_outcome_t mxs_delivery_of(mxs_level_t l, mxs_class_t cls, mxs_class_set_t cert_errors, int names_nexthop) {
  if ((unsigned)l >= MXS_LEVEL_COUNT || (unsigned)cls >= MXS_CLASS_COUNT) return MXS_OUTCOME_UNKNOWN;
  switch (cells[cls][l]) {
  case T: return MXS_OUTCOME_TLS;
  case C:
  case F: return MXS_OUTCOME_CLEARTEXT;
  case D: return MXS_OUTCOME_DEFERRED;
  case N:
    /* the chain must be good: no problem but (maybe) the MX name */
    if (cert_errors & ~MXS_CLASS_BIT(MXS_CLASS_CERT_HOSTNAME_MISMATCH)) return MXS_OUTCOME_DEFERRED;
    if (names_nexthop < 0) return MXS_OUTCOME_UNKNOWN;
    return names_nexthop ? MXS_OUTCOME_TLS : MXS_OUTCOME_DEFERRED;
  default: return MXS_OUTCOME_UNKNOWN;
  }
}

const char *mxs_delivery_cell_name(mxs_level_t l, mxs_class_t cls) {
  static const char *const names[] = {[T] = "tls",         [C] = "cleartext",    [F] = "cleartext-after-retry",
                                      [D] = "deferred",    [N] = "tls-if-named", [R] = "as-its-tls",
                                      [A] = "dane-or-may", [S] = "sts-or-may",   [U] = "not-probed"};
  if ((unsigned)l >= MXS_LEVEL_COUNT || (unsigned)cls >= MXS_CLASS_COUNT) return "?";
  return names[cells[cls][l]];
}

int mxs_delivery_retried(mxs_level_t l, mxs_class_t cls) {
  if ((unsigned)l >= MXS_LEVEL_COUNT || (unsigned)cls >= MXS_CLASS_COUNT) return 0;
  /* at the policy levels cleartext only ever comes from the `may` fallback */
  int c = cells[cls][l];
  return c == F || ((c == A || c == S) && cells[cls][MXS_LEVEL_MAY] == F);
}

/* NAME (a certificate's DNS name) is DOMAIN or a name under it. */
static int name_under(const char *name, const char *domain) {
  size_t nl = strlen(name), dl = strlen(domain);
  if (nl && name[nl - 1] == '.') nl--;
  if (dl && domain[dl - 1] == '.') dl--;
  if (!dl || nl < dl) return 0;
  if (nl == dl) return !strncasecmp(name, domain, dl);
  /* a non-empty label, a dot, then DOMAIN: "*.example.com" is one too */
  return nl > dl + 1 && name[nl - dl - 1] == '.' && !strncasecmp(name + nl - dl, domain, dl);
}

int mxs_delivery_names_nexthop(const mxs_cert_info_t *cert, const char *domain) {
  if (!cert || !domain) return 0;
  for (size_t i = 0; i < cert->nsan; i++)
    if (cert->san[i] && name_under(cert->san[i], domain)) return 1;
  /* the CN counts only when there is no dNSName (RFC 6125 6.4.4) */
  return cert->nsan == 0 && cert->subject_cn && name_under(cert->subject_cn, domain);
}

/* The class a record's TLS facts give, for a class a policy decided (an
 * MTA-STS or DANE failure) that a sender without that policy ignores: the
 * first certificate problem, or ok, when the handshake completed; -1 when
 * the record does not say how far TLS got. */
static int tls_class(const mxs_record_t *r) {
  if (!r->tls_version) return -1;
  mxs_class_set_t errs = r->cert ? r->cert_errors : 0;
  return errs ? (int)mxs_class_first(errs) : (int)MXS_CLASS_OK;
}

/* The outcome of the A and S cells: DANE's or the enforce policy's verdict
 * where one applies, else the `may` outcome.  RFC 7672 2.2 and Postfix's
 * `dane` level (postconf(5)): with secure TLSA records TLS is mandatory and
 * authenticated by them, without usable ones it is `may`; RFC 8461 5: an
 * enforce policy delivers only to a listed MX over TLS with a certificate
 * valid for its name under WebPKI, which is what `verify` checks. */
static mxs_outcome_t policy_cell(int cell, mxs_class_t cls, const mxs_delivery_policy_t *p,
                                 const mxs_outcome_t out[MXS_LEVEL_COUNT]) {
  if (cell == A) {
    if (!p->dane) return MXS_OUTCOME_UNKNOWN;
    /* the `dane` level, not `dane-only`: a sender's --require-dane is no part of it */
    mxs_dane_view_t v = *p->dane;
    v.required = 0;
    switch (mxs_dane_delivery_of(&v, cls, p->tls_done)) {
    case MXS_DANE_DELIVER: return MXS_OUTCOME_TLS;
    case MXS_DANE_DEFER: return MXS_OUTCOME_DEFERRED;
    default: return out[MXS_LEVEL_MAY];
    }
  }
  if (p->sts < 0) return MXS_OUTCOME_UNKNOWN;
  if (!p->sts) return out[MXS_LEVEL_MAY];
  if (p->sts_mx_match < 0) return MXS_OUTCOME_UNKNOWN;
  return p->sts_mx_match ? out[MXS_LEVEL_VERIFY] : MXS_OUTCOME_DEFERRED;
}

void mxs_delivery_policy_levels(mxs_class_t cls, const mxs_delivery_policy_t *p, mxs_outcome_t out[MXS_LEVEL_COUNT]) {
  for (int l = MXS_LEVELS_TLS; l < MXS_LEVEL_COUNT; l++) {
    int cell = (unsigned)cls < MXS_CLASS_COUNT ? cells[cls][l] : -1;
    out[l] = cell == D                ? MXS_OUTCOME_DEFERRED
             : cell == A || cell == S ? policy_cell(cell, cls, p, out)
                                      : MXS_OUTCOME_UNKNOWN;
  }
}

/* What record R says of its domain's policies. */
static void record_policy(const mxs_record_t *r, mxs_delivery_policy_t *p) {
  const mxs_policy_view_t *pv = r->policy;
  const mxs_sts_view_t *s = pv ? pv->sts : NULL;
  *p = (mxs_delivery_policy_t){
      .dane = pv ? pv->dane : NULL, .sts = -1, .sts_mx_match = -1, .tls_done = r->tls_version != NULL};
  if (!r->policy_checked) return; /* --no-policy, or the lookup was cut short */
  if (s && s->mode == MXS_STS_ENFORCE && !s->fetch_error && !s->invalid) {
    p->sts = 1;
    p->sts_mx_match = s->mx_match;
  } else {
    p->sts = 0;
  }
}

void mxs_delivery_record(const mxs_record_t *r, mxs_outcome_t out[MXS_LEVELS_COMPUTED]) {
  int names = -1; /* looked at once, and only when `secure` asks */
  for (int l = 0; l < MXS_LEVELS_TLS; l++) {
    int cls = (int)r->cls;
    if (cells[cls][l] == R && (cls = tls_class(r)) < 0) {
      out[l] = MXS_OUTCOME_UNKNOWN;
      continue;
    }
    if (cells[cls][l] == N && names < 0) names = mxs_delivery_names_nexthop(r->cert, r->domain);
    out[l] = mxs_delivery_of((mxs_level_t)l, (mxs_class_t)cls, r->cert ? r->cert_errors : 0, names < 0 ? 0 : names);
  }
  mxs_delivery_policy_t p;
  record_policy(r, &p);
  mxs_delivery_policy_levels(r->cls, &p, out);
}

void mxs_delivery_encode(const mxs_record_t *r, mxs_encoder_t *e) {
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  mxs_delivery_record(r, out);
  /* the policy levels only where known: no key is "not checked" */
  size_t n = MXS_LEVELS_TLS;
  for (int l = MXS_LEVELS_TLS; l < MXS_LEVEL_COUNT; l++) n += out[l] != MXS_OUTCOME_UNKNOWN;
  e->map(e, n);
  for (int l = 0; l < MXS_LEVEL_COUNT; l++)
    if (l < MXS_LEVELS_TLS || out[l] != MXS_OUTCOME_UNKNOWN) mxs_enc_kv_str(e, levels[l], outcome_names[out[l]]);
  e->end(e);
}

/* ---- the fold ------------------------------------------------------------ */

enum { HAVE_NOW = 1, HAVE_RETRIED = 2, HAVE_UNKNOWN = 4 };

void mxs_delivery_fold_init(mxs_delivery_fold_t *f) { *f = (mxs_delivery_fold_t){UINT16_MAX, UINT16_MAX, 0, 0}; }

void mxs_delivery_fold_add(mxs_delivery_fold_t *f, mxs_outcome_t out, int retried, int64_t pref) {
  /* MX preferences are 16 bits (RFC 1035); anything else sorts last */
  uint16_t p = pref >= 0 && pref <= UINT16_MAX ? (uint16_t)pref : UINT16_MAX;
  switch (out) {
  case MXS_OUTCOME_TLS:
  case MXS_OUTCOME_CLEARTEXT:
    if (retried && out == MXS_OUTCOME_CLEARTEXT) {
      f->flags |= HAVE_RETRIED;
    } else if (!(f->flags & HAVE_NOW) || p < f->pref) {
      f->flags |= HAVE_NOW;
      f->pref = p;
      f->now = (uint8_t)out;
    } else if (p == f->pref && out == MXS_OUTCOME_CLEARTEXT) {
      f->now = MXS_OUTCOME_CLEARTEXT; /* equal preferences: some mail goes this way */
    }
    break;
  case MXS_OUTCOME_DEFERRED: break;
  default:
    if (!(f->flags & HAVE_UNKNOWN) || p < f->unknown_pref) f->unknown_pref = p;
    f->flags |= HAVE_UNKNOWN;
    break;
  }
}

mxs_outcome_t mxs_delivery_fold_result(const mxs_delivery_fold_t *f) {
  if (f->flags & HAVE_NOW)
    return (f->flags & HAVE_UNKNOWN) && f->unknown_pref <= f->pref ? MXS_OUTCOME_UNKNOWN : (mxs_outcome_t)f->now;
  if (f->flags & HAVE_UNKNOWN) return MXS_OUTCOME_UNKNOWN;
  return f->flags & HAVE_RETRIED ? MXS_OUTCOME_CLEARTEXT : MXS_OUTCOME_DEFERRED;
}

void mxs_delivery_domain_init(mxs_delivery_domain_t *d) {
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) mxs_delivery_fold_init(&d->level[l]);
}

void mxs_delivery_domain_add_outcomes(mxs_delivery_domain_t *d, const mxs_outcome_t out[MXS_LEVELS_COMPUTED],
                                      mxs_class_t cls, int64_t pref) {
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++)
    mxs_delivery_fold_add(&d->level[l], out[l], mxs_delivery_retried((mxs_level_t)l, cls), pref);
}

void mxs_delivery_domain_add(mxs_delivery_domain_t *d, const mxs_record_t *r) {
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  mxs_delivery_record(r, out);
  mxs_delivery_domain_add_outcomes(d, out, r->cls, r->pref);
}
