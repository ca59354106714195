/* exporter.h - where records go: an ops struct per exporter, a registry by
 * name, per-instance state.
 *
 * Exporters are synchronous to write (they buffer) and asynchronous to close
 * so a network exporter can drain before the loop ends.  A write error is
 * sticky: the scan keeps going, and reports it at the end (exit 1), because
 * one full disk must not silently drop the rest of the run.
 */
#ifndef MXS_EXPORTER_H
#define MXS_EXPORTER_H

#include <stddef.h>
#include <uv.h>

#include "results/record.h"

typedef struct mxs_exporter_s mxs_exporter_t;
typedef void (*mxs_exporter_closed_cb)(void *arg);

typedef struct {
  const char *name;
  /* Creates the instance state for TARGET (a path, "-" for stdout, a URL).
   * Returns 0 or a negative errno with a message in err. */
  int (*open)(mxs_exporter_t *x, uv_loop_t *loop, const char *target, char *err, size_t errlen);
  /* Encodes R (borrowed) and queues it.  Returns 0 or a negative errno. */
  int (*write)(mxs_exporter_t *x, const mxs_record_t *r);
  /* Pushes buffered records towards durable storage.  0 or negative errno. */
  int (*flush)(mxs_exporter_t *x);
  /* Flushes, releases the state, then calls cb(arg) (possibly later). */
  void (*close)(mxs_exporter_t *x, mxs_exporter_closed_cb cb, void *arg);
  /* Optional: records accepted but not yet stored.  The scan stops taking
   * new domains while an exporter is over its high-water mark, and the
   * exporter calls x->wake(x->wake_arg) when it has drained below its low
   * mark.  NULL for exporters that never hold records back. */
  size_t (*backlog)(const mxs_exporter_t *x);
  /* Optional: 1 while over the high-water mark. */
  int (*busy)(const mxs_exporter_t *x);
  /* Optional: calls cb(arg), later, once every record written before this
   * call is stored for good (acknowledged by the server).  A distributed
   * run acknowledges a job only then.  NULL: stored once flushed. */
  void (*after_stored)(mxs_exporter_t *x, void (*cb)(void *arg), void *arg);
} mxs_exporter_ops_t;

struct mxs_exporter_s {
  const mxs_exporter_ops_t *ops;
  void *state;             /* owned by the ops */
  int error;               /* first write/flush error, sticky (negative errno) */
  char target[256];        /* for messages */
  int append;              /* continue an existing output (--resume) */
  void (*wake)(void *arg); /* set by the scan: call when no longer busy */
  void *wake_arg;
  /* Optional, set by the scan before close: a results file that holds this
   * run's records in the order they were written here, from byte
   * MIRROR_OFFSET on (the -o FILE written beside a Redis output, complete).
   * A sink that finds at close that records it had stored are gone (a
   * Redis restarted without persistence) writes them from it to its spill
   * file.  Borrowed. */
  const char *mirror;
  uint64_t mirror_offset;
};

/* 1 when X asks the scan to pause intake (see ops->busy). */
int mxs_exporter_busy(const mxs_exporter_t *x);

/* Looks up an exporter by name ("jsonl", "msgpack"); NULL if unknown. */
const mxs_exporter_ops_t *mxs_exporter_find(const char *name);

/* Allocates and opens an exporter; caller closes with mxs_exporter_close. */
int mxs_exporter_open(const char *name, uv_loop_t *loop, const char *target, mxs_exporter_t **out, char *err,
                      size_t errlen);
/* The same with FLAGS: MXS_EXPORTER_APPEND keeps what TARGET holds and
 * adds to it (a resumed run). */
#define MXS_EXPORTER_APPEND 1u
int mxs_exporter_open_ex(const char *name, uv_loop_t *loop, const char *target, unsigned flags, mxs_exporter_t **out,
                         char *err, size_t errlen);
int mxs_exporter_write(mxs_exporter_t *x, const mxs_record_t *r);
int mxs_exporter_flush(mxs_exporter_t *x);
/* Closes and frees X; cb(arg, error) runs once it is gone, with the first
 * write/flush/close error (negative errno) or 0. */
typedef void (*mxs_exporter_done_cb)(void *arg, int error);
void mxs_exporter_close(mxs_exporter_t *x, mxs_exporter_done_cb cb, void *arg);

#endif
