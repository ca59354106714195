/* report_out.c - `mxscan report` output: text tables for people, --json
 * for pipelines, --tlsrpt for RFC 8460 consumers.  All three print the same
 * sorted view of the aggregates, built once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report_int.h"
#include "results/record.h"

/* A domain "cannot receive mail over TLS" when no record of it is ok, and
 * none is excluded: an excluded MX host or address was not probed, so
 * nothing is known about it. */
static const mxs_class_set_t tls_or_unknown = MXS_CLASS_BIT(MXS_CLASS_OK) | MXS_CLASS_BIT(MXS_CLASS_EXCLUDED);

typedef mxs_rview_t view_t;

static int by_probes(const void *a, const void *b) {
  const mxs_rprovider_t *x = *(const mxs_rprovider_t *const *)a, *y = *(const mxs_rprovider_t *const *)b;
  if (x->probes != y->probes) return x->probes < y->probes ? 1 : -1;
  return strcmp(x->name, y->name);
}

static int by_count(const void *a, const void *b) {
  const mxs_rcount_t *x = *(const mxs_rcount_t *const *)a, *y = *(const mxs_rcount_t *const *)b;
  if (x->n != y->n) return x->n < y->n ? 1 : -1;
  return strcmp(x->name, y->name);
}

static int by_days_left(const void *a, const void *b) {
  const mxs_rexpiring_t *x = a, *y = b;
  if (x->days_left != y->days_left) return x->days_left < y->days_left ? -1 : 1;
  int c = strcmp(x->domain, y->domain);
  if (c) return c;
  return (c = strcmp(x->mx, y->mx)) ? c : strcmp(x->sha256, y->sha256);
}

/* Sorts the expiring list and drops repeats of a (domain, MX, certificate):
 * every address of an MX host serves its certificate again. */
static size_t expiring_unique(mxs_report_t *r) {
  if (!r->nexpiring) return 0;
  qsort(r->expiring, r->nexpiring, sizeof *r->expiring, by_days_left);
  size_t n = 1;
  for (size_t i = 1; i < r->nexpiring; i++) {
    const mxs_rexpiring_t *p = &r->expiring[n - 1], *e = &r->expiring[i];
    if (strcmp(p->domain, e->domain) || strcmp(p->mx, e->mx) || strcmp(p->sha256, e->sha256)) r->expiring[n++] = *e;
  }
  return r->nexpiring = n;
}

void mxs_report_view_free(view_t *v) {
  free(v->domains);
  free(v->providers);
  free(v->versions);
  free(v->ciphers);
}

int mxs_report_view_build(mxs_report_t *r, view_t *v) {
  *v = (view_t){.ndomains = r->domains.len,
                .nproviders = r->providers.len,
                .nversions = r->versions.len,
                .nciphers = r->ciphers.len};
  v->domains = (mxs_rdomain_t **)mxs_report_table_values(&r->domains, mxs_report_cmp_name);
  v->providers = (mxs_rprovider_t **)mxs_report_table_values(&r->providers, by_probes);
  v->versions = (mxs_rcount_t **)mxs_report_table_values(&r->versions, by_count);
  v->ciphers = (mxs_rcount_t **)mxs_report_table_values(&r->ciphers, by_count);
  if (!v->domains || !v->providers || !v->versions || !v->ciphers) {
    mxs_report_view_free(v);
    return -ENOMEM;
  }
  for (size_t i = 0; i < v->ndomains; i++) {
    mxs_class_set_t seen = v->domains[i]->seen;
    v->dclass[mxs_domain_class(seen)]++;
    v->no_tls += !(seen & tls_or_unknown);
    for (int l = 0; l < MXS_LEVELS_COMPUTED; l++)
      v->delivery[l][mxs_delivery_fold_result(&v->domains[i]->delivery.level[l])]++;
  }
  v->nexpiring = expiring_unique(r);
  return 0;
}

/* ---- text ------------------------------------------------------------------ */

static double pct(uint64_t n, uint64_t total) { return total ? 100.0 * (double)n / (double)total : 0.0; }

