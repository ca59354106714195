/* report_html.c - `mxscan report --html`: the page, the run, the classes,
 * failures by stage, providers and the sender-level outcomes.  The domain
 * tables and the trend are in report_html_lists.c. */
#include "report/report_html.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/html.h"
#include "report/report_html_int.h"
#include "report/svg_chart.h"
#include "results/delivery.h"
#include "results/explain.h"
#include "results/record.h"

/* ---- shared helpers --------------------------------------------------------- */

static const char *const group_names[HG_COUNT] = {"DNS", "TCP",         "SMTP",      "STARTTLS",
                                                  "TLS", "certificate", "after TLS", "ok"};
static const char *const group_colors[HG_COUNT] = {"#6d7f99", "#e08a1e", "#9c6b30", "#d1495b",
                                                   "#7b4fb0", "#c2185b", "#455a64", "#2e7d32"};

/* By the class's stage, so a class added to the table lands in its stage
 * without a change here; STARTTLS classes are told by name (the stage of
 * starttls-not-offered is "ehlo", where it is found). */
hgroup_t mxs_html_group(mxs_class_t c) {
  const char *stage = mxs_class_stage(c), *name = mxs_class_name(c);
  if (!strncmp(name, "starttls-", 9) || !strcmp(stage, "starttls")) return HG_STARTTLS;
  if (!strcmp(stage, "dns")) return HG_DNS;
  if (!strcmp(stage, "connect")) return HG_TCP;
  if (!strcmp(stage, "banner") || !strcmp(stage, "ehlo")) return HG_SMTP;
  if (!strcmp(stage, "tls")) return HG_TLS;
  if (!strcmp(stage, "cert")) return HG_CERT;
  if (!strcmp(stage, "done")) return HG_OK;
  return HG_POST;
}

const char *mxs_html_group_name(hgroup_t g) { return group_names[g]; }
const char *mxs_html_group_color(hgroup_t g) { return group_colors[g]; }

void mxs_html_num(FILE *fp, uint64_t n) {
  char raw[32];
  int k = snprintf(raw, sizeof raw, "%llu", (unsigned long long)n);
  for (int i = 0; i < k; i++) {
    if (i && (k - i) % 3 == 0) fputc(',', fp);
    fputc(raw[i], fp);
  }
}

void mxs_html_td_num(FILE *fp, uint64_t n) {
  fprintf(fp, "<td class=\"num\" data-v=\"%llu\">", (unsigned long long)n);
  mxs_html_num(fp, n);
  fputs("</td>", fp);
}

void mxs_html_td(FILE *fp, const char *s) {
  fputs("<td>", fp);
  mxs_html_text(fp, s);
  fputs("</td>", fp);
}

void mxs_html_pct(FILE *fp, uint64_t n, uint64_t total) {
  fprintf(fp, "%.1f%%", total ? 100.0 * (double)n / (double)total : 0.0);
}

size_t mxs_html_rows(const mxs_report_t *r, size_t n) { return r->o.rows && n > r->o.rows ? r->o.rows : n; }

void mxs_html_cut_note(FILE *fp, size_t shown, size_t n, const char *what) {
  if (shown >= n) return;
  fprintf(fp,
          "<p class=\"note cut\">The first %zu of %zu %s are listed (<code>--rows N</code>, 0 for all; "
          "<code>mxscan report --json</code> has every one).</p>\n",
          shown, n, what);
}

/* ---- the page ------------------------------------------------------------------ */

/* Sorts a table by the column whose header is clicked (again: the other
 * way).  Numbers sort by their data-v value. */
