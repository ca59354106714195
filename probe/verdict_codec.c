/* verdict_codec.c - verdicts to msgpack and back (see verdict_codec.h).
 *
 * Packing writes fixed-length arrays; unpacking walks them with a cursor
 * that turns every type or length surprise into one `bad` flag, so the
 * decoder is a straight sequence of reads checked once at the end.
 */
#include "probe/verdict_codec.h"

#include <openssl/objects.h>
#include <stdlib.h>
#include <string.h>

#include "results/msgpack_walk.h"
#include "results/profiles.h"

#define RES_FIELDS  21
#define CERT_FIELDS 12
#define TOP_FIELDS  9

/* ---- packing ----------------------------------------------------------- */

typedef struct {
  msgpack_packer pk;
  int err;
} wr_t;

static void w_int(wr_t *w, int64_t v) { w->err |= msgpack_pack_int64(&w->pk, v); }
static void w_u64(wr_t *w, uint64_t v) { w->err |= msgpack_pack_uint64(&w->pk, v); }
static void w_arr(wr_t *w, size_t n) { w->err |= msgpack_pack_array(&w->pk, n); }

/* NULL packs as nil, so "absent" survives the trip (banner, CN, issuer). */
static void w_str(wr_t *w, const char *s) {
  if (!s) {
    w->err |= msgpack_pack_nil(&w->pk);
    return;
  }
  size_t n = strlen(s);
  w->err |= msgpack_pack_str(&w->pk, n);
  w->err |= msgpack_pack_str_body(&w->pk, s, n);
}

static void pack_cert(wr_t *w, const mxs_cert_t *c) {
  const mxs_cert_info_t *i = &c->info;
  w_arr(w, CERT_FIELDS);
  w_str(w, i->subject_cn);
  w_arr(w, i->nsan);
  for (size_t k = 0; k < i->nsan; k++) w_str(w, i->san[k]);
  w_str(w, i->issuer);
  w_str(w, i->not_before);
  w_str(w, i->not_after);
  w_int(w, i->days_left);
  w_str(w, i->key_type);
  w_int(w, i->key_bits);
  w_str(w, i->sig_alg);
  w_str(w, i->sha256);
  w_int(w, i->chain_len);
  w_u64(w, c->leaf_problems);
}

static void pack_result(wr_t *w, const mxs_probe_result_t *r) {
  if (!r) {
    w->err |= msgpack_pack_nil(&w->pk);
    return;
  }
  const mxs_timings_t *t = &r->timings;
  w_arr(w, RES_FIELDS);
  w_int(w, r->cls);
  w_str(w, r->stage);
  w_str(w, r->detail ? r->detail : "");
  w_int(w, r->smtp_code);
  w_str(w, r->banner);
  w_arr(w, r->nehlo);
  for (size_t k = 0; k < r->nehlo; k++) w_str(w, r->ehlo[k]);
  w_int(w, r->has_ehlo);
  w_int(w, r->tls_done);
  w_str(w, r->tls_version);
  w_str(w, r->cipher);
  w_str(w, r->group);
  if (r->cert)
    pack_cert(w, r->cert);
  else
    w->err |= msgpack_pack_nil(&w->pk);
  w_u64(w, r->chain_errors);
  w_str(w, r->verify_text);
  w_arr(w, 5);
  w_int(w, r->tls_fail.ssl_reason);
  w_int(w, r->tls_fail.alert_received);
  w_int(w, r->tls_fail.server_hello);
  w_int(w, r->tls_fail.cert_requested);
  w_int(w, r->tls_fail.cert_sent);
  w_int(w, r->tls_peer_closed);
  w_arr(w, 7);
  const int tv[7] = {t->dns, t->connect, t->banner, t->ehlo, t->starttls, t->handshake, t->total};
  for (int k = 0; k < 7; k++) w_int(w, tv[k]);
  w_int(w, r->attempts);
  w_int(w, r->local_error);
  w_int(w, r->unfinished);
  w_str(w, r->sni);
}