static const char *num(mxs_report_t *r, uint64_t n) {
  return mxs_arena_printf(&r->arena, "%llu", (unsigned long long)n);
}
static const char *percent(mxs_report_t *r, uint64_t n, uint64_t total) {
  return mxs_arena_printf(&r->arena, "%.1f%%", pct(n, total));
}

/* How many rows of a long table to print (--top). */
static size_t shown(const mxs_report_t *r, size_t n) { return r->o.top && n > r->o.top ? r->o.top : n; }

static int text_classes(mxs_report_t *r, const view_t *v, FILE *fp) {
  mxs_tab_t t;
  mxs_tab_init(&t, 5, 0x1e);
  const char *head[] = {"class", "domains", "%", "probes", "%"};
  int rc = mxs_tab_row(&t, head);
  for (int i = 0; i < MXS_CLASS_COUNT && rc == 0; i++) {
    if (!v->dclass[i] && !r->probes[i]) continue;
    const char *row[] = {mxs_class_name((mxs_class_t)i), num(r, v->dclass[i]), percent(r, v->dclass[i], v->ndomains),
                         num(r, r->probes[i]), percent(r, r->probes[i], r->nprobes)};
    rc = mxs_tab_row(&t, row);
  }
  const char *total[] = {"total", num(r, v->ndomains), "", num(r, r->nprobes), ""};
  if (rc == 0) rc = mxs_tab_row(&t, total);
  fprintf(fp, "\nClasses (a domain is ok only when all its records are, else its first failing class)\n");
  if (rc == 0) mxs_tab_print(&t, fp);
  mxs_tab_free(&t);
  return rc;
}

static uint64_t unknown_domains(const view_t *v) {
  uint64_t n = 0;
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) n += v->delivery[l][MXS_OUTCOME_UNKNOWN];
  return n;
}

/* Per level, the domains whose mail a sender delivers over TLS, in the
 * clear, or not at all (results/delivery.h; README "What happens to the
 * mail"). */
static int text_delivery(mxs_report_t *r, const view_t *v, FILE *fp) {
  int unknown = unknown_domains(v) > 0;
  mxs_tab_t t;
  mxs_tab_init(&t, unknown ? 9 : 7, 0x1fe);
  const char *head[] = {"level", "tls", "%", "cleartext", "%", "deferred", "%", "unknown", "%"};
  int rc = mxs_tab_row(&t, head);
  for (int l = 0; l < MXS_LEVELS_COMPUTED && rc == 0; l++) {
    const uint64_t *d = v->delivery[l];
    const char *row[9] = {mxs_level_name((mxs_level_t)l)};
    for (int o = 0; o < MXS_OUTCOMES + unknown; o++) {
      row[1 + 2 * o] = num(r, d[o]);
      row[2 + 2 * o] = percent(r, d[o], v->ndomains);
    }
    rc = mxs_tab_row(&t, row);
  }
  fprintf(fp, "\nDelivery (domains: what a sender does with the mail at each smtp_tls_security_level)\n");
  if (rc == 0) mxs_tab_print(&t, fp);
  fprintf(fp,
          "  dane: DANE where the MX host has secure TLSA records, else may\n"
          "  mta-sts: MTA-STS where the domain has an enforce policy, else may\n");
  if (unknown)
    fprintf(fp,
            "  unknown: the records do not say: a policy not checked (dane: a scan without --dnssec, mta-sts:\n"
            "    --no-policy), or records of an older mxscan where the class does not decide\n");
  mxs_tab_free(&t);
  return rc;
}

