/* report_html_lists.c - the long parts of the HTML report: every failing
 * domain with its class, detail and fix; the certificates that expire
 * soon; the classes over several runs and what changed in the last. */
#include <stdlib.h>
#include <string.h>

#include "report/html.h"
#include "report/report_html_int.h"
#include "report/svg_chart.h"
#include "results/explain.h"

/* ---- failing domains ----------------------------------------------------------- */

static int by_class_then_name(const void *a, const void *b) {
  const mxs_rdomain_t *x = *(const mxs_rdomain_t *const *)a, *y = *(const mxs_rdomain_t *const *)b;
  mxs_class_t cx = mxs_domain_class(x->seen), cy = mxs_domain_class(y->seen);
  if (cx != cy) return cx < cy ? -1 : 1;
  return strcmp(x->name, y->name);
}

static void failing_row(FILE *fp, const mxs_rdomain_t *d) {
  mxs_class_t c = mxs_domain_class(d->seen);
  const mxs_rwhy_t *w = d->why; /* set for every failing domain (opts.html) */
  fputs("<tr>", fp);
  mxs_html_td(fp, d->name);
  fprintf(fp, "<td data-v=\"%02d\"><code>%s</code></td>", (int)c, mxs_class_name(c));
  mxs_html_td(fp, mxs_html_group_name(mxs_html_group(c)));
  /* some MX of the domain is ok: mail still goes over TLS, through that one */
  fprintf(fp, "<td>%s</td>", d->seen & MXS_CLASS_BIT(MXS_CLASS_OK) ? "partly" : "no");
  mxs_html_td(fp, w ? w->mx : NULL);
  mxs_html_td(fp, w ? w->ip : NULL);
  fputs("<td class=\"detail\">", fp);
  if (w) mxs_html_text(fp, w->detail);
  if (w && w->banner) {
    fputs("<div class=\"banner\" title=\"the server's greeting\">", fp);
    mxs_html_text_max(fp, w->banner, 200);
    fputs("</div>", fp);
  }
  fputs("</td><td class=\"fix\">", fp);
  mxs_html_text(fp, mxs_explain(c)->fix);
  fputs("</td></tr>\n", fp);
}

void mxs_html_failing(mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  size_t nfail = v->ndomains - (size_t)v->dclass[MXS_CLASS_OK];
  fputs("<section id=\"failing\"><h2>Failing domains</h2>\n", fp);
  fprintf(fp,
          "<p class=\"note\">%zu domain%s with at least one failing record, by class in contract order; "
          "<em>over TLS</em> says whether mail still goes over TLS through another MX host (partly) or not at "
          "all (no). The detail is that of the record that gave the domain its class; the fix is "
          "<code>mxscan explain</code>'s. Click a heading to sort.</p>\n",
          nfail, nfail == 1 ? "" : "s");
  mxs_rdomain_t **f = malloc((nfail ? nfail : 1) * sizeof *f);
  if (!f) {
    fputs("<p class=\"warn\">Out of memory listing the failing domains.</p></section>\n", fp);
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < v->ndomains; i++)
    if (mxs_domain_class(v->domains[i]->seen) != MXS_CLASS_OK) f[k++] = v->domains[i];
  qsort(f, k, sizeof *f, by_class_then_name);
  size_t n = mxs_html_rows(r, k);
  fputs(
      "<table class=\"sortable\" id=\"failing-table\"><thead><tr><th>domain</th><th class=\"ord\">class</th>"
      "<th>stage</th><th>over TLS</th><th>MX</th><th>address</th><th>detail</th><th>fix</th></tr></thead>"
      "<tbody>\n",
      fp);
  for (size_t i = 0; i < n; i++) failing_row(fp, f[i]);
  fputs("</tbody></table>\n", fp);
  mxs_html_cut_note(fp, n, k, "failing domains");
  fputs("</section>\n", fp);
  free(f);
}

/* ---- certificates ----------------------------------------------------------------- */

void mxs_html_expiring(mxs_report_t *r, const mxs_rview_t *v, FILE *fp) {
  fprintf(fp, "<section id=\"expiring\"><h2>Certificates expiring within %d days</h2>\n", r->o.expiring_days);
  fprintf(fp,
          "<p class=\"note\">%zu certificate%s (one row per domain, MX host and certificate; a negative "
          "number of days: expired), soonest first, as the scan saw them.</p>\n",
          v->nexpiring, v->nexpiring == 1 ? "" : "s");
  size_t n = mxs_html_rows(r, v->nexpiring);
  if (v->nexpiring) {
    fputs(
        "<table class=\"sortable\" id=\"expiring-table\"><thead><tr><th>domain</th><th>MX</th><th>certificate "
        "name (CN)</th><th>not after</th><th class=\"num\">days left</th></tr></thead><tbody>\n",
        fp);
    for (size_t i = 0; i < n; i++) {
      const mxs_rexpiring_t *e = &r->expiring[i];
      fputs("<tr>", fp);
      mxs_html_td(fp, e->domain);
      mxs_html_td(fp, e->mx);
      mxs_html_td(fp, e->subject_cn);
      mxs_html_td(fp, e->not_after);
      fprintf(fp, "<td class=\"num\" data-v=\"%lld\">%lld</td></tr>\n", (long long)e->days_left,
              (long long)e->days_left);
    }
    fputs("</tbody></table>\n", fp);
  }
  mxs_html_cut_note(fp, n, v->nexpiring, "certificates");
  fputs("</section>\n", fp);
}

/* ---- several runs -------------------------------------------------------------------- */

