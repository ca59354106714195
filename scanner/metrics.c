/* metrics.c - the Prometheus text file of a run (see metrics.h). */
#include "scanner/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/table.h"
#include "results/replace.h"

#define LAST_SUCCESS "mxscan_last_success_timestamp_seconds"

typedef struct {
  const char *name; /* the table's key, set when listed */
  uint64_t domains; /* failing domains */
  uint64_t serial;  /* the domain counted last, plus one */
} prov_t;

struct mxs_metrics_s {
  char *path, *tmpl; /* owned: FILE and FILE's directory + ".mxscan-metrics-XXXXXX" */
  int top;
  double last_success; /* 0: none known */
  const psl_ctx_t *psl;
  mxs_table_t providers; /* provider -> prov_t (owned) */
};

/* The value of an unlabelled sample NAME in the text file at PATH. */
static double read_back(const char *path, const char *name) {
  FILE *fp = fopen(path, "r");
  if (!fp) return 0;
  char line[512];
  double v = 0;
  size_t n = strlen(name);
  while (fgets(line, sizeof line, fp))
    if (!strncmp(line, name, n) && line[n] == ' ') {
      char *end;
      double d = strtod(line + n + 1, &end);
      if (end != line + n + 1 && d > 0) v = d;
    }
  fclose(fp);
  return v;
}

int mxs_metrics_open(const char *path, int top, mxs_metrics_t **out, char *err, size_t errlen) {
  mxs_metrics_t *m = calloc(1, sizeof *m);
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
  if (m) m->path = strdup(path);
  if (m) m->tmpl = malloc(dirlen + 32);
  if (!m || !m->path || !m->tmpl) {
    mxs_metrics_free(m);
    return snprintf(err, errlen, "--metrics: out of memory"), -1;
  }
  /* the collector reads *.prom only: the temporary name never matches */
  memcpy(m->tmpl, path, dirlen);
  strcpy(m->tmpl + dirlen, ".mxscan-metrics-XXXXXX");
  m->top = top;
  m->psl = psl_builtin();
  mxs_table_init(&m->providers);
  m->last_success = read_back(path, LAST_SUCCESS);
  /* fail now, with exit 2, rather than silently all night */
  char probe[4096];
  snprintf(probe, sizeof probe, "%s", m->tmpl);
  int fd = mkstemp(probe);
  if (fd < 0) {
    snprintf(err, errlen, "--metrics %s: cannot create a file in its directory: %s", path, strerror(errno));
    mxs_metrics_free(m);
    return -1;
  }
  close(fd);
  unlink(probe);
  *out = m;
  return 0;
}

static const char *provider_of(const mxs_metrics_t *m, const char *mx) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, mx, addr) == 1 || inet_pton(AF_INET6, mx, addr) == 1) return mx;
  const char *reg = m->psl ? psl_registrable_domain(m->psl, mx) : NULL;
  return reg ? reg : mx;
}

void mxs_metrics_fail(mxs_metrics_t *m, uint64_t serial, const char *mx) {
  if (!m || !mx) return;
  const char *name = provider_of(m, mx);
  prov_t *p = mxs_table_get(&m->providers, name);
  if (!p) {
    if (!(p = calloc(1, sizeof *p))) return; /* a count lost, never the run */
    if (mxs_table_put(&m->providers, name, p) < 0) {
      free(p);
      return;
    }
  }
  if (p->serial == serial + 1) return; /* this domain is counted here already */
  p->serial = serial + 1;
  p->domains++;
}

/* A label value in the exposition format: backslash, quote and newline
 * escaped; names come from DNS. */
static void label(FILE *fp, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      fputc('\\', fp), fputc(*s, fp);
    else if (*s == '\n')
      fputs("\\n", fp);
    else
      fputc(*s, fp);
  }
}

