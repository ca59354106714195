/* cmd_compare.c - `mxscan probe --compare-profiles DOMAIN`: the matrix of
 * classes (rows: MX addresses, columns: sender profiles) and, where one
 * profile fails and another gets through, which side is at fault and which
 * setting makes the difference (compare_why.c).
 *
 * cmd_probe.c probes: it builds one item per (MX, address, column), in
 * that order, so a row is ncols consecutive items.  This file only refines
 * and renders what they got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_probe.h"
#include "results/encoders.h"
#include "results/profile_why.h"
#include "probe/tls.h"

/* ---- rows and cells ---------------------------------------------------- */

/* The cells of the row starting at item I (d->ncols items), their records
 * and detail buffers: one allocation the caller frees. */
typedef struct {
  mxs_cmp_cell_t *cell;
  mxs_record_t *rec;
  mxs_timings_t *tm;
  char (*detail)[512];
} row_t;

static int row_new(row_t *r, size_t n) {
  r->cell = calloc(n, sizeof *r->cell);
  r->rec = calloc(n, sizeof *r->rec);
  r->tm = calloc(n, sizeof *r->tm);
  r->detail = calloc(n, sizeof *r->detail);
  return r->cell && r->rec && r->tm && r->detail ? 0 : -1;
}

static void row_free(row_t *r) {
  free(r->cell);
  free(r->rec);
  free(r->tm);
  free(r->detail);
}

static void fill_row(const mxs_pdomain_t *d, size_t first, row_t *r) {
  for (size_t k = 0; k < d->ncols; k++) {
    const mxs_pitem_t *it = &d->items[first + k];
    const mxs_pcolumn_t *col = &d->cols[it->col];
    const mxs_probe_result_t *res = it->v.res;
    mxs_record_t *rec = &r->rec[k];
    mxs_pitem_record(it, rec, &r->tm[k], r->detail[k], sizeof r->detail[k]);
    int hs = res && res->tls_done;
    r->cell[k] = (mxs_cmp_cell_t){.column = col->name,
                                  .set = &col->set,
                                  .cls = rec->cls,
                                  .handshake = hs,
                                  .version = hs ? rec->tls_version : NULL,
                                  .cipher = hs ? rec->cipher : NULL,
                                  .group = hs ? rec->group : NULL,
                                  .key_type = rec->cert ? rec->cert->key_type : NULL,
                                  .key_bits = rec->cert ? rec->cert->key_bits : 0,
                                  .alert = res ? res->tls_fail.alert_received : -1,
                                  .cert_requested = res && res->tls_fail.cert_requested,
                                  .cert_sent = res && res->tls_fail.cert_sent};
  }
}

/* The first item of each address row, in order; DNS-stage items are rows
 * of one. */
static size_t row_len(const mxs_pdomain_t *d, size_t i) { return d->items[i].ip ? d->ncols : 1; }

void mxs_compare_refine(mxs_pdomain_t *d) {
  const mxs_probe_result_t *others[64];
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) {
    if (!d->items[i].ip) continue;
    size_t n = d->ncols < 64 ? d->ncols : 64;
    for (size_t k = 0; k < n; k++) others[k] = d->items[i + k].v.res;
    for (size_t k = 0; k < n; k++) mxs_verdict_refine_by(&d->items[i + k].v, others, n);
  }
}

static int oracle_offers(void *arg, const mxs_tls_settings_t *set, int group, const char *name) {
  (void)arg;
  return mxs_tls_settings_offer(set, group, name);
}

static const mxs_cmp_oracle_t oracle = {oracle_offers, NULL};

/* Why cell K of the row fails, when another cell gets further: the first
 * such cell whose difference the settings explain, else the first one.
 * Returns the index of that cell, or -1 when cell K is not worse than any. */
static int finding_for(const row_t *r, size_t n, size_t k, mxs_cmp_finding_t *f) {
  int first = -1;
  for (size_t j = 0; j < n; j++) {
    if (j == k || !mxs_cmp_worse(&r->cell[k], &r->cell[j])) continue;
    mxs_cmp_explain(&r->cell[k], &r->cell[j], &oracle, f);
    if (f->fault != MXS_FAULT_UNKNOWN) return (int)j;
    if (first < 0) first = (int)j;
  }
  if (first >= 0) mxs_cmp_explain(&r->cell[k], &r->cell[first], &oracle, f);
  return first;
}

/* ---- text -------------------------------------------------------------- */

static void row_label(const mxs_pitem_t *it, char *out, size_t len) {
  snprintf(out, len, "%s %s", it->mx->host, it->ip);
}

