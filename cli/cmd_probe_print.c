/* cmd_probe_print.c - one explained domain as text for people and as one
 * JSON document for tickets and tools.
 *
 * Both show the same things in the same order: the DNS answers used, then
 * per record the transcript of the connection (and of the legacy retry),
 * the record, and the explanation of its class from explain.c.  The JSON
 * carries each record exactly as `mxscan scan` writes it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_probe.h"
#include "results/delivery.h"
#include "results/encoders.h"
#include "results/explain.h"

#define WRAP_COLUMNS 78

void mxs_pitem_record(const mxs_pitem_t *it, mxs_record_t *r, mxs_timings_t *tm, char *detail, size_t len) {
  const mxs_pdomain_t *d = it->dom;
  if (!it->ip) { /* stopped at DNS: as scan.c's emit_dns_record */
    *r = (mxs_record_t){.domain = d->name, .cls = it->dns_cls, .stage = "dns", .detail = it->dns_detail};
    memcpy(r->scanned_at, d->scanned_at, sizeof r->scanned_at);
    if (it->mx) {
      r->mx = it->mx->host;
      r->pref = it->mx->pref;
      r->implicit_mx = d->implicit_mx;
    }
    if (it->excl_ip) { /* as excluded.c's: the address known, never connected to */
      r->ip = it->excl_ip;
      r->port = d->cfg->port;
    }
    if (it->has_dane) r->policy = &it->policy_view;
    if (it->dane_cls_set) {
      r->cls = it->dane_cls;
      r->detail = it->dane_detail;
    }
    return;
  }
  mxs_verdict_record(&it->v, it->mx->host, r, tm, detail, len);
  r->domain = d->name;
  r->mx = it->mx->host;
  r->pref = it->mx->pref;
  r->implicit_mx = d->implicit_mx;
  r->ip = it->ip;
  r->port = d->cfg->port;
  tm->dns = d->dns_ms;
  if (it->has_dane) { /* as fanout.c's with_policy */
    r->policy = &it->policy_view;
    if (it->dane_cls_set) {
      r->cls = it->dane_cls;
      r->detail = it->dane_detail;
    }
  }
}

mxs_class_t mxs_pitem_class(const mxs_pitem_t *it) {
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_pitem_record(it, &r, &tm, detail, sizeof detail);
  return r.cls;
}

int mxs_pdomain_all_ok(const mxs_pdomain_t *d) {
  for (size_t i = 0; i < d->nitems; i++)
    if (mxs_pitem_class(&d->items[i]) != MXS_CLASS_OK) return 0;
  return 1;
}

/* What a sender with old TLS settings got, or "" when there was no retry.
 * The legacy profile is TLS 1.0 and up at OpenSSL security level 0: what
 * an MTA on OpenSSL 1.1 or older (or with TLS 1.0 still enabled) accepts. */
static void legacy_text(const mxs_pitem_t *it, char *out, size_t len) {
  const mxs_diag_t *g = &it->v.diag;
  out[0] = '\0';
  if (!it->ip || !it->v.has_diag) return;
  if (g->legacy_ok)
    snprintf(out, len,
             "An old sender (TLS 1.0 and up, OpenSSL security level 0, as with OpenSSL 1.1) gets %s with "
             "cipher %s, group %s: it can deliver over TLS, a modern one cannot.",
             g->legacy_version, g->legacy_cipher, g->legacy_group);
  else
    snprintf(out, len, "An old sender (TLS 1.0 and up, OpenSSL security level 0, as with OpenSSL 1.1) fails too: %s.",
             g->legacy_detail ? g->legacy_detail : "no handshake");
}

/* ---- text -------------------------------------------------------------- */

void mxs_print_wrapped(FILE *fp, int indent, const char *text) {
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    size_t room = WRAP_COLUMNS - (size_t)indent, n = strlen(p), cut = n;
    if (n > room) {
      cut = room;
      while (cut > 0 && p[cut] != ' ') cut--;
      if (cut == 0) { /* one word longer than the line: break after it */
        cut = room;
        while (p[cut] && p[cut] != ' ') cut++;
      }
    }
    fprintf(fp, "%*s%.*s\n", indent, "", (int)cut, p);
    p += cut;
  }
}

