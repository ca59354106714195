/* hostcache.c - open addressing with linear probing, FNV-1a, grown at 3/4
 * load.  Lookups are the hot path (one per MX host of every domain), so the
 * full hash is kept in each slot and compared before the string. */
#include "resolver/hostcache.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { INITIAL_CAP = 64 };

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

void mxs_resolver_cache_init(mxs_resolver_cache_t *c) { memset(c, 0, sizeof(*c)); }

/* The slot holding KEY, or the empty slot where it would go.  The table is
 * never full (load <= 3/4), so the probe always ends. */
static mxs_resolver_cache_slot_t *find_slot(mxs_resolver_cache_slot_t *slots, size_t cap, const char *key,
                                            uint32_t hash) {
  size_t mask = cap - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    mxs_resolver_cache_slot_t *s = &slots[i];
    if (s->key == NULL) return s;
    if (s->hash == hash && strcmp(s->key, key) == 0) return s;
  }
}

void *mxs_resolver_cache_get(const mxs_resolver_cache_t *c, const char *key) {
  if (c->cap == 0) return NULL;
  mxs_resolver_cache_slot_t *s = find_slot(c->slots, c->cap, key, hash_str(key));
  return s->key ? s->value : NULL;
}

static int grow(mxs_resolver_cache_t *c) {
  size_t ncap = c->cap ? c->cap * 2 : INITIAL_CAP;
  mxs_resolver_cache_slot_t *ns = calloc(ncap, sizeof(*ns));
  if (ns == NULL) return UV_ENOMEM;
  for (size_t i = 0; i < c->cap; i++) {
    const mxs_resolver_cache_slot_t *o = &c->slots[i];
    if (o->key) *find_slot(ns, ncap, o->key, o->hash) = *o;
  }
  free(c->slots);
  c->slots = ns;
  c->cap = ncap;
  return 0;
}

int mxs_resolver_cache_put(mxs_resolver_cache_t *c, const char *key, void *value) {
  if ((c->count + 1) * 4 > c->cap * 3) {
    int rc = grow(c);
    if (rc < 0) return rc;
  }
  uint32_t hash = hash_str(key);
  mxs_resolver_cache_slot_t *s = find_slot(c->slots, c->cap, key, hash);
  if (s->key == NULL) c->count++;
  s->key = key;
  s->hash = hash;
  s->value = value;
  return 0;
}

void mxs_resolver_cache_free(mxs_resolver_cache_t *c, void (*fn)(void *value)) {
  for (size_t i = 0; fn && i < c->cap; i++)
    if (c->slots[i].key) fn(c->slots[i].value);
  free(c->slots);
  mxs_resolver_cache_init(c);
}