static const char sort_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "  function key(td, num) {\n"
    "    var v = td.getAttribute('data-v');\n"
    "    if (v === null) v = td.textContent;\n"
    "    return num ? parseFloat(v) : v.toLowerCase();\n"
    "  }\n"
    "  function sort(table, th, col) {\n"
    "    var num = th.classList.contains('num') || th.classList.contains('ord');\n"
    "    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;\n"
    "    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); });\n"
    "    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');\n"
    "    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = key(a.cells[col], num), y = key(b.cells[col], num);\n"
    "      return (x < y ? -1 : x > y ? 1 : 0) * dir;\n"
    "    });\n"
    "    var frag = document.createDocumentFragment();\n"
    "    rows.forEach(function (r) { frag.appendChild(r); });\n"
    "    body.appendChild(frag);\n"
    "  }\n"
    "  document.querySelectorAll('table.sortable').forEach(function (table) {\n"
    "    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {\n"
    "      th.tabIndex = 0;\n"
    "      th.addEventListener('click', function () { sort(table, th, col); });\n"
    "      th.addEventListener('keydown', function (e) {\n"
    "        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(table, th, col); }\n"
    "      });\n"
    "    });\n"
    "  });\n"
    "})();\n";

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1200px;"
    "padding:0 20px 40px;color:#1d232b;background:#fff}\n"
    "h1{font-size:24px;margin:20px 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d7dce2;"
    "padding-bottom:4px}\n"
    "nav a{margin-right:12px}p.note{color:#5b6672}p.warn{color:#a3320b;font-weight:600}\n"
    "table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #d7dce2;padding:3px 7px;"
    "text-align:left;vertical-align:top}\n"
    "th{background:#eef1f4;white-space:nowrap}table.sortable th{cursor:pointer}"
    "table.sortable th[aria-sort=ascending]::after{content:' \\25B2'}"
    "table.sortable th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.detail{max-width:360px;overflow-wrap:anywhere}td.fix{max-width:420px;color:#34404c}\n"
    "div.banner{color:#5b6672;font-family:ui-monospace,monospace;font-size:12px;overflow-wrap:anywhere}\n"
    "code{font-family:ui-monospace,monospace;white-space:nowrap}span.sw{display:inline-block;width:10px;height:10px;"
    "margin-right:5px;border-radius:2px}\n"
    "svg.chart{display:block;margin:8px 0;font:12px system-ui,sans-serif}svg.chart text{fill:#1d232b}"
    "svg.chart text.tick{fill:#5b6672}\n"
    "dl.run{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dl.run dt{color:#5b6672}"
    "dl.run dd{margin:0}\n";

