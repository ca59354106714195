/* profiles.h - sender profiles: named sets of the TLS client settings a
 * probe uses, in one table (profiles.c) beside the class table, because a
 * record's `profile` field names them.
 *
 * A profile is plain data: protocol versions, an OpenSSL security level,
 * cipher strings, groups, signature algorithms and a few option bits.
 * probe/tls.c applies them to an SSL_CTX with the OpenSSL API; nothing
 * here includes OpenSSL.  A profile says which OpenSSL settings it makes,
 * never that it *is* another TLS library or MTA: each one records where its
 * values come from (`origin`).
 *
 * Everything here is static or borrowed; nothing is allocated.
 */
#ifndef MXS_PROFILES_H
#define MXS_PROFILES_H

#include <stddef.h>

/* Protocol versions by their wire value, which is also OpenSSL's
 * TLS1_VERSION ... TLS1_3_VERSION.  0: no limit (OpenSSL's own bound). */
#define MXS_TLS_V1_0 0x0301
#define MXS_TLS_V1_1 0x0302
#define MXS_TLS_V1_2 0x0303
#define MXS_TLS_V1_3 0x0304
/* In a set of knobs: the option was given as "none" (clear the profile's
 * bound), as opposed to 0, not given. */
#define MXS_TLS_VERSION_NONE (-1)

/* Option bits a profile may set (SSL_CTX_set_options), by what they do. */
enum {
  /* SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION:
   * talk to servers without RFC 5746 secure renegotiation. */
  MXS_TLSOPT_LEGACY_RENEGOTIATION = 1u << 0,
  /* SSL_OP_ALL: OpenSSL's bundle of interoperability workarounds (empty
   * fragments off, TLS extension padding, ...). */
  MXS_TLSOPT_BUG_WORKAROUNDS = 1u << 1,
};

/* The TLS client settings of a probe.  As a profile: the values it sets.
 * As a set of knobs (options given on top of a profile): 0 / -1 / NULL
 * mean "not given". */
typedef struct {
  int min_version;          /* MXS_TLS_V*, 0: OpenSSL's lowest (knob: not given; MXS_TLS_VERSION_NONE: "none") */
  int max_version;          /* MXS_TLS_V*, 0: OpenSSL's highest (knob: as min_version) */
  int seclevel;             /* SSL_CTX_set_security_level 0..5, -1: left as OpenSSL has it */
  const char *ciphers;      /* SSL_CTX_set_cipher_list (TLS 1.2 and below), NULL: OpenSSL's default */
  const char *ciphersuites; /* SSL_CTX_set_ciphersuites (TLS 1.3), NULL: OpenSSL's default */
  const char *groups;       /* SSL_CTX_set1_groups_list, NULL: OpenSSL's default */
  const char *sigalgs;      /* SSL_CTX_set1_sigalgs_list, NULL: OpenSSL's default */
  unsigned options;         /* MXS_TLSOPT_* bits */
  const char *client_cert;  /* PEM chain presented when the server asks (knobs only, never a profile) */
  const char *client_key;   /* its private key (PEM) */
} mxs_tls_settings_t;

typedef struct {
  const char *name;    /* the record's `profile`, e.g. "modern" */
  const char *summary; /* one line for `mxscan profiles` */
  const char *origin;  /* where the values come from, and what they do not cover */
  mxs_tls_settings_t set;
} mxs_profile_t;

/* The table, in the order `mxscan profiles` lists it; the first is the
 * default ("modern"). */
size_t mxs_profile_count(void);
const mxs_profile_t *mxs_profile_at(size_t i);
const mxs_profile_t *mxs_profile_default(void);
/* The profile called NAME, or NULL. */
const mxs_profile_t *mxs_profile_find(const char *name);
/* The names of every profile, comma-separated, for error messages (static). */
const char *mxs_profile_names(void);

/* A comma-separated list of profile names ("modern,legacy") into OUT (at
 * most MAX, no duplicates).  0 and *N, or -1 with WHY naming the bad item. */
int mxs_profile_list_parse(const char *list, const mxs_profile_t **out, size_t max, size_t *n, char *why,
                           size_t whylen);

/* "TLSv1", "TLSv1.0", "1.0", "TLSv1.1", "1.2", "tlsv1.3" ... (any case) into
 * a MXS_TLS_V* value; "none" into MXS_TLS_VERSION_NONE when ALLOW_NONE.
 * 0, or -1. */
int mxs_tls_version_parse(const char *s, int allow_none, int *out);
/* OpenSSL's name for V, as records write tls_version ("TLSv1", "TLSv1.2");
 * "any" for 0. */
const char *mxs_tls_version_name(int v);
/* OpenSSL's macro for V ("TLS1_2_VERSION"), for describing the settings. */
const char *mxs_tls_version_macro(int v);

/* PROFILE with the KNOBS that were given applied on top (a knob replaces
 * the profile's value; a version "none" clears it).  Returns 1 when some
 * knob was given (the result is "custom"), 0 when OUT equals the profile. */
int mxs_tls_settings_merge(const mxs_tls_settings_t *profile, const mxs_tls_settings_t *knobs, mxs_tls_settings_t *out);
/* The names of the options among KNOBS that were given, comma-separated
 * ("tls-max-version,ciphers"), into OUT; "" when none. */
void mxs_tls_knobs_given(const mxs_tls_settings_t *knobs, char *out, size_t len);

/* Exactly what S makes OpenSSL do, as one line per call in the order
 * probe/tls.c makes them ("SSL_CTX_set_min_proto_version(ctx,
 * TLS1_2_VERSION)"), then a line naming what is left at OpenSSL's
 * defaults.  LINE gets each line (borrowed for the call). */
void mxs_tls_settings_describe(const mxs_tls_settings_t *s, void (*line)(void *arg, const char *text), void *arg);

/* "TLS 1.2 and up", "TLS 1.0 to 1.2", "TLS 1.3 only" for S's versions. */
void mxs_tls_versions_text(const mxs_tls_settings_t *s, char *out, size_t len);

#endif
