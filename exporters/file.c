/* file.c - JSON Lines and msgpack file exporters.
 *
 * Both write through stdio with a large buffer; a msgpack file is a plain
 * concatenation of record maps (the contract), so it can be appended to and
 * read as a stream.  The file is opened in append mode when it exists so a
 * resumed run continues it, and records are flushed regularly by the scan so
 * a crash loses only what was in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/exporter.h"
#include "results/encoders.h"

typedef struct {
  FILE *fp;
  int is_stdout;
  int msgpack;
  mxs_json_encoder_t json;
  mxs_msgpack_encoder_t mp;
} file_state_t;

static int file_open(mxs_exporter_t *x, const char *target, int msgpack, char *err, size_t errlen) {
  file_state_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->msgpack = msgpack;
  if (strcmp(target, "-") == 0) {
    s->fp = stdout;
    s->is_stdout = 1;
  } else if (!(s->fp = fopen(target, x->append ? "a" : "w"))) {
    int e = errno;
    snprintf(err, errlen, "cannot open output '%s': %s", target, strerror(e));
    free(s);
    return -e;
  }
  if (!s->is_stdout) setvbuf(s->fp, NULL, _IOFBF, 1 << 16);
  if (msgpack)
    mxs_msgpack_encoder_init(&s->mp);
  else
    mxs_json_encoder_init(&s->json);
  x->state = s;
  return 0;
}

static int jsonl_open(mxs_exporter_t *x, uv_loop_t *loop, const char *t, char *err, size_t n) {
  (void)loop;
  return file_open(x, t, 0, err, n);
}

static int msgpack_open(mxs_exporter_t *x, uv_loop_t *loop, const char *t, char *err, size_t n) {
  (void)loop;
  return file_open(x, t, 1, err, n);
}

static int file_write(mxs_exporter_t *x, const mxs_record_t *r) {
  file_state_t *s = x->state;
  const void *data;
  size_t len;
  if (s->msgpack) {
    mxs_msgpack_encoder_reset(&s->mp);
    mxs_record_encode(r, &s->mp.base);
    data = s->mp.sbuf.data;
    len = s->mp.sbuf.size;
  } else {
    mxs_json_encoder_reset(&s->json);
    mxs_record_encode(r, &s->json.base);
    if (s->json.oom) return -ENOMEM;
    mxs_json_put_raw(&s->json, "\n", 1);
    if (s->json.oom) return -ENOMEM;
    data = s->json.buf;
    len = s->json.len;
  }
  if (fwrite(data, 1, len, s->fp) != len) return errno ? -errno : -EIO;
  return 0;
}

static int file_flush(mxs_exporter_t *x) {
  file_state_t *s = x->state;
  if (fflush(s->fp) != 0 || ferror(s->fp)) return errno ? -errno : -EIO;
  return 0;
}

static void file_close(mxs_exporter_t *x, mxs_exporter_closed_cb cb, void *arg) {
  file_state_t *s = x->state;
  int rc = file_flush(x);
  if (rc < 0 && !x->error) x->error = rc;
  if (!s->is_stdout && fclose(s->fp) != 0 && !x->error) x->error = -errno;
  if (s->msgpack)
    mxs_msgpack_encoder_free(&s->mp);
  else
    mxs_json_encoder_free(&s->json);
  free(s);
  x->state = NULL;
  if (cb) cb(arg);
}

const mxs_exporter_ops_t mxs_exporter_jsonl = {"jsonl",    jsonl_open, file_write, file_flush,
                                               file_close, NULL,       NULL,       NULL};
const mxs_exporter_ops_t mxs_exporter_msgpack = {"msgpack",  msgpack_open, file_write, file_flush,
                                                 file_close, NULL,         NULL,       NULL};
