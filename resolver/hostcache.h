/* hostcache.h - a string-keyed open-addressing hash table for the resolver.
 *
 * Internal to resolver/: it maps a lower-cased host name to the resolver's
 * per-host record.  The table borrows both the key and the value: the key
 * must live as long as its entry (the resolver points it at the name inside
 * the value).  There is no removal: the cache lives for one run, and a
 * table without tombstones keeps probing simple.
 */
#ifndef MXS_RESOLVER_HOSTCACHE_H
#define MXS_RESOLVER_HOSTCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *key; /* NULL = empty slot */
  uint32_t hash;
  void *value;
} mxs_resolver_cache_slot_t;

typedef struct {
  mxs_resolver_cache_slot_t *slots;
  size_t cap; /* power of two, or 0 before the first put */
  size_t count;
} mxs_resolver_cache_t;

void mxs_resolver_cache_init(mxs_resolver_cache_t *c);

/* Returns the value stored under KEY, or NULL. */
void *mxs_resolver_cache_get(const mxs_resolver_cache_t *c, const char *key);

/* Stores VALUE under KEY (both borrowed; KEY must not be present yet).
 * Returns 0 or UV_ENOMEM. */
int mxs_resolver_cache_put(mxs_resolver_cache_t *c, const char *key, void *value);

/* Calls fn(value) for every entry, then frees the table (not the values'
 * memory unless fn does).  The table is empty and reusable afterwards. */
void mxs_resolver_cache_free(mxs_resolver_cache_t *c, void (*fn)(void *value));

#endif
