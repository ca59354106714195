/* classify.c - the class table and the mappings from library error codes. */
#include "results/classify.h"

#include <ares.h>
#include <openssl/ssl.h>
#include <string.h>
#include <uv.h>

struct class_row {
  const char *name, *stage, *tlsrpt, *hint;
};

static const struct class_row rows[MXS_CLASS_COUNT] = {
#define MXS_CLASS_ROW(id, name, stage, tlsrpt, hint) {name, stage, tlsrpt, hint},
    MXS_CLASS_TABLE(MXS_CLASS_ROW)
#undef MXS_CLASS_ROW
};

static const struct class_row *row(mxs_class_t c) {
  return (unsigned)c < MXS_CLASS_COUNT ? &rows[c] : &rows[MXS_CLASS_OK];
}

const char *mxs_class_name(mxs_class_t c) { return row(c)->name; }
const char *mxs_class_stage(mxs_class_t c) { return row(c)->stage; }
const char *mxs_class_tlsrpt(mxs_class_t c) { return row(c)->tlsrpt; }
const char *mxs_class_hint(mxs_class_t c) { return row(c)->hint; }

int mxs_class_from_name(const char *name) {
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    if (strcmp(rows[i].name, name) == 0) return i;
  return -1;
}

mxs_class_t mxs_class_first(mxs_class_set_t set) {
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    if (set & MXS_CLASS_BIT(i)) return (mxs_class_t)i;
  return MXS_CLASS_OK;
}

mxs_class_t mxs_class_from_connect_error(int uv_err) {
  switch (uv_err) {
  case UV_ETIMEDOUT: return MXS_CLASS_TCP_TIMEOUT;
  case UV_ECONNREFUSED: return MXS_CLASS_TCP_REFUSED;
  default: /* EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, ... */ return MXS_CLASS_TCP_UNREACHABLE;
  }
}

mxs_class_t mxs_class_from_ares_status(int status) {
  switch (status) {
  case ARES_ENOTFOUND: return MXS_CLASS_DNS_NXDOMAIN;
  case ARES_ETIMEOUT: return MXS_CLASS_DNS_TIMEOUT;
  default: /* ARES_ESERVFAIL, ARES_EREFUSED, ARES_EBADRESP, ARES_ECONNREFUSED ... */ return MXS_CLASS_DNS_SERVFAIL;
  }
}

static int is_version_reason(int r) {
  return r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
         r == SSL_R_NO_PROTOCOLS_AVAILABLE || r == SSL_R_VERSION_TOO_LOW;
}

static int is_cipher_reason(int r) {
  return r == SSL_R_NO_SHARED_CIPHER || r == SSL_R_NO_CIPHERS_AVAILABLE || r == SSL_R_WRONG_CIPHER_RETURNED ||
         r == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE || r == SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY;
}

/* Reasons meaning the peer's bytes were not a TLS record at all. */
static int is_not_tls_reason(int r) {
  return r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_PACKET_LENGTH_TOO_LONG || r == SSL_R_RECORD_LENGTH_MISMATCH ||
         r == SSL_R_HTTP_REQUEST || r == SSL_R_UNEXPECTED_RECORD || r == SSL_R_UNEXPECTED_MESSAGE ||
         r == SSL_R_LENGTH_MISMATCH || r == SSL_R_BAD_PACKET_LENGTH;
}

mxs_class_t mxs_class_from_tls(const mxs_tls_outcome_t *o) {
  int r = o->ssl_reason, alert = o->alert_received;
  /* A CertificateRequest comes after the version and the cipher are
   * agreed: whatever alert follows (handshake_failure included) is about
   * our client certificate, whatever another profile got. */
  if (o->cert_requested && alert >= 0) return MXS_CLASS_TLS_ALERT;
  /* A stack that only a client with other versions can talk to (TLS 1.0
   * for a modern sender, TLS 1.3 for one capped at 1.2) is a version
   * problem, however the failed attempt happened to fail (alert, reset). */
  int lo = o->min_version ? o->min_version : TLS1_2_VERSION;
  if (o->legacy_ok && o->legacy_version &&
      (o->legacy_version < lo || (o->max_version && o->legacy_version > o->max_version)))
    return MXS_CLASS_TLS_VERSION_MISMATCH;
  if (is_version_reason(r) || alert == SSL_AD_PROTOCOL_VERSION) return MXS_CLASS_TLS_VERSION_MISMATCH;
  if (is_cipher_reason(r) || alert == SSL_AD_HANDSHAKE_FAILURE || alert == SSL_AD_INSUFFICIENT_SECURITY)
    return MXS_CLASS_TLS_NO_SHARED_CIPHER;
  if (r == SSL_R_DH_KEY_TOO_SMALL || r == SSL_R_BAD_DH_VALUE) return MXS_CLASS_TLS_WEAK_DH;
  if (r == SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED) return MXS_CLASS_TLS_LEGACY_RENEGOTIATION;
  if (o->peer_closed && alert < 0 && !r) return MXS_CLASS_TLS_DIED;
  if (alert >= 0) return MXS_CLASS_TLS_ALERT;
  if (o->peer_closed && !is_not_tls_reason(r)) return MXS_CLASS_TLS_DIED;
  return MXS_CLASS_TLS_PROTOCOL_ERROR;
}