static void head(FILE *fp, const char *name, const char *type, const char *help) {
  fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef struct {
  prov_t **v;
  size_t n;
} plist_t;

static void collect(void *arg, const char *key, void *val) {
  plist_t *l = arg;
  prov_t *p = val;
  p->name = key;
  l->v[l->n++] = p;
}

static int by_domains(const void *a, const void *b) {
  const prov_t *x = *(const prov_t *const *)a, *y = *(const prov_t *const *)b;
  if (x->domains != y->domains) return x->domains < y->domains ? 1 : -1;
  return strcmp(x->name, y->name);
}

static void providers(FILE *fp, mxs_metrics_t *m) {
  plist_t l = {malloc((m->providers.len ? m->providers.len : 1) * sizeof(prov_t *)), 0};
  head(fp, "mxscan_providers_failing", "gauge",
       "Providers (registrable domain of the MX host) with at least one failing domain in this run.");
  fprintf(fp, "mxscan_providers_failing %zu\n", m->providers.len);
  head(fp, "mxscan_provider_failing_domains", "gauge",
       "Failing domains per provider, for the providers with the most only (--metrics-providers).");
  if (!l.v) return;
  mxs_table_each(&m->providers, collect, &l);
  qsort(l.v, l.n, sizeof *l.v, by_domains);
  for (size_t i = 0; i < l.n && (int)i < m->top; i++) {
    fputs("mxscan_provider_failing_domains{provider=\"", fp);
    label(fp, l.v[i]->name);
    fprintf(fp, "\"} %llu\n", (unsigned long long)l.v[i]->domains);
  }
  free(l.v);
}

static void body(FILE *fp, mxs_metrics_t *m, const mxs_metrics_sample_t *s) {
  const mxs_stats_t *st = s->stats;
  double end = s->running ? s->now : (double)st->finished;
  head(fp, "mxscan_run_start_timestamp_seconds", "gauge", "When the run started, Unix time.");
  fprintf(fp, "mxscan_run_start_timestamp_seconds %lld\n", (long long)st->started);
  head(fp, "mxscan_run_duration_seconds", "gauge", "How long the run has taken so far; at its end, in all.");
  fprintf(fp, "mxscan_run_duration_seconds %.3f\n", end > (double)st->started ? end - (double)st->started : 0.0);
  head(fp, "mxscan_run_in_progress", "gauge", "1 while the run goes on, 0 once it has ended.");
  fprintf(fp, "mxscan_run_in_progress %d\n", s->running);
  if (m->last_success > 0) {
    head(fp, LAST_SUCCESS, "gauge",
         "When a run last completed (every domain scanned, every record written), Unix time; kept across runs.");
    fprintf(fp, LAST_SUCCESS " %.0f\n", m->last_success);
  }
  head(fp, "mxscan_domains_read_total", "counter", "Input domains read in this run.");
  fprintf(fp, "mxscan_domains_read_total %llu\n", (unsigned long long)s->domains_read);
  head(fp, "mxscan_records_total", "counter", "Records written in this run, by class.");
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    fprintf(fp, "mxscan_records_total{class=\"%s\"} %llu\n", mxs_class_name((mxs_class_t)i),
            (unsigned long long)st->probes[i]);
  head(fp, "mxscan_domains", "gauge",
       "Domains finished in this run, by their class (ok only when every record is, else the first failing class).");
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    fprintf(fp, "mxscan_domains{class=\"%s\"} %llu\n", mxs_class_name((mxs_class_t)i),
            (unsigned long long)st->domains[i]);
  head(fp, "mxscan_probes_in_flight", "gauge", "Probes running now.");
  fprintf(fp, "mxscan_probes_in_flight %llu\n", (unsigned long long)s->in_flight);
  head(fp, "mxscan_probes_queued", "gauge", "Probes waiting for the politeness limits.");
  fprintf(fp, "mxscan_probes_queued %llu\n", (unsigned long long)s->queued);
  head(fp, "mxscan_verify_cache_lookups_total", "counter", "Certificate chain verifications looked up in the cache.");
  fprintf(fp, "mxscan_verify_cache_lookups_total %llu\n", (unsigned long long)s->verify_lookups);
  head(fp, "mxscan_verify_cache_hits_total", "counter", "Chain verifications answered from the cache.");
  fprintf(fp, "mxscan_verify_cache_hits_total %llu\n", (unsigned long long)s->verify_hits);
  head(fp, "mxscan_input_lines_rejected_total", "counter", "Input lines that were not domain names.");
  fprintf(fp, "mxscan_input_lines_rejected_total %llu\n", (unsigned long long)st->lines_rejected);
  head(fp, "mxscan_input_lines_duplicate_total", "counter",
       "Input lines skipped because an earlier line gave the same domain.");
  fprintf(fp, "mxscan_input_lines_duplicate_total %llu\n", (unsigned long long)st->lines_duplicate);
  head(fp, "mxscan_smtp_connects_total", "counter",
       "Probes whose TCP connection to the SMTP port was made, or failed.");
  fprintf(fp, "mxscan_smtp_connects_total{result=\"connected\"} %llu\n", (unsigned long long)st->egress.connected);
  fprintf(fp, "mxscan_smtp_connects_total{result=\"failed\"} %llu\n", (unsigned long long)st->egress.failed);
  head(fp, "mxscan_egress_blocked", "gauge",
       "1 when not one connection got through to many providers: this machine's outbound SMTP port is probably "
       "blocked.");
  fprintf(fp, "mxscan_egress_blocked %d\n", st->egress_blocked[0] ? 1 : 0);
  head(fp, "mxscan_write_errors_total", "counter", "Records an output could not take.");
  fprintf(fp, "mxscan_write_errors_total %llu\n", (unsigned long long)st->write_errors);
  head(fp, "mxscan_unfinished_records_total", "counter", "Records of probes the end of the run cut short.");
  fprintf(fp, "mxscan_unfinished_records_total %llu\n", (unsigned long long)st->unfinished);
  providers(fp, m);
}

int mxs_metrics_write(mxs_metrics_t *m, const mxs_metrics_sample_t *s, char *err, size_t errlen) {
  if (!s->running && s->success) m->last_success = (double)s->stats->finished;
  mxs_replace_t out;
  int rc = mxs_replace_open(&out, m->tmpl);
  if (rc == 0) {
    body(out.fp, m, s);
    rc = mxs_replace_commit(&out, m->path);
  }
  if (rc < 0) snprintf(err, errlen, "--metrics %s: %s", m->path, strerror(-rc));
  return rc < 0 ? -1 : 0;
}

static void free_prov(void *arg, const char *key, void *val) {
  (void)arg, (void)key;
  free(val);
}

void mxs_metrics_free(mxs_metrics_t *m) {
  if (!m) return;
  mxs_table_each(&m->providers, free_prov, NULL);
  mxs_table_free(&m->providers);
  free(m->path);
  free(m->tmpl);
  free(m);
}
