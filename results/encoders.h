/* encoders.h - record encoders into memory: JSON text and msgpack.
 *
 * Both append to a growable byte buffer owned by the encoder; the caller
 * takes the bytes with mxs_*_encoder_data() and resets between records.
 */
#ifndef MXS_ENCODERS_H
#define MXS_ENCODERS_H

#include <msgpack.h>
#include <stddef.h>

#include "results/record.h"

typedef struct {
  mxs_encoder_t base;
  char *buf; /* owned */
  size_t len, cap;
  int oom;                 /* set when an allocation failed: output is invalid */
  unsigned char first[16]; /* per nesting level: next item is the first */
  int depth;
  int after_key;
} mxs_json_encoder_t;

void mxs_json_encoder_init(mxs_json_encoder_t *j);
void mxs_json_encoder_reset(mxs_json_encoder_t *j);
void mxs_json_encoder_free(mxs_json_encoder_t *j);
/* Appends S as a JSON string literal (quoted, escaped; invalid UTF-8 bytes
 * become U+FFFD so the output is always valid JSON). */
void mxs_json_put_string(mxs_json_encoder_t *j, const char *s);
/* Appends N raw bytes (e.g. the newline of JSON Lines). */
void mxs_json_put_raw(mxs_json_encoder_t *j, const char *s, size_t n);

typedef struct {
  mxs_encoder_t base;
  msgpack_sbuffer sbuf; /* owned */
  msgpack_packer pk;
} mxs_msgpack_encoder_t;

void mxs_msgpack_encoder_init(mxs_msgpack_encoder_t *m);
void mxs_msgpack_encoder_reset(mxs_msgpack_encoder_t *m);
void mxs_msgpack_encoder_free(mxs_msgpack_encoder_t *m);

#endif
