/* tls.c - OpenSSL over memory BIOs, with every certificate problem collected.
 *
 * Verification runs with SSL_VERIFY_PEER and a callback that records each
 * error and returns 1, so one handshake yields every problem of the chain
 * (expired AND untrusted AND weak) instead of stopping at the first.
 *
 * DANE (RFC 7672) rides on the same handshake: with TLSA records the SSL
 * gets OpenSSL's DANE (SSL_dane_enable, SSL_dane_tlsa_add), and the chain
 * is verified twice inside the one certificate-verify callback: once with
 * DANE on a second X509_STORE_CTX (its own errors, the TLSA base domain as
 * the reference identifier), once as WebPKI exactly as without DANE (the
 * verify cache, every problem into cert_errors, names checked per MX name
 * by the caller).  A record therefore carries both verdicts.
 */
#include "probe/tls.h"

#include <errno.h>
#include <limits.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "results/dane.h"
#include "results/record.h"
#include "probe/cert.h"
#include "probe/tls_keys.h"
#include "probe/vcache.h"

/* One SSL_CTX: the probe's, or a diagnostic retry's. */
typedef struct {
  SSL_CTX *ctx;
  /* One per context: a retry at security level 0 can verify the same
   * chain with another outcome. */
  mxs_vcache_t *cache;
  char *label; /* owned: what the transcript says it sends */
} variant_t;

struct mxs_tls_ctx_s {
  variant_t *v; /* owned: [0] the probe's, [1..] the diagnostic retries' */
  int nv;
  mxs_tls_keys_t *keys; /* NULL: OpenSSL's default (slower) key decoding */
  EVP_MD *sha256;       /* NULL: not available, callers use EVP_sha256() */
};

struct mxs_tls_s {
  SSL *ssl;
  BIO *rbio, *wbio;   /* owned by ssl */
  int cert_requested; /* the server sent a CertificateRequest */
  mxs_class_set_t cert_errors;
  int first_verify_err; /* X509_V_OK when none */
  mxs_tls_failure_t fail;
  /* DANE: usable records given to the SSL; the DANE pass is running (its
   * errors are not WebPKI's); it ran; its first error */
  int dane_usable, in_dane, dane_done, dane_err;
  int dane_depth; /* the matching record's depth, -1: none */
  uint8_t dane_usage, dane_selector, dane_mtype;
};

static void set_ctx_err(char *err, size_t errlen, const char *what, const char *file) {
  unsigned long e = ERR_peek_last_error();
  snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "", file ? file : "",
           e ? ERR_reason_error_string(e) : "unknown error");
  ERR_clear_error();
}

static mxs_class_t class_of_verify_error(int err, int depth) {
  switch (err) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CRL_HAS_EXPIRED: return MXS_CLASS_CERT_EXPIRED;
  case X509_V_ERR_CERT_NOT_YET_VALID: return MXS_CLASS_CERT_NOT_YET_VALID;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return MXS_CLASS_CERT_SELF_SIGNED;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    /* The leaf's own issuer is missing: the server did not send the
     * intermediate.  Further up, the chain it sent leads nowhere trusted. */
    return depth == 0 ? MXS_CLASS_CERT_CHAIN_INCOMPLETE : MXS_CLASS_CERT_UNTRUSTED;
  case X509_V_ERR_EE_KEY_TOO_SMALL:
  case X509_V_ERR_CA_KEY_TOO_SMALL:
  case X509_V_ERR_CA_MD_TOO_WEAK: return MXS_CLASS_CERT_WEAK;
  default: /* SELF_SIGNED_CERT_IN_CHAIN, CERT_UNTRUSTED, bad signatures, purpose ... */ return MXS_CLASS_CERT_UNTRUSTED;
  }
}

static int verify_cb(int ok, X509_STORE_CTX *sctx) {
  if (ok) return 1;
  SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
  mxs_tls_t *t = ssl ? SSL_get_app_data(ssl) : NULL;
  if (t && t->in_dane) {
    if (t->dane_err == X509_V_OK) t->dane_err = X509_STORE_CTX_get_error(sctx);
  } else if (t) {
    int err = X509_STORE_CTX_get_error(sctx);
    t->cert_errors |= MXS_CLASS_BIT(class_of_verify_error(err, X509_STORE_CTX_get_error_depth(sctx)));
    if (t->first_verify_err == X509_V_OK) t->first_verify_err = err;
  }
  return 1; /* keep going: we classify afterwards, never abort the handshake */
}

