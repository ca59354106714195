/* table.c - open-addressing string hash table (FNV-1a). */
#include "queue/table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

void mxs_table_init(mxs_table_t *t) { memset(t, 0, sizeof *t); }

void mxs_table_free(mxs_table_t *t) {
  for (size_t i = 0; i < t->cap; i++) free(t->keys[i]);
  free(t->keys);
  free(t->vals);
  mxs_table_init(t);
}

/* Slot holding KEY, or the empty slot where it would go. */
static size_t find(const mxs_table_t *t, const char *key) {
  size_t mask = t->cap - 1, i = (size_t)hash(key) & mask;
  while (t->keys[i] && strcmp(t->keys[i], key) != 0) i = (i + 1) & mask;
  return i;
}

void *mxs_table_get(const mxs_table_t *t, const char *key) {
  if (t->cap == 0) return NULL;
  size_t i = find(t, key);
  return t->keys[i] ? t->vals[i] : NULL;
}

static int grow(mxs_table_t *t) {
  size_t cap = t->cap ? t->cap * 2 : 64;
  mxs_table_t n = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(void *)), cap, 0};
  if (!n.keys || !n.vals) {
    free(n.keys);
    free(n.vals);
    return -1;
  }
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->keys[i]) continue;
    size_t j = find(&n, t->keys[i]);
    n.keys[j] = t->keys[i];
    n.vals[j] = t->vals[i];
    n.len++;
  }
  free(t->keys);
  free(t->vals);
  *t = n;
  return 0;
}

int mxs_table_put(mxs_table_t *t, const char *key, void *val) {
  if ((t->len + 1) * 10 > t->cap * 7 && grow(t) < 0) return -1;
  size_t i = find(t, key);
  if (!t->keys[i]) {
    if (!(t->keys[i] = strdup(key))) return -1;
    t->len++;
  }
  t->vals[i] = val;
  return 0;
}

void *mxs_table_del(mxs_table_t *t, const char *key) {
  if (t->cap == 0) return NULL;
  size_t mask = t->cap - 1, i = find(t, key);
  if (!t->keys[i]) return NULL;
  void *val = t->vals[i];
  free(t->keys[i]);
  t->keys[i] = NULL;
  t->len--;
  /* Backward-shift: move later members of the cluster into the hole when
   * their home slot is at or before it. */
  for (size_t j = (i + 1) & mask; t->keys[j]; j = (j + 1) & mask) {
    size_t home = (size_t)hash(t->keys[j]) & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->keys[i] = t->keys[j];
      t->vals[i] = t->vals[j];
      t->keys[j] = NULL;
      i = j;
    }
  }
  return val;
}

void mxs_table_each(const mxs_table_t *t, void (*fn)(void *arg, const char *key, void *val), void *arg) {
  for (size_t i = 0; i < t->cap; i++)
    if (t->keys[i]) fn(arg, t->keys[i], t->vals[i]);
}
