/* cmd_worker.c - `mxscan worker`: scan the jobs of a distributed run.
 *
 * A scan like any other (every option, every limit), whose domains come
 * from the run's job stream (dist/source.c) and whose records go
 * to the Redis exporter under the same run id, as this worker: the scan
 * tells the source a domain is done only after the exporter has Redis'
 * acknowledgement for its records, and only then is the job acknowledged.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "dist/hooks.h"
#include "dist/source.h"
#include "dist/url.h"
#include "redis/redis_sync.h"
#include "scanner/scan.h"
#include "scanner/stats.h"

typedef struct {
  const mxs_config_t *cfg;
  const char *worker;
} worker_arg_t;

/* How long a claim on an address outlives a worker that died: a bit more
 * than one probe at its worst (every stage timing out, each retry).  A live
 * worker refreshes its claims, so queueing behind the limits does not count;
 * the cap keeps the others from waiting minutes for a dead one. */
static int claim_ttl_ms(const mxs_config_t *c) {
  long one = (long)c->connect_timeout_ms + c->banner_timeout_ms + 3L * c->command_timeout_ms + c->handshake_timeout_ms;
  long ttl = one * (c->retries + 1) + 2000;
  return (int)(ttl < 5000 ? 5000 : ttl > 60000 ? 60000 : ttl);
}

/* The job queue, wrapped in the hooks that make the workers probe each
 * address once and share each provider's rate. */
static int make_source(void *arg, uv_loop_t *loop, mxs_source_t **out, char *err, size_t errlen) {
  const worker_arg_t *w = arg;
  const mxs_config_t *c = w->cfg;
  mxs_redis_source_opts_t o = {c->redis_url, c->redis_prefix, c->redis_run, w->worker, c->claim_idle_ms, c->follow};
  mxs_source_t *jobs;
  if (mxs_redis_source_open(loop, &o, &jobs, err, errlen) < 0) return -1;
  /* Claims and verdicts are keyed by the target (the address, or the
   * address and its SNI name: scanner/scan.h), so name probes and
   * --probe-per-name are shared by the workers too. */
  mxs_redis_hooks_opts_t h = {c->redis_url,    c->redis_prefix, c->redis_run, w->worker, claim_ttl_ms(c), 86400, 1,
                              c->provider_rate};
  return mxs_redis_hooks_wrap(loop, &h, jobs, out, err, errlen);
}

static void worker_usage(FILE *fp) {
  fputs(
      "usage: mxscan worker --redis URL --run ID [--claim-idle S] [--follow] [scan options]\n\n"
      "Scans the jobs of run ID (see 'mxscan enqueue') with every option of 'mxscan scan'\n"
      "and writes the records to Redis under that run; run any number of workers.\n"
      "Ends when no job is left for anyone (--follow: keeps waiting).\n\n",
      fp);
  mxs_config_usage(fp);
}

int mxs_cmd_worker(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_config_defaults(&cfg);
  int rc = mxs_config_parse(&cfg, argc, argv, stderr);
  if (rc == 0 && (!cfg.redis_url || !cfg.redis_run)) {
    fprintf(stderr, "mxscan worker: --redis URL and --run ID are required\n");
    rc = -1;
  }
  if (rc == 0 && strcmp(cfg.input, "-") != 0) {
    fprintf(stderr, "mxscan worker: no input file: the domains come from the run's jobs\n");
    rc = -1;
  }
  char host[HOST_NAME_MAX + 1], worker[96], url[2048];
  mxs_redis_worker_name(worker, sizeof worker);
  if (rc == 0 && mxs_dist_url(cfg.redis_url, cfg.redis_run, worker, url, sizeof url) < 0) {
    fprintf(stderr, "mxscan worker: --redis URL too long\n");
    rc = -1;
  }
  if (rc != 0) {
    if (rc > 0) worker_usage(stdout);
    mxs_config_free(&cfg);
    return rc > 0 ? 0 : 2;
  }
  const char *plain_url = cfg.redis_url;
  cfg.redis_url = url; /* the exporter writes into the run, as this worker */
  if (mxs_config_finish(&cfg, host, sizeof host, stderr) < 0) {
    mxs_config_free(&cfg);
    return 2;
  }
  fprintf(stderr, "mxscan: worker %s on run %s\n", worker, cfg.redis_run);
  worker_arg_t w = {&cfg, worker};
  /* the source reads the jobs with the URL as given (no run/worker keys) */
  mxs_config_t src_cfg = cfg;
  src_cfg.redis_url = plain_url;
  w.cfg = &src_cfg;
  mxs_stats_t stats;
  rc = mxs_scan_run_from(&cfg, make_source, &w, &stats, stderr);
  if (rc == MXS_SCAN_BUSY)
    rc = 1; /* nothing ran */
  else if (rc != 2 && !cfg.quiet)
    mxs_stats_print(&stats, stderr);
  mxs_config_free(&cfg);
  if (stats.aborted) {
    fflush(stderr);
    _exit(1);
  }
  return rc;
}
