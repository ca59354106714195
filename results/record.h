/* record.h - the result record of shared/spec/results.md and its encoding.
 *
 * A record is a flat view assembled by scan.c from the domain, the MX host,
 * the address and the (possibly shared) probe result.  It borrows every
 * string it points to; it lives only while exporters encode it.
 *
 * Encoding walks the fields once through an encoder vtable, so JSON Lines,
 * msgpack and any later exporter carry the same keys in the same order.
 */
#ifndef MXS_RECORD_H
#define MXS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "results/classify.h"
#include "results/policy.h"

typedef struct {
  const char *subject_cn; /* NULL when absent */
  const char *const *san;
  size_t nsan;
  const char *issuer;
  char not_before[24]; /* RFC 3339 */
  char not_after[24];
  long days_left;
  const char *key_type; /* RSA EC ED25519 ED448 DSA DH ... */
  int key_bits;
  const char *sig_alg;
  char sha256[65];
  int chain_len;
} mxs_cert_info_t;

/* One retry of --diag-profiles: what that profile's handshake got. */
typedef struct {
  const char *profile; /* a name of results/profiles.h */
  int ok;              /* the handshake completed */
  const char *version; /* NULL unless ok */
  const char *cipher;
  const char *group;
  mxs_class_t cls;    /* ok, or the tls-* class of its own failure */
  const char *detail; /* what happened, never NULL */
} mxs_diag_profile_t;

typedef struct {
  int legacy_ok;
  const char *legacy_version; /* NULL unless legacy_ok */
  const char *legacy_cipher;
  const char *legacy_group;
  const char *legacy_detail; /* why the legacy retry failed, or NULL */
  /* --diag-profiles: the retries in the order given (NULL: the default,
   * one legacy retry).  no_legacy: none of them was the legacy profile, so
   * the legacy_* keys are left out. */
  const mxs_diag_profile_t *profiles;
  size_t nprofiles;
  int no_legacy;
} mxs_diag_t;

/* Stage timings in ms; -1 = stage not reached. */
typedef struct {
  int dns, connect, banner, ehlo, starttls, handshake, total;
} mxs_timings_t;

typedef struct {
  const char *domain;
  mxs_class_t cls;
  const char *stage;
  const char *detail;
  char scanned_at[24];

  const char *mx; /* NULL: no MX known */
  int pref;
  int implicit_mx;

  const char *ip; /* NULL: no address known */
  int port;

  int smtp_code; /* 0: no reply read */
  const char *banner;
  const char *const *ehlo;
  size_t nehlo;
  int has_ehlo;

  const char *tls_version; /* NULL: no handshake */
  const char *cipher;
  const char *group;

  const mxs_cert_info_t *cert; /* NULL: no leaf seen */
  mxs_class_set_t cert_errors;

  const mxs_diag_t *diag;       /* NULL: no diagnostic retry */
  const mxs_timings_t *timings; /* NULL: no connection tried */
  int attempts;
  int unfinished; /* the run ended (--max-runtime, a signal) before this probe did */
  /* The server name sent in the probe whose certificate the record reports
   * (written with `cert`; NULL: none was sent, written as null). */
  const char *sni;
  const char *profile;             /* sender profile the probe used (results/profiles.h); NULL: no probe was made */
  int profile_custom;              /* options changed the profile's settings: written as "NAME+custom" */
  const mxs_policy_view_t *policy; /* NULL or empty: no policy found or checked (the `policy` map) */
  /* The domain's MTA-STS was looked up (policy checks on, the lookup
   * complete): then no policy.sts means it publishes none, which the
   * `mta-sts` delivery level needs to tell from "not checked". */
  int policy_checked;
} mxs_record_t;

/* An encoder: a structured-output sink (JSON text, msgpack, ...).  Maps and
 * arrays announce their size up front (msgpack needs it); `end` closes the
 * innermost container (JSON needs it). */
typedef struct mxs_encoder_s mxs_encoder_t;
struct mxs_encoder_s {
  void (*map)(mxs_encoder_t *e, size_t n);
  void (*array)(mxs_encoder_t *e, size_t n);
  void (*end)(mxs_encoder_t *e);
  void (*key)(mxs_encoder_t *e, const char *k);
  void (*str)(mxs_encoder_t *e, const char *s);
  void (*integer)(mxs_encoder_t *e, int64_t v);
  void (*boolean)(mxs_encoder_t *e, int v);
  void (*nil)(mxs_encoder_t *e); /* JSON null, msgpack nil */
};

/* A key and its string value (NULL written as ""), a key and an integer:
 * the two steps every structured writer repeats. */
void mxs_enc_kv_str(mxs_encoder_t *e, const char *k, const char *v);
void mxs_enc_kv_int(mxs_encoder_t *e, const char *k, int64_t v);

/* Walks R into E. */
void mxs_record_encode(const mxs_record_t *r, mxs_encoder_t *e);

/* Formats unix time T as RFC 3339 UTC ("2026-11-28T02:00:07Z") into OUT[24]. */
void mxs_rfc3339(int64_t t, char out[24]);

#endif
