/* tls_keys.c - cheap public keys for the server certificates (see tls_keys.h). */
/* The ENGINE API is deprecated in OpenSSL 3.0 but it is the one switch that
 * selects the built-in key decoders; this file alone uses it. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "probe/tls_keys.h"

#include <openssl/opensslconf.h>
#include <stdlib.h>

#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#include <openssl/evp.h>

struct mxs_tls_keys_s {
  ENGINE *engine;
};

static const int claimed[] = {EVP_PKEY_RSA, EVP_PKEY_EC};

/* ENGINE_PKEY_METHS_PTR: with PMETH NULL, list the key types we claim;
 * otherwise hand back OpenSSL's own built-in method for NID. */
static int pkey_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids, int nid) {
  (void)e;
  if (!pmeth) {
    *nids = claimed;
    return (int)(sizeof claimed / sizeof claimed[0]);
  }
  *pmeth = (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid);
  return *pmeth != NULL;
}

mxs_tls_keys_t *mxs_tls_keys_new(void) {
  /* FIPS mode: keys must stay with the (FIPS) providers. */
  if (EVP_default_properties_is_fips_enabled(NULL)) return NULL;
  mxs_tls_keys_t *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->engine = ENGINE_new();
  if (!k->engine || !ENGINE_set_id(k->engine, "mxscan-builtin-keys") ||
      !ENGINE_set_name(k->engine, "mxscan: OpenSSL's built-in RSA/EC key methods") ||
      !ENGINE_set_pkey_meths(k->engine, pkey_meths) || !ENGINE_register_pkey_meths(k->engine)) {
    ENGINE_free(k->engine);
    free(k);
    return NULL;
  }
  return k;
}

void mxs_tls_keys_free(mxs_tls_keys_t *k) {
  if (!k) return;
  ENGINE_unregister_pkey_meths(k->engine);
  ENGINE_free(k->engine);
  free(k);
}

#else /* OpenSSL built without engines: nothing to switch */

mxs_tls_keys_t *mxs_tls_keys_new(void) { return NULL; }
void mxs_tls_keys_free(mxs_tls_keys_t *k) { (void)k; }

#endif
