/* reader_msgpack.c - one msgpack record to a record.
 *
 * Why not msgpack_unpack_next(): it allocates a zone per record and, worse,
 * trusts container sizes -- a corrupt "array of 4 billion" header makes it
 * ask malloc for tens of GiB before it looks at a single element.  This
 * walker checks every byte against the N it was given, keeps only the keys
 * of the field table, allocates nothing, and says "incomplete" (0) rather
 * than "corrupt" when the bytes run out, which is how a torn last record
 * is told from a corrupt one.
 */
#include <stdio.h>
#include <string.h>

#include "results/msgpack_walk.h"
#include "results/reader_int.h"

#define MAX_DEPTH  32
#define INCOMPLETE (-2)

typedef struct {
  const unsigned char *p, *end;
  char *scratch; /* next free byte */
  mxs_rd_t *d;
  int depth;
} mp_t;

typedef enum { V_NIL, V_BOOL, V_UINT, V_INT, V_FLOAT, V_STR, V_BIN, V_EXT, V_ARRAY, V_MAP } kind_t;

typedef struct {
  kind_t kind;
  uint64_t u; /* V_UINT, V_BOOL */
  int64_t i;  /* V_INT (negative) */
  uint32_t n; /* payload bytes (str, bin, ext) or element count (array, map) */
} val_t;

static int mfail(mp_t *m, const char *what) {
  snprintf(m->d->why, sizeof m->d->why, "invalid msgpack: %s", what);
  return -1;
}

/* Big-endian unsigned of W bytes at m->p. */
static int be(mp_t *m, int w, uint64_t *out) {
  if (m->end - m->p < w) return INCOMPLETE;
  uint64_t v = 0;
  for (int k = 0; k < w; k++) v = v << 8 | m->p[k];
  m->p += w;
  *out = v;
  return 0;
}

static int sized(mp_t *m, val_t *v, kind_t kind, int w) {
  uint64_t n;
  int rc = be(m, w, &n);
  if (rc < 0) return rc;
  v->kind = kind;
  v->n = (uint32_t)n;
  return 0;
}

static int signed_int(mp_t *m, val_t *v, int w) {
  uint64_t u;
  int rc = be(m, w, &u);
  if (rc < 0) return rc;
  int bits = w * 8;
  int64_t s = bits < 64 && (u >> (bits - 1)) ? (int64_t)(u | (~UINT64_C(0) << bits)) : (int64_t)u;
  if (s >= 0) {
    v->kind = V_UINT;
    v->u = (uint64_t)s;
  } else {
    v->kind = V_INT;
    v->i = s;
  }
  return 0;
}

/* Reads a value's header: scalars whole, str/bin/ext up to their payload,
 * containers up to their first element. */
static int head(mp_t *m, val_t *v) {
  if (m->p >= m->end) return INCOMPLETE;
  unsigned c = *m->p++;
  if (c <= 0x7f) return *v = (val_t){.kind = V_UINT, .u = c}, 0;
  if (c >= 0xe0) return *v = (val_t){.kind = V_INT, .i = (int64_t)c - 256}, 0;
  if (c <= 0x8f) return *v = (val_t){.kind = V_MAP, .n = c & 0x0f}, 0;
  if (c <= 0x9f) return *v = (val_t){.kind = V_ARRAY, .n = c & 0x0f}, 0;
  if (c <= 0xbf) return *v = (val_t){.kind = V_STR, .n = c & 0x1f}, 0;
  uint64_t u;
  int rc;
  switch (c) {
  case 0xc0: return *v = (val_t){.kind = V_NIL}, 0;
  case 0xc2:
  case 0xc3: return *v = (val_t){.kind = V_BOOL, .u = c == 0xc3}, 0;
  case 0xc4: return sized(m, v, V_BIN, 1);
  case 0xc5: return sized(m, v, V_BIN, 2);
  case 0xc6: return sized(m, v, V_BIN, 4);
  case 0xc7:
  case 0xc8:
  case 0xc9: /* ext: length, then a type byte */
    if ((rc = sized(m, v, V_EXT, c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4)) < 0) return rc;
    v->n += 1; /* the payload walked over includes the type byte */
    return v->n == 0 ? mfail(m, "ext too long") : 0;
  case 0xca: return m->end - m->p < 4 ? INCOMPLETE : (m->p += 4, *v = (val_t){.kind = V_FLOAT}, 0);
  case 0xcb: return m->end - m->p < 8 ? INCOMPLETE : (m->p += 8, *v = (val_t){.kind = V_FLOAT}, 0);
  case 0xcc:
  case 0xcd:
  case 0xce:
  case 0xcf:
    if ((rc = be(m, 1 << (c - 0xcc), &u)) < 0) return rc;
    return *v = (val_t){.kind = V_UINT, .u = u}, 0;
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3: return signed_int(m, v, 1 << (c - 0xd0));
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8: /* fixext: type byte + 2^k bytes */ return *v = (val_t){.kind = V_EXT, .n = 1 + (1u << (c - 0xd4))}, 0;
  case 0xd9: return sized(m, v, V_STR, 1);
  case 0xda: return sized(m, v, V_STR, 2);
  case 0xdb: return sized(m, v, V_STR, 4);
  case 0xdc: return sized(m, v, V_ARRAY, 2);
  case 0xdd: return sized(m, v, V_ARRAY, 4);
  case 0xde: return sized(m, v, V_MAP, 2);
  case 0xdf: return sized(m, v, V_MAP, 4);
  default: return mfail(m, "byte 0xc1 (never used)");
  }
}

