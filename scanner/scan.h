/* scan.h - one run: input -> resolver -> probes -> records -> exporters.
 *
 * mxs_scan_t owns the event loop, the resolver, the TLS contexts, the
 * exporters and the counters; nothing here is global.  Each address is
 * probed once per run (or each (address, MX name) with probe_per_name) and
 * its result fans out to every (domain, MX name) behind it.
 */
#ifndef MXS_SCAN_H
#define MXS_SCAN_H

#include <stdio.h>
#include <uv.h>

#include "queue/source.h"
#include "resolver/resolver.h"
#include "scanner/config.h"
#include "probe/probe.h"
#include "scanner/stats.h"

/* What CFG says for the resolver and for every probe: one place for the
 * scan and for `mxscan probe`.  The env borrows LOOP, TLS and READ_BUF
 * (MXS_PROBE_READ_BUF bytes, one per loop). */
mxs_resolver_opts_t mxs_scan_resolver_opts(const mxs_config_t *cfg);
mxs_probe_env_t mxs_scan_probe_env(const mxs_config_t *cfg, uv_loop_t *loop, mxs_tls_ctx_t *tls, char *read_buf);

/* Runs the scan CFG describes to completion.  Errors that stop the run
 * before it starts (bad --dns, unreadable CA file, unwritable output) are
 * written to ERR.  Fills *stats.  Returns 0 when every input domain was
 * scanned and every record written, 1 when the run could not complete
 * (interrupted, write errors), 2 for a setup error, MXS_SCAN_BUSY when
 * another run is writing the same -o FILE (runlock.h): then nothing was
 * done or written, not even the summary or the metrics, which are that
 * run's. */
#define MXS_SCAN_BUSY 4
int mxs_scan_run(const mxs_config_t *cfg, mxs_stats_t *stats, FILE *err);

/* The same, with the domains from a source MAKE_SOURCE creates on the
 * scan's loop (e.g. a Redis job queue) instead of the file cfg->input.  The
 * scan owns and closes the source, and tells it when each domain's records
 * are stored. */
typedef int (*mxs_source_factory_t)(void *arg, uv_loop_t *loop, mxs_source_t **out, char *err, size_t errlen);
int mxs_scan_run_from(const mxs_config_t *cfg, mxs_source_factory_t make_source, void *arg, mxs_stats_t *stats,
                      FILE *err);

/* Hooks a distributed source sets (source->hooks) so that several machines
 * scanning one list behave as one: each address probed once, and one
 * allowance per provider.  Every hook answers later (never inside the
 * call) through the mxs_scan_*_done function, with the HANDLE it got. */
#include "probe/verdict.h"

typedef struct mxs_scan_hooks_s {
  void *arg;
  /* A new target: may this machine probe it?  KEY names it for every
   * machine: the address ("192.0.2.1"), or the address and the name sent
   * as SNI ("192.0.2.1|mx.example.com") for a name probe of a shared
   * address and under --probe-per-name.  Answer with mxs_scan_claim_done:
   * NULL to probe it here, or the verdict another machine published for it
   * (moved into the scan). */
  void (*claim)(void *arg, void *handle, const char *key, const char *sni);
  /* The verdict of a target this machine claimed and probed, for the
   * others (V borrowed for the call). */
  void (*publish)(void *arg, const char *key, const mxs_verdict_t *v);
  /* A connection to PROVIDER is about to start: answer with
   * mxs_scan_permit_done and the milliseconds to wait (0: go now). */
  void (*permit)(void *arg, void *handle, const char *provider);
  /* Optional: the run is stopping (a signal, --max-runtime).  Answer every
   * claim and permit still waiting, now: the scan records those addresses
   * as unfinished.  The *_done calls may be made from inside stop(). */
  void (*stop)(void *arg);
} mxs_scan_hooks_t;

/* V: NULL (probe it here) or a verdict whose contents the scan takes. */
void mxs_scan_claim_done(void *handle, mxs_verdict_t *v);
void mxs_scan_permit_done(void *handle, uint64_t wait_ms);

#endif