int mxs_verdict_pack(const mxs_verdict_t *v, msgpack_sbuffer *sb) {
  if (!v->res) return -1;
  wr_t w = {.err = 0};
  msgpack_packer_init(&w.pk, sb, msgpack_sbuffer_write);
  w_arr(&w, TOP_FIELDS);
  w_int(&w, MXS_VERDICT_CODEC_VERSION);
  w_int(&w, v->cls);
  w_str(&w, v->detail); /* nil: the result's own detail */
  w_str(&w, v->scanned_at);
  pack_result(&w, v->res);
  pack_result(&w, v->legacy); /* nil: no legacy retry */
  w_str(&w, v->profile);      /* nil: none set */
  w_int(&w, v->profile_custom);
  if (!v->retries) {
    w.err |= msgpack_pack_nil(&w.pk);
  } else { /* [[profile, result], ...] */
    w_arr(&w, v->retries->n);
    for (size_t i = 0; i < v->retries->n; i++) {
      w_arr(&w, 2);
      w_str(&w, v->retries->d[i].profile);
      pack_result(&w, v->retries->res[i]);
    }
  }
  return w.err ? -1 : 0;
}

/* ---- unpacking --------------------------------------------------------- */

typedef struct {
  const msgpack_object *o; /* the array's items */
  uint32_t n, i;
  int *bad; /* shared by every cursor of one decode */
} rd_t;

static const msgpack_object *r_next(rd_t *r) {
  if (r->i >= r->n) {
    *r->bad = 1;
    return NULL;
  }
  return &r->o[r->i++];
}

/* A sub-array as a cursor; WANT: its exact length, or -1 for any. */
static rd_t r_arr(rd_t *r, long want) {
  const msgpack_object *o = r_next(r);
  rd_t sub = {NULL, 0, 0, r->bad};
  if (!o || o->type != MSGPACK_OBJECT_ARRAY || (want >= 0 && o->via.array.size != (uint32_t)want)) {
    *r->bad = 1;
    return sub;
  }
  sub.o = o->via.array.ptr;
  sub.n = o->via.array.size;
  return sub;
}

/* 1 when the next item is nil (consumed), 0 otherwise (left in place). */
static int r_nil(rd_t *r) {
  if (r->i < r->n && r->o[r->i].type == MSGPACK_OBJECT_NIL) {
    r->i++;
    return 1;
  }
  return 0;
}

static int64_t r_int(rd_t *r, int64_t lo, int64_t hi) {
  const msgpack_object *o = r_next(r);
  int64_t v = 0;
  if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX)
    v = (int64_t)o->via.u64;
  else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    v = o->via.i64;
  else
    *r->bad = 1;
  if (v < lo || v > hi) *r->bad = 1;
  return v < lo || v > hi ? 0 : v;
}

static uint64_t r_u64(rd_t *r) {
  const msgpack_object *o = r_next(r);
  if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return o->via.u64;
  *r->bad = 1;
  return 0;
}

/* A string item; an empty one may come with a NULL pointer. */
static int is_str(const msgpack_object *o) {
  return o && o->type == MSGPACK_OBJECT_STR &&
         (o->via.str.size == 0 || !memchr(o->via.str.ptr, 0, o->via.str.size)); /* no NUL inside */
}

/* Into a fixed buffer: the sender's buffers are the same size, so a longer
 * string means corrupt bytes. */
static void r_fixed(rd_t *r, char *out, size_t size) {
  const msgpack_object *o = r_next(r);
  out[0] = '\0';
  if (!is_str(o) || o->via.str.size >= size) {
    *r->bad = 1;
    return;
  }
  if (o->via.str.size) memcpy(out, o->via.str.ptr, o->via.str.size);
  out[o->via.str.size] = '\0';
}

/* A malloc'd copy (as probe.c and cert.c own their strings); nil -> NULL.
 * Copied by length: a msgpack string is no C string (no NUL after it),
 * so nothing here may look for one. */
static char *r_dup(rd_t *r) {
  if (r_nil(r)) return NULL;
  const msgpack_object *o = r_next(r);
  if (!is_str(o)) {
    *r->bad = 1;
    return NULL;
  }
  char *s = malloc((size_t)o->via.str.size + 1);
  if (!s) {
    *r->bad = 1;
    return NULL;
  }
  if (o->via.str.size) memcpy(s, o->via.str.ptr, o->via.str.size);
  s[o->via.str.size] = '\0';
  return s;
}