/* "tcp-timeout 12, cert-expired 3": the three most frequent failures. */
static const char *top_failures(mxs_report_t *r, const mxs_rprovider_t *p) {
  char buf[256] = "";
  size_t len = 0;
  uint64_t used = 0;
  for (int k = 0; k < 3; k++) {
    int best = -1;
    for (int i = 0; i < MXS_CLASS_COUNT; i++)
      if (p->fails[i] && !(used & (UINT64_C(1) << i)) && (best < 0 || p->fails[i] > p->fails[best])) best = i;
    if (best < 0) break;
    used |= UINT64_C(1) << best;
    int n = snprintf(buf + len, sizeof buf - len, "%s%s %llu", k ? ", " : "", mxs_class_name((mxs_class_t)best),
                     (unsigned long long)p->fails[best]);
    if (n < 0 || (size_t)n >= sizeof buf - len) break;
    len += (size_t)n;
  }
  return mxs_arena_strdup(&r->arena, buf);
}

static int text_providers(mxs_report_t *r, const view_t *v, FILE *fp) {
  mxs_tab_t t;
  mxs_tab_init(&t, 4, 0x6);
  const char *head[] = {"provider", "probes", "ok", "top failures"};
  int rc = mxs_tab_row(&t, head);
  size_t n = shown(r, v->nproviders);
  for (size_t i = 0; i < n && rc == 0; i++) {
    const mxs_rprovider_t *p = v->providers[i];
    const char *row[] = {p->name, num(r, p->probes), percent(r, p->ok, p->probes), top_failures(r, p)};
    rc = mxs_tab_row(&t, row);
  }
  fprintf(fp, "\nProviders (registrable domain of the MX host): %zu", v->nproviders);
  if (n < v->nproviders) fprintf(fp, ", the %zu with the most probes", n);
  fputc('\n', fp);
  if (rc == 0 && v->nproviders) mxs_tab_print(&t, fp);
  mxs_tab_free(&t);
  return rc;
}

static int text_no_tls(const view_t *v, FILE *fp) {
  mxs_tab_t t;
  mxs_tab_init(&t, 2, 0);
  const char *head[] = {"domain", "class"};
  int rc = mxs_tab_row(&t, head);
  for (size_t i = 0; i < v->ndomains && rc == 0; i++) {
    const mxs_rdomain_t *d = v->domains[i];
    if (d->seen & tls_or_unknown) continue;
    const char *row[] = {d->name, mxs_class_name(mxs_domain_class(d->seen))};
    rc = mxs_tab_row(&t, row);
  }
  fprintf(fp, "\nDomains that cannot receive mail over TLS (no MX host is ok): %llu\n", (unsigned long long)v->no_tls);
  if (rc == 0 && v->no_tls) mxs_tab_print(&t, fp);
  mxs_tab_free(&t);
  return rc;
}

static int text_expiring(mxs_report_t *r, const view_t *v, FILE *fp) {
  mxs_tab_t t;
  mxs_tab_init(&t, 4, 0x8);
  const char *head[] = {"domain", "mx", "not_after", "days_left"};
  int rc = mxs_tab_row(&t, head);
  for (size_t i = 0; i < v->nexpiring && rc == 0; i++) {
    const mxs_rexpiring_t *e = &r->expiring[i];
    const char *row[] = {e->domain, e->mx, e->not_after, mxs_arena_printf(&r->arena, "%lld", (long long)e->days_left)};
    rc = mxs_tab_row(&t, row);
  }
  fprintf(fp, "\nCertificates expiring within %d days (negative: expired): %zu\n", r->o.expiring_days, v->nexpiring);
  if (rc == 0 && v->nexpiring) mxs_tab_print(&t, fp);
  mxs_tab_free(&t);
  return rc;
}

static int text_counts(mxs_report_t *r, const char *title, const char *col, mxs_rcount_t **c, size_t nc, uint64_t total,
                       FILE *fp) {
  mxs_tab_t t;
  mxs_tab_init(&t, 3, 0x6);
  const char *head[] = {col, "probes", "%"};
  int rc = mxs_tab_row(&t, head);
  size_t n = shown(r, nc);
  for (size_t i = 0; i < n && rc == 0; i++) {
    const char *row[] = {c[i]->name, num(r, c[i]->n), percent(r, c[i]->n, total)};
    rc = mxs_tab_row(&t, row);
  }
  fprintf(fp, "\n%s (of %llu handshakes): %zu", title, (unsigned long long)total, nc);
  if (n < nc) fprintf(fp, ", the %zu seen most", n);
  fputc('\n', fp);
  if (rc == 0 && nc) mxs_tab_print(&t, fp);
  mxs_tab_free(&t);
  return rc;
}

