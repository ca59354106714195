/* source.h - where a scan's domains come from: a file, or a shared job queue.
 *
 * The scan pulls domains when it has room and tells the source when a
 * domain is complete (every record stored by every exporter), so a
 * distributed source can acknowledge the job only then.  A source that has
 * nothing right now (a network queue being fetched) returns MXS_SOURCE_AGAIN
 * and calls wake(wake_arg) when it has.
 */
#ifndef MXS_SOURCE_H
#define MXS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#define MXS_SOURCE_DOMAIN 1 /* a domain was returned */
#define MXS_SOURCE_EOF    0 /* no more domains, ever */
#define MXS_SOURCE_AGAIN  2 /* none now; wake() will be called */

typedef struct mxs_source_s mxs_source_t;

typedef struct {
  const char *name;
  /* Next domain into OUT (>= 254 bytes) with an opaque TOKEN for done():
   * MXS_SOURCE_DOMAIN, MXS_SOURCE_EOF, MXS_SOURCE_AGAIN, or a negative
   * errno (a read error: the scan reports it and stops reading). */
  int (*next)(mxs_source_t *src, char *out, size_t outlen, uint64_t *token);
  /* The domain of TOKEN is complete: its records are stored. */
  void (*done)(mxs_source_t *src, uint64_t token);
  /* Optional: progress through the input, 0..1 (for an ETA); -1 unknown. */
  int (*progress)(const mxs_source_t *src, double *fraction);
  /* Releases the source; cb(arg) once it is gone (possibly later). */
  void (*close)(mxs_source_t *src, void (*cb)(void *arg), void *arg);
} mxs_source_ops_t;

struct mxs_scan_hooks_s; /* scanner/scan.h */

struct mxs_source_s {
  const mxs_source_ops_t *ops;
  /* Optional: a distributed source's hooks into the scan (probe each
   * address once across machines, shared politeness); NULL otherwise. */
  const struct mxs_scan_hooks_s *hooks;
  void *state;             /* owned by the ops */
  void (*wake)(void *arg); /* set by the scan */
  void *wake_arg;
};

#endif
