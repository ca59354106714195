/* classify.h - the failure taxonomy of shared/spec/results.md.
 *
 * One X-macro table holds every class in contract order: the enum value, the
 * name written to records, the default stage, the RFC 8460 result type and a
 * one-line hint for operators.  The order of the table IS the precedence: a
 * probe takes the first class that applies, and cert_errors are reported as
 * a bitmask whose lowest set bit is the record's class.
 *
 * `excluded` (the operator's --exclude list, queue/exclude.h) is no finding
 * about the server, so it comes last before `ok`: a domain with an
 * excluded address and a real failure elsewhere counts under the failure.
 */
#ifndef MXS_CLASSIFY_H
#define MXS_CLASSIFY_H

#include <stdint.h>

/* X(enum-suffix, "name", "stage", "tlsrpt", "hint") */
#define MXS_CLASS_TABLE(X)                                                                                         \
  X(DNS_NXDOMAIN, "dns-nxdomain", "dns", "none", "the domain does not exist")                                      \
  X(DNS_SERVFAIL, "dns-servfail", "dns", "none", "the resolver answered SERVFAIL or REFUSED")                      \
  X(DNS_TIMEOUT, "dns-timeout", "dns", "none", "no DNS answer within the timeout and retries")                     \
  X(NULL_MX, "null-mx", "dns", "none", "the domain publishes a null MX: it accepts no mail")                       \
  X(NO_MX_NO_ADDRESS, "no-mx-no-address", "dns", "none", "no MX and no A/AAAA: no mail route")                     \
  X(MX_NO_ADDRESS, "mx-no-address", "dns", "none", "this MX host has no A/AAAA record")                            \
  /* Policy discovery (RFC 8461 MTA-STS, RFC 7672 DANE): a sender meets these                                      \
   * after DNS and before it connects.  RFC 8460 names the result types. */                                        \
  X(STS_POLICY_FETCH_ERROR, "sts-policy-fetch-error", "policy", "sts-policy-fetch-error",                          \
    "the MTA-STS policy announced in DNS cannot be fetched")                                                       \
  X(STS_POLICY_INVALID, "sts-policy-invalid", "policy", "sts-policy-invalid",                                      \
    "the MTA-STS record or policy is invalid, or enforce does not list this MX")                                   \
  X(DNSSEC_INVALID, "dnssec-invalid", "dns", "dnssec-invalid", "DANE: the TLSA lookup failed DNSSEC validation")   \
  X(DANE_REQUIRED, "dane-required", "dns", "dane-required", "DANE: no DNSSEC-validated TLSA record for this MX")   \
  X(TCP_TIMEOUT, "tcp-timeout", "connect", "none", "connect timed out: port 25 filtered")                          \
  X(TCP_REFUSED, "tcp-refused", "connect", "none", "connection refused")                                           \
  X(TCP_UNREACHABLE, "tcp-unreachable", "connect", "none", "host or network unreachable")                          \
  X(SMTP_BANNER_TIMEOUT, "smtp-banner-timeout", "banner", "none", "no complete greeting in time")                  \
  X(SMTP_TIMEOUT, "smtp-timeout", "ehlo", "none", "an SMTP reply did not arrive in time")                          \
  X(SMTP_REJECTED, "smtp-rejected", "banner", "none", "the server refused the session")                            \
  X(SMTP_PROTOCOL_ERROR, "smtp-protocol-error", "banner", "none", "the peer does not speak SMTP")                  \
  X(SMTP_CLOSED, "smtp-closed", "banner", "none", "the peer closed the connection before STARTTLS")                \
  X(STARTTLS_NOT_OFFERED, "starttls-not-offered", "ehlo", "starttls-not-supported",                                \
    "EHLO does not advertise STARTTLS")                                                                            \
  X(STARTTLS_REJECTED, "starttls-rejected", "starttls", "starttls-not-supported", "STARTTLS was refused")          \
  X(TLS_VERSION_MISMATCH, "tls-version-mismatch", "tls", "validation-failure", "no shared TLS protocol version")   \
  X(TLS_NO_SHARED_CIPHER, "tls-no-shared-cipher", "tls", "validation-failure", "no shared cipher suite")           \
  X(TLS_WEAK_DH, "tls-weak-dh", "tls", "validation-failure", "the server's DH key is too small")                   \
  X(TLS_LEGACY_RENEGOTIATION, "tls-legacy-renegotiation", "tls", "validation-failure",                             \
    "the server lacks RFC 5746 secure renegotiation")                                                              \
  X(TLS_DIED, "tls-died", "tls", "validation-failure", "connection died while negotiating STARTTLS")               \
  X(TLS_TIMEOUT, "tls-timeout", "tls", "validation-failure", "the TLS handshake stalled")                          \
  X(TLS_ALERT, "tls-alert", "tls", "validation-failure", "the server sent a fatal TLS alert")                      \
  X(TLS_PROTOCOL_ERROR, "tls-protocol-error", "tls", "validation-failure", "the bytes after 220 were not TLS")     \
  /* Policy checks of the certificate: a DANE sender matches TLSA records,                                         \
   * an MTA-STS enforce sender insists on WebPKI, both after the handshake.                                        \
   * Before cert-*: under such a policy that is the failure a sender meets. */                                     \
  X(TLSA_INVALID, "tlsa-invalid", "cert", "tlsa-invalid", "DANE: the certificate matches no usable TLSA record")   \
  X(STS_WEBPKI_INVALID, "sts-webpki-invalid", "cert", "sts-webpki-invalid",                                        \
    "MTA-STS enforce: the certificate is not valid for the MX under WebPKI")                                       \
  X(CERT_EXPIRED, "cert-expired", "cert", "certificate-expired", "a certificate has expired")                      \
  X(CERT_NOT_YET_VALID, "cert-not-yet-valid", "cert", "certificate-not-trusted", "a certificate is not yet valid") \
  X(CERT_SELF_SIGNED, "cert-self-signed", "cert", "certificate-not-trusted", "the certificate is self-signed")     \
  X(CERT_CHAIN_INCOMPLETE, "cert-chain-incomplete", "cert", "certificate-not-trusted",                             \
    "the server does not send its intermediate certificate")                                                       \
  X(CERT_UNTRUSTED, "cert-untrusted", "cert", "certificate-not-trusted", "the chain leads to no trusted root")     \
  X(CERT_HOSTNAME_MISMATCH, "cert-hostname-mismatch", "cert", "certificate-host-mismatch",                         \
    "the certificate does not name the MX host")                                                                   \
  X(CERT_WEAK, "cert-weak", "cert", "validation-failure", "weak certificate key or signature")                     \
  X(POST_TLS_EHLO_FAILED, "post-tls-ehlo-failed", "post-tls", "validation-failure", "EHLO after STARTTLS failed")  \
  X(EXCLUDED, "excluded", "dns", "none", "on the --exclude list: not resolved or probed")                          \
  X(OK, "ok", "done", "success", "STARTTLS with a trusted certificate for the MX host")

