/* stats.c - the end-of-run class table and summary file. */
#include "scanner/stats.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "results/record.h"

static double pct(uint64_t n, uint64_t total) { return total ? 100.0 * (double)n / (double)total : 0.0; }

/* A policy level the run did not check (dane without --dnssec, mta-sts
 * with --no-policy): every domain unknown there, or deferred whatever the
 * policy.  Its row would say nothing. */
static int unchecked(const mxs_stats_t *s, int l) {
  const uint64_t *d = s->delivery[l];
  return l >= MXS_LEVELS_TLS && d[MXS_OUTCOME_UNKNOWN] && !d[MXS_OUTCOME_TLS] && !d[MXS_OUTCOME_CLEARTEXT];
}

/* Domains by what a sender does with their mail at each level. */
static void print_delivery(const mxs_stats_t *s, FILE *fp) {
  uint64_t unknown = 0;
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) unknown += unchecked(s, l) ? 0 : s->delivery[l][MXS_OUTCOME_UNKNOWN];
  fprintf(fp, "\n%-26s %9s %9s %9s%s  %s\n", "delivery (domains)", "tls", "cleartext", "deferred",
          unknown ? "   unknown" : "", "what a sender at each smtp_tls_security_level does with the mail");
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    const uint64_t *d = s->delivery[l];
    if (unchecked(s, l)) {
      fprintf(fp, "%-26s not checked (%s)\n", mxs_level_name((mxs_level_t)l),
              l == MXS_LEVEL_DANE ? "DANE: --dnssec" : "MTA-STS: --no-policy");
      continue;
    }
    fprintf(fp, "%-26s %9llu %9llu %9llu", mxs_level_name((mxs_level_t)l), (unsigned long long)d[MXS_OUTCOME_TLS],
            (unsigned long long)d[MXS_OUTCOME_CLEARTEXT], (unsigned long long)d[MXS_OUTCOME_DEFERRED]);
    if (unknown) fprintf(fp, " %9llu", (unsigned long long)d[MXS_OUTCOME_UNKNOWN]);
    fprintf(fp, "%s\n", l == s->sender_level ? "  (--sender-level)" : "");
  }
}

void mxs_stats_print(const mxs_stats_t *s, FILE *fp) {
  fprintf(fp, "\n%-26s %9s %7s %9s %7s  %s\n", "class", "domains", "%", "probes", "%", "what it means");
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    if (!s->domains[i] && !s->probes[i]) continue;
    fprintf(fp, "%-26s %9llu %6.1f%% %9llu %6.1f%%  %s\n", mxs_class_name((mxs_class_t)i),
            (unsigned long long)s->domains[i], pct(s->domains[i], s->ndomains), (unsigned long long)s->probes[i],
            pct(s->probes[i], s->nprobes), mxs_class_hint((mxs_class_t)i));
  }
  fprintf(fp, "%-26s %9llu %7s %9llu\n", "total", (unsigned long long)s->ndomains, "", (unsigned long long)s->nprobes);
  print_delivery(s, fp);
  if (s->lines_rejected)
    fprintf(fp, "%llu input line(s) rejected (see the errors above)\n", (unsigned long long)s->lines_rejected);
  if (s->lines_duplicate)
    fprintf(fp, "%llu input line(s) repeated a domain of an earlier line: skipped, one record per domain\n",
            (unsigned long long)s->lines_duplicate);
  if (s->write_errors)
    fprintf(fp, "WARNING: %llu record(s) could not be written\n", (unsigned long long)s->write_errors);
  if (s->unfinished)
    fprintf(fp, "%llu record(s) unfinished: the run ended before their probe did (\"unfinished\": true)\n",
            (unsigned long long)s->unfinished);
  if (s->sni_probes)
    fprintf(fp,
            "%llu extra probe(s) for MX names an address's first certificate did not cover; %llu address(es) chose "
            "their certificate by name\n",
            (unsigned long long)s->sni_probes, (unsigned long long)s->sni_addresses);
  if (s->dns_outages)
    fprintf(fp, "the resolver stopped answering %u time(s), %.1f s in all%s\n", s->dns_outages,
            (double)s->dns_down_ms / 1000.0, s->dns_gave_up ? "; the run gave up on it (--dns-down-limit)" : "");
  if (s->dns_drops)
    fprintf(fp,
            "the resolver %s dropped %llu of our queries (its socket's receive buffer was full, says its kernel): "
            "mxscan then kept to at most %zu at once; give it a larger buffer (unbound: so-rcvbuf: 4m, and "
            "sysctl net.core.rmem_max at least that)\n",
            s->dns_servers, (unsigned long long)s->dns_drops, s->dns_window_lowest);
  if (s->dns_reasked)
    fprintf(fp,
            "%zu DNS lookup(s) went unanswered while the resolver answered others, and were asked again (a resolver "
            "that drops bursts of queries: give it a larger socket buffer, unbound's so-rcvbuf)\n",
            s->dns_reasked);
  if (s->local_shortages)
    fprintf(fp, "%llu probe start(s) hit our own shortage of descriptors or ports: throttled and retried\n",
            (unsigned long long)s->local_shortages);
  if (s->interrupted) fprintf(fp, "WARNING: the run was interrupted before the end of the input\n");
  if (s->input_error[0])
    fprintf(fp, "WARNING: the input could not be read to its end (%s): the domains after it were not scanned\n",
            s->input_error);
  if (s->egress_blocked[0]) fprintf(fp, "WARNING: %s\n", s->egress_blocked);
}

