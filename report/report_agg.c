/* report_agg.c - `mxscan report`: folds records into the report's counts.
 *
 * One pass, constant work per record: hash lookups for the domain, the
 * MX host's provider (libpsl is asked once per host), the TLS version and
 * cipher.  Records of one domain may be anywhere in the file (probes finish
 * in any order), so domains are keyed, never assumed contiguous.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"
#include "results/dane.h"

mxs_report_t *mxs_report_new(const mxs_report_opts_t *o) {
  mxs_report_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->o = *o;
  r->psl = psl_builtin(); /* NULL only if libpsl was built without a list */
  mxs_arena_init(&r->arena);
  mxs_table_init(&r->domains);
  mxs_table_init(&r->providers);
  mxs_table_init(&r->mx_provider);
  mxs_table_init(&r->versions);
  mxs_table_init(&r->ciphers);
  return r;
}

void mxs_report_free(mxs_report_t *r) {
  if (!r) return;
  mxs_table_free(&r->domains);
  mxs_table_free(&r->providers);
  mxs_table_free(&r->mx_provider);
  mxs_table_free(&r->versions);
  mxs_table_free(&r->ciphers);
  mxs_arena_free(&r->arena);
  free(r->expiring);
  free(r->files);
  free(r);
}

int mxs_report_add_file(mxs_report_t *r, const char *path, uint64_t nrecords) {
  mxs_rfile_t *nf = realloc(r->files, (r->nfiles + 1) * sizeof *nf);
  if (!nf) return -ENOMEM;
  r->files = nf;
  r->files[r->nfiles++] = (mxs_rfile_t){path, nrecords};
  return 0;
}

/* The entry for KEY in T, created zeroed with a copy of KEY as its first
 * member (every value type here starts with `const char *name`). */
static void *entry(mxs_report_t *r, mxs_table_t *t, const char *key, size_t size) {
  void *v = mxs_table_get(t, key);
  if (v) return v;
  if (!(v = mxs_arena_alloc(&r->arena, size))) return NULL;
  if (!(*(const char **)v = mxs_arena_strdup(&r->arena, key)) || mxs_table_put(t, key, v) < 0) return NULL;
  return v;
}

static int count(mxs_report_t *r, mxs_table_t *t, const char *name) {
  mxs_rcount_t *c = entry(r, t, name, sizeof *c);
  if (!c) return -ENOMEM;
  c->n++;
  return 0;
}

/* The provider of an MX host: its registrable domain ("mx1.mail.example.co.uk"
 * -> "example.co.uk").  An address literal or a name that is itself a
 * public suffix is its own provider. */
static const char *provider_name(const mxs_report_t *r, const char *mx) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, mx, addr) == 1 || inet_pton(AF_INET6, mx, addr) == 1) return mx;
  const char *reg = r->psl ? psl_registrable_domain(r->psl, mx) : NULL;
  return reg ? reg : mx;
}

static mxs_rprovider_t *provider(mxs_report_t *r, const char *mx) {
  mxs_rprovider_t *p = mxs_table_get(&r->mx_provider, mx);
  if (p) return p;
  if (!(p = entry(r, &r->providers, provider_name(r, mx), sizeof *p))) return NULL;
  return mxs_table_put(&r->mx_provider, mx, p) < 0 ? NULL : p;
}