/* A string vector, owned as probe.c owns ehlo and cert.c the SAN list. */
static char **r_strv(rd_t *r, size_t *count) {
  rd_t a = r_arr(r, -1);
  *count = 0;
  char **v = calloc((size_t)a.n + 1, sizeof *v);
  if (!v) *r->bad = 1;
  for (uint32_t k = 0; v && k < a.n && !*r->bad; k++) {
    v[k] = r_dup(&a);
    if (v[k])
      *count = k + 1;
    else
      *r->bad = 1; /* no NULL inside a list: it would end it early */
  }
  return v;
}

/* The static string of TABLE equal to the next item, or DEF. */
static const char *r_static(rd_t *r, const char *const *table, const char *def) {
  if (r_nil(r)) return NULL;
  char buf[64];
  r_fixed(r, buf, sizeof buf);
  for (size_t k = 0; table[k]; k++)
    if (!strcmp(table[k], buf)) return table[k];
  return def;
}

static const char *const stages[] = {"connect",  "banner", "ehlo", "starttls", "tls",
                                     "post-tls", "done",   "cert", "dns",      NULL};
static const char *const key_types[] = {"RSA", "RSA-PSS", "EC", "ED25519", "ED448", "DSA", "DH", "unknown", NULL};

/* OpenSSL's own static long name for the algorithm, as cert.c stores it. */
static const char *r_sig_alg(rd_t *r) {
  if (r_nil(r)) return NULL;
  char buf[128];
  r_fixed(r, buf, sizeof buf);
  int nid = OBJ_ln2nid(buf);
  return OBJ_nid2ln(nid); /* "undefined" for a name this OpenSSL lacks */
}

static mxs_cert_t *unpack_cert(rd_t *r) {
  if (r_nil(r)) return NULL;
  rd_t a = r_arr(r, CERT_FIELDS);
  mxs_cert_t *c = calloc(1, sizeof *c);
  if (!c) {
    *r->bad = 1;
    return NULL;
  }
  mxs_cert_info_t *i = &c->info;
  i->subject_cn = r_dup(&a);
  i->san = (const char *const *)r_strv(&a, &i->nsan);
  i->issuer = r_dup(&a);
  r_fixed(&a, i->not_before, sizeof i->not_before);
  r_fixed(&a, i->not_after, sizeof i->not_after);
  i->days_left = (long)r_int(&a, -1000000000, 1000000000);
  i->key_type = r_static(&a, key_types, "unknown");
  i->key_bits = (int)r_int(&a, 0, 1 << 20);
  i->sig_alg = r_sig_alg(&a);
  r_fixed(&a, i->sha256, sizeof i->sha256);
  i->chain_len = (int)r_int(&a, 0, 1 << 16);
  c->leaf_problems = r_u64(&a);
  return c;
}

static void unpack_tls_fail(rd_t *r, mxs_probe_result_t *p) {
  rd_t a = r_arr(r, 5);
  p->tls_fail.ssl_reason = (int)r_int(&a, INT32_MIN, INT32_MAX);
  p->tls_fail.alert_received = (int)r_int(&a, -1, 255);
  p->tls_fail.server_hello = (int)r_int(&a, 0, 1);
  p->tls_fail.cert_requested = (int)r_int(&a, 0, 1);
  p->tls_fail.cert_sent = (int)r_int(&a, 0, 1);
}

static void unpack_timings(rd_t *r, mxs_timings_t *t) {
  rd_t a = r_arr(r, 7);
  int *slots[7] = {&t->dns, &t->connect, &t->banner, &t->ehlo, &t->starttls, &t->handshake, &t->total};
  for (int k = 0; k < 7; k++) *slots[k] = (int)r_int(&a, -1, INT32_MAX);
}

/* NULL for nil (no legacy retry); on a decoding error *bad is set and what
 * was built is still returned, for the caller to free. */
