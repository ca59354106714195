/* exporter.c - the registry and the error bookkeeping common to all. */
#include "exporters/exporter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const mxs_exporter_ops_t mxs_exporter_jsonl;
extern const mxs_exporter_ops_t mxs_exporter_msgpack;
extern const mxs_exporter_ops_t mxs_exporter_redis;

static const mxs_exporter_ops_t *const registry[] = {&mxs_exporter_jsonl, &mxs_exporter_msgpack, &mxs_exporter_redis};

const mxs_exporter_ops_t *mxs_exporter_find(const char *name) {
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (strcmp(registry[i]->name, name) == 0) return registry[i];
  return NULL;
}

int mxs_exporter_open(const char *name, uv_loop_t *loop, const char *target, mxs_exporter_t **out, char *err,
                      size_t errlen) {
  return mxs_exporter_open_ex(name, loop, target, 0, out, err, errlen);
}

int mxs_exporter_open_ex(const char *name, uv_loop_t *loop, const char *target, unsigned flags, mxs_exporter_t **out,
                         char *err, size_t errlen) {
  const mxs_exporter_ops_t *ops = mxs_exporter_find(name);
  if (!ops) {
    snprintf(err, errlen, "unknown output format '%s'", name);
    return -EINVAL;
  }
  mxs_exporter_t *x = calloc(1, sizeof *x);
  if (!x) return -ENOMEM;
  x->ops = ops;
  x->append = (flags & MXS_EXPORTER_APPEND) != 0;
  snprintf(x->target, sizeof x->target, "%s", target ? target : "-");
  /* x->target is a short copy for messages; the exporter gets it whole */
  int rc = ops->open(x, loop, target ? target : "-", err, errlen);
  if (rc < 0) {
    free(x);
    return rc;
  }
  *out = x;
  return 0;
}

int mxs_exporter_busy(const mxs_exporter_t *x) { return x->ops->busy ? x->ops->busy(x) : 0; }

int mxs_exporter_write(mxs_exporter_t *x, const mxs_record_t *r) {
  int rc = x->ops->write(x, r);
  if (rc < 0 && !x->error) x->error = rc;
  return rc;
}

int mxs_exporter_flush(mxs_exporter_t *x) {
  int rc = x->ops->flush(x);
  if (rc < 0 && !x->error) x->error = rc;
  return rc;
}

struct close_ctx {
  mxs_exporter_t *x;
  mxs_exporter_done_cb cb;
  void *arg;
};

static void closed(void *arg) {
  struct close_ctx *c = arg;
  int error = c->x->error;
  free(c->x);
  if (c->cb) c->cb(c->arg, error);
  free(c);
}

void mxs_exporter_close(mxs_exporter_t *x, mxs_exporter_done_cb cb, void *arg) {
  struct close_ctx *c = malloc(sizeof *c);
  if (!c) { /* cannot track the callback: close synchronously */
    x->ops->close(x, NULL, NULL);
    int error = x->error;
    free(x);
    if (cb) cb(arg, error);
    return;
  }
  *c = (struct close_ctx){x, cb, arg};
  x->ops->close(x, closed, c);
}