static int is_v6(const char *ip) { return strchr(ip, ':') != NULL; }

static void print_dns(const mxs_pdomain_t *d, FILE *fp) {
  int w = (int)strlen(d->name);
  for (size_t i = 0; i < d->nmx; i++)
    if ((int)strlen(d->mx[i].host) > w) w = (int)strlen(d->mx[i].host);
  fprintf(fp, "DNS (asked %s, answered in %d ms)\n", d->dns_label, d->dns_ms);
  if (d->status != MXS_CLASS_OK) { /* the detail names the lookup: "MX lookup: NXDOMAIN" */
    fprintf(fp, "  %-*s  %s\n", w, d->name, d->detail);
    return;
  }
  if (d->implicit_mx)
    fprintf(fp, "  %-*s  MX    none: the domain's own address is used (implicit MX)\n", w, d->name);
  else
    for (size_t i = 0; i < d->nmx; i++) fprintf(fp, "  %-*s  MX    %d %s\n", w, d->name, d->mx[i].pref, d->mx[i].host);
  for (size_t i = 0; i < d->nmx; i++) {
    const mxs_pmx_t *mx = &d->mx[i];
    for (size_t k = 0; k < mx->naddrs; k++)
      fprintf(fp, "  %-*s  %-4s  %s\n", w, mx->host, is_v6(mx->addrs[k]) ? "AAAA" : "A", mx->addrs[k]);
    if (mx->naddrs == 0) fprintf(fp, "  %-*s  A     none: %s\n", w, mx->host, mx->detail);
  }
}

static void print_transcript(const mxs_transcript_t *t, FILE *fp) {
  for (size_t i = 0; i < t->n; i++) {
    const mxs_pline_t *l = &t->lines[i];
    fprintf(fp, "  %6lld ms  %c%c %s\n", (long long)l->t_ms, l->dir, l->dir == '*' ? ' ' : ':', l->text);
  }
  if (t->truncated) fprintf(fp, "  (lines missing: out of memory)\n");
}

static void print_section(FILE *fp, const char *title, const char *text) {
  fprintf(fp, "%s:\n", title);
  mxs_print_wrapped(fp, 2, text);
}

/* The certificate problems beyond the record's class: fixing only the
 * first would leave the others. */
static void print_other_cert_errors(mxs_class_t cls, mxs_class_set_t set, FILE *fp) {
  for (int i = 0; i < MXS_CLASS_COUNT; i++) {
    if (i == (int)cls || !(set & MXS_CLASS_BIT(i))) continue;
    const mxs_explain_t *e = mxs_explain((mxs_class_t)i);
    char fix[640];
    snprintf(fix, sizeof fix, "Fix: %s", e->fix);
    fprintf(fp, "Also wrong: %s\n", mxs_class_name((mxs_class_t)i));
    mxs_print_wrapped(fp, 2, e->what);
    mxs_print_wrapped(fp, 2, fix);
  }
}

/* "may tls, encrypt deferred, ...": what a sender does at each level;
 * `dane` only with --dnssec (probe checks no MTA-STS: never `mta-sts`). */
static void print_outcomes(FILE *fp, const mxs_outcome_t out[MXS_LEVELS_COMPUTED], int dane) {
  for (int l = 0; l < MXS_LEVELS_TLS + (dane != 0); l++)
    fprintf(fp, "%s%s %s", l ? ", " : "", mxs_level_name((mxs_level_t)l), mxs_outcome_name(out[l]));
  fputc('\n', fp);
}