static void print_matrix(const mxs_pdomain_t *d, FILE *fp) {
  int lw = (int)strlen("MX address");
  int *cw = calloc(d->ncols, sizeof *cw);
  if (!cw) return;
  for (size_t c = 0; c < d->ncols; c++) cw[c] = (int)strlen(d->cols[c].name);
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) {
    if (!d->items[i].ip) continue;
    char label[320];
    row_label(&d->items[i], label, sizeof label);
    if ((int)strlen(label) > lw) lw = (int)strlen(label);
    for (size_t c = 0; c < d->ncols; c++) {
      int w = (int)strlen(mxs_class_name(mxs_pitem_class(&d->items[i + c])));
      if (w > cw[c]) cw[c] = w;
    }
  }
  fprintf(fp, "%-*s", lw, "MX address");
  for (size_t c = 0; c < d->ncols; c++) fprintf(fp, "  %-*s", c + 1 < d->ncols ? cw[c] : 0, d->cols[c].name);
  fputc('\n', fp);
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) {
    if (!d->items[i].ip) continue;
    char label[320];
    row_label(&d->items[i], label, sizeof label);
    fprintf(fp, "%-*s", lw, label);
    for (size_t c = 0; c < d->ncols; c++)
      fprintf(fp, "  %-*s", c + 1 < d->ncols ? cw[c] : 0, mxs_class_name(mxs_pitem_class(&d->items[i + c])));
    fputc('\n', fp);
  }
  free(cw);
}

static void print_row(const mxs_pdomain_t *d, size_t first, FILE *fp) {
  row_t r;
  if (row_new(&r, d->ncols) < 0) return;
  fill_row(d, first, &r);
  char label[320];
  row_label(&d->items[first], label, sizeof label);
  fprintf(fp, "\n%s (MX %d):\n", label, d->items[first].mx->pref);
  int nw = 0;
  for (size_t c = 0; c < d->ncols; c++)
    if ((int)strlen(r.cell[c].column) > nw) nw = (int)strlen(r.cell[c].column);
  for (size_t c = 0; c < d->ncols; c++) {
    const mxs_cmp_cell_t *x = &r.cell[c];
    if (x->handshake)
      fprintf(fp, "  %-*s  %-25s %s %s %s\n", nw, x->column, mxs_class_name(x->cls), x->version, x->cipher, x->group);
    else
      fprintf(fp, "  %-*s  %-25s %.200s\n", nw, x->column, mxs_class_name(x->cls), r.rec[c].detail);
  }
  int any = 0;
  for (size_t c = 0; c < d->ncols; c++) {
    mxs_cmp_finding_t f;
    int j = finding_for(&r, d->ncols, c, &f);
    if (j < 0) continue;
    any = 1;
    char head[400];
    snprintf(head, sizeof head, "%s fails (%s), %s gets through. Fault: %s (setting: %s).", r.cell[c].column,
             mxs_class_name(r.cell[c].cls), r.cell[j].column,
             f.fault == MXS_FAULT_SENDER     ? "the sender's side"
             : f.fault == MXS_FAULT_RECEIVER ? "the receiver's side"
                                             : "not clear",
             f.setting);
    fputc('\n', fp);
    mxs_print_wrapped(fp, 2, head);
    mxs_print_wrapped(fp, 4, f.text);
  }
  if (!any) {
    mxs_cmp_finding_t f;
    mxs_cmp_explain_all(r.cell, d->ncols, &f);
    fputc('\n', fp);
    mxs_print_wrapped(fp, 2, f.text);
  }
  row_free(&r);
}

int mxs_compare_print_text(const mxs_pdomain_t *d, FILE *fp) {
  fprintf(fp, "mxscan probe --compare-profiles %s\n\nSender profiles:", d->name);
  for (size_t c = 0; c < d->ncols; c++) fprintf(fp, "%s %s", c ? "," : "", d->cols[c].name);
  fprintf(fp, "\n('mxscan profiles' shows the OpenSSL settings each one makes)\n\n");
  if (d->status != MXS_CLASS_OK) {
    fprintf(fp, "%s: %s (%s): no MX address to probe\n", d->name, mxs_class_name(d->status), d->detail);
    return ferror(fp) ? -1 : 0;
  }
  print_matrix(d, fp);
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) {
    const mxs_pitem_t *it = &d->items[i];
    if (it->ip)
      print_row(d, i, fp);
    else
      fprintf(fp, "\n%s: %s (%s): no address to probe\n", it->mx ? it->mx->host : d->name, mxs_class_name(it->dns_cls),
              it->dns_detail);
  }
  return ferror(fp) ? -1 : 0;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_cell(const mxs_cmp_cell_t *x, const mxs_record_t *rec, mxs_encoder_t *e) {
  e->map(e, 4 + (x->handshake ? 3 : 0));
  mxs_enc_kv_str(e, "profile", x->column);
  mxs_enc_kv_str(e, "class", mxs_class_name(x->cls));
  mxs_enc_kv_str(e, "stage", rec->stage);
  mxs_enc_kv_str(e, "detail", rec->detail);
  if (x->handshake) {
    mxs_enc_kv_str(e, "tls_version", x->version);
    mxs_enc_kv_str(e, "cipher", x->cipher);
    mxs_enc_kv_str(e, "group", x->group);
  }
  e->end(e);
}

