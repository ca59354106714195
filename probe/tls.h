/* tls.h - the OpenSSL client engine over two memory BIOs.
 *
 * Knows nothing of libuv: the probe feeds it the bytes it reads from the
 * socket, drives the handshake, and sends whatever ciphertext the engine
 * produced.  One mxs_tls_ctx_t per run holds the SSL_CTXs - the probe's
 * (its sender profile, results/profiles.h) and one per diagnostic retry
 * (by default the legacy profile) - and the trust store, so nothing is
 * parsed per probe.
 */
#ifndef MXS_TLS_H
#define MXS_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "results/classify.h"
#include "results/profiles.h"
#include "results/dane.h"

typedef struct mxs_tls_ctx_s mxs_tls_ctx_t;
typedef struct mxs_tls_s mxs_tls_t;

/* CA_FILE: PEM roots to trust, or NULL for the system store.
 * VERIFY_CACHE: chain verification outcomes to remember (probe/vcache.h),
 * 0 to verify every chain afresh.  Returns 0 and sets *out, or -1 with a
 * message naming the file in err.  The probe's context is the modern
 * profile's, its one diagnostic retry the legacy profile's. */
int mxs_tls_ctx_new(const char *ca_file, size_t verify_cache, mxs_tls_ctx_t **out, char *err, size_t errlen);

/* One client context: a profile's name (for transcripts; borrowed, must
 * outlive the context), whether options changed it, and the settings
 * (borrowed for the call: they are applied, not kept). */
typedef struct {
  const char *name;
  int custom;
  const mxs_tls_settings_t *set;
} mxs_tls_variant_t;

typedef struct {
  const char *ca_file;
  size_t verify_cache;
  mxs_tls_variant_t main;        /* the probe's; set == NULL: the modern profile */
  const mxs_tls_variant_t *diag; /* the diagnostic retries, in order (borrowed for the call) */
  size_t ndiag;
} mxs_tls_ctx_opts_t;

/* The contexts O describes.  0, or -1 with a message naming the file or
 * the setting OpenSSL refused (and the profile) in ERR. */
int mxs_tls_ctx_new_ex(const mxs_tls_ctx_opts_t *o, mxs_tls_ctx_t **out, char *err, size_t errlen);

/* The contexts of C: 1 + its diagnostic retries.  Variant 0 is the probe's,
 * 1.. the retries in the order given. */
int mxs_tls_ctx_variants(const mxs_tls_ctx_t *c);
/* What VARIANT sends, for a transcript ("TLS 1.2 and up, OpenSSL security
 * level 2 (modern sender)"); static or owned by C. */
const char *mxs_tls_ctx_label(const mxs_tls_ctx_t *c, int variant);
/* Whether a client with settings S would offer NAME in its ClientHello:
 * a cipher (OpenSSL's name, as records carry it), or with GROUP a key
 * exchange group (as mxs_tls_group names it).  1, 0, or -1 when it cannot
 * tell (out of memory, a group OpenSSL does not know, settings it refuses). */
int mxs_tls_settings_offer(const mxs_tls_settings_t *s, int group, const char *name);

/* Checks one knob as OpenSSL takes it, on a throw-away context: OPTION is
 * "ciphers", "ciphersuites", "groups" or "sigalgs".  0, or -1 with OpenSSL's
 * reason in WHY. */
int mxs_tls_check_knob(const char *option, const char *value, char *why, size_t whylen);
/* Loads the client certificate chain CERT and key KEY (KEY NULL: CERT holds
 * both) at security level SECLEVEL (-1: OpenSSL's) and checks they match.
 * 0, or -1 with WHY naming the file and the reason. */
int mxs_tls_check_client_cert(const char *cert, const char *key, int seclevel, char *why, size_t whylen);
void mxs_tls_ctx_free(mxs_tls_ctx_t *c);

/* SHA-256, fetched once for the run (for certificate fingerprints). */
const EVP_MD *mxs_tls_sha256(const mxs_tls_ctx_t *c);

/* Chain verifications looked up in the cache and found there, so far. */
void mxs_tls_ctx_cache_stats(mxs_tls_ctx_t *c, uint64_t *lookups, uint64_t *hits);

/* One client connection.  VARIANT 0 is the probe's context, 1.. the
 * diagnostic retries' (with mxs_tls_ctx_new: 1 is the legacy profile, TLS
 * 1.0+, security level 0, every cipher, legacy servers and renegotiation
 * allowed).  SNI is copied.  NULL on allocation failure or an unknown
 * variant.  Caller frees. */