/* The CSP hash source of the inline script: 'sha256-BASE64'. */
static int script_hash(char out[64]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(sort_js, sizeof sort_js - 1, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -1;
  EVP_EncodeBlock((unsigned char *)out, md, 32); /* 44 characters and a NUL */
  return 0;
}

static int page_head(const mxs_report_t *r, const char *label, FILE *fp) {
  char hash[64];
  if (script_hash(hash) < 0) return -ENOMEM;
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", fp);
  /* nothing but the page itself: no request can leave it */
  fprintf(fp,
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'sha256-%s'; img-src data:; base-uri 'none'; form-action 'none'\">\n",
          hash);
  fputs(
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" "
      "content=\"mxscan\">\n<title>mxscan report: ",
      fp);
  mxs_html_text(fp, label);
  fprintf(fp, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
  char now[24];
  mxs_rfc3339((int64_t)time(NULL), now);
  fputs("<header><h1>mxscan report</h1>\n<p class=\"note\">", fp);
  mxs_html_text(fp, label);
  fprintf(fp, " &middot; %zu domains, %llu probes &middot; written %s</p>\n", r->domains.len,
          (unsigned long long)r->nprobes, now);
  fputs(
      "<nav><a href=\"#run\">Run</a><a href=\"#classes\">Classes</a><a href=\"#stages\">Stages</a>"
      "<a href=\"#providers\">Providers</a><a href=\"#failing\">Failing domains</a>"
      "<a href=\"#expiring\">Certificates</a><a href=\"#trend\">Trend</a></nav>\n</header>\n",
      fp);
  return 0;
}

/* ---- the run ---------------------------------------------------------------------- */

static void dt(FILE *fp, const char *name) { fprintf(fp, "<dt>%s</dt><dd>", name); }

/* A value of RI as a definition row, when present. */
static int kv_row(FILE *fp, const mxs_run_info_t *ri, const char *key, const char *name, const char *unit) {
  const char *v = mxs_run_info_get(ri, key);
  if (!v) return 0;
  dt(fp, name);
  mxs_html_text(fp, v);
  if (unit) fputs(unit, fp);
  fputs("</dd>\n", fp);
  return 1;
}

static void duration(FILE *fp, double s) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    fprintf(fp, "%ld h %02ld min %02ld s", t / 3600, t / 60 % 60, t % 60);
  else if (t >= 60)
    fprintf(fp, "%ld min %02ld s", t / 60, t % 60);
  else
    fprintf(fp, "%.1f s", s);
}

static double num_of(const mxs_run_info_t *ri, const char *key, int *have) {
  const char *v = mxs_run_info_get(ri, key);
  char *end;
  double d = v ? strtod(v, &end) : 0;
  *have = v && end != v && !*end;
  return *have ? d : 0;
}

/* Keys shown with a label of their own; the rest of the summary follows raw. */
static int known_key(const char *k) {
  static const char *const known[] = {"started_at",          "finished_at",
                                      "elapsed_s",           "lines_rejected",
                                      "lines_duplicate",     "input_error",
                                      "write_errors",        "unfinished",
                                      "interrupted",         "verify_cache.lookups",
                                      "verify_cache.hits",   "resources.cpu_user_s",
                                      "resources.cpu_sys_s", "resources.peak_rss_kib",
                                      "redis.started_at",    "redis.finished_at",
                                      "redis.status",        "redis.host",
                                      "redis.args",          "redis.run",
                                      "redis.records",       "redis.produced"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(k, known[i])) return 1;
  /* the class counts are the Classes section's */
  return !strncmp(k, "domains.", 8) || !strncmp(k, "probes.", 7);
}

static void run_cost(FILE *fp, const mxs_run_info_t *ri) {
  int h1, h2, h3;
  double el = num_of(ri, "elapsed_s", &h1);
  if (h1) dt(fp, "elapsed"), duration(fp, el), fputs("</dd>\n", fp);
  double u = num_of(ri, "resources.cpu_user_s", &h1), s = num_of(ri, "resources.cpu_sys_s", &h2);
  double rss = num_of(ri, "resources.peak_rss_kib", &h3);
  if (h1 && h2) {
    dt(fp, "CPU time");
    fprintf(fp, "%.1f s user + %.1f s system", u, s);
    if (el > 0) fprintf(fp, " (%.2f cores on average)", (u + s) / el);
    fputs("</dd>\n", fp);
  }
  if (h3) dt(fp, "peak memory"), fprintf(fp, "%.1f MiB</dd>\n", rss / 1024.0);
  double lk = num_of(ri, "verify_cache.lookups", &h1), hit = num_of(ri, "verify_cache.hits", &h2);
  if (h1 && h2) {
    dt(fp, "chain verifications");
    fprintf(fp, "%.0f looked up, %.0f answered from the cache (%.1f%%)</dd>\n", lk, hit, lk > 0 ? 100 * hit / lk : 0);
  }
}

static void html_run(const mxs_report_t *r, const mxs_run_info_t *ri, FILE *fp) {
  fputs("<section id=\"run\"><h2>The run</h2>\n<dl class=\"run\">\n", fp);
  for (size_t i = 0; i < r->nfiles; i++) {
    dt(fp, r->nfiles > 1 ? "input" : "results");
    mxs_html_text(fp, r->files[i].path);
    fputs(": ", fp);
    mxs_html_num(fp, r->files[i].records);
    fputs(" records</dd>\n", fp);
  }
  dt(fp, "domains");
  mxs_html_num(fp, r->domains.len);
  fputs("</dd>\n", fp);
  dt(fp, "probes (records)");
  mxs_html_num(fp, r->nprobes);
  fputs("</dd>\n", fp);
  if (r->first_at[0]) {
    dt(fp, "probes finished");
    fprintf(fp, "%s .. %s</dd>\n", r->first_at, r->last_at); /* RFC 3339: our own format, checked by the reader */
  }
  if (ri->source) {
    dt(fp, "run facts from");
    mxs_html_text(fp, ri->source);
    fputs("</dd>\n", fp);
    kv_row(fp, ri, "redis.run", "run id", NULL);
    kv_row(fp, ri, "redis.status", "status", NULL);
    if (!kv_row(fp, ri, "started_at", "started", NULL)) kv_row(fp, ri, "redis.started_at", "started", NULL);
    if (!kv_row(fp, ri, "finished_at", "finished", NULL)) kv_row(fp, ri, "redis.finished_at", "finished", NULL);
    run_cost(fp, ri);
    kv_row(fp, ri, "lines_rejected", "input lines rejected", NULL);
    kv_row(fp, ri, "lines_duplicate", "input lines repeating a domain (skipped)", NULL);
    const char *input_error = mxs_run_info_get(ri, "input_error");
    if (input_error && strcmp(input_error, "null") != 0) /* null: the list was read to its end */
      kv_row(fp, ri, "input_error", "input not read to its end", NULL);
    kv_row(fp, ri, "write_errors", "records not written", NULL);
    kv_row(fp, ri, "unfinished", "unfinished records", NULL);
    kv_row(fp, ri, "interrupted", "interrupted", NULL);
    kv_row(fp, ri, "redis.records", "records stored in Redis", NULL);
    kv_row(fp, ri, "redis.produced", "records produced", NULL);
    kv_row(fp, ri, "redis.host", "host", NULL);
    kv_row(fp, ri, "redis.args", "command", NULL);
    for (size_t i = 0; i < ri->n; i++) /* fields this report does not know (yet) */
      if (!known_key(ri->kv[i].key)) {
        fputs("<dt>", fp);
        mxs_html_text(fp, ri->kv[i].key);
        fputs("</dt><dd>", fp);
        mxs_html_text(fp, ri->kv[i].val);
        fputs("</dd>\n", fp);
      }
  }
  fputs("</dl>\n", fp);
  int have;
  double sd = num_of(ri, "domains.total", &have);
  if (have && (uint64_t)sd != r->domains.len)
    fprintf(fp,
            "<p class=\"warn\">The summary counts %.0f domains, the records %zu: is it the summary of this run?</p>\n",
            sd, r->domains.len);
  if (!ri->source)
    fputs(
        "<p class=\"note\">When the run started and ended and what it cost are not in the records: give the "
        "scan's summary with <code>--summary FILE</code>, or report a Redis run.</p>\n",
        fp);
  fputs("</section>\n", fp);
}

/* ---- classes ------------------------------------------------------------------------ */

static void html_classes(const mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  fputs(
      "<section id=\"classes\"><h2>Classes</h2>\n<p class=\"note\">A domain is ok only when every record of it "
      "is; otherwise it counts under its first failing class in contract order.</p>\n",
      fp);
  mxs_svg_bar_t bars[MXS_CLASS_COUNT];
  size_t n = 0;
  char tips[MXS_CLASS_COUNT][160];
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    if (!v->dclass[i]) continue;
    snprintf(tips[n], sizeof tips[n], "%s: %llu domains, %s", mxs_class_name((mxs_class_t)i),
             (unsigned long long)v->dclass[i], mxs_class_hint((mxs_class_t)i));
    bars[n] = (mxs_svg_bar_t){mxs_class_name((mxs_class_t)i), v->dclass[i],
                              group_colors[mxs_html_group((mxs_class_t)i)], tips[n]};
    n++;
  }
  if (n) mxs_svg_hbars(fp, "classes", "Domains per class", bars, n);
  fputs(
      "<table class=\"sortable\" id=\"classes-table\"><thead><tr><th class=\"ord\">class</th><th>stage</th>"
      "<th class=\"num\">domains</th><th class=\"num\">%</th><th class=\"num\">probes</th><th class=\"num\">%</th>"
      "<th>what it means</th></tr></thead><tbody>\n",
      fp);
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    if (!v->dclass[i] && !r->probes[i]) continue;
    mxs_class_t c = (mxs_class_t)i;
    hgroup_t g = mxs_html_group(c);
    fprintf(fp, "<tr><td data-v=\"%02d\"><span class=\"sw\" style=\"background:%s\"></span><code>%s</code></td>", i,
            group_colors[g], mxs_class_name(c));
    mxs_html_td(fp, group_names[g]);
    mxs_html_td_num(fp, v->dclass[i]);
    fprintf(fp, "<td class=\"num\" data-v=\"%llu\">", (unsigned long long)v->dclass[i]);
    mxs_html_pct(fp, v->dclass[i], v->ndomains);
    fputs("</td>", fp);
    mxs_html_td_num(fp, r->probes[i]);
    fprintf(fp, "<td class=\"num\" data-v=\"%llu\">", (unsigned long long)r->probes[i]);
    mxs_html_pct(fp, r->probes[i], r->nprobes);
    fputs("</td>", fp);
    mxs_html_td(fp, mxs_explain(c)->what);
    fputs("</tr>\n", fp);
  }
  fputs("</tbody><tfoot><tr><th>total</th><th></th>", fp);
  fprintf(fp, "<th class=\"num\">%zu</th><th></th><th class=\"num\">%llu</th><th></th><th></th></tr></tfoot></table>\n",
          v->ndomains, (unsigned long long)r->nprobes);
  fputs("</section>\n", fp);
}