static int same(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static int tlsrpt_fail(mxs_report_t *r, mxs_rdomain_t *d, const mxs_read_record_t *rec, const char *type);

/* Under DANE, a session whose certificate matched a usable TLSA record
 * succeeds, whatever WebPKI says (the record's class, and so its tlsrpt,
 * is WebPKI's first failure: a cert-* class): RFC 8460 reports what the
 * applied policy, here tlsa, made of the session. */
static int dane_success(const mxs_read_record_t *rec) {
  mxs_dane_view_t v;
  if (!mxs_dane_read_view(rec, &v) || !mxs_dane_applies(&v) || v.match != 1) return 0;
  return !strcmp(mxs_class_stage(rec->cls), "cert") && rec->cls != MXS_CLASS_TLSA_INVALID &&
         rec->cls != MXS_CLASS_STS_WEBPKI_INVALID;
}

/* TLS-RPT counts sessions that reached TLS: a record whose tlsrpt is
 * "none" (DNS, TCP, SMTP failures before STARTTLS) is no session at all. */
static int tlsrpt_add(mxs_report_t *r, mxs_rdomain_t *d, const mxs_read_record_t *rec) {
  const char *type = rec->tlsrpt[0] ? rec->tlsrpt : mxs_class_tlsrpt(rec->cls);
  if (strcmp(type, "none") == 0) return 0;
  if (strcmp(type, "success") == 0 || dane_success(rec)) {
    d->tls_ok++;
    return 0;
  }
  d->tls_fail++;
  if (!r->o.tlsrpt) return 0;
  return tlsrpt_fail(r, d, rec, type);
}

/* The policy that applies to the domain's sessions (RFC 8460 4.4): its
 * MTA-STS policy as the first record with a policy.sts map gives it. */
static int tlsrpt_policy(mxs_report_t *r, mxs_rdomain_t *d, const mxs_read_record_t *rec) {
  if (!r->o.tlsrpt || d->sts || !rec->has_sts) return 0;
  d->sts = 1;
  if (!rec->sts_mode) return 0;
  d->sts_mode = mxs_arena_strdup(&r->arena, rec->sts_mode);
  d->sts_max_age = rec->sts_max_age;
  d->sts_mx = rec->sts_nmx ? mxs_arena_alloc(&r->arena, rec->sts_nmx * sizeof *d->sts_mx) : NULL;
  if (!d->sts_mode || (rec->sts_nmx && !d->sts_mx)) return -ENOMEM;
  for (size_t i = 0; i < rec->sts_nmx; i++)
    if (!(d->sts_mx[i] = mxs_arena_strdup(&r->arena, rec->sts_mx[i]))) return -ENOMEM;
  d->sts_nmx = rec->sts_nmx;
  return 0;
}

/* Appends S to list *HEAD (length *N) unless it is there already. */
static int str_add(mxs_report_t *r, mxs_rstr_t **head, size_t *n, const char *s) {
  mxs_rstr_t **tail = head;
  for (; *tail; tail = &(*tail)->next)
    if (!strcmp((*tail)->s, s)) return 0;
  mxs_rstr_t *e = mxs_arena_alloc(&r->arena, sizeof *e);
  if (!e || !(e->s = mxs_arena_strdup(&r->arena, s))) return -ENOMEM;
  e->next = NULL;
  *tail = e;
  (*n)++;
  return 0;
}

/* DANE's policy (RFC 8460 4.4: policy-type tlsa, the TLSA records as the
 * policy strings): the records of every MX host of the domain that DANE
 * applies to, secure with TLSA records (usable or not: either way a DANE
 * sender applied them, RFC 7672 2.2). */
static int tlsrpt_dane(mxs_report_t *r, mxs_rdomain_t *d, const mxs_read_record_t *rec) {
  mxs_dane_view_t v;
  if (!r->o.tlsrpt || !mxs_dane_read_view(rec, &v) || !mxs_dane_applies(&v) || !rec->mx) return 0;
  if (str_add(r, &d->dane_mx, &d->ndane_mx, rec->mx) < 0) return -ENOMEM;
  for (size_t i = 0; i < rec->ndane_tlsa; i++)
    if (str_add(r, &d->tlsa, &d->ntlsa, rec->dane_tlsa[i]) < 0) return -ENOMEM;
  return 0;
}

static int tlsrpt_fail(mxs_report_t *r, mxs_rdomain_t *d, const mxs_read_record_t *rec, const char *type) {
  mxs_rfail_t **tail = &d->fails; /* kept in order of first appearance */
  for (; *tail; tail = &(*tail)->next) {
    mxs_rfail_t *f = *tail;
    if (same(f->type, type) && same(f->mx, rec->mx) && same(f->ip, rec->ip) && same(f->detail, rec->detail)) {
      f->count++;
      return 0;
    }
  }
  mxs_rfail_t *f = mxs_arena_alloc(&r->arena, sizeof *f);
  if (!f) return -ENOMEM;
  f->type = mxs_arena_strdup(&r->arena, type);
  f->mx = mxs_arena_strdup(&r->arena, rec->mx);
  f->ip = mxs_arena_strdup(&r->arena, rec->ip);
  f->detail = mxs_arena_strdup(&r->arena, rec->detail);
  if (!f->type || (rec->mx && !f->mx) || (rec->ip && !f->ip) || !f->detail) return -ENOMEM;
  f->count = 1;
  *tail = f;
  return 0;
}

static int expiring_add(mxs_report_t *r, const mxs_read_record_t *rec) {
  if (r->nexpiring == r->capexpiring) {
    size_t cap = r->capexpiring ? r->capexpiring * 2 : 64;
    mxs_rexpiring_t *n = realloc(r->expiring, cap * sizeof *n);
    if (!n) return -ENOMEM;
    r->expiring = n;
    r->capexpiring = cap;
  }
  mxs_rexpiring_t *e = &r->expiring[r->nexpiring];
  e->domain = mxs_arena_strdup(&r->arena, rec->domain);
  e->mx = mxs_arena_strdup(&r->arena, rec->mx ? rec->mx : "");
  e->not_after = mxs_arena_strdup(&r->arena, rec->cert_not_after ? rec->cert_not_after : "");
  e->sha256 = mxs_arena_strdup(&r->arena, rec->cert_sha256 ? rec->cert_sha256 : "");
  e->days_left = rec->cert_days_left;
  e->subject_cn = mxs_arena_strdup(&r->arena, rec->cert_subject_cn ? rec->cert_subject_cn : "");
  if (!e->domain || !e->mx || !e->not_after || !e->sha256 || !e->subject_cn) return -ENOMEM;
  r->nexpiring++;
  return 0;
}

/* --html: the record that gives a failing domain its class, and the
 * providers it fails at (each counted once per domain). */
static int why_add(mxs_report_t *r, mxs_rdomain_t *d, mxs_rprovider_t *p, const mxs_read_record_t *rec) {
  if (!d->why || rec->cls < d->why->cls) { /* the old strings stay in the arena: failing records only */
    mxs_rwhy_t *w = d->why ? d->why : mxs_arena_alloc(&r->arena, sizeof *w);
    if (!w) return -ENOMEM;
    w->cls = rec->cls;
    w->stage = mxs_arena_strdup(&r->arena, rec->stage);
    w->detail = mxs_arena_strdup(&r->arena, rec->detail);
    w->mx = mxs_arena_strdup(&r->arena, rec->mx);
    w->ip = mxs_arena_strdup(&r->arena, rec->ip);
    w->banner = mxs_arena_strdup(&r->arena, rec->banner);
    if (!w->stage || !w->detail || (rec->mx && !w->mx) || (rec->ip && !w->ip) || (rec->banner && !w->banner))
      return -ENOMEM;
    d->why = w;
  }
  if (!p) return 0;
  for (const mxs_rpfail_t *f = d->pfails; f; f = f->next)
    if (f->p == p) return 0;
  mxs_rpfail_t *f = mxs_arena_alloc(&r->arena, sizeof *f);
  if (!f) return -ENOMEM;
  *f = (mxs_rpfail_t){d->pfails, p};
  d->pfails = f;
  p->fail_domains++;
  return 0;
}

/* RFC 3339 UTC times of one format sort as strings. */
static void track_time(mxs_report_t *r, const char *at) {
  if (!at[0] || strlen(at) >= sizeof r->first_at) return;
  if (!r->first_at[0] || strcmp(at, r->first_at) < 0) strcpy(r->first_at, at);
  if (strcmp(at, r->last_at) > 0) strcpy(r->last_at, at);
}

int mxs_report_add(void *arg, const mxs_read_record_t *rec) {
  mxs_report_t *r = arg;
  mxs_rdomain_t *d = entry(r, &r->domains, rec->domain, sizeof *d);
  if (!d) return -ENOMEM;
  d->seen |= MXS_CLASS_BIT(rec->cls);
  mxs_delivery_domain_add_outcomes(&d->delivery, rec->delivery, rec->cls, rec->pref);
  r->probes[rec->cls]++;
  r->nprobes++;
  track_time(r, rec->scanned_at);
  r->delivery_records += rec->has_delivery != 0;
  mxs_rprovider_t *p = NULL;
  if (rec->mx) {
    if (!(p = provider(r, rec->mx))) return -ENOMEM;
    p->probes++;
    if (rec->cls == MXS_CLASS_OK)
      p->ok++;
    else
      p->fails[rec->cls]++;
  }
  if (r->o.html && rec->cls != MXS_CLASS_OK && why_add(r, d, p, rec) < 0) return -ENOMEM;
  if (rec->tls_version && count(r, &r->versions, rec->tls_version) < 0) return -ENOMEM;
  if (rec->cipher && count(r, &r->ciphers, rec->cipher) < 0) return -ENOMEM;
  if (rec->has_cert && rec->cert_days_left <= r->o.expiring_days && expiring_add(r, rec) < 0) return -ENOMEM;
  if (tlsrpt_policy(r, d, rec) < 0 || tlsrpt_dane(r, d, rec) < 0) return -ENOMEM;
  return tlsrpt_add(r, d, rec);
}