/* Replaces X509_verify_cert (SSL_CTX_set_cert_verify_callback): a chain
 * already verified in this run gets the same outcome without the work.
 * Whatever verify_cb collected is replayed into the probe's mxs_tls_t. */
/* The DANE pass: the chain the server sent, verified with the SSL's DANE
 * state (its TLSA records, base domain, flags) on a context of its own, so
 * that SCTX stays for the WebPKI pass.  Its errors go to t->dane_err; the
 * SSL_DANE it shares with the SSL records the matching record. */
static void dane_verify(mxs_tls_t *t, SSL *ssl, X509_STORE_CTX *sctx) {
  X509_STORE_CTX *d = X509_STORE_CTX_new();
  t->dane_done = 1;
  t->dane_err = X509_V_ERR_UNSPECIFIED;
  t->dane_depth = -1;
  if (!d || !X509_STORE_CTX_init(d, X509_STORE_CTX_get0_store(sctx), X509_STORE_CTX_get0_cert(sctx),
                                 X509_STORE_CTX_get0_untrusted(sctx))) {
    X509_STORE_CTX_free(d);
    return;
  }
  X509_STORE_CTX_set_ex_data(d, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
  X509_STORE_CTX_set_default(d, "ssl_server");
  /* the SSL's parameters: security level, and the TLSA base domain as the
   * host name that DANE-TA(2) chains must name (RFC 7672 3.2.2) */
  X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(d), X509_STORE_CTX_get0_param(sctx));
  X509_STORE_CTX_set_verify_cb(d, verify_cb);
  X509_STORE_CTX_set0_dane(d, SSL_get0_dane(ssl));
  t->dane_err = X509_V_OK;
  t->in_dane = 1;
  if (X509_verify_cert(d) <= 0 && t->dane_err == X509_V_OK) t->dane_err = X509_V_ERR_UNSPECIFIED;
  t->in_dane = 0;
  /* Now, not after the handshake: SSL_get0_dane_tlsa() answers only while
   * the SSL's verify result is X509_V_OK, and the WebPKI pass sets it. */
  t->dane_depth = SSL_get0_dane_tlsa(ssl, &t->dane_usage, &t->dane_selector, &t->dane_mtype, NULL, NULL);
  X509_STORE_CTX_free(d);
}

static int verify_chain_cb(X509_STORE_CTX *sctx, void *arg) {
  mxs_vcache_t *cache = arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
  mxs_tls_t *t = ssl ? SSL_get_app_data(ssl) : NULL;
  if (t && t->dane_usable) {
    dane_verify(t, ssl, sctx);
    /* WebPKI as without DANE: no DANE state, no host name (checked per MX
     * name by the caller) */
    X509_STORE_CTX_set0_dane(sctx, NULL);
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sctx), NULL, 0);
  }
  if (!cache) return X509_verify_cert(sctx);
  STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(sctx);
  unsigned char key[MXS_VCACHE_KEYLEN];
  int64_t now = (int64_t)time(NULL);
  int keyed = t && t->cert_errors == 0 && t->first_verify_err == X509_V_OK && mxs_vcache_key(cache, sent, key) == 0;
  mxs_vcache_result_t r;
  if (keyed && mxs_vcache_get(cache, key, now, &r)) {
    t->cert_errors = r.errors;
    t->first_verify_err = r.first_err;
    X509_STORE_CTX_set_error(sctx, r.store_err);
    return r.rc;
  }
  int rc = X509_verify_cert(sctx);
  if (keyed && rc > 0) { /* an internal failure (rc <= 0) is not an outcome to replay */
    r = (mxs_vcache_result_t){.rc = rc,
                              .store_err = X509_STORE_CTX_get_error(sctx),
                              .first_err = t->first_verify_err,
                              .errors = t->cert_errors};
    mxs_vcache_put(cache, key, sent, now, &r);
  }
  return rc;
}

static void info_cb(const SSL *ssl, int where, int ret) {
  mxs_tls_t *t = SSL_get_app_data(ssl);
  if (!t) return;
  /* SSL_CB_READ_ALERT and SSL_CB_WRITE_ALERT share the ALERT bit: test both
   * bits, or the alert we send ourselves ("dh key too small") looks like
   * the peer's. */
  if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ) && t->fail.alert_received < 0 && (ret >> 8) == SSL3_AL_FATAL)
    t->fail.alert_received = ret & 0xff;
  if ((where & SSL_CB_CONNECT_LOOP) && SSL_get_state(ssl) != TLS_ST_CW_CLNT_HELLO &&
      SSL_get_state(ssl) != TLS_ST_BEFORE)
    t->fail.server_hello = 1; /* the state machine moved past our ClientHello */
  if ((where & SSL_CB_CONNECT_LOOP) && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ) t->cert_requested = 1;
}