/* ---- failures by stage -------------------------------------------------------------- */

static void html_stages(const mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  uint64_t dom[HG_COUNT] = {0}, probes[HG_COUNT] = {0};
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    dom[mxs_html_group((mxs_class_t)i)] += v->dclass[i];
    probes[mxs_html_group((mxs_class_t)i)] += r->probes[i];
  }
  fputs(
      "<section id=\"stages\"><h2>Failures by stage</h2>\n<p class=\"note\">Where the failing domains stopped: "
      "the stage of their class. A probe passes DNS, TCP, SMTP, STARTTLS, TLS and the certificate checks in "
      "that order.</p>\n",
      fp);
  mxs_svg_bar_t bars[HG_COUNT];
  size_t n = 0;
  for (int g = 0; g < HG_OK; g++)
    if (g != HG_POST || dom[g]) bars[n++] = (mxs_svg_bar_t){group_names[g], dom[g], group_colors[g], NULL};
  mxs_svg_hbars(fp, "stages", "Failing domains per stage", bars, n);
  fputs(
      "<table class=\"sortable\" id=\"stages-table\"><thead><tr><th>stage</th><th class=\"num\">failing "
      "domains</th><th class=\"num\">failing probes</th><th>classes</th></tr></thead><tbody>\n",
      fp);
  for (int g = 0; g < HG_OK; g++) {
    if (g == HG_POST && !dom[g] && !probes[g]) continue;
    fprintf(fp, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>%s</td>", group_colors[g], group_names[g]);
    mxs_html_td_num(fp, dom[g]);
    mxs_html_td_num(fp, probes[g]);
    fputs("<td>", fp);
    int first = 1;
    for (int i = 0; i < MXS_CLASS_COUNT; i++)
      if ((int)mxs_html_group((mxs_class_t)i) == g && r->probes[i]) {
        fprintf(fp, "%s<code>%s</code> %llu", first ? "" : ", ", mxs_class_name((mxs_class_t)i),
                (unsigned long long)r->probes[i]);
        first = 0;
      }
    fputs("</td></tr>\n", fp);
  }
  fputs("</tbody></table>\n</section>\n", fp);
}

