/* redis_bench.c - drives the Redis exporter with synthetic records.
 *
 *   redis_bench --url URL [--count N] [--rate R] [--out FILE.msgpack] [--domains D]
 *
 * Writes N records (each a distinct (domain, MX, IP), about 600 bytes of
 * msgpack, classes in rotation) through the "redis" exporter as fast as it
 * accepts them (it pauses while the exporter is busy) or at R records/s,
 * and optionally the same records through the "msgpack" file exporter, so
 * a test can compare Redis with the file byte for byte.  Prints the rate
 * from the first write to the close callback (every record acknowledged)
 * on stdout.  Exit status: 0, or 1 when an exporter reported an error (for
 * the Redis exporter: records spilled or lost).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "exporters/exporter.h"
#include "results/record.h"

typedef struct {
  uv_loop_t loop;
  uv_idle_t idle;  /* unpaced: produce while the exporter takes records */
  uv_timer_t pace; /* paced: R/100 records every 10 ms */
  mxs_exporter_t *redis, *file;
  unsigned long count, done, domains, rate;
  int paused, closing, open, error;
  uint64_t t0;
} bench_t;

typedef struct {
  char domain[64], mx[96], ip[32];
} names_t;

static void make_record(unsigned long i, unsigned long domains, mxs_record_t *r, names_t *nm) {
  static const char *const ehlo[] = {"PIPELINING", "SIZE 52428800", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES"};
  static const char *const san[] = {"mx1.bench.test", "mx2.bench.test"};
  static const mxs_cert_info_t cert = {.subject_cn = "mx1.bench.test",
                                       .san = san,
                                       .nsan = 2,
                                       .issuer = "CN=Bench Intermediate CA,O=mxscan",
                                       .not_before = "2026-01-01T00:00:00Z",
                                       .not_after = "2027-01-01T00:00:00Z",
                                       .days_left = 33,
                                       .key_type = "EC",
                                       .key_bits = 256,
                                       .sig_alg = "ecdsa-with-SHA256",
                                       .sha256 = "3f0c2b9a8e7d6c5b4a3928171605f4e3d2c1b0a99887766554433221100ffeed",
                                       .chain_len = 2};
  static const mxs_timings_t tm = {3, 12, 40, 8, 6, 22, 91};
  char *domain = nm->domain, *mx = nm->mx, *ip = nm->ip;
  snprintf(domain, sizeof nm->domain, "d%06lu.bench.test", i % domains);
  snprintf(mx, sizeof nm->mx, "mx%lu.%s", (i / domains) % 4, domain);
  snprintf(ip, sizeof nm->ip, "10.%lu.%lu.%lu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
  *r = (mxs_record_t){.domain = domain,
                      .cls = (mxs_class_t)(i % MXS_CLASS_COUNT),
                      .stage = "done",
                      .detail = "250 2.0.0 Ok: bench record",
                      .scanned_at = "2026-11-28T02:00:07Z",
                      .mx = mx,
                      .pref = 10,
                      .ip = ip,
                      .port = 25,
                      .smtp_code = 250,
                      .banner = "220 mx1.bench.test ESMTP Postfix (Debian/GNU)",
                      .ehlo = ehlo,
                      .nehlo = 5,
                      .has_ehlo = 1,
                      .tls_version = "TLSv1.3",
                      .cipher = "TLS_AES_256_GCM_SHA384",
                      .group = "X25519",
                      .cert = &cert,
                      .timings = &tm,
                      .attempts = 1};
}

static void produce(bench_t *b, unsigned long n) {
  for (unsigned long k = 0; k < n && b->done < b->count && !mxs_exporter_busy(b->redis); k++) {
    mxs_record_t r;
    names_t nm;
    make_record(b->done++, b->domains, &r, &nm);
    if (mxs_exporter_write(b->redis, &r) < 0) b->error = 1;
    if (b->file && mxs_exporter_write(b->file, &r) < 0) b->error = 1;
  }
}

static void on_closed(void *arg, int error) {
  bench_t *b = arg;
  if (error) b->error = 1;
  b->open--;
}

static void finish(bench_t *b) {
  if (b->closing) return;
  b->closing = 1;
  uv_idle_stop(&b->idle);
  uv_timer_stop(&b->pace);
  uv_close((uv_handle_t *)&b->idle, NULL);
  uv_close((uv_handle_t *)&b->pace, NULL);
  b->open = b->file ? 2 : 1;
  mxs_exporter_close(b->redis, on_closed, b);
  if (b->file) mxs_exporter_close(b->file, on_closed, b);
}

static void on_idle(uv_idle_t *h) {
  bench_t *b = h->data;
  produce(b, 1000);
  if (b->done == b->count)
    finish(b);
  else if (mxs_exporter_busy(b->redis)) { /* wait for wake */
    b->paused = 1;
    uv_idle_stop(h);
  }
}

static void on_pace(uv_timer_t *h) {
  bench_t *b = h->data;
  produce(b, b->rate / 100 ? b->rate / 100 : 1);
  if (b->done == b->count) finish(b);
}

static void on_wake(void *arg) {
  bench_t *b = arg;
  if (b->paused && !b->closing && !b->rate) {
    b->paused = 0;
    uv_idle_start(&b->idle, on_idle);
  }
}

static int run(bench_t *b, const char *url, const char *out) {
  char err[512];
  if (mxs_exporter_open("redis", &b->loop, url, &b->redis, err, sizeof err) < 0) {
    fprintf(stderr, "redis_bench: %s\n", err);
    return 2;
  }
  b->redis->wake = on_wake;
  b->redis->wake_arg = b;
  if (out && mxs_exporter_open("msgpack", &b->loop, out, &b->file, err, sizeof err) < 0) {
    fprintf(stderr, "redis_bench: %s\n", err);
    return 2;
  }
  uv_idle_init(&b->loop, &b->idle);
  uv_timer_init(&b->loop, &b->pace);
  b->idle.data = b->pace.data = b;
  b->t0 = uv_hrtime();
  if (b->rate)
    uv_timer_start(&b->pace, on_pace, 0, 10);
  else
    uv_idle_start(&b->idle, on_idle);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  double secs = (double)(uv_hrtime() - b->t0) / 1e9;
  printf("%lu records in %.3f s: %.0f records/s\n", b->done, secs, secs > 0 ? b->done / secs : 0.0);
  if (b->open || b->done != b->count) {
    fprintf(stderr, "redis_bench: the loop ended early (%lu of %lu records, %d open)\n", b->done, b->count, b->open);
    return 1;
  }
  return b->error ? 1 : 0;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"url", required_argument, 0, 'u'},     {"count", required_argument, 0, 'n'},
                                       {"rate", required_argument, 0, 'r'},    {"out", required_argument, 0, 'o'},
                                       {"domains", required_argument, 0, 'd'}, {0, 0, 0, 0}};
  bench_t *b = calloc(1, sizeof *b);
  if (!b) return 2;
  const char *url = NULL, *out = NULL;
  b->count = 100000;
  b->domains = 10000;
  int c;
  while ((c = getopt_long(argc, argv, "u:n:r:o:d:", opts, NULL)) != -1) {
    switch (c) {
    case 'u': url = optarg; break;
    case 'n': b->count = strtoul(optarg, NULL, 10); break;
    case 'r': b->rate = strtoul(optarg, NULL, 10); break;
    case 'o': out = optarg; break;
    case 'd': b->domains = strtoul(optarg, NULL, 10); break;
    default: free(b); return 2;
    }
  }
  if (!url || !b->domains) {
    fprintf(stderr, "usage: redis_bench --url URL [--count N] [--rate R] [--out FILE] [--domains D]\n");
    free(b);
    return 2;
  }
  uv_loop_init(&b->loop);
  int rc = run(b, url, out);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&b->loop) != 0) {
    fprintf(stderr, "redis_bench: event loop not empty at exit\n");
    rc = rc ? rc : 1;
  }
  free(b);
  return rc;
}