/* 0 when PATH can be opened for reading, else -1 with ERR naming OPTION,
 * the file and the system's reason (OpenSSL's own says "system lib"). */
static int readable(const char *path, const char *option, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f) {
    fclose(f);
    return 0;
  }
  snprintf(err, errlen, "%s %s: %s", option, path, strerror(errno));
  return -1;
}

/* Applies a profile's settings (with the knobs merged in) to CTX, in the
 * order results/profiles.c describes them: the security level after the
 * cipher list, so that it wins over a "@SECLEVEL" there; the client
 * certificate last, loaded at that level.  0, or -1 with ERR naming what
 * OpenSSL refused. */
static int apply_settings(SSL_CTX *ctx, const mxs_tls_settings_t *s, char *err, size_t errlen) {
  uint64_t ops = 0;
  if (s->options & MXS_TLSOPT_LEGACY_RENEGOTIATION)
    ops |= SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION;
  if (s->options & MXS_TLSOPT_BUG_WORKAROUNDS) ops |= SSL_OP_ALL;
  if (ops) SSL_CTX_set_options(ctx, ops);
  if (!SSL_CTX_set_min_proto_version(ctx, s->min_version) || !SSL_CTX_set_max_proto_version(ctx, s->max_version)) {
    set_ctx_err(err, errlen, "cannot set the protocol versions", NULL);
    return -1;
  }
  const struct {
    const char *option, *value;
  } knobs[] = {
      {"ciphers", s->ciphers}, {"ciphersuites", s->ciphersuites}, {"groups", s->groups}, {"sigalgs", s->sigalgs}};
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    if (!knobs[i].value) continue;
    int ok = i == 0   ? SSL_CTX_set_cipher_list(ctx, knobs[i].value)
             : i == 1 ? SSL_CTX_set_ciphersuites(ctx, knobs[i].value)
             : i == 2 ? SSL_CTX_set1_groups_list(ctx, knobs[i].value)
                      : SSL_CTX_set1_sigalgs_list(ctx, knobs[i].value);
    if (ok != 1) {
      char what[320];
      snprintf(what, sizeof what, "--%s '%.256s' is refused by OpenSSL", knobs[i].option, knobs[i].value);
      set_ctx_err(err, errlen, what, NULL);
      return -1;
    }
  }
  if (s->seclevel >= 0) SSL_CTX_set_security_level(ctx, s->seclevel);
  if (s->client_cert) {
    const char *key = s->client_key ? s->client_key : s->client_cert;
    if (readable(s->client_cert, "--client-cert", err, errlen) < 0 || readable(key, "--client-key", err, errlen) < 0)
      return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, s->client_cert) != 1) {
      set_ctx_err(err, errlen, "--client-cert: no usable certificate chain in", s->client_cert);
      return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      char what[2 * PATH_MAX + 96];
      if (s->client_key)
        snprintf(what, sizeof what, "--client-key %s is no private key matching --client-cert %s (OpenSSL)", key,
                 s->client_cert);
      else
        snprintf(what, sizeof what, "--client-cert %s: no private key matching it in the file (give --client-key)",
                 key);
      set_ctx_err(err, errlen, what, NULL);
      return -1;
    }
  }
  return 0;
}