mxs_tls_t *mxs_tls_new(mxs_tls_ctx_t *c, const char *sni, int variant);
void mxs_tls_free(mxs_tls_t *t);

/* DANE (RFC 7672): the TLSA records of one TLSA base domain (the MX host
 * name), results/dane.h.  Borrowed: the caller keeps them, unchanged,
 * until the handshake is over. */
typedef mxs_dane_rrset_t mxs_tls_dane_t;

/* mxs_tls_new, and (the probe's own profile, variant 0, only; DANE NULL:
 * none) the usable records of DANE matched in the same handshake, besides
 * WebPKI, whose results are unchanged.  NULL on allocation failure. */
mxs_tls_t *mxs_tls_new_dane(mxs_tls_ctx_t *c, const char *sni, int variant, const mxs_tls_dane_t *dane);

/* After the handshake: DANE's verdict. */
typedef struct {
  int usable;                     /* usable records given to OpenSSL (0: DANE not evaluated) */
  int match;                      /* 1, 0, or -1 when not evaluated (no usable record, no chain seen) */
  int depth;                      /* with a match: 0 the leaf (DANE-EE), more: a trust anchor */
  uint8_t usage, selector, mtype; /* with a match: the record that matched */
  char why[96];                   /* without: OpenSSL's reason ("no matching DANE TLSA records") */
} mxs_tls_dane_result_t;
void mxs_tls_dane_result(const mxs_tls_t *t, mxs_tls_dane_result_t *out);

/* Hands ciphertext read from the peer to the engine.  0 or -1 (ENOMEM). */
int mxs_tls_feed(mxs_tls_t *t, const void *data, size_t len);

/* Drives the handshake: 1 complete, 0 needs more input (send the pending
 * output first), -1 failed (see mxs_tls_failure). */
int mxs_tls_handshake(mxs_tls_t *t);

/* Ciphertext waiting to be sent, and taking it (copies up to LEN bytes). */
size_t mxs_tls_pending(const mxs_tls_t *t);
size_t mxs_tls_take(mxs_tls_t *t, void *buf, size_t len);

/* Plaintext after the handshake.  write: 0 or -1.  read: bytes (> 0), 0 when
 * more input is needed, -1 on close_notify or error (an alert the peer sent
 * then is in mxs_tls_failure). */
int mxs_tls_write(mxs_tls_t *t, const void *data, size_t len);
int mxs_tls_read(mxs_tls_t *t, void *buf, size_t len);

/* Why the handshake failed. */
typedef struct {
  int ssl_reason;     /* ERR_GET_REASON of the last libssl error, 0 if none */
  int alert_received; /* TLS alert description the peer sent, -1 if none */
  int server_hello;   /* the peer sent a ServerHello (TLS was spoken) */
  char text[200];     /* e.g. "tlsv1 alert protocol version (SSL alert 70)" */
} mxs_tls_failure_t;
const mxs_tls_failure_t *mxs_tls_failure(const mxs_tls_t *t);

/* The server sent a CertificateRequest; and we had a certificate to send. */
int mxs_tls_cert_requested(const mxs_tls_t *t);
int mxs_tls_cert_sent(const mxs_tls_t *t);

/* After a completed handshake.  Strings are static or owned by T. */
const char *mxs_tls_version(const mxs_tls_t *t);
const char *mxs_tls_cipher(const mxs_tls_t *t);
/* Key exchange group name ("X25519", "secp256r1", "ffdhe2048", "DH-1024"). */
void mxs_tls_group(const mxs_tls_t *t, char *out, size_t outlen);
/* The peer's leaf (borrowed; X509_up_ref to keep it) and how many
 * certificates the peer sent. */
X509 *mxs_tls_leaf(const mxs_tls_t *t);
int mxs_tls_chain_len(const mxs_tls_t *t);
/* Certificate problems found while verifying the chain (cert-* classes,
 * hostname excluded: that is checked per MX name by the caller). */
mxs_class_set_t mxs_tls_cert_errors(const mxs_tls_t *t);
/* The first verification error as text ("certificate has expired"), or "". */
const char *mxs_tls_verify_text(const mxs_tls_t *t);

/* For a transcript (`mxscan probe`): describes the completed handshake in
 * lines of text, calling LINE(ARG, text) for each (TEXT borrowed for the
 * call): the peer's signature algorithm, then every certificate the peer
 * sent, in its order (subject, names, issuer, validity as of unix time
 * NOW, key, signature), then the result of the chain verification. */
void mxs_tls_describe(const mxs_tls_t *t, int64_t now, void (*line)(void *arg, const char *text), void *arg);

#endif
