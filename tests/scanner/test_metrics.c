/* test_metrics.c - the --metrics text file (scanner/metrics.h): what a
 * run writes mid-run and at its end, label values escaped, only the top
 * providers listed, each failing domain counted once per provider, the
 * last success kept across a failed run, and the file replaced whole
 * (no temporary file left, readable by the collector).  promtool checks
 * real files in tests/integration/test_metrics.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scanner/metrics.h"

static char dir[64], path[128];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/mxscan-metrics-test-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/mxscan.prom", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[400];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  if (d) closedir(d);
  rmdir(dir);
  return 0;
}

static char *slurp(const char *p) {
  FILE *fp = fopen(p, "r");
  assert_non_null(fp);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

static size_t files_in_dir(void) {
  DIR *d = opendir(dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

static void write_run(mxs_metrics_t *m, mxs_stats_t *st, int running, int success) {
  mxs_metrics_sample_t s = {.stats = st,
                            .now = 1000.5,
                            .in_flight = 7,
                            .queued = 3,
                            .domains_read = 12,
                            .verify_lookups = 9,
                            .verify_hits = 4,
                            .running = running,
                            .success = success};
  char err[300];
  assert_int_equal(mxs_metrics_write(m, &s, err, sizeof err), 0);
}

static void test_file(void **state) {
  (void)state;
  mxs_metrics_t *m;
  char err[300];
  assert_int_equal(mxs_metrics_open(path, 2, &m, err, sizeof err), 0);
  /* domain 0 fails twice at example.com (counted once) and at "q\"uote\\d\nx.org";
   * domain 1 fails at both too; domain 2 at a third provider, 192.0.2.1 */
  mxs_metrics_fail(m, 0, "mx1.example.com");
  mxs_metrics_fail(m, 0, "mx2.example.com");
  mxs_metrics_fail(m, 0, "mx.q\"uote\\d\nx.org");
  mxs_metrics_fail(m, 1, "mx1.example.com");
  mxs_metrics_fail(m, 1, "mx.q\"uote\\d\nx.org");
  mxs_metrics_fail(m, 2, "192.0.2.1");
  mxs_stats_t st = {.started = 990, .finished = 1001};
  st.probes[MXS_CLASS_OK] = 5;
  st.probes[MXS_CLASS_TLS_DIED] = 2;
  st.domains[MXS_CLASS_OK] = 4;
  write_run(m, &st, 1, 0);
  const char *t = slurp(path);
  assert_non_null(strstr(t, "# TYPE mxscan_records_total counter\n"));
  assert_non_null(strstr(t, "mxscan_records_total{class=\"tls-died\"} 2\n"));
  assert_non_null(strstr(t, "mxscan_records_total{class=\"dns-nxdomain\"} 0\n")); /* every class, always */
  assert_non_null(strstr(t, "mxscan_domains{class=\"ok\"} 4\n"));
  assert_non_null(strstr(t, "mxscan_probes_in_flight 7\n"));
  assert_non_null(strstr(t, "mxscan_run_in_progress 1\n"));
  assert_non_null(strstr(t, "mxscan_run_start_timestamp_seconds 990\n"));
  assert_non_null(strstr(t, "mxscan_run_duration_seconds 10.500\n"));
  assert_non_null(strstr(t, "mxscan_verify_cache_hits_total 4\n"));
  assert_non_null(strstr(t, "mxscan_providers_failing 3\n"));
  assert_non_null(strstr(t, "mxscan_provider_failing_domains{provider=\"example.com\"} 2\n"));
  assert_non_null(strstr(t, "mxscan_provider_failing_domains{provider=\"q\\\"uote\\\\d\\nx.org\"} 2\n"));
  assert_null(strstr(t, "192.0.2.1"));                             /* the third of --metrics-providers 2 */
  assert_null(strstr(t, "mxscan_last_success_timestamp_seconds")); /* none yet */
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0644);
  assert_int_equal(files_in_dir(), 1); /* no temporary file left */
  write_run(m, &st, 0, 1);             /* the end of a completed run */
  t = slurp(path);
  assert_non_null(strstr(t, "mxscan_last_success_timestamp_seconds 1001\n"));
  assert_non_null(strstr(t, "mxscan_run_in_progress 0\n"));
  assert_non_null(strstr(t, "mxscan_run_duration_seconds 11.000\n"));
  mxs_metrics_free(m);

  /* the next run fails: the success time of the one before stays */
  assert_int_equal(mxs_metrics_open(path, 10, &m, err, sizeof err), 0);
  mxs_stats_t st2 = {.started = 2000, .finished = 2005};
  write_run(m, &st2, 1, 0);
  assert_non_null(strstr(slurp(path), "mxscan_last_success_timestamp_seconds 1001\n"));
  write_run(m, &st2, 0, 0);
  t = slurp(path);
  assert_non_null(strstr(t, "mxscan_last_success_timestamp_seconds 1001\n"));
  assert_non_null(strstr(t, "mxscan_run_start_timestamp_seconds 2000\n"));
  mxs_metrics_free(m);
}

static void test_unwritable(void **state) {
  (void)state;
  mxs_metrics_t *m = NULL;
  char err[300], p[200];
  snprintf(p, sizeof p, "%s/missing-dir/x.prom", dir);
  assert_int_equal(mxs_metrics_open(p, 10, &m, err, sizeof err), -1);
  assert_null(m);
  assert_non_null(strstr(err, "missing-dir/x.prom"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
