/* vcache.c - chain verification results, remembered for the run (see vcache.h). */
#include "probe/vcache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "probe/cert.h"

/* Long enough to cover a burst of MX hosts behind one provider, short
 * enough that a trust store or CRL-free revocation reality never drifts
 * far from what a fresh verification would say. */
#define VCACHE_TTL 600

typedef struct {
  unsigned char key[MXS_VCACHE_KEYLEN];
  int64_t from, until; /* valid for NOW in [from, until); until 0: empty */
  mxs_vcache_result_t r;
} slot_t;

struct mxs_vcache_s {
  pthread_mutex_t lock;
  EVP_MD *sha256; /* fetched once: an implicit fetch per digest takes locks */
  size_t mask;
  uint64_t lookups, hits;
  slot_t *slots;
};

mxs_vcache_t *mxs_vcache_new(size_t slots) {
  size_t n = 1;
  while (n < slots) n <<= 1;
  mxs_vcache_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->slots = calloc(n, sizeof *c->slots);
  c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!c->slots || !c->sha256 || pthread_mutex_init(&c->lock, NULL) != 0) {
    EVP_MD_free(c->sha256);
    free(c->slots);
    free(c);
    return NULL;
  }
  c->mask = n - 1;
  return c;
}

void mxs_vcache_free(mxs_vcache_t *c) {
  if (!c) return;
  pthread_mutex_destroy(&c->lock);
  EVP_MD_free(c->sha256);
  free(c->slots);
  free(c);
}

int mxs_vcache_key(const mxs_vcache_t *c, STACK_OF(X509) * chain, unsigned char key[MXS_VCACHE_KEYLEN]) {
  int n = chain ? sk_X509_num(chain) : 0;
  if (n <= 0) return -1;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestInit_ex(md, c->sha256, NULL);
  for (int i = 0; ok && i < n; i++) {
    /* The DER as received: X509 keeps the original encoding, so this is a
     * copy, not a re-encoding.  The length goes in first so that two
     * different splits of the same bytes never collide. */
    unsigned char *der = NULL;
    int len = i2d_X509(sk_X509_value(chain, i), &der);
    uint32_t be = len > 0 ? (uint32_t)len : 0;
    unsigned char lenbuf[4] = {(unsigned char)(be >> 24), (unsigned char)(be >> 16), (unsigned char)(be >> 8),
                               (unsigned char)be};
    ok = len > 0 && EVP_DigestUpdate(md, lenbuf, sizeof lenbuf) && EVP_DigestUpdate(md, der, (size_t)len);
    OPENSSL_free(der);
  }
  unsigned int outlen = 0;
  ok = ok && EVP_DigestFinal_ex(md, key, &outlen) && outlen == MXS_VCACHE_KEYLEN;
  EVP_MD_CTX_free(md);
  return ok ? 0 : -1;
}

static slot_t *slot_of(mxs_vcache_t *c, const unsigned char *key) {
  size_t h;
  memcpy(&h, key, sizeof h); /* a SHA-256 is as uniform as any hash of it */
  return &c->slots[h & c->mask];
}

int mxs_vcache_get(mxs_vcache_t *c, const unsigned char key[MXS_VCACHE_KEYLEN], int64_t now, mxs_vcache_result_t *out) {
  pthread_mutex_lock(&c->lock);
  slot_t *s = slot_of(c, key);
  int hit = s->until != 0 && now >= s->from && now < s->until && memcmp(s->key, key, MXS_VCACHE_KEYLEN) == 0;
  if (hit) *out = s->r;
  c->lookups++;
  c->hits += (uint64_t)hit;
  pthread_mutex_unlock(&c->lock);
  return hit;
}

void mxs_vcache_put(mxs_vcache_t *c, const unsigned char key[MXS_VCACHE_KEYLEN], STACK_OF(X509) * chain, int64_t now,
                    const mxs_vcache_result_t *r) {
  /* The outcome holds only while every certificate sent is inside its
   * validity window as it was now: past the earliest notAfter an expired
   * certificate must be seen as expired. */
  int64_t from = now, until = now + VCACHE_TTL;
  for (int i = 0; i < sk_X509_num(chain); i++) {
    X509 *x = sk_X509_value(chain, i);
    int64_t nb = mxs_asn1_unix(X509_get0_notBefore(x)), na = mxs_asn1_unix(X509_get0_notAfter(x));
    if (nb > now && nb < until) until = nb; /* not yet valid now: valid from nb on */
    if (nb <= now && na > now && na < until) until = na;
  }
  if (until <= from) return;
  pthread_mutex_lock(&c->lock);
  slot_t *s = slot_of(c, key);
  memcpy(s->key, key, MXS_VCACHE_KEYLEN);
  s->from = from;
  s->until = until;
  s->r = *r;
  pthread_mutex_unlock(&c->lock);
}

void mxs_vcache_stats(mxs_vcache_t *c, uint64_t *lookups, uint64_t *hits) {
  pthread_mutex_lock(&c->lock);
  *lookups = c->lookups;
  *hits = c->hits;
  pthread_mutex_unlock(&c->lock);
}
