/* encode_msgpack.c - msgpack encoder over msgpack-c's sbuffer. */
#include <string.h>

#include "results/encoders.h"

static mxs_msgpack_encoder_t *M(mxs_encoder_t *e) { return (mxs_msgpack_encoder_t *)e; }

static void m_map(mxs_encoder_t *e, size_t n) { msgpack_pack_map(&M(e)->pk, n); }
static void m_array(mxs_encoder_t *e, size_t n) { msgpack_pack_array(&M(e)->pk, n); }
static void m_end(mxs_encoder_t *e) { (void)e; }

static void m_str(mxs_encoder_t *e, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(&M(e)->pk, n);
  msgpack_pack_str_body(&M(e)->pk, s, n);
}

static void m_int(mxs_encoder_t *e, int64_t v) { msgpack_pack_int64(&M(e)->pk, v); }

static void m_bool(mxs_encoder_t *e, int v) {
  if (v)
    msgpack_pack_true(&M(e)->pk);
  else
    msgpack_pack_false(&M(e)->pk);
}

static void m_nil(mxs_encoder_t *e) { msgpack_pack_nil(&M(e)->pk); }

void mxs_msgpack_encoder_init(mxs_msgpack_encoder_t *m) {
  memset(m, 0, sizeof *m);
  m->base = (mxs_encoder_t){m_map, m_array, m_end, m_str, m_str, m_int, m_bool, m_nil};
  msgpack_sbuffer_init(&m->sbuf);
  msgpack_packer_init(&m->pk, &m->sbuf, msgpack_sbuffer_write);
}

void mxs_msgpack_encoder_reset(mxs_msgpack_encoder_t *m) { msgpack_sbuffer_clear(&m->sbuf); }

void mxs_msgpack_encoder_free(mxs_msgpack_encoder_t *m) { msgpack_sbuffer_destroy(&m->sbuf); }