static void write_counts(FILE *fp, const char *name, const uint64_t *counts, uint64_t total) {
  fprintf(fp, "  \"%s\": {\"total\": %llu, \"classes\": {", name, (unsigned long long)total);
  int first = 1;
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    if (!counts[i]) continue;
    fprintf(fp, "%s\"%s\": %llu", first ? "" : ", ", mxs_class_name((mxs_class_t)i), (unsigned long long)counts[i]);
    first = 0;
  }
  fprintf(fp, "}}");
}

/* A JSON string of TEXT (the settings carry user strings: quotes, file names). */
static void json_str(FILE *fp, const char *text) {
  fputc('"', fp);
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(fp, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(fp, "\\u%04x", *p);
    else
      fputc(*p, fp);
  }
  fputc('"', fp);
}

struct lines {
  FILE *fp;
  int n;
};

static void settings_line(void *arg, const char *text) {
  struct lines *l = arg;
  fputs(l->n++ ? ", " : "", l->fp);
  json_str(l->fp, text);
}

/* The sender profile, as records name it, and exactly what it set. */
static void write_profile(FILE *fp, const mxs_stats_t *s) {
  fprintf(fp, "  \"profile\": \"%s%s\",\n  \"profile_settings\": [", s->profile, s->profile_custom ? "+custom" : "");
  struct lines l = {fp, 0};
  mxs_tls_settings_describe(&s->tls, settings_line, &l);
  fprintf(fp, "],\n");
}

/* "delivery": {"may": {"tls": N, "cleartext": N, "deferred": N}, ...},
 * "sender_level": "may", and "unknown" only where some domain is. */
static void write_delivery(FILE *fp, const mxs_stats_t *s) {
  fprintf(fp, "  \"delivery\": {");
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    const uint64_t *d = s->delivery[l];
    fprintf(fp, "%s\"%s\": {\"tls\": %llu, \"cleartext\": %llu, \"deferred\": %llu", l ? ", " : "",
            mxs_level_name((mxs_level_t)l), (unsigned long long)d[MXS_OUTCOME_TLS],
            (unsigned long long)d[MXS_OUTCOME_CLEARTEXT], (unsigned long long)d[MXS_OUTCOME_DEFERRED]);
    if (d[MXS_OUTCOME_UNKNOWN]) fprintf(fp, ", \"unknown\": %llu", (unsigned long long)d[MXS_OUTCOME_UNKNOWN]);
    fputc('}', fp);
  }
  fprintf(fp, "},\n  \"sender_level\": \"%s\",\n", mxs_level_name((mxs_level_t)s->sender_level));
}