static const char *const change_names[MXS_CH_KINDS] = {"newly failing", "fixed", "class changed", "new domain",
                                                       "vanished"};

static void trend_table(const mxs_trend_run_t *runs, size_t nruns, FILE *fp) {
  fputs("<table class=\"sortable\" id=\"trend-table\"><thead><tr><th class=\"ord\">class</th>", fp);
  for (size_t i = 0; i < nruns; i++) {
    fputs("<th class=\"num\">", fp);
    mxs_html_text(fp, runs[i].label);
    if (runs[i].first_at[0]) fprintf(fp, "<br>%.10s", runs[i].first_at);
    fputs("</th>", fp);
  }
  fputs("</tr></thead><tbody>\n", fp);
  for (int c = 0; c < MXS_CLASS_COUNT; c++) {
    int any = 0;
    for (size_t i = 0; i < nruns; i++) any |= runs[i].dclass[c] != 0;
    if (!any) continue;
    fprintf(fp, "<tr><td data-v=\"%02d\"><code>%s</code></td>", c, mxs_class_name((mxs_class_t)c));
    for (size_t i = 0; i < nruns; i++) mxs_html_td_num(fp, runs[i].dclass[c]);
    fputs("</tr>\n", fp);
  }
  fputs("</tbody><tfoot><tr><th>domains</th>", fp);
  for (size_t i = 0; i < nruns; i++) fprintf(fp, "<th class=\"num\">%llu</th>", (unsigned long long)runs[i].ndomains);
  fputs("</tr></tfoot></table>\n", fp);
}

static void changes(mxs_report_t *r, const mxs_trend_t *t, const mxs_trend_run_t *runs, size_t nruns, FILE *fp) {
  size_t nch, count[MXS_CH_KINDS] = {0};
  const mxs_change_t *ch = mxs_trend_changes(t, &nch);
  for (size_t i = 0; i < nch; i++) count[ch[i].kind]++;
  fputs("<section id=\"changes\"><h2>What changed in the last run</h2>\n<p class=\"note\">", fp);
  mxs_html_text(fp, runs[nruns - 1].label);
  fputs(" against ", fp);
  mxs_html_text(fp, runs[nruns - 2].label);
  fputs(": ", fp);
  for (int k = 0; k < MXS_CH_KINDS; k++) fprintf(fp, "%s%zu %s", k ? ", " : "", count[k], change_names[k]);
  fputs(" (the domain's class; <code>mxscan diff</code> also shows MX hosts and certificates).</p>\n", fp);
  size_t n = mxs_html_rows(r, nch);
  if (nch) {
    fputs(
        "<table class=\"sortable\" id=\"changes-table\"><thead><tr><th>domain</th><th "
        "class=\"ord\">change</th><th>was</th>"
        "<th>now</th></tr></thead><tbody>\n",
        fp);
    for (size_t i = 0; i < n; i++) {
      fputs("<tr>", fp);
      mxs_html_td(fp, ch[i].domain);
      fprintf(fp, "<td data-v=\"%d\">%s</td>", (int)ch[i].kind, change_names[ch[i].kind]);
      fprintf(fp, "<td>%s</td>", ch[i].kind == MXS_CH_NEW ? "" : mxs_class_name(ch[i].was));
      fprintf(fp, "<td>%s</td></tr>\n", ch[i].kind == MXS_CH_GONE ? "" : mxs_class_name(ch[i].now));
    }
    fputs("</tbody></table>\n", fp);
  }
  mxs_html_cut_note(fp, n, nch, "changes");
  fputs("</section>\n", fp);
}

void mxs_html_trend(mxs_report_t *r, const mxs_trend_t *t, FILE *fp) {
  size_t nruns;
  const mxs_trend_run_t *runs = mxs_trend_runs(t, &nruns);
  fputs("<section id=\"trend\"><h2>Trend</h2>\n", fp);
  if (nruns < 2) {
    fputs(
        "<p class=\"note\">One run. Given several results files or Redis runs, oldest first, the report "
        "shows their classes side by side and what changed in the last one.</p>\n</section>\n",
        fp);
    return;
  }
  /* one column per run, one segment per stage, ok at the bottom */
  mxs_svg_series_t series[HG_COUNT];
  static const hgroup_t order[HG_COUNT] = {HG_OK, HG_DNS, HG_TCP, HG_SMTP, HG_STARTTLS, HG_TLS, HG_CERT, HG_POST};
  for (int s = 0; s < HG_COUNT; s++)
    series[s] = (mxs_svg_series_t){mxs_html_group_name(order[s]), mxs_html_group_color(order[s])};
  uint64_t *vals = calloc(nruns * HG_COUNT, sizeof *vals);
  const char **labels = malloc(nruns * sizeof *labels);
  if (vals && labels) {
    for (size_t i = 0; i < nruns; i++) {
      labels[i] = runs[i].label;
      for (int c = 0; c < MXS_CLASS_COUNT; c++)
        for (int s = 0; s < HG_COUNT; s++)
          if (order[s] == mxs_html_group((mxs_class_t)c)) vals[i * HG_COUNT + (size_t)s] += runs[i].dclass[c];
    }
    fprintf(fp, "<p class=\"note\">%zu runs, oldest first: domains by the stage of their class.</p>\n", nruns);
    mxs_svg_stacked(fp, "trend", "Domains per run, by stage", labels, nruns, series, HG_COUNT, vals);
  }
  free(vals);
  free(labels);
  trend_table(runs, nruns, fp);
  fputs("</section>\n", fp);
  changes(r, t, runs, nruns, fp);
}