static int payload(mp_t *m, const val_t *v, const unsigned char **data) {
  if ((size_t)(m->end - m->p) < v->n) return INCOMPLETE;
  *data = m->p;
  m->p += v->n;
  return 0;
}

static int walk_map(mp_t *m, uint32_t n, int scope);

/* Walks the rest of the value whose header is V.  Every element costs at
 * least one byte, so a lying count runs out of input, not of memory. */
static int skip(mp_t *m, const val_t *v) {
  const unsigned char *data;
  switch (v->kind) {
  case V_STR:
  case V_BIN:
  case V_EXT: return payload(m, v, &data);
  case V_MAP: return walk_map(m, v->n, -1);
  case V_ARRAY:
    if (++m->depth > MAX_DEPTH) return mfail(m, "nested too deep");
    for (uint32_t k = 0; k < v->n; k++) {
      val_t e;
      int rc = head(m, &e);
      if (rc == 0) rc = skip(m, &e);
      if (rc < 0) return rc;
    }
    m->depth--;
    return 0;
  default: return 0;
  }
}

/* Stores the value V of kept key ID, after a type check. */
static int keep(mp_t *m, int scope, int id, const val_t *v) {
  const unsigned char *data;
  int rc;
  if (id <= MXS_RD_LAST_STR) {
    if (v->kind != V_STR) return mxs_rd_bad_type(m->d, scope, id);
    if ((rc = payload(m, v, &data)) < 0) return rc;
    if (memchr(data, 0, v->n)) return mfail(m, "NUL byte in a string");
    /* header + payload >= n + 1 bytes, so copies never outgrow the record */
    char *s = m->scratch;
    memcpy(s, data, v->n);
    s[v->n] = '\0';
    m->scratch += v->n + 1;
    return mxs_rd_set_str(m->d, id, s);
  }
  if (id <= MXS_RD_LAST_INT) {
    if (v->kind == V_UINT && v->u <= (uint64_t)INT64_MAX)
      mxs_rd_set_int(m->d, id, (int64_t)v->u);
    else if (v->kind == V_INT)
      mxs_rd_set_int(m->d, id, v->i);
    else
      return mxs_rd_bad_type(m->d, scope, id);
    return 0;
  }
  if (mxs_rd_is_bool(id)) {
    if (v->kind != V_BOOL) return mxs_rd_bad_type(m->d, scope, id);
    mxs_rd_set_bool(m->d, id, (int)v->u);
    return 0;
  }
  if (mxs_rd_is_list(id)) {
    if (v->kind != V_ARRAY) return mxs_rd_bad_type(m->d, scope, id);
    if (++m->depth > MAX_DEPTH) return mfail(m, "nested too deep");
    for (uint32_t k = 0; k < v->n; k++) {
      val_t e;
      if ((rc = head(m, &e)) < 0) return rc;
      if (e.kind != V_STR) return mxs_rd_bad_type(m->d, scope, id);
      if ((rc = payload(m, &e, &data)) < 0) return rc;
      if (memchr(data, 0, e.n)) return mfail(m, "NUL byte in a string");
      char *s = m->scratch; /* as for a string: never more than the record's bytes */
      memcpy(s, data, e.n);
      s[e.n] = '\0';
      m->scratch += e.n + 1;
      mxs_rd_add_str(m->d, id, s);
    }
    m->depth--;
    return 0;
  }
  if (v->kind != V_MAP) return mxs_rd_bad_type(m->d, scope, id); /* the maps */
  mxs_rd_set_bool(m->d, id, 1);
  return walk_map(m, v->n, mxs_rd_map_scope(id));
}

/* The N members of a map; SCOPE says which keys to keep (-1: none). */
static int walk_map(mp_t *m, uint32_t n, int scope) {
  if (++m->depth > MAX_DEPTH) return mfail(m, "nested too deep");
  for (uint32_t k = 0; k < n; k++) {
    val_t key, val;
    const unsigned char *name;
    int rc = head(m, &key);
    if (rc < 0) return rc;
    if (key.kind != V_STR) {
      if (scope >= 0) return mfail(m, "a record key is not a string");
      if ((rc = skip(m, &key)) < 0) return rc; /* nested maps may have any keys */
      name = NULL;
    } else if ((rc = payload(m, &key, &name)) < 0) {
      return rc;
    }
    if ((rc = head(m, &val)) < 0) return rc;
    int id = scope >= 0 ? mxs_rd_lookup(scope, (const char *)name, key.n) : MXS_RD_NONE;
    rc = id ? keep(m, scope, id, &val) : skip(m, &val);
    if (rc < 0) return rc;
  }
  m->depth--;
  return 0;
}

long mxs_rd_msgpack(mxs_rd_t *d, const unsigned char *p, size_t n, char *scratch) {
  mp_t m = {p, p + n, scratch, d, 0};
  val_t top;
  int rc = head(&m, &top);
  if (rc == 0 && top.kind != V_MAP) return mfail(&m, "a record is a msgpack map");
  if (rc == 0) rc = walk_map(&m, top.n, MXS_RD_IN_TOP);
  if (rc == INCOMPLETE) return 0;
  if (rc < 0 || mxs_rd_end(d) < 0) return -1;
  return (long)(m.p - p);
}

long mxs_msgpack_object_len(const void *p, size_t n) {
  mxs_rd_t d; /* only for mfail's message, which nobody reads */
  mp_t m = {p, (const unsigned char *)p + n, NULL, &d, 0};
  val_t v;
  int rc = head(&m, &v);
  if (rc == 0) rc = skip(&m, &v);
  if (rc == INCOMPLETE) return 0;
  return rc < 0 ? -1 : (long)(m.p - (const unsigned char *)p);
}