static mxs_probe_result_t *unpack_result(rd_t *r) {
  if (r_nil(r)) return NULL;
  rd_t a = r_arr(r, RES_FIELDS);
  mxs_probe_result_t *p = calloc(1, sizeof *p);
  if (!p) {
    *r->bad = 1;
    return NULL;
  }
  p->cls = (mxs_class_t)r_int(&a, 0, MXS_CLASS_COUNT - 1);
  p->stage = r_static(&a, stages, NULL);
  p->detail = r_dup(&a);
  p->smtp_code = (int)r_int(&a, 0, 999);
  p->banner = r_dup(&a);
  p->ehlo = r_strv(&a, &p->nehlo);
  p->has_ehlo = (int)r_int(&a, 0, 1);
  p->tls_done = (int)r_int(&a, 0, 1);
  r_fixed(&a, p->tls_version, sizeof p->tls_version);
  r_fixed(&a, p->cipher, sizeof p->cipher);
  r_fixed(&a, p->group, sizeof p->group);
  p->cert = unpack_cert(&a);
  p->chain_errors = r_u64(&a);
  r_fixed(&a, p->verify_text, sizeof p->verify_text);
  unpack_tls_fail(&a, p);
  p->tls_peer_closed = (int)r_int(&a, 0, 1);
  unpack_timings(&a, &p->timings);
  p->attempts = (int)r_int(&a, 0, INT32_MAX);
  p->local_error = (int)r_int(&a, 0, 1);
  p->unfinished = (int)r_int(&a, 0, 1);
  p->sni = r_dup(&a);
  return p;
}

/* A profile name, mapped back to the table's static string (another
 * version's table may differ: a name this one lacks is bad bytes). */
static const char *r_profile(rd_t *r) {
  if (r_nil(r)) return NULL;
  char buf[64];
  r_fixed(r, buf, sizeof buf);
  const mxs_profile_t *p = mxs_profile_find(buf);
  if (!p) *r->bad = 1;
  return p ? p->name : NULL;
}

/* The retries, added as the prober added them; the class and detail it
 * refined them into were packed and are kept. */
static void unpack_retries(rd_t *top, mxs_verdict_t *v) {
  if (r_nil(top)) return;
  rd_t a = r_arr(top, -1);
  mxs_class_t cls = v->cls;
  char *detail = v->detail;
  v->detail = NULL;
  for (uint32_t k = 0; k < a.n && !*top->bad; k++) {
    rd_t e = r_arr(&a, 2);
    const char *name = r_profile(&e);
    mxs_probe_result_t *res = unpack_result(&e);
    if (!name || !res || *top->bad) {
      mxs_probe_result_free(res);
      *top->bad = 1;
    } else if (mxs_verdict_add_retry(v, name, res) < 0) { /* it freed RES */
      *top->bad = 1;
    }
  }
  v->cls = cls;
  free(v->detail);
  v->detail = detail;
}

static void unpack_top(rd_t *top, mxs_verdict_t *v) {
  int *bad = top->bad;
  rd_t a = r_arr(top, TOP_FIELDS);
  if (*bad || r_int(&a, MXS_VERDICT_CODEC_VERSION, MXS_VERDICT_CODEC_VERSION) != MXS_VERDICT_CODEC_VERSION) return;
  v->cls = (mxs_class_t)r_int(&a, 0, MXS_CLASS_COUNT - 1);
  v->detail = r_dup(&a);
  r_fixed(&a, v->scanned_at, sizeof v->scanned_at);
  v->res = unpack_result(&a);
  v->legacy = unpack_result(&a);
  v->profile = r_profile(&a);
  v->profile_custom = (unsigned char)r_int(&a, 0, 1);
  if (!v->res) *bad = 1;
  if (!*bad) unpack_retries(&a, v);
  if (!*bad && (v->legacy || v->retries)) mxs_verdict_rebuild_diag(v);
}

int mxs_verdict_unpack(mxs_verdict_t *out, const char *buf, size_t len) {
  memset(out, 0, sizeof *out);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  /* The bytes come from Redis, where anyone with access may write: walk
   * them first, so msgpack-c never allocates for a container size the
   * bytes cannot hold (a corrupt header would ask for ~100 GiB). */
  int bad = mxs_msgpack_object_len(buf, len) != (long)len;
  if (!bad && (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)) bad = 1;
  if (!bad) {
    rd_t top = {&u.data, 1, 0, &bad};
    unpack_top(&top, out);
  }
  msgpack_unpacked_destroy(&u);
  if (bad) mxs_verdict_free(out); /* frees what was built, zeroes OUT */
  return bad ? -1 : 0;
}