int mxs_report_print_text(mxs_report_t *r, FILE *fp) {
  view_t v;
  int rc = mxs_report_view_build(r, &v);
  if (rc < 0) return rc;
  fprintf(fp, "mxscan report: %llu records, %zu domains", (unsigned long long)r->nprobes, v.ndomains);
  if (r->first_at[0]) fprintf(fp, ", scanned %s .. %s", r->first_at, r->last_at);
  fputc('\n', fp);
  for (size_t i = 0; i < r->nfiles; i++)
    fprintf(fp, "  %s: %llu records\n", r->files[i].path, (unsigned long long)r->files[i].records);
  uint64_t handshakes = 0;
  for (size_t i = 0; i < v.nversions; i++) handshakes += v.versions[i]->n;
  if (rc == 0) rc = text_classes(r, &v, fp);
  if (rc == 0) rc = text_delivery(r, &v, fp);
  if (rc == 0) rc = text_providers(r, &v, fp);
  if (rc == 0) rc = text_no_tls(&v, fp);
  if (rc == 0) rc = text_expiring(r, &v, fp);
  if (rc == 0) rc = text_counts(r, "TLS versions", "version", v.versions, v.nversions, handshakes, fp);
  if (rc == 0) rc = text_counts(r, "Ciphers", "cipher", v.ciphers, v.nciphers, handshakes, fp);
  mxs_report_view_free(&v);
  if (rc == 0 && (fflush(fp) != 0 || ferror(fp))) rc = errno ? -errno : -EIO;
  return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_providers(const view_t *v, mxs_encoder_t *e) {
  e->key(e, "providers");
  e->array(e, v->nproviders);
  for (size_t i = 0; i < v->nproviders; i++) {
    const mxs_rprovider_t *p = v->providers[i];
    e->map(e, 4);
    mxs_enc_kv_str(e, "provider", p->name);
    mxs_enc_kv_int(e, "probes", (int64_t)p->probes);
    mxs_enc_kv_int(e, "ok", (int64_t)p->ok);
    e->key(e, "failures");
    e->map(e, 0);
    for (int c = 0; c < MXS_CLASS_COUNT; c++)
      if (p->fails[c]) mxs_enc_kv_int(e, mxs_class_name((mxs_class_t)c), (int64_t)p->fails[c]);
    e->end(e);
    e->end(e);
  }
  e->end(e);
}

static void json_lists(const mxs_report_t *r, const view_t *v, mxs_encoder_t *e) {
  e->key(e, "no_tls_domains");
  e->array(e, v->no_tls);
  for (size_t i = 0; i < v->ndomains; i++) {
    const mxs_rdomain_t *d = v->domains[i];
    if (d->seen & tls_or_unknown) continue;
    e->map(e, 2);
    mxs_enc_kv_str(e, "domain", d->name);
    mxs_enc_kv_str(e, "class", mxs_class_name(mxs_domain_class(d->seen)));
    e->end(e);
  }
  e->end(e);
  e->key(e, "expiring");
  e->map(e, 2);
  mxs_enc_kv_int(e, "days", r->o.expiring_days);
  e->key(e, "certificates");
  e->array(e, v->nexpiring);
  for (size_t i = 0; i < v->nexpiring; i++) {
    const mxs_rexpiring_t *x = &r->expiring[i];
    e->map(e, 5);
    mxs_enc_kv_str(e, "domain", x->domain);
    mxs_enc_kv_str(e, "mx", x->mx);
    mxs_enc_kv_str(e, "not_after", x->not_after);
    mxs_enc_kv_int(e, "days_left", x->days_left);
    mxs_enc_kv_str(e, "sha256", x->sha256);
    e->end(e);
  }
  e->end(e);
  e->end(e);
}

/* "delivery": {"may": {"tls": N, "cleartext": N, "deferred": N}, ...};
 * "unknown" only where some domain is. */
static void json_delivery(const view_t *v, mxs_encoder_t *e) {
  e->key(e, "delivery");
  e->map(e, MXS_LEVELS_COMPUTED);
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    const uint64_t *d = v->delivery[l];
    e->key(e, mxs_level_name((mxs_level_t)l));
    e->map(e, MXS_OUTCOMES + (d[MXS_OUTCOME_UNKNOWN] > 0));
    for (int o = 0; o <= MXS_OUTCOMES; o++)
      if (o < MXS_OUTCOMES || d[o]) mxs_enc_kv_int(e, mxs_outcome_name((mxs_outcome_t)o), (int64_t)d[o]);
    e->end(e);
  }
  e->end(e);
}