/* A finding: cell FAIL of the row, compared with cell WITH. */
typedef struct {
  size_t fail, with;
  mxs_cmp_finding_t f;
} found_t;

static void json_row(const mxs_pdomain_t *d, size_t first, mxs_encoder_t *e) {
  row_t r;
  size_t n = d->ncols, nf = 0;
  found_t *fs = calloc(n, sizeof *fs);
  int ok = fs && row_new(&r, n) == 0;
  if (ok) fill_row(d, first, &r);
  for (size_t c = 0; ok && c < n; c++) {
    int j = finding_for(&r, n, c, &fs[nf].f);
    if (j < 0) continue;
    fs[nf].fail = c;
    fs[nf].with = (size_t)j;
    nf++;
  }
  mxs_cmp_finding_t all = {.text = ""};
  if (ok && nf == 0) mxs_cmp_explain_all(r.cell, n, &all);
  e->map(e, 6);
  mxs_enc_kv_str(e, "mx", d->items[first].mx->host);
  mxs_enc_kv_int(e, "pref", d->items[first].mx->pref);
  mxs_enc_kv_str(e, "ip", d->items[first].ip);
  e->key(e, "cells");
  e->array(e, ok ? n : 0);
  for (size_t c = 0; ok && c < n; c++) json_cell(&r.cell[c], &r.rec[c], e);
  e->end(e);
  e->key(e, "findings");
  e->array(e, nf);
  for (size_t k = 0; k < nf; k++) {
    const mxs_cmp_cell_t *x = &r.cell[fs[k].fail], *s = &r.cell[fs[k].with];
    e->map(e, 6);
    mxs_enc_kv_str(e, "profile", x->column);
    mxs_enc_kv_str(e, "class", mxs_class_name(x->cls));
    mxs_enc_kv_str(e, "compared_with", s->column);
    mxs_enc_kv_str(e, "fault", mxs_fault_name(fs[k].f.fault));
    mxs_enc_kv_str(e, "setting", fs[k].f.setting);
    mxs_enc_kv_str(e, "explanation", fs[k].f.text);
    e->end(e);
  }
  e->end(e);
  mxs_enc_kv_str(e, "summary", all.text);
  e->end(e);
  if (ok) row_free(&r);
  free(fs);
}

int mxs_compare_print_json(const mxs_pdomain_t *d, FILE *fp) {
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  size_t nrows = 0, ndns = 0;
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) d->items[i].ip ? nrows++ : ndns++;
  e->map(e, 5);
  mxs_enc_kv_str(e, "domain", d->name);
  e->key(e, "ok");
  e->boolean(e, mxs_pdomain_all_ok(d));
  e->key(e, "profiles");
  e->array(e, d->ncols);
  for (size_t c = 0; c < d->ncols; c++) e->str(e, d->cols[c].name);
  e->end(e);
  e->key(e, "rows");
  e->array(e, nrows);
  for (size_t i = 0; i < d->nitems; i += row_len(d, i))
    if (d->items[i].ip) json_row(d, i, e);
  e->end(e);
  e->key(e, "dns"); /* what stopped before any address: the domain, or an MX host */
  e->array(e, ndns);
  for (size_t i = 0; i < d->nitems; i += row_len(d, i)) {
    const mxs_pitem_t *it = &d->items[i];
    if (it->ip) continue;
    e->map(e, 3);
    mxs_enc_kv_str(e, "mx", it->mx ? it->mx->host : "");
    mxs_enc_kv_str(e, "class", mxs_class_name(it->dns_cls));
    mxs_enc_kv_str(e, "detail", it->dns_detail);
    e->end(e);
  }
  e->end(e);
  e->end(e);
  mxs_json_put_raw(&j, "\n", 1);
  int rc = j.oom || fwrite(j.buf, 1, j.len, fp) != j.len ? -1 : 0;
  mxs_json_encoder_free(&j);
  return rc;
}