static SSL_CTX *new_client_ctx(const mxs_tls_settings_t *set, X509_STORE *store, mxs_vcache_t *cache, char *err,
                               size_t errlen) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    set_ctx_err(err, errlen, "cannot create TLS context", NULL);
    return NULL;
  }
  /* Release read/write buffers between records: thousands of idle probes
   * would otherwise hold ~34 KiB each. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  /* A certificate chain is buffered whole before it is parsed: a hostile
   * server's 4 MiB one must fail (tls-protocol-error, "excessive message
   * size") instead of costing megabytes a probe.  OpenSSL's default, said
   * here because the per-probe memory bound rests on it; real chains are
   * under 10 KiB. */
  SSL_CTX_set_max_cert_list(ctx, 100 * 1024);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
  /* always ours, cache or not: it runs the DANE pass besides WebPKI */
  SSL_CTX_set_cert_verify_callback(ctx, verify_chain_cb, cache);
  SSL_CTX_set_info_callback(ctx, info_cb);
  SSL_CTX_set1_cert_store(ctx, store);
  if (apply_settings(ctx, set, err, errlen) < 0) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  /* DANE's digests; an SSL uses them only after SSL_dane_enable */
  if (SSL_CTX_dane_enable(ctx) <= 0) {
    set_ctx_err(err, errlen, "cannot configure TLS context", NULL);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static X509_STORE *new_store(const char *ca_file, char *err, size_t errlen) {
  X509_STORE *store = X509_STORE_new();
  if (!store) return NULL;
  int ok = ca_file ? X509_STORE_load_file(store, ca_file) : X509_STORE_set_default_paths(store);
  if (ok && ca_file) {
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    ok = objs && sk_X509_OBJECT_num(objs) > 0;
  }
  if (!ok) {
    set_ctx_err(err, errlen, "cannot load CA certificates from", ca_file ? ca_file : "system store");
    X509_STORE_free(store);
    return NULL;
  }
  return store;
}

/* What a transcript says about the handshake a variant starts.  The two
 * profiles mxscan always had keep their words. */
static char *variant_label(const mxs_tls_variant_t *v, const mxs_tls_settings_t *s, int diag) {
  char vers[48], level[48], *out = NULL;
  mxs_tls_versions_text(s, vers, sizeof vers);
  if (s->seclevel >= 0)
    snprintf(level, sizeof level, "OpenSSL security level %d", s->seclevel);
  else
    snprintf(level, sizeof level, "OpenSSL's default security level");
  const char *name = v->name ? v->name : "modern";
  int rc;
  if (!v->custom && !diag && !strcmp(name, "modern"))
    rc = asprintf(&out, "%s, %s (modern sender)", vers, level);
  else if (!v->custom && diag && !strcmp(name, "legacy"))
    rc = asprintf(&out, "%s, %s (legacy diagnostic)", vers, level);
  else
    rc = asprintf(&out, "%s, %s (profile %s%s%s)", vers, level, name, v->custom ? "+custom" : "",
                  diag ? ", diagnostic retry" : "");
  return rc < 0 ? NULL : out;
}

int mxs_tls_ctx_new_ex(const mxs_tls_ctx_opts_t *o, mxs_tls_ctx_t **out, char *err, size_t errlen) {
  ERR_clear_error();
  err[0] = '\0';
  mxs_tls_ctx_t *c = calloc(1, sizeof *c);
  int n = 1 + (int)o->ndiag, ok = c != NULL;
  if (c) {
    c->keys = mxs_tls_keys_new();
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ok = (c->v = calloc((size_t)n, sizeof *c->v)) != NULL;
  }
  X509_STORE *store = ok ? new_store(o->ca_file, err, errlen) : NULL;
  for (int i = 0; store && ok && i < n; i++) {
    const mxs_tls_variant_t *var = i == 0 ? &o->main : &o->diag[i - 1];
    const mxs_tls_settings_t *set = var->set ? var->set : &mxs_profile_default()->set;
    variant_t *v = &c->v[i];
    /* Retries follow failed handshakes only: a small cache does. */
    size_t entries = i == 0 ? o->verify_cache : o->verify_cache / 8 + 1;
    if (o->verify_cache && !(v->cache = mxs_vcache_new(entries))) break;
    if (!(v->label = variant_label(var, set, i > 0))) break;
    if (!(v->ctx = new_client_ctx(set, store, v->cache, err, errlen))) {
      char why[512];
      snprintf(why, sizeof why, "%s", err);
      snprintf(err, errlen, "profile %s%s: %s", var->name ? var->name : "modern", var->custom ? "+custom" : "", why);
      ok = 0;
      break;
    }
    c->nv = i + 1;
  }
  X509_STORE_free(store); /* the contexts hold their own references */
  if (!c || c->nv != n) {
    if (!err[0]) snprintf(err, errlen, "out of memory");
    if (c) c->nv = c->v ? n : 0; /* free every slot, the half-built one too */
    mxs_tls_ctx_free(c);
    return -1;
  }
  *out = c;
  return 0;
}

int mxs_tls_ctx_new(const char *ca_file, size_t verify_cache, mxs_tls_ctx_t **out, char *err, size_t errlen) {
  const mxs_tls_variant_t legacy = {"legacy", 0, &mxs_profile_find("legacy")->set};
  mxs_tls_ctx_opts_t o = {ca_file, verify_cache, {"modern", 0, NULL}, &legacy, 1};
  return mxs_tls_ctx_new_ex(&o, out, err, errlen);
}

void mxs_tls_ctx_free(mxs_tls_ctx_t *c) {
  if (!c) return;
  for (int i = 0; c->v && i < c->nv; i++) {
    SSL_CTX_free(c->v[i].ctx);
    mxs_vcache_free(c->v[i].cache);
    free(c->v[i].label);
  }
  free(c->v);
  mxs_tls_keys_free(c->keys);
  EVP_MD_free(c->sha256);
  free(c);
}

const EVP_MD *mxs_tls_sha256(const mxs_tls_ctx_t *c) { return c->sha256; }

void mxs_tls_ctx_cache_stats(mxs_tls_ctx_t *c, uint64_t *lookups, uint64_t *hits) {
  *lookups = *hits = 0;
  if (c->v[0].cache) mxs_vcache_stats(c->v[0].cache, lookups, hits);
}

int mxs_tls_ctx_variants(const mxs_tls_ctx_t *c) { return c->nv; }

const char *mxs_tls_ctx_label(const mxs_tls_ctx_t *c, int variant) {
  return variant >= 0 && variant < c->nv ? c->v[variant].label : "";
}

/* The NID of a group as mxs_tls_group names it (IANA names, X25519 in
 * capitals), or NID_undef. */
static int group_nid(const char *name) {
  if (!strcasecmp(name, "secp256r1")) return NID_X9_62_prime256v1; /* OpenSSL's short name: prime256v1 */
  if (!strcasecmp(name, "x25519")) return NID_X25519;
  if (!strcasecmp(name, "x448")) return NID_X448;
  int nid = OBJ_sn2nid(name);
  return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

static int offers_cipher(SSL *ssl, const char *cipher) {
  /* What the ClientHello would carry: versions and security level applied. */
  STACK_OF(SSL_CIPHER) *sk = SSL_get1_supported_ciphers(ssl);
  int found = sk ? 0 : -1;
  for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk) && !found; i++)
    found = strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i)), cipher) == 0;
  sk_SSL_CIPHER_free(sk);
  return found;
}