/* ---- providers -------------------------------------------------------------------- */

static int by_fail_domains(const void *a, const void *b) {
  const mxs_rprovider_t *x = *(const mxs_rprovider_t *const *)a, *y = *(const mxs_rprovider_t *const *)b;
  if (x->fail_domains != y->fail_domains) return x->fail_domains < y->fail_domains ? 1 : -1;
  return strcmp(x->name, y->name);
}

static int html_providers(const mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  size_t nfail = 0;
  for (size_t i = 0; i < v->nproviders; i++) nfail += v->providers[i]->fail_domains > 0;
  mxs_rprovider_t **p = malloc((nfail ? nfail : 1) * sizeof *p);
  mxs_svg_bar_t *bars = malloc((nfail ? nfail : 1) * sizeof *bars);
  if (!p || !bars) {
    free(p);
    free(bars);
    return -ENOMEM;
  }
  for (size_t i = 0, k = 0; i < v->nproviders; i++)
    if (v->providers[i]->fail_domains) p[k++] = v->providers[i];
  qsort(p, nfail, sizeof *p, by_fail_domains);
  size_t n = r->o.top && nfail > r->o.top ? r->o.top : nfail;
  fprintf(fp,
          "<section id=\"providers\"><h2>Providers with the most failing domains</h2>\n<p class=\"note\">A "
          "provider is the registrable domain of the MX host (public suffix list). %zu of %zu providers have "
          "failing domains",
          nfail, v->nproviders);
  if (n < nfail) fprintf(fp, "; the %zu with the most are shown (<code>--top N</code>)", n);
  fputs(".</p>\n", fp);
  for (size_t i = 0; i < n; i++) bars[i] = (mxs_svg_bar_t){p[i]->name, p[i]->fail_domains, "#d1495b", NULL};
  if (n) mxs_svg_hbars(fp, "providers", "Failing domains per provider", bars, n);
  fputs(
      "<table class=\"sortable\" id=\"providers-table\"><thead><tr><th>provider</th><th class=\"num\">failing "
      "domains</th><th class=\"num\">probes</th><th class=\"num\">ok</th><th>failures (probes)</th></tr></thead>"
      "<tbody>\n",
      fp);
  for (size_t i = 0; i < n; i++) {
    fputs("<tr>", fp);
    mxs_html_td(fp, p[i]->name);
    mxs_html_td_num(fp, p[i]->fail_domains);
    mxs_html_td_num(fp, p[i]->probes);
    fprintf(fp, "<td class=\"num\" data-v=\"%.4f\">", p[i]->probes ? (double)p[i]->ok / (double)p[i]->probes : 0.0);
    mxs_html_pct(fp, p[i]->ok, p[i]->probes);
    fputs("</td><td>", fp);
    int first = 1;
    for (int c = 0; c < MXS_CLASS_COUNT; c++)
      if (p[i]->fails[c]) {
        fprintf(fp, "%s<code>%s</code> %llu", first ? "" : ", ", mxs_class_name((mxs_class_t)c),
                (unsigned long long)p[i]->fails[c]);
        first = 0;
      }
    fputs("</td></tr>\n", fp);
  }
  fputs("</tbody></table>\n</section>\n", fp);
  free(p);
  free(bars);
  return 0;
}

