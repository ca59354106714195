/* workers.h - probes on more event loops in threads, results back on the main loop.
 *
 * The main loop keeps everything that must be exact or ordered: input, DNS,
 * the scheduler (global, per-provider and per-IP limits), fan-out and the
 * outputs.  Only the probes themselves - the TLS handshakes that cost the
 * CPU - run on the workers, each address always on the same loop (sharded
 * by mxs_workers_shard of the address; `--threads N` makes the main loop
 * shard 0 and N-1 workers the others, one thread per core and no hand-off
 * for the main loop's share).  A start request and its result travel
 * through a mutex-protected queue and a uv_async_t each way; the probe
 * result changes owner with it.
 */
#ifndef MXS_WORKERS_H
#define MXS_WORKERS_H

#include <uv.h>

#include "probe/probe.h"

typedef struct mxs_workers_s mxs_workers_t;

/* Starts N worker threads, each with its own loop and a copy of ENV (whose
 * loop field is replaced; everything it points to must be thread-safe and
 * outlive the pool: the TLS context is).  Results are delivered on MAIN.
 * Returns 0 or a negative UV error. */
int mxs_workers_new(uv_loop_t *main, int n, const mxs_probe_env_t *env, mxs_workers_t **out);

/* Which of SHARDS loops owns IP (0 .. SHARDS-1): FNV-1a of the address, so
 * one address stays on one loop for the whole run. */
unsigned mxs_workers_shard(const char *ip, unsigned shards);

/* Like mxs_probe_start, on the worker that owns IP.  CB runs on the main
 * loop, never inside this call. */
int mxs_workers_start(mxs_workers_t *w, const char *ip, int port, const char *sni, int legacy, mxs_probe_cb cb,
                      void *arg);
/* The same with DANE's TLSA records (mxs_probe_start_dane; NULL: none). */
int mxs_workers_start_dane(mxs_workers_t *w, const char *ip, int port, const char *sni, int legacy,
                           const mxs_tls_dane_t *dane, mxs_probe_cb cb, void *arg);

/* Cancels every running probe (mxs_probe_cancel with WHY); their callbacks
 * still run. */
void mxs_workers_cancel_all(mxs_workers_t *w, const char *why);

/* Stops and joins the threads (call when no probe is running), closes the
 * main-loop handle and frees W from its close callback. */
void mxs_workers_close(mxs_workers_t *w);

#endif