/* From the settings, not the SSL: OpenSSL 3.0 has no getter for a
 * client's own groups (SSL_get1_groups reports the peer's).  No list is
 * OpenSSL 3.0's default (ssl/t1_lib.c), which has every group it
 * implements. */
static int offers_group(const mxs_tls_settings_t *s, const char *group) {
  int nid = group_nid(group);
  if (nid == NID_undef) return -1;
  if (!s->groups) return 1;
  char list[512];
  snprintf(list, sizeof list, "%s", s->groups);
  for (char *save = NULL, *g = strtok_r(list, ":", &save); g; g = strtok_r(NULL, ":", &save))
    if (group_nid(g) == nid) return 1;
  return 0;
}

int mxs_tls_settings_offer(const mxs_tls_settings_t *s, int group, const char *name) {
  ERR_clear_error();
  mxs_tls_settings_t offer = *s;
  offer.client_cert = offer.client_key = NULL; /* not part of the hello */
  char err[256];
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = ctx && apply_settings(ctx, &offer, err, sizeof err) == 0 ? SSL_new(ctx) : NULL;
  int found = !ssl ? -1 : group ? offers_group(s, name) : offers_cipher(ssl, name);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return found;
}

int mxs_tls_check_knob(const char *option, const char *value, char *why, size_t whylen) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return snprintf(why, whylen, "out of memory"), -1;
  int ok = !strcmp(option, "ciphers")        ? SSL_CTX_set_cipher_list(ctx, value)
           : !strcmp(option, "ciphersuites") ? SSL_CTX_set_ciphersuites(ctx, value)
           : !strcmp(option, "groups")       ? SSL_CTX_set1_groups_list(ctx, value)
           : !strcmp(option, "sigalgs")      ? SSL_CTX_set1_sigalgs_list(ctx, value)
                                             : 0;
  SSL_CTX_free(ctx);
  if (ok == 1) {
    ERR_clear_error();
    return 0;
  }
  unsigned long e = ERR_peek_last_error();
  const char *data = NULL;
  int flags = 0;
  if (e) ERR_peek_last_error_data(&data, &flags);
  snprintf(why, whylen, "'%s' is refused by OpenSSL: %s%s%s", value, e ? ERR_reason_error_string(e) : "not valid",
           data && (flags & ERR_TXT_STRING) && *data ? ": " : "", data && (flags & ERR_TXT_STRING) ? data : "");
  ERR_clear_error();
  return -1;
}

int mxs_tls_check_client_cert(const char *cert, const char *key, int seclevel, char *why, size_t whylen) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return snprintf(why, whylen, "out of memory"), -1;
  mxs_tls_settings_t s = {.seclevel = seclevel, .client_cert = cert, .client_key = key};
  int rc = apply_settings(ctx, &s, why, whylen);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return rc;
}

