/* seen.c - fingerprints of the names seen (seen.h). */
#include "queue/seen.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) ------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                              \
  do {                                                        \
    v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32); \
    v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                    \
    v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                    \
    v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32); \
  } while (0)

static uint64_t load_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

uint64_t mxs_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  size_t whole = n - n % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = load_le64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)n << 56;
  for (size_t i = 0; i < n % 8; i++) b |= (uint64_t)p[whole + i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the set ------------------------------------------------------------ */

void mxs_seen_init(mxs_seen_t *s) {
  uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  memset(s, 0, sizeof *s);
  if (getrandom(key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
    /* keep the fixed key: still a good hash, only not a secret one */
  }
  s->k0 = key[0];
  s->k1 = key[1];
}

void mxs_seen_free(mxs_seen_t *s) {
  free(s->slots);
  s->slots = NULL;
  s->cap = s->len = 0;
}

/* The slot of FP in SLOTS (CAP a power of two): where it is, or the empty
 * slot where it goes. */
static size_t find(const uint64_t *slots, size_t cap, uint64_t fp) {
  size_t mask = cap - 1, i = (size_t)(fp ^ (fp >> 32)) & mask;
  while (slots[i] != 0 && slots[i] != fp) i = (i + 1) & mask;
  return i;
}

static int grow(mxs_seen_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 1024;
  uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < s->cap; i++)
    if (s->slots[i]) slots[find(slots, cap, s->slots[i])] = s->slots[i];
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  return 0;
}

int mxs_seen_add(mxs_seen_t *s, const char *name, size_t len) {
  uint64_t fp = mxs_siphash24(s->k0, s->k1, name, len);
  if (fp == 0) fp = 1; /* 0 marks an empty slot */
  if ((s->len + 1) * 4 > s->cap * 3 && grow(s) < 0) return -1;
  size_t i = find(s->slots, s->cap, fp);
  if (s->slots[i] == fp) return 0;
  s->slots[i] = fp;
  s->len++;
  return 1;
}