static void json_counts(mxs_encoder_t *e, const char *key, mxs_rcount_t **c, size_t n) {
  e->key(e, key);
  e->map(e, n);
  for (size_t i = 0; i < n; i++) mxs_enc_kv_int(e, c[i]->name, (int64_t)c[i]->n);
  e->end(e);
}

int mxs_report_print_json(mxs_report_t *r, FILE *fp) {
  view_t v;
  int rc = mxs_report_view_build(r, &v);
  if (rc < 0) return rc;
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->map(e, 0);
  e->key(e, "files");
  e->array(e, r->nfiles);
  for (size_t i = 0; i < r->nfiles; i++) {
    e->map(e, 2);
    mxs_enc_kv_str(e, "path", r->files[i].path);
    mxs_enc_kv_int(e, "records", (int64_t)r->files[i].records);
    e->end(e);
  }
  e->end(e);
  mxs_enc_kv_str(e, "first_scanned_at", r->first_at);
  mxs_enc_kv_str(e, "last_scanned_at", r->last_at);
  e->key(e, "domains");
  mxs_j_class_counts(e, v.dclass, v.ndomains);
  e->key(e, "probes");
  mxs_j_class_counts(e, r->probes, r->nprobes);
  json_delivery(&v, e);
  json_providers(&v, e);
  json_lists(r, &v, e);
  json_counts(e, "tls_versions", v.versions, v.nversions);
  json_counts(e, "ciphers", v.ciphers, v.nciphers);
  e->end(e);
  rc = mxs_json_emit(&j, fp);
  mxs_json_encoder_free(&j);
  mxs_report_view_free(&v);
  return rc;
}

/* ---- TLS-RPT (RFC 8460) ------------------------------------------------------ */

/* RFC 8460 4.4 for DANE: "tlsa", the TLSA records as published, the
 * domain and the MX hosts they are published for. */
static void tlsrpt_tlsa_map(const mxs_rdomain_t *d, mxs_encoder_t *e) {
  e->map(e, 4);
  mxs_enc_kv_str(e, "policy-type", "tlsa");
  e->key(e, "policy-string");
  e->array(e, d->ntlsa);
  for (const mxs_rstr_t *x = d->tlsa; x; x = x->next) e->str(e, x->s);
  e->end(e);
  mxs_enc_kv_str(e, "policy-domain", d->name);
  e->key(e, "mx-host");
  e->array(e, d->ndane_mx);
  for (const mxs_rstr_t *x = d->dane_mx; x; x = x->next) e->str(e, x->s);
  e->end(e);
  e->end(e);
}

/* RFC 8460 4.4: the policy type, the policy as lines (policy-string), the
 * domain and, for MTA-STS, its mx patterns (mx-host).  A domain that
 * announces MTA-STS but whose policy could not be fetched or read is "sts"
 * without the strings.  RFC 8460 has one policy per entry: where DANE
 * applies to an MX host of the domain, it is "tlsa", MTA-STS or not, since
 * a sender that does both applies DANE there (RFC 8461 2). */
