/* table.h - a string-keyed hash table of borrowed values.
 *
 * Open addressing with linear probing, power-of-two capacity, grown at 70%
 * load.  Keys are copied into the table; values are opaque pointers the
 * caller owns.  Removal uses backward-shift deletion, so there are no
 * tombstones and lookups stay short in long runs.
 */
#ifndef MXS_TABLE_H
#define MXS_TABLE_H

#include <stddef.h>

typedef struct {
  char **keys; /* owned copies; NULL = empty slot */
  void **vals;
  size_t cap; /* 0 or a power of two */
  size_t len;
} mxs_table_t;

void mxs_table_init(mxs_table_t *t);
/* Frees the keys and slots (not the values). */
void mxs_table_free(mxs_table_t *t);
/* The value for KEY, or NULL. */
void *mxs_table_get(const mxs_table_t *t, const char *key);
/* Inserts or replaces.  0, or -1 on ENOMEM (table unchanged). */
int mxs_table_put(mxs_table_t *t, const char *key, void *val);
/* Removes KEY; returns its value or NULL. */
void *mxs_table_del(mxs_table_t *t, const char *key);
/* Calls fn(arg, key, val) for every entry (no modification during it). */
void mxs_table_each(const mxs_table_t *t, void (*fn)(void *arg, const char *key, void *val), void *arg);

#endif