typedef enum {
#define MXS_CLASS_ENUM(id, name, stage, tlsrpt, hint) MXS_CLASS_##id,
  MXS_CLASS_TABLE(MXS_CLASS_ENUM)
#undef MXS_CLASS_ENUM
      MXS_CLASS_COUNT
} mxs_class_t;

/* Bitmask of classes, bit i for class i (the cert_errors set). */
typedef uint64_t mxs_class_set_t;
#define MXS_CLASS_BIT(c) ((mxs_class_set_t)1 << (c))

const char *mxs_class_name(mxs_class_t c);
const char *mxs_class_stage(mxs_class_t c);
const char *mxs_class_tlsrpt(mxs_class_t c);
const char *mxs_class_hint(mxs_class_t c);
/* Returns the class named NAME, or -1. */
int mxs_class_from_name(const char *name);
/* The first class in contract order present in SET; MXS_CLASS_OK for an empty set. */
mxs_class_t mxs_class_first(mxs_class_set_t set);

/* Map a libuv connect error (negative UV_E*) to a connect-stage class. */
mxs_class_t mxs_class_from_connect_error(int uv_err);
/* Map a c-ares status (ARES_*) for a domain query to a DNS class. */
mxs_class_t mxs_class_from_ares_status(int ares_status);

/* What is known about a failed modern handshake and its legacy retry. */
typedef struct {
  int ssl_reason;     /* ERR_GET_REASON of the libssl error, 0 if none */
  int alert_received; /* fatal alert from the peer, -1 if none */
  int peer_closed;    /* EOF or reset during the handshake */
  int legacy_ok;      /* the diagnostic retry completed a handshake */
  int legacy_version; /* its protocol version (TLS1_VERSION ...), 0 if none */
  /* The failed probe's own versions (its sender profile): a retry that got
   * a version outside them means no shared version.  0: TLS 1.2 and up,
   * no highest (the modern profile). */
  int min_version, max_version;
  int cert_requested; /* the server asked for a client certificate: the cipher was agreed */
} mxs_tls_outcome_t;

/* The tls-* class for a failed handshake (never TLS_TIMEOUT: a stall is
 * known without looking at errors).  Takes the first class of the contract
 * that the evidence supports. */
mxs_class_t mxs_class_from_tls(const mxs_tls_outcome_t *o);

#endif
