/* seen.h - the set of domains a list has already given, for skipping
 * repeats in constant memory per domain.
 *
 * A list of 10M names must not cost 10M strings: the set keeps only a
 * 64-bit fingerprint of each name (SipHash-2-4 under a key drawn at
 * random for each set), in an open-addressing table of power-of-two size
 * grown at 3/4 load: 8 to 16 bytes per distinct name.  Two distinct names
 * share a fingerprint with odds of about n^2 / 2^65 (3 in a million for a
 * list of 10M names, once), and the random key means no list can be built
 * to make them collide.
 */
#ifndef MXS_SEEN_H
#define MXS_SEEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t *slots; /* 0: empty (a fingerprint of 0 is stored as 1) */
  size_t cap;      /* 0 or a power of two */
  size_t len;
  uint64_t k0, k1; /* the SipHash key */
} mxs_seen_t;

/* An empty set with a fresh random key (a fixed one if the kernel gives
 * none: only the resistance to crafted lists is lost). */
void mxs_seen_init(mxs_seen_t *s);
void mxs_seen_free(mxs_seen_t *s);

/* Adds NAME (LEN bytes): 1 when it is new, 0 when it was there already,
 * -1 on ENOMEM (the set is unchanged; the caller treats NAME as new). */
int mxs_seen_add(mxs_seen_t *s, const char *name, size_t len);

/* SipHash-2-4 of (P, N) under (K0, K1): exposed for the test vectors. */
uint64_t mxs_siphash24(uint64_t k0, uint64_t k1, const void *p, size_t n);

#endif
