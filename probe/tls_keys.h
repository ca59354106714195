/* tls_keys.h - cheap public keys for the server certificates.
 *
 * OpenSSL 3.0 decodes the public key of every certificate it parses by
 * building an OSSL_DECODER chain from scratch: 30% of the instructions of a
 * whole TLS 1.3 client handshake (d2i_X509 -> OSSL_DECODER_CTX_new_for_pkey,
 * measured with callgrind, bench/RESULTS.md).  OpenSSL 3.0 still takes the
 * old built-in decoder when an ENGINE claims the key type
 * (crypto/x509/x_pubkey.c: "Try to decode with legacy method first"), and
 * then also uses the built-in RSA/EC code to check signatures with it.
 * Registering an engine that claims RSA and EC and hands back OpenSSL's own
 * built-in methods takes that path: same keys, same checks, no decoder set-up
 * per certificate.  Other key types (Ed25519, DSA, RSA-PSS) keep the
 * provider path, and so does everything when OpenSSL runs in FIPS mode.
 * OpenSSL 3.2 caches decoders and makes this unnecessary.
 */
#ifndef MXS_TLS_KEYS_H
#define MXS_TLS_KEYS_H

typedef struct mxs_tls_keys_s mxs_tls_keys_t;

/* Registers the engine (process-wide in OpenSSL's engine table: it stays
 * while the returned handle lives).  NULL when engines are unavailable:
 * everything works as before, only slower. */
mxs_tls_keys_t *mxs_tls_keys_new(void);
void mxs_tls_keys_free(mxs_tls_keys_t *k);

#endif