/* The usable records of D on T's SSL (RFC 7672: base domain D->base, its
 * name checks for DANE-TA, none for DANE-EE).  0, or -1 when OpenSSL
 * fails (out of memory). */
static int dane_setup(mxs_tls_t *t, const mxs_tls_dane_t *d) {
  size_t usable = 0;
  for (size_t i = 0; i < d->n; i++)
    usable += mxs_dane_rr_usable(d->rr[i].usage, d->rr[i].selector, d->rr[i].mtype, d->rr[i].len);
  if (usable == 0) return 0; /* nothing to match: WebPKI only */
  if (SSL_dane_enable(t->ssl, d->base) <= 0) return -1;
  SSL_dane_set_flags(t->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  /* RFC 7672 3.2.3: a wildcard is a whole left-most label */
  SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (size_t i = 0; i < d->n; i++) {
    const mxs_dane_rr_t *r = &d->rr[i];
    if (!mxs_dane_rr_usable(r->usage, r->selector, r->mtype, r->len)) continue;
    /* 0: OpenSSL finds it unusable (a digest of the wrong length, say) */
    if (SSL_dane_tlsa_add(t->ssl, r->usage, r->selector, r->mtype, r->data, r->len) > 0) t->dane_usable++;
  }
  ERR_clear_error();
  return 0;
}

mxs_tls_t *mxs_tls_new(mxs_tls_ctx_t *c, const char *sni, int variant) {
  return mxs_tls_new_dane(c, sni, variant, NULL);
}

mxs_tls_t *mxs_tls_new_dane(mxs_tls_ctx_t *c, const char *sni, int variant, const mxs_tls_dane_t *dane) {
  if (variant < 0 || variant >= c->nv) return NULL;
  mxs_tls_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->fail.alert_received = -1;
  t->first_verify_err = X509_V_OK;
  ERR_clear_error();
  t->ssl = SSL_new(c->v[variant].ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_app_data(t->ssl, t);
  SSL_set_connect_state(t->ssl);
  if (sni && *sni) SSL_set_tlsext_host_name(t->ssl, sni);
  if (dane && variant == 0 && dane_setup(t, dane) < 0) {
    mxs_tls_free(t);
    return NULL;
  }
  return t;
}

int mxs_tls_cert_requested(const mxs_tls_t *t) { return t->cert_requested; }

int mxs_tls_cert_sent(const mxs_tls_t *t) { return t->cert_requested && SSL_get_certificate(t->ssl) != NULL; }

void mxs_tls_free(mxs_tls_t *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int mxs_tls_feed(mxs_tls_t *t, const void *data, size_t len) {
  return BIO_write(t->rbio, data, (int)len) == (int)len ? 0 : -1;
}

static void record_failure(mxs_tls_t *t, int rc) {
  unsigned long e = ERR_peek_last_error();
  mxs_tls_failure_t *f = &t->fail;
  if (e && ERR_GET_LIB(e) == ERR_LIB_SSL) f->ssl_reason = ERR_GET_REASON(e);
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  const char *desc = f->alert_received >= 0 ? SSL_alert_desc_string_long(f->alert_received) : "";
  if (f->alert_received == 116) desc = "certificate required"; /* TLS 1.3's, unnamed by OpenSSL 3.0 */
  if (f->alert_received >= 0)
    snprintf(f->text, sizeof f->text, "%s (alert %d: %s)", reason ? reason : "fatal alert", f->alert_received, desc);
  else if (reason)
    snprintf(f->text, sizeof f->text, "%s", reason);
  else
    snprintf(f->text, sizeof f->text, "handshake failed (SSL error %d)", SSL_get_error(t->ssl, rc));
  ERR_clear_error();
}

int mxs_tls_handshake(mxs_tls_t *t) {
  ERR_clear_error();
  int rc = SSL_do_handshake(t->ssl);
  if (rc == 1) return 1;
  int e = SSL_get_error(t->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  record_failure(t, rc);
  return -1;
}

size_t mxs_tls_pending(const mxs_tls_t *t) { return BIO_ctrl_pending(t->wbio); }

size_t mxs_tls_take(mxs_tls_t *t, void *buf, size_t len) {
  int n = BIO_read(t->wbio, buf, (int)len);
  return n > 0 ? (size_t)n : 0;
}

int mxs_tls_write(mxs_tls_t *t, const void *data, size_t len) {
  ERR_clear_error();
  return SSL_write(t->ssl, data, (int)len) == (int)len ? 0 : -1;
}

int mxs_tls_read(mxs_tls_t *t, void *buf, size_t len) {
  ERR_clear_error();
  int n = SSL_read(t->ssl, buf, (int)len);
  if (n > 0) return n;
  int e = SSL_get_error(t->ssl, n);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  /* An alert now (TLS 1.3: the server judges our client certificate after
   * our Finished) is the handshake failing late: keep why. */
  if (e == SSL_ERROR_SSL) record_failure(t, n);
  ERR_clear_error();
  return -1;
}

const mxs_tls_failure_t *mxs_tls_failure(const mxs_tls_t *t) { return &t->fail; }

const char *mxs_tls_version(const mxs_tls_t *t) { return SSL_get_version(t->ssl); }

const char *mxs_tls_cipher(const mxs_tls_t *t) { return SSL_get_cipher_name(t->ssl); }

void mxs_tls_group(const mxs_tls_t *t, char *out, size_t outlen) {
  int nid = SSL_get_negotiated_group(t->ssl);
  const char *name = nid ? SSL_group_to_name(t->ssl, nid) : NULL;
  if (name) {
    /* IANA spells the Montgomery curves "x25519"/"x448"; operators and the
     * contract know them as X25519/X448, like OpenSSL's own s_client. */
    snprintf(out, outlen, "%s", name);
    if (out[0] == 'x') out[0] = 'X';
    return;
  }
  /* TLS 1.2 finite-field DHE: no named group, report the key size. */
  EVP_PKEY *key = NULL;
  if (SSL_get_peer_tmp_key(t->ssl, &key) && key) {
    snprintf(out, outlen, "%s-%d", EVP_PKEY_get0_type_name(key), EVP_PKEY_get_bits(key));
    EVP_PKEY_free(key);
  } else {
    snprintf(out, outlen, "RSA-kx"); /* static RSA key exchange: no group at all */
  }
}

X509 *mxs_tls_leaf(const mxs_tls_t *t) { return SSL_get0_peer_certificate(t->ssl); }

int mxs_tls_chain_len(const mxs_tls_t *t) {
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
  return chain ? sk_X509_num(chain) : 0;
}

mxs_class_set_t mxs_tls_cert_errors(const mxs_tls_t *t) { return t->cert_errors; }

const char *mxs_tls_verify_text(const mxs_tls_t *t) {
  return t->first_verify_err == X509_V_OK ? "" : X509_verify_cert_error_string(t->first_verify_err);
}

void mxs_tls_dane_result(const mxs_tls_t *t, mxs_tls_dane_result_t *out) {
  *out = (mxs_tls_dane_result_t){.usable = t->dane_usable, .match = -1};
  if (!t->dane_usable || !t->dane_done) return;
  out->match = t->dane_err == X509_V_OK && t->dane_depth >= 0;
  if (out->match) {
    out->depth = t->dane_depth;
    out->usage = t->dane_usage;
    out->selector = t->dane_selector;
    out->mtype = t->dane_mtype;
  } else {
    snprintf(out->why, sizeof out->why, "%s",
             X509_verify_cert_error_string(t->dane_err == X509_V_OK ? X509_V_ERR_DANE_NO_MATCH : t->dane_err));
  }
}

/* ---- describing the handshake for a transcript ------------------------- */

/* The signature scheme family as operators know it (s_client's names). */
static const char *sig_type_name(int nid) {
  switch (nid) {
  case EVP_PKEY_RSA: return "RSA-PKCS1";
  case EVP_PKEY_RSA_PSS: return "RSA-PSS";
  case EVP_PKEY_EC: return "ECDSA";
  case EVP_PKEY_ED25519: return "Ed25519";
  case EVP_PKEY_ED448: return "Ed448";
  case EVP_PKEY_DSA: return "DSA";
  default: return nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
  }
}

static void describe_signature(const mxs_tls_t *t, char *out, size_t len) {
  int type = NID_undef, md = NID_undef;
  const char *name = SSL_get_peer_signature_type_nid(t->ssl, &type) ? sig_type_name(type) : NULL;
  if (!name)
    snprintf(out, len, "peer signature: none (RSA key exchange: the server signs nothing)");
  else if (SSL_get_peer_signature_nid(t->ssl, &md) && md != NID_undef)
    snprintf(out, len, "peer signature: %s with %s", name, OBJ_nid2sn(md));
  else
    snprintf(out, len, "peer signature: %s", name); /* EdDSA hashes internally */
}

static void name_text(const X509_NAME *name, char *out, size_t len) {
  out[0] = '\0';
  BIO *b = BIO_new(BIO_s_mem());
  if (!b) return;
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char *data;
  long n = BIO_get_mem_data(b, &data); /* not NUL-terminated */
  snprintf(out, len, "%.*s", (int)(n < (long)len ? n : (long)len - 1), data);
  BIO_free(b);
}

/* "names: a, b" from the dNSName SANs, or "" when there are none. */
static void san_text(X509 *x, char *out, size_t len) {
  out[0] = '\0';
  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  size_t used = 0;
  for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && used + 1 < len; i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if (g->type != GEN_DNS) continue;
    int n = snprintf(out + used, len - used, "%s%.*s", used ? ", " : "  names: ", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
    used += n > 0 ? (size_t)n : 0;
  }
  GENERAL_NAMES_free(gens);
}

/* The validity window, and where NOW falls in it. */
static void validity_text(X509 *x, int64_t now, char *out, size_t len) {
  int64_t nb = mxs_asn1_unix(X509_get0_notBefore(x)), na = mxs_asn1_unix(X509_get0_notAfter(x));
  char from[24], to[24], when[64];
  mxs_rfc3339(nb, from);
  mxs_rfc3339(na, to);
  long long days;
  if (now > na) {
    days = (now - na) / 86400;
    snprintf(when, sizeof when, "EXPIRED %lld day%s ago", days, days == 1 ? "" : "s");
  } else if (now < nb) {
    days = (nb - now + 86399) / 86400;
    snprintf(when, sizeof when, "NOT YET VALID, starts in %lld day%s", days, days == 1 ? "" : "s");
  } else {
    days = (na - now) / 86400;
    snprintf(when, sizeof when, "%lld day%s left", days, days == 1 ? "" : "s");
  }
  snprintf(out, len, "  valid %s to %s (%s)", from, to, when);
}

static void key_text(X509 *x, char *out, size_t len) {
  EVP_PKEY *pk = X509_get0_pubkey(x);
  const char *type = pk ? EVP_PKEY_get0_type_name(pk) : NULL;
  int self = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
  snprintf(out, len, "  key %s %d bits, signed with %s%s", type ? type : "unknown", pk ? EVP_PKEY_get_bits(pk) : 0,
           OBJ_nid2ln(X509_get_signature_nid(x)), self ? " (self-signed)" : "");
}

void mxs_tls_describe(const mxs_tls_t *t, int64_t now, void (*line)(void *arg, const char *text), void *arg) {
  char buf[512], name[256];
  describe_signature(t, buf, sizeof buf);
  line(arg, buf);
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl); /* client side: leaf first */
  int n = chain ? sk_X509_num(chain) : 0;
  if (n == 0) line(arg, "the server sent no certificate");
  for (int i = 0; i < n; i++) {
    X509 *x = sk_X509_value(chain, i);
    name_text(X509_get_subject_name(x), name, sizeof name);
    snprintf(buf, sizeof buf, "certificate %d of %d: %s", i + 1, n, name);
    line(arg, buf);
    san_text(x, buf, sizeof buf);
    if (buf[0]) line(arg, buf);
    name_text(X509_get_issuer_name(x), name, sizeof name);
    snprintf(buf, sizeof buf, "  issuer: %s", name);
    line(arg, buf);
    validity_text(x, now, buf, sizeof buf);
    line(arg, buf);
    key_text(x, buf, sizeof buf);
    line(arg, buf);
  }
  if (t->first_verify_err == X509_V_OK)
    line(arg, "chain verification: ok, the chain leads to a trusted root");
  else {
    snprintf(buf, sizeof buf, "chain verification: %s", X509_verify_cert_error_string(t->first_verify_err));
    line(arg, buf);
  }
  mxs_tls_dane_result_t dr;
  mxs_tls_dane_result(t, &dr);
  if (dr.match == 1)
    snprintf(buf, sizeof buf, "DANE: the certificate matches TLSA %u %u %u at depth %d", dr.usage, dr.selector,
             dr.mtype, dr.depth);
  else if (dr.match == 0)
    snprintf(buf, sizeof buf, "DANE: no usable TLSA record matches: %s", dr.why);
  if (dr.match >= 0) line(arg, buf);
  /* The name we sent as SNI is the MX name here (mxscan probe shares no
   * connection); the record's own check runs per MX name in verdict.c. */
  const char *sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
  X509 *leaf = SSL_get0_peer_certificate(t->ssl);
  if (sni && leaf) {
    int ok = X509_check_host(leaf, sni, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
    snprintf(buf, sizeof buf, "name check: %s %s", sni,
             ok ? "is named by the certificate" : "is NOT named by the certificate");
    line(arg, buf);
  }
}
