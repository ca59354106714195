/* file.c - JSON Lines and msgpack file exporters.
 *
 * Records are encoded into a buffer and written with write(2) when the scan
 * flushes, which it does after each domain (and every second): so the file
 * grows by whole domains, and a crash loses only what was in flight.  A
 * msgpack file is a plain concatenation of record maps (the contract), so it
 * can be appended to and read as a stream; the file is appended to when the
 * run resumes (--resume).
 *
 * A failed write (the disk is full, the file is gone read-only, a pipe
 * closed) is sticky: the partial domain is cut off the end of a regular file
 * (ftruncate to the end of the last flush that succeeded), nothing more is
 * written, and every later write and flush returns the error, so the scan
 * stops and exits 1 while the file holds whole domains that --resume keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters/exporter.h"
#include "results/encoders.h"

/* A domain's records are normally far below this; a bigger buffer is
 * written out before the flush (the file may then be torn mid-domain by a
 * crash, which --resume handles). */
#define FILE_BUF_MAX (1u << 20)

typedef struct {
  int fd;
  int is_stdout;
  int regular; /* a regular file: can be cut back after a failed write */
  int msgpack;
  int failed; /* sticky negative errno */
  char *buf;
  size_t len, cap;
  uint64_t off;  /* bytes in the file */
  uint64_t good; /* end of the last flush that succeeded: whole domains before it */
  mxs_json_encoder_t json;
  mxs_msgpack_encoder_t mp;
} file_state_t;

static int file_open(mxs_exporter_t *x, const char *target, int msgpack, char *err, size_t errlen) {
  file_state_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->msgpack = msgpack;
  if (strcmp(target, "-") == 0) {
    s->fd = STDOUT_FILENO;
    s->is_stdout = 1;
  } else if ((s->fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | (x->append ? O_APPEND : O_TRUNC), 0666)) < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot open output '%s': %s", target, strerror(e));
    free(s);
    return -e;
  }
  struct stat st;
  if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode)) {
    s->regular = 1;
    s->off = s->good = (uint64_t)st.st_size; /* appending: after what the file holds */
  }
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

/* The first failure: cut the partial domain off, drop what is buffered,
 * and refuse everything from now on. */
static int fail(file_state_t *s, int e) {
  if (s->failed) return s->failed;
  s->failed = -e;
  s->len = 0;
  if (s->regular && s->off != s->good && ftruncate(s->fd, (off_t)s->good) == 0) s->off = s->good;
  return s->failed;
}

/* Writes the buffer out; 0 or the (sticky) negative errno. */
static int drain(file_state_t *s) {
  size_t done = 0;
  while (done < s->len) {
    ssize_t n = write(s->fd, s->buf + done, s->len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(s, n < 0 ? errno : EIO);
    done += (size_t)n;
    s->off += (uint64_t)n;
  }
  s->len = 0;
  return 0;
}

static int append(file_state_t *s, const void *data, size_t len) {
  if (s->len + len > s->cap) {
    size_t cap = s->cap ? s->cap : 1 << 16;
    while (cap < s->len + len) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) return -ENOMEM;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, len);
  s->len += len;
  return s->len >= FILE_BUF_MAX ? drain(s) : 0;
}

static int file_write(mxs_exporter_t *x, const mxs_record_t *r) {
  file_state_t *s = x->state;
  if (s->failed) return s->failed;
  if (s->msgpack) {
    mxs_msgpack_encoder_reset(&s->mp);
    mxs_record_encode(r, &s->mp.base);
    return append(s, s->mp.sbuf.data, s->mp.sbuf.size);
  }
  mxs_json_encoder_reset(&s->json);
  mxs_record_encode(r, &s->json.base);
  if (s->json.oom) return -ENOMEM;
  mxs_json_put_raw(&s->json, "\n", 1);
  if (s->json.oom) return -ENOMEM;
  return append(s, s->json.buf, s->json.len);
}

/* The scan flushes between domains: what the file holds is then whole. */
static int file_flush(mxs_exporter_t *x) {
  file_state_t *s = x->state;
  if (s->failed) return s->failed;
  int rc = drain(s);
  if (rc == 0) s->good = s->off;
  return rc;
}

static void file_close(mxs_exporter_t *x, mxs_exporter_closed_cb cb, void *arg) {
  file_state_t *s = x->state;
  int rc = file_flush(x);
  if (rc < 0 && !x->error) x->error = rc;
  if (!s->is_stdout && close(s->fd) != 0 && !x->error) x->error = -errno;
  if (s->msgpack)
    mxs_msgpack_encoder_free(&s->mp);
  else
    mxs_json_encoder_free(&s->json);
  free(s->buf);
  free(s);
  x->state = NULL;
  if (cb) cb(arg);
}

const mxs_exporter_ops_t mxs_exporter_jsonl = {"jsonl",    jsonl_open, file_write, file_flush,
                                               file_close, NULL,       NULL,       NULL};
const mxs_exporter_ops_t mxs_exporter_msgpack = {"msgpack",  msgpack_open, file_write, file_flush,
                                                 file_close, NULL,         NULL,       NULL};