int mxs_stats_write_json(const mxs_stats_t *s, const char *path, char *err, size_t errlen) {
  FILE *fp = fopen(path, "w");
  if (!fp) {
    int e = errno;
    snprintf(err, errlen, "cannot write summary '%s': %s", path, strerror(e));
    return -e;
  }
  char a[24], b[24];
  mxs_rfc3339(s->started, a);
  mxs_rfc3339(s->finished, b);
  fprintf(fp, "{\n  \"started_at\": \"%s\",\n  \"finished_at\": \"%s\",\n", a, b);
  fprintf(fp, "  \"elapsed_s\": %lld,\n", (long long)(s->finished - s->started));
  write_counts(fp, "domains", s->domains, s->ndomains);
  fprintf(fp, ",\n");
  write_counts(fp, "probes", s->probes, s->nprobes);
  fprintf(fp,
          ",\n  \"lines_rejected\": %llu,\n  \"lines_duplicate\": %llu,\n  \"write_errors\": %llu,\n"
          "  \"unfinished\": %llu,\n  \"interrupted\": %s,\n  \"verify_cache\": {\"lookups\": %llu, \"hits\": %llu},\n",
          (unsigned long long)s->lines_rejected, (unsigned long long)s->lines_duplicate,
          (unsigned long long)s->write_errors, (unsigned long long)s->unfinished, s->interrupted ? "true" : "false",
          (unsigned long long)s->verify_lookups, (unsigned long long)s->verify_hits);
  fprintf(fp, "  \"input_error\": ");
  if (s->input_error[0])
    json_str(fp, s->input_error);
  else
    fputs("null", fp);
  fprintf(fp, ",\n  \"egress\": {\"connected\": %llu, \"failed_at_connect\": %llu, \"blocked\": %s}",
          (unsigned long long)s->egress.connected, (unsigned long long)s->egress.failed,
          s->egress_blocked[0] ? "true" : "false");
  fprintf(fp, ",\n  \"sni\": {\"name_probes\": %llu, \"addresses_by_name\": %llu},\n",
          (unsigned long long)s->sni_probes, (unsigned long long)s->sni_addresses);
  if (s->profile) write_profile(fp, s);
  write_delivery(fp, s);
  fprintf(fp, "  \"dns_outages\": {\"count\": %u, \"down_s\": %.1f, \"gave_up\": %s},\n", s->dns_outages,
          (double)s->dns_down_ms / 1000.0, s->dns_gave_up ? "true" : "false");
  fprintf(fp, "  \"dns_reasked\": %zu,\n", s->dns_reasked);
  if (s->dns_drops_known)
    fprintf(fp, "  \"dns_server_drops\": {\"drops\": %llu, \"lowest_window\": %zu},\n",
            (unsigned long long)s->dns_drops, s->dns_window_lowest);
  else
    fprintf(fp, "  \"dns_server_drops\": null,\n");
  fprintf(fp, "  \"local_shortages\": %llu,\n", (unsigned long long)s->local_shortages);
  if (s->policy_checked)
    fprintf(fp,
            "  \"policy\": {\"lookups\": %llu, \"cache_hits\": %llu, \"sts\": %llu, \"sts_fetched\": %llu, "
            "\"sts_from_cache\": %llu, \"sts_fetch_errors\": %llu, \"sts_invalid\": %llu, \"tlsrpt\": %llu},\n",
            (unsigned long long)s->policy.lookups, (unsigned long long)s->policy.cache_hits,
            (unsigned long long)s->policy.sts, (unsigned long long)s->policy.fetched,
            (unsigned long long)s->policy.from_cache, (unsigned long long)s->policy.fetch_errors,
            (unsigned long long)s->policy.invalid, (unsigned long long)s->policy.tlsrpt);
  if (s->dane_checked)
    fprintf(fp, "  \"dane\": {\"tlsa_lookups\": %llu, \"dane_probes\": %llu},\n", (unsigned long long)s->tlsa_lookups,
            (unsigned long long)s->dane_probes);
  /* What the run cost this machine so far (every thread), for the operator
   * who sizes the nightly box from the summaries. */
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) memset(&ru, 0, sizeof ru);
  fprintf(fp, "  \"resources\": {\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"peak_rss_kib\": %ld}\n}\n",
          (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
          (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
  if (fclose(fp) != 0) {
    int e = errno;
    snprintf(err, errlen, "cannot write summary '%s': %s", path, strerror(e));
    return -e;
  }
  return 0;
}

void mxs_stats_add_delivery(mxs_stats_t *s, const mxs_delivery_domain_t *d, mxs_class_t cls) {
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    mxs_outcome_t o = mxs_delivery_fold_result(&d->level[l]);
    s->delivery[l][o]++;
    if (l == s->sender_level && o == MXS_OUTCOME_DEFERRED) s->deferred[cls]++;
  }
}

int mxs_stats_should_alert(const mxs_stats_t *s, mxs_class_set_t fail_on, int fail_deferred, double ratio) {
  uint64_t failing = 0, deferred = 0;
  int given = fail_on || fail_deferred;
  /* An excluded domain was not scanned: it is no failure, and no share of
   * the domains either (unless --fail-on names the class). */
  uint64_t scanned = s->ndomains - (fail_on & MXS_CLASS_BIT(MXS_CLASS_EXCLUDED) ? 0 : s->domains[MXS_CLASS_EXCLUDED]);
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    int counts = given ? (fail_on & MXS_CLASS_BIT(i)) != 0 : i != MXS_CLASS_OK && i != MXS_CLASS_EXCLUDED;
    if (fail_on && counts && s->probes[i] && ratio <= 0) return 1;
    /* a deferred domain of a listed class is counted once, under its class */
    if (counts)
      failing += s->domains[i];
    else if (fail_deferred)
      failing += s->deferred[i];
    deferred += s->deferred[i];
  }
  if (fail_deferred && deferred && ratio <= 0) return 1;
  return ratio > 0 && scanned > 0 && (double)failing / (double)scanned > ratio;
}