static void tlsrpt_policy_map(const mxs_rdomain_t *d, mxs_encoder_t *e, mxs_arena_t *a) {
  if (d->dane_mx) {
    tlsrpt_tlsa_map(d, e);
    return;
  }
  int strings = d->sts && d->sts_mode;
  e->map(e, 2 + 2 * strings);
  mxs_enc_kv_str(e, "policy-type", d->sts ? "sts" : "no-policy-found");
  if (strings) {
    e->key(e, "policy-string");
    e->array(e, 3 + d->sts_nmx);
    e->str(e, "version: STSv1");
    const char *m = mxs_arena_printf(a, "mode: %s", d->sts_mode);
    e->str(e, m ? m : "");
    for (size_t i = 0; i < d->sts_nmx; i++) {
      const char *x = mxs_arena_printf(a, "mx: %s", d->sts_mx[i]);
      e->str(e, x ? x : "");
    }
    const char *age = mxs_arena_printf(a, "max_age: %lld", (long long)d->sts_max_age);
    e->str(e, age ? age : "");
    e->end(e);
  }
  mxs_enc_kv_str(e, "policy-domain", d->name);
  if (strings) {
    e->key(e, "mx-host");
    e->array(e, d->sts_nmx);
    for (size_t i = 0; i < d->sts_nmx; i++) e->str(e, d->sts_mx[i]);
    e->end(e);
  }
  e->end(e);
}

static void tlsrpt_policy(const mxs_rdomain_t *d, mxs_encoder_t *e, mxs_arena_t *a) {
  e->map(e, 3);
  e->key(e, "policy");
  tlsrpt_policy_map(d, e, a);
  e->key(e, "summary");
  e->map(e, 2);
  mxs_enc_kv_int(e, "total-successful-session-count", (int64_t)d->tls_ok);
  mxs_enc_kv_int(e, "total-failure-session-count", (int64_t)d->tls_fail);
  e->end(e);
  e->key(e, "failure-details");
  e->array(e, 0);
  for (const mxs_rfail_t *f = d->fails; f; f = f->next) {
    e->map(e, 0);
    mxs_enc_kv_str(e, "result-type", f->type);
    if (f->mx) mxs_enc_kv_str(e, "receiving-mx-hostname", f->mx);
    if (f->ip) mxs_enc_kv_str(e, "receiving-ip", f->ip);
    mxs_enc_kv_int(e, "failed-session-count", (int64_t)f->count);
    /* RFC 8460 has both: a free-text reason code and further information */
    mxs_enc_kv_str(e, "failure-reason-code", f->detail);
    mxs_enc_kv_str(e, "additional-information", f->detail);
    e->end(e);
  }
  e->end(e);
  e->end(e);
}

int mxs_report_print_tlsrpt(mxs_report_t *r, FILE *fp) {
  view_t v;
  int rc = mxs_report_view_build(r, &v);
  if (rc < 0) return rc;
  char now[24];
  mxs_rfc3339((int64_t)time(NULL), now);
  const char *start = r->first_at[0] ? r->first_at : now, *end = r->last_at[0] ? r->last_at : now;
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->map(e, 5);
  mxs_enc_kv_str(e, "organization-name", "mxscan");
  e->key(e, "date-range");
  e->map(e, 2);
  mxs_enc_kv_str(e, "start-datetime", start);
  mxs_enc_kv_str(e, "end-datetime", end);
  e->end(e);
  mxs_enc_kv_str(e, "contact-info", r->o.contact);
  const char *id = mxs_arena_printf(&r->arena, "mxscan-%s-%s", start, end);
  mxs_enc_kv_str(e, "report-id", id ? id : "mxscan");
  e->key(e, "policies");
  e->array(e, 0);
  for (size_t i = 0; i < v.ndomains; i++) /* a domain with no TLS session has nothing to report */
    if (v.domains[i]->tls_ok + v.domains[i]->tls_fail) tlsrpt_policy(v.domains[i], e, &r->arena);
  e->end(e);
  e->end(e);
  rc = mxs_json_emit(&j, fp);
  mxs_json_encoder_free(&j);
  mxs_report_view_free(&v);
  return rc;
}