static void print_result(const mxs_pitem_t *it, const mxs_record_t *r, FILE *fp) {
  const mxs_explain_t *e = mxs_explain(r->cls);
  char legacy[640];
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  fprintf(fp, "\nResult: %s (stage %s, TLS-RPT %s)\n", mxs_class_name(r->cls), r->stage, mxs_class_tlsrpt(r->cls));
  mxs_delivery_record(r, out);
  fprintf(fp, "Mail via this MX (smtp_tls_security_level): ");
  print_outcomes(fp, out, it->has_dane);
  print_section(fp, "Detail", r->detail);
  legacy_text(it, legacy, sizeof legacy);
  if (legacy[0]) print_section(fp, "Legacy retry", legacy);
  print_section(fp, "What happened", e->what);
  print_section(fp, "Likely cause", e->cause);
  print_section(fp, "Fix", e->fix);
  if (r->cert) print_other_cert_errors(r->cls, r->cert_errors, fp);
}

static void print_item(const mxs_pitem_t *it, FILE *fp) {
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_pitem_record(it, &r, &tm, detail, sizeof detail);
  if (r.mx)
    fprintf(fp, "\n== %s%s%s (MX %d%s) ==\n", r.mx, r.ip ? " " : ", no address", r.ip ? r.ip : "", r.pref,
            r.implicit_mx ? ", implicit" : "");
  else
    fprintf(fp, "\n== %s ==\n", r.domain);
  if (it->modern.used) {
    fprintf(fp, "Transcript (ms since connecting; S: server, C: client, T: TLS, *: event):\n");
    print_transcript(&it->modern, fp);
  }
  if (it->legacy.used) {
    fprintf(fp, "\nLegacy diagnostic retry (TLS 1.0 and up, OpenSSL security level 0):\n");
    print_transcript(&it->legacy, fp);
  }
  print_result(it, &r, fp);
}

static void print_summary(const mxs_pdomain_t *d, FILE *fp) {
  size_t ok = 0;
  mxs_delivery_domain_t dd;
  mxs_delivery_domain_init(&dd);
  fprintf(fp, "\n== Summary for %s ==\n", d->name);
  for (size_t i = 0; i < d->nitems; i++) {
    const mxs_pitem_t *it = &d->items[i];
    mxs_class_t cls = mxs_pitem_class(it);
    mxs_record_t r;
    mxs_timings_t tm;
    char detail[512];
    mxs_pitem_record(it, &r, &tm, detail, sizeof detail);
    mxs_delivery_domain_add(&dd, &r);
    ok += cls == MXS_CLASS_OK;
    fprintf(fp, "  %-24s %s%s%s\n", mxs_class_name(cls), it->mx ? it->mx->host : d->name, it->ip ? " " : "",
            it->ip ? it->ip : "");
  }
  /* a sender walks the MX hosts in preference order (README) */
  mxs_outcome_t out[MXS_LEVELS_COMPUTED];
  for (int l = 0; l < MXS_LEVELS_COMPUTED; l++) out[l] = mxs_delivery_fold_result(&dd.level[l]);
  fprintf(fp, "Mail to %s (smtp_tls_security_level): ", d->name);
  print_outcomes(fp, out, d->cfg->dnssec);
  if (ok == d->nitems)
    fprintf(fp, "%zu of %zu record%s ok.\n", ok, d->nitems, d->nitems == 1 ? "" : "s");
  else
    fprintf(fp, "%zu of %zu record%s ok: see above for what to fix.\n", ok, d->nitems, d->nitems == 1 ? "" : "s");
}