/* ---- sender-level outcomes ------------------------------------------------------- */

/* PLACEHOLDER for issue 13 (the sender's side): what a sending MTA does
 * with mail to each domain at each security level, carried by records in
 * a "delivery" field.  No record has one yet, and then this renders
 * nothing.  The field's shape is issue 13's to define; until this function
 * tabulates it, records that carry it only get a pointer to the JSON. */
/* What a sending MTA does with the mail at each TLS security level it may
 * be set to (results/delivery.h; README "What happens to the mail"): one
 * stacked column per level, and the same counts as `report --json`. */
static void html_delivery(const mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  if (!r->delivery_records) return;
  static const mxs_svg_series_t series[MXS_OUTCOMES + 1] = {
      {"tls", "#2e7d32"}, {"cleartext", "#f9a825"}, {"deferred", "#c62828"}, {"unknown", "#9e9e9e"}};
  const char *levels[MXS_LEVELS_COMPUTED];
  uint64_t values[MXS_LEVELS_COMPUTED * (MXS_OUTCOMES + 1)];
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    levels[l] = mxs_level_name((mxs_level_t)l);
    for (int o = 0; o <= MXS_OUTCOMES; o++) values[l * (MXS_OUTCOMES + 1) + o] = v->delivery[l][o];
  }
  fputs(
      "<section id=\"delivery\"><h2>Sender-level outcomes</h2>\n<p class=\"note\">What a sending MTA set to each "
      "TLS security level (Postfix's <code>smtp_tls_security_level</code>) does with the mail to each domain: "
      "delivered over TLS, delivered in clear text, or deferred (queued, retried, eventually bounced). "
      "<code>mxscan explain</code> and README's \"What happens to the mail\" give the rule per class.</p>\n",
      fp);
  mxs_svg_stacked(fp, "delivery", "Domains by delivery outcome per security level", levels, MXS_LEVELS_COMPUTED, series,
                  MXS_OUTCOMES + 1, values);
  fputs(
      "<table class=\"sortable\" id=\"delivery-table\"><thead><tr><th>level</th><th class=\"num\">tls</th>"
      "<th class=\"num\">cleartext</th><th class=\"num\">deferred</th><th class=\"num\">unknown</th></tr>"
      "</thead><tbody>\n",
      fp);
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) {
    fprintf(fp, "<tr><td><code>%s</code></td>", levels[l]);
    for (int o = 0; o <= MXS_OUTCOMES; o++) mxs_html_td_num(fp, v->delivery[l][o]);
    fputs("</tr>\n", fp);
  }
  fputs("</tbody></table>\n</section>\n", fp);
}

/* ---- all of it -------------------------------------------------------------------- */

int mxs_report_print_html(mxs_report_t *r, mxs_trend_t *t, const mxs_run_info_t *ri, const char *label, FILE *fp) {
  mxs_rview_t v;
  int rc = mxs_report_view_build(r, &v);
  if (rc < 0) return rc;
  if ((rc = mxs_trend_last(t, label, r, &v)) == 0) rc = page_head(r, label, fp);
  if (rc == 0) {
    html_run(r, ri, fp);
    html_classes(r, &v, fp);
    html_stages(r, &v, fp);
    rc = html_providers(r, &v, fp);
  }
  if (rc == 0) {
    mxs_html_failing(r, &v, fp);
    mxs_html_expiring(r, &v, fp);
    html_delivery(r, &v, fp);
    mxs_html_trend(r, t, fp);
    fprintf(fp,
            "<footer><p class=\"note\">Written by mxscan. Each class is explained, with its likely cause and "
            "fix, by <code>mxscan explain CLASS</code>.</p></footer>\n<script>%s</script>\n</body>\n</html>\n",
            sort_js);
  }
  mxs_report_view_free(&v);
  if (rc == 0 && (fflush(fp) != 0 || ferror(fp))) rc = errno ? -errno : -EIO;
  return rc;
}