int mxs_pdomain_print_text(const mxs_pdomain_t *d, FILE *fp) {
  fprintf(fp, "mxscan probe %s\n\n", d->name);
  print_dns(d, fp);
  for (size_t i = 0; i < d->nitems; i++) print_item(&d->items[i], fp);
  print_summary(d, fp);
  return ferror(fp) ? -1 : 0;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_dns(const mxs_pdomain_t *d, mxs_encoder_t *e) {
  e->map(e, 6);
  mxs_enc_kv_str(e, "resolver", d->dns_label);
  mxs_enc_kv_int(e, "ms", d->dns_ms);
  mxs_enc_kv_str(e, "status", mxs_class_name(d->status));
  mxs_enc_kv_str(e, "detail", d->detail);
  e->key(e, "implicit_mx");
  e->boolean(e, d->implicit_mx);
  e->key(e, "mx");
  e->array(e, d->nmx);
  for (size_t i = 0; i < d->nmx; i++) {
    const mxs_pmx_t *mx = &d->mx[i];
    e->map(e, 5);
    mxs_enc_kv_str(e, "host", mx->host);
    mxs_enc_kv_int(e, "pref", mx->pref);
    mxs_enc_kv_str(e, "status", mxs_class_name(mx->status));
    mxs_enc_kv_str(e, "detail", mx->detail);
    e->key(e, "addrs");
    e->array(e, mx->naddrs);
    for (size_t k = 0; k < mx->naddrs; k++) e->str(e, mx->addrs[k]);
    e->end(e);
    e->end(e);
  }
  e->end(e);
  e->end(e);
}

static void json_transcript(const char *key, const mxs_transcript_t *t, mxs_encoder_t *e) {
  e->key(e, key);
  e->array(e, t->n);
  for (size_t i = 0; i < t->n; i++) {
    char dir[2] = {t->lines[i].dir, '\0'};
    e->map(e, 3);
    mxs_enc_kv_int(e, "t_ms", t->lines[i].t_ms);
    mxs_enc_kv_str(e, "dir", dir);
    mxs_enc_kv_str(e, "text", t->lines[i].text);
    e->end(e);
  }
  e->end(e);
}

static void json_class_text(mxs_class_t cls, mxs_encoder_t *e) {
  const mxs_explain_t *x = mxs_explain(cls);
  mxs_enc_kv_str(e, "class", mxs_class_name(cls));
  mxs_enc_kv_str(e, "what", x->what);
  mxs_enc_kv_str(e, "cause", x->cause);
  mxs_enc_kv_str(e, "fix", x->fix);
}

/* The class's explanation, what the legacy retry got, and the other
 * certificate problems ("also"), as the text shows them. */
static void json_explanation(const mxs_pitem_t *it, const mxs_record_t *r, mxs_encoder_t *e) {
  char legacy[640];
  legacy_text(it, legacy, sizeof legacy);
  mxs_class_set_t also = r->cert ? r->cert_errors & ~MXS_CLASS_BIT(r->cls) : 0;
  size_t nalso = 0;
  for (int i = 0; i < MXS_CLASS_COUNT; i++) nalso += (also & MXS_CLASS_BIT(i)) != 0;
  e->map(e, 4 + (legacy[0] != 0) + (nalso != 0));
  json_class_text(r->cls, e);
  if (legacy[0]) mxs_enc_kv_str(e, "legacy", legacy);
  if (nalso) {
    e->key(e, "also");
    e->array(e, nalso);
    for (int i = 0; i < MXS_CLASS_COUNT; i++) {
      if (!(also & MXS_CLASS_BIT(i))) continue;
      e->map(e, 4);
      json_class_text((mxs_class_t)i, e);
      e->end(e);
    }
    e->end(e);
  }
  e->end(e);
}

static void json_item(const mxs_pitem_t *it, mxs_encoder_t *e) {
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_pitem_record(it, &r, &tm, detail, sizeof detail);
  e->map(e, 2 + (size_t)it->modern.used + (size_t)it->legacy.used);
  e->key(e, "record");
  mxs_record_encode(&r, e);
  e->key(e, "explanation");
  json_explanation(it, &r, e);
  if (it->modern.used) json_transcript("transcript", &it->modern, e);
  if (it->legacy.used) json_transcript("legacy_transcript", &it->legacy, e);
  e->end(e);
}

int mxs_pdomain_print_json(const mxs_pdomain_t *d, FILE *fp) {
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->map(e, 4);
  mxs_enc_kv_str(e, "domain", d->name);
  e->key(e, "ok");
  e->boolean(e, mxs_pdomain_all_ok(d));
  e->key(e, "dns");
  json_dns(d, e);
  e->key(e, "results");
  e->array(e, d->nitems);
  for (size_t i = 0; i < d->nitems; i++) json_item(&d->items[i], e);
  e->end(e);
  e->end(e);
  mxs_json_put_raw(&j, "\n", 1);
  int rc = j.oom || fwrite(j.buf, 1, j.len, fp) != j.len ? -1 : 0;
  mxs_json_encoder_free(&j);
  return rc;
}
