/* cmd_diff.c - `mxscan diff OLD NEW`: what changed between two runs.
 *
 * Both files are folded into per-domain summaries (the class set, and the
 * (MX, address, certificate) of each probe), then the two sorted domain
 * lists are walked side by side.  MX names and addresses are interned in
 * one table for both runs, so "the same host" is a pointer compare and the
 * few thousand names of a million records are stored once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "report/report.h"
#include "results/delivery.h"
#include "results/delivery.h"

static const char diff_usage[] =
    "usage: mxscan diff [--json] [--level LEVEL] OLD NEW   what changed between two results files\n"
    "                                                      (msgpack or JSON Lines)\n"
    "\n"
    "Lists the domains whose class changed (newly failing, fixed, another failure\n"
    "class), domains only in one run, MX hosts added or removed per domain,\n"
    "certificates that changed (leaf sha256) for the same domain, MX and address,\n"
    "and domains whose mail a sender at LEVEL would now handle otherwise (tls,\n"
    "cleartext, deferred).\n"
    "\n"
    "  --json           one JSON document instead of text tables\n"
    "  --level LEVEL    the sender's smtp_tls_security_level for the delivery changes:\n"
    "                   may, encrypt, verify, secure, dane, mta-sts (may)\n"
    "\n"
    "Exit status: 0 the diff was written (whatever changed), 1 an input could not\n"
    "be read, 2 usage error.\n";

typedef struct {
  const char *mx, *ip;            /* interned; NULL when absent */
  const char *sha256, *not_after; /* arena; NULL when absent */
} dprobe_t;

typedef struct {
  const char *name; /* arena */
  mxs_class_set_t seen;
  dprobe_t *probes; /* arena */
  uint32_t n, cap;
  mxs_delivery_fold_t delivery; /* at the diff's level (zeroed: empty) */
} ddomain_t;

typedef struct diff_s diff_t;

typedef struct {
  diff_t *diff;
  const char *path;
  mxs_table_t domains; /* name -> ddomain_t */
  uint64_t records;
  ddomain_t **sorted; /* owned, by name */
} dside_t;

/* One line of the diff. */
typedef enum {
  CH_NEWLY_FAILING,
  CH_FIXED,
  CH_CLASS,
  CH_NEW_DOMAIN,
  CH_GONE_DOMAIN,
  CH_MX_ADDED,
  CH_MX_REMOVED,
  CH_CERT,
  CH_DELIVERY, /* what a sender at the diff's level does with the mail */
  CH_KINDS
} kind_t;

typedef struct {
  kind_t kind;
  const char *domain, *mx, *ip;
  mxs_class_t old_cls, new_cls;
  const dprobe_t *old_p, *new_p;  /* CH_CERT */
  mxs_outcome_t old_out, new_out; /* CH_DELIVERY */
} change_t;

struct diff_s {
  mxs_arena_t arena;
  mxs_table_t strings; /* text -> its arena copy */
  dside_t old, new_;
  change_t *ch; /* owned */
  size_t nch, capch, count[CH_KINDS];
  mxs_level_t level; /* --level */
};

static const char *intern(diff_t *d, const char *s, int *oom) {
  if (!s) return NULL;
  char *v = mxs_table_get(&d->strings, s);
  if (v) return v;
  if (!(v = mxs_arena_strdup(&d->arena, s)) || mxs_table_put(&d->strings, s, v) < 0) *oom = 1;
  return v;
}

static ddomain_t *domain(dside_t *s, const char *name) {
  ddomain_t *dd = mxs_table_get(&s->domains, name);
  if (dd) return dd;
  if (!(dd = mxs_arena_alloc(&s->diff->arena, sizeof *dd))) return NULL;
  if (!(dd->name = mxs_arena_strdup(&s->diff->arena, name)) || mxs_table_put(&s->domains, name, dd) < 0) return NULL;
  return dd;
}

/* A slot for the probe of (MX, IP): the existing one (a later record of
 * the same probe wins) or a new one. */
static dprobe_t *probe_slot(diff_t *d, ddomain_t *dd, const char *mx, const char *ip) {
  for (uint32_t i = 0; i < dd->n; i++)
    if (dd->probes[i].mx == mx && dd->probes[i].ip == ip) return &dd->probes[i];
  if (dd->n == dd->cap) { /* the old array stays in the arena: at most as much again */
    uint32_t cap = dd->cap ? dd->cap * 2 : 2;
    dprobe_t *np = mxs_arena_alloc(&d->arena, cap * sizeof *np);
    if (!np) return NULL;
    if (dd->n) memcpy(np, dd->probes, dd->n * sizeof *np);
    dd->probes = np;
    dd->cap = cap;
  }
  return &dd->probes[dd->n++];
}

static int side_add(void *arg, const mxs_read_record_t *rec) {
  dside_t *s = arg;
  diff_t *d = s->diff;
  ddomain_t *dd = domain(s, rec->domain);
  if (!dd) return -ENOMEM;
  dd->seen |= MXS_CLASS_BIT(rec->cls);
  mxs_delivery_fold_add(&dd->delivery, rec->delivery[d->level], mxs_delivery_retried(d->level, rec->cls), rec->pref);
  if (!rec->mx) return 0;
  int oom = 0;
  const char *mx = intern(d, rec->mx, &oom), *ip = intern(d, rec->ip, &oom);
  dprobe_t *p = oom ? NULL : probe_slot(d, dd, mx, ip);
  if (!p) return -ENOMEM;
  /* certificates are mostly one per address: copied, not interned */
  *p = (dprobe_t){mx, ip, mxs_arena_strdup(&d->arena, rec->cert_sha256),
                  mxs_arena_strdup(&d->arena, rec->cert_not_after)};
  if ((rec->cert_sha256 && !p->sha256) || (rec->cert_not_after && !p->not_after)) oom = 1;
  return oom ? -ENOMEM : 0;
}

static int add_change(diff_t *d, change_t c) {
  if (d->nch == d->capch) {
    size_t cap = d->capch ? d->capch * 2 : 64;
    change_t *n = realloc(d->ch, cap * sizeof *n);
    if (!n) return -ENOMEM;
    d->ch = n;
    d->capch = cap;
  }
  d->ch[d->nch++] = c;
  d->count[c.kind]++;
  return 0;
}

static int has_mx(const ddomain_t *dd, uint32_t upto, const char *mx) {
  for (uint32_t i = 0; i < upto; i++)
    if (dd->probes[i].mx == mx) return 1;
  return 0;
}

/* MX hosts of A missing from B, once each, as KIND changes. */
static int mx_missing(diff_t *d, const ddomain_t *a, const ddomain_t *b, kind_t kind) {
  for (uint32_t i = 0; i < a->n; i++) {
    const char *mx = a->probes[i].mx;
    if (has_mx(a, i, mx) || has_mx(b, b->n, mx)) continue;
    if (add_change(d, (change_t){.kind = kind, .domain = a->name, .mx = mx}) < 0) return -ENOMEM;
  }
  return 0;
}

static int compare(diff_t *d, const ddomain_t *o, const ddomain_t *n) {
  mxs_class_t oc = mxs_domain_class(o->seen), nc = mxs_domain_class(n->seen);
  if (oc != nc) {
    kind_t k = oc == MXS_CLASS_OK ? CH_NEWLY_FAILING : nc == MXS_CLASS_OK ? CH_FIXED : CH_CLASS;
    if (add_change(d, (change_t){.kind = k, .domain = n->name, .old_cls = oc, .new_cls = nc}) < 0) return -ENOMEM;
  }
  if (mx_missing(d, n, o, CH_MX_ADDED) < 0 || mx_missing(d, o, n, CH_MX_REMOVED) < 0) return -ENOMEM;
  /* an outcome an older file cannot tell (unknown) is no change */
  mxs_outcome_t oo = mxs_delivery_fold_result(&o->delivery), no = mxs_delivery_fold_result(&n->delivery);
  if (oo != no && oo != MXS_OUTCOME_UNKNOWN && no != MXS_OUTCOME_UNKNOWN &&
      add_change(d, (change_t){.kind = CH_DELIVERY, .domain = n->name, .old_out = oo, .new_out = no}) < 0)
    return -ENOMEM;
  for (uint32_t i = 0; i < n->n; i++) {
    const dprobe_t *np = &n->probes[i];
    if (!np->sha256) continue;
    for (uint32_t j = 0; j < o->n; j++) {
      const dprobe_t *op = &o->probes[j];
      if (op->mx != np->mx || op->ip != np->ip || !op->sha256 || strcmp(op->sha256, np->sha256) == 0) continue;
      change_t c = {.kind = CH_CERT, .domain = n->name, .mx = np->mx, .ip = np->ip, .old_p = op, .new_p = np};
      if (add_change(d, c) < 0) return -ENOMEM;
    }
  }
  return 0;
}

/* Walks both runs' domains in name order. */
static int diff_run(diff_t *d) {
  size_t no = d->old.domains.len, nn = d->new_.domains.len, i = 0, j = 0;
  int rc = 0;
  while (rc == 0 && (i < no || j < nn)) {
    int c = i < no && j < nn ? strcmp(d->old.sorted[i]->name, d->new_.sorted[j]->name) : i < no ? -1 : 1;
    if (c < 0) {
      const ddomain_t *o = d->old.sorted[i++];
      rc = add_change(d, (change_t){.kind = CH_GONE_DOMAIN, .domain = o->name, .old_cls = mxs_domain_class(o->seen)});
    } else if (c > 0) {
      const ddomain_t *n = d->new_.sorted[j++];
      rc = add_change(d, (change_t){.kind = CH_NEW_DOMAIN, .domain = n->name, .new_cls = mxs_domain_class(n->seen)});
    } else {
      rc = compare(d, d->old.sorted[i++], d->new_.sorted[j++]);
    }
  }
  return rc;
}

/* ---- output ------------------------------------------------------------------ */

static const char *const titles[CH_KINDS] = {
    [CH_NEWLY_FAILING] = "Newly failing (ok before)",
    [CH_FIXED] = "Fixed (ok now)",
    [CH_CLASS] = "Failure class changed",
    [CH_NEW_DOMAIN] = "Domains only in the new run",
    [CH_GONE_DOMAIN] = "Domains only in the old run",
    [CH_MX_ADDED] = "MX hosts added",
    [CH_MX_REMOVED] = "MX hosts removed",
    [CH_CERT] = "Certificates changed (same domain, MX and address)",
    [CH_DELIVERY] = "Delivery changed at",
};

static const char *const json_keys[CH_KINDS] = {
    [CH_NEWLY_FAILING] = "newly_failing",  [CH_FIXED] = "fixed",
    [CH_CLASS] = "class_changed",          [CH_NEW_DOMAIN] = "new_domains",
    [CH_GONE_DOMAIN] = "vanished_domains", [CH_MX_ADDED] = "mx_added",
    [CH_MX_REMOVED] = "mx_removed",        [CH_CERT] = "certs_changed",
    [CH_DELIVERY] = "delivery_changed",
};

/* The cells of change C (kinds of one section share a layout). */
static size_t cells(const change_t *c, const char **out, char *sha_a, char *sha_b) {
  switch (c->kind) {
  case CH_NEWLY_FAILING:
  case CH_FIXED:
  case CH_CLASS: out[0] = c->domain, out[1] = mxs_class_name(c->old_cls), out[2] = mxs_class_name(c->new_cls); return 3;
  case CH_NEW_DOMAIN: out[0] = c->domain, out[1] = mxs_class_name(c->new_cls); return 2;
  case CH_GONE_DOMAIN: out[0] = c->domain, out[1] = mxs_class_name(c->old_cls); return 2;
  case CH_MX_ADDED:
  case CH_MX_REMOVED: out[0] = c->domain, out[1] = c->mx; return 2;
  case CH_DELIVERY:
    out[0] = c->domain, out[1] = mxs_outcome_name(c->old_out), out[2] = mxs_outcome_name(c->new_out);
    return 3;
  default: /* CH_CERT: hash prefixes are enough for people; --json has them whole */
    snprintf(sha_a, 17, "%s", c->old_p->sha256);
    snprintf(sha_b, 17, "%s", c->new_p->sha256);
    out[0] = c->domain, out[1] = c->mx, out[2] = c->ip, out[3] = sha_a, out[4] = sha_b;
    out[5] = c->new_p->not_after;
    return 6;
  }
}

static int text_section(diff_t *d, kind_t k, FILE *fp) {
  static const char *const heads[][6] = {{"domain", "was", "now"},
                                         {"domain", "class"},
                                         {"domain", "mx"},
                                         {"domain", "mx", "ip", "old sha256", "new sha256", "new not_after"}};
  const char *const *head = k <= CH_CLASS || k == CH_DELIVERY ? heads[0]
                            : k <= CH_GONE_DOMAIN             ? heads[1]
                            : k <= CH_MX_REMOVED              ? heads[2]
                                                              : heads[3];
  size_t ncol = k <= CH_CLASS || k == CH_DELIVERY ? 3 : k == CH_CERT ? 6 : 2;
  if (!d->count[k]) return 0;
  if (k == CH_DELIVERY)
    fprintf(fp, "\n%s %s (what a sender does with the mail): %zu\n", titles[k], mxs_level_name(d->level), d->count[k]);
  else
    fprintf(fp, "\n%s: %zu\n", titles[k], d->count[k]);
  mxs_tab_t t;
  mxs_tab_init(&t, ncol, 0);
  int rc = mxs_tab_row(&t, head);
  /* cert rows borrow their hash prefixes from here until printed */
  char(*sha)[2][17] = calloc(d->count[k], sizeof *sha);
  if (!sha) rc = -ENOMEM;
  for (size_t i = 0, row = 0; i < d->nch && rc == 0; i++) {
    if (d->ch[i].kind != k) continue;
    const char *out[6];
    cells(&d->ch[i], out, sha[row][0], sha[row][1]);
    row++;
    rc = mxs_tab_row(&t, out);
  }
  if (rc == 0) mxs_tab_print(&t, fp);
  free(sha);
  mxs_tab_free(&t);
  return rc;
}

static int print_text(diff_t *d, FILE *fp) {
  fprintf(fp, "mxscan diff: %s (%llu records, %zu domains) -> %s (%llu records, %zu domains)\n", d->old.path,
          (unsigned long long)d->old.records, d->old.domains.len, d->new_.path, (unsigned long long)d->new_.records,
          d->new_.domains.len);
  if (!d->nch)
    fprintf(fp, "No changes.\n");
  else
    fprintf(fp,
            "%zu newly failing, %zu fixed, %zu changed class, %zu new and %zu vanished domains, "
            "%zu MX hosts added, %zu removed, %zu certificates changed, %zu delivery changed at %s\n",
            d->count[CH_NEWLY_FAILING], d->count[CH_FIXED], d->count[CH_CLASS], d->count[CH_NEW_DOMAIN],
            d->count[CH_GONE_DOMAIN], d->count[CH_MX_ADDED], d->count[CH_MX_REMOVED], d->count[CH_CERT],
            d->count[CH_DELIVERY], mxs_level_name(d->level));
  int rc = 0; /* then a table per kind of change that happened */
  for (int k = 0; k < CH_KINDS && rc == 0; k++) rc = text_section(d, (kind_t)k, fp);
  if (rc == 0 && (fflush(fp) != 0 || ferror(fp))) rc = errno ? -errno : -EIO;
  return rc;
}

static void json_change(const diff_t *d, const change_t *c, mxs_encoder_t *e) {
  e->map(e, 0);
  mxs_enc_kv_str(e, "domain", c->domain);
  if (c->kind == CH_DELIVERY) {
    mxs_enc_kv_str(e, "level", mxs_level_name(d->level));
    mxs_enc_kv_str(e, "old", mxs_outcome_name(c->old_out));
    mxs_enc_kv_str(e, "new", mxs_outcome_name(c->new_out));
    e->end(e);
    return;
  }
  if (c->kind <= CH_CLASS || c->kind == CH_GONE_DOMAIN) mxs_enc_kv_str(e, "old_class", mxs_class_name(c->old_cls));
  if (c->kind <= CH_NEW_DOMAIN) mxs_enc_kv_str(e, "new_class", mxs_class_name(c->new_cls));
  if (c->mx) mxs_enc_kv_str(e, "mx", c->mx);
  if (c->kind == CH_CERT) {
    if (c->ip) mxs_enc_kv_str(e, "ip", c->ip);
    mxs_enc_kv_str(e, "old_sha256", c->old_p->sha256);
    mxs_enc_kv_str(e, "new_sha256", c->new_p->sha256);
    mxs_enc_kv_str(e, "old_not_after", c->old_p->not_after);
    mxs_enc_kv_str(e, "new_not_after", c->new_p->not_after);
  }
  e->end(e);
}

static void json_side(const dside_t *s, const char *key, mxs_encoder_t *e) {
  e->key(e, key);
  e->map(e, 3);
  mxs_enc_kv_str(e, "path", s->path);
  mxs_enc_kv_int(e, "records", (int64_t)s->records);
  mxs_enc_kv_int(e, "domains", (int64_t)s->domains.len);
  e->end(e);
}

static int print_json(diff_t *d, FILE *fp) {
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->map(e, 0);
  json_side(&d->old, "old", e);
  json_side(&d->new_, "new", e);
  for (int k = 0; k < CH_KINDS; k++) {
    e->key(e, json_keys[k]);
    e->array(e, d->count[k]);
    for (size_t i = 0; i < d->nch; i++)
      if (d->ch[i].kind == (kind_t)k) json_change(d, &d->ch[i], e);
    e->end(e);
  }
  e->end(e);
  int rc = mxs_json_emit(&j, fp);
  mxs_json_encoder_free(&j);
  return rc;
}

/* ---- the command ------------------------------------------------------------ */

static int load(dside_t *s) {
  int rc = mxs_report_read(s->path, side_add, s, &s->records, stderr);
  if (rc < 0) return rc;
  s->sorted = (ddomain_t **)mxs_report_table_values(&s->domains, mxs_report_cmp_name);
  if (s->sorted) return 0;
  fprintf(stderr, "mxscan: out of memory\n");
  return -ENOMEM;
}

static void diff_free(diff_t *d) {
  mxs_table_free(&d->old.domains);
  mxs_table_free(&d->new_.domains);
  mxs_table_free(&d->strings);
  free(d->old.sorted);
  free(d->new_.sorted);
  free(d->ch);
  mxs_arena_free(&d->arena);
}

static int parse_args(int argc, char **argv, int *json, mxs_level_t *level) {
  static const struct option opts[] = {
      {"json", no_argument, 0, 'j'}, {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int c, l;
  optind = 0; /* getopt afresh (see options.c) */
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      fputs(diff_usage, stdout);
      return -1;
    }
    if (c == 'l') {
      if ((l = mxs_level_from_name(optarg)) < 0) {
        fprintf(stderr, "mxscan diff: --level: '%s' is not a level: may, encrypt, verify, secure, dane, mta-sts\n",
                optarg);
        return MXS_REPORT_EXIT_USAGE;
      }
      *level = (mxs_level_t)l;
      continue;
    }
    if (c != 'j') return MXS_REPORT_EXIT_USAGE;
    *json = 1;
  }
  if (argc - optind == 2) return 0;
  fprintf(stderr, "mxscan diff: two results files, OLD and NEW, are needed\n");
  return MXS_REPORT_EXIT_USAGE;
}

int mxs_cmd_diff(int argc, char **argv) {
  int json = 0;
  mxs_level_t level = MXS_LEVEL_MAY;
  int rc = parse_args(argc, argv, &json, &level);
  if (rc) {
    if (rc == MXS_REPORT_EXIT_USAGE) fprintf(stderr, "Try 'mxscan diff --help'.\n");
    return rc < 0 ? MXS_REPORT_EXIT_OK : rc;
  }
  diff_t d = {.old = {.path = argv[optind]}, .new_ = {.path = argv[optind + 1]}, .level = level};
  d.old.diff = d.new_.diff = &d;
  mxs_arena_init(&d.arena);
  mxs_table_init(&d.strings);
  mxs_table_init(&d.old.domains);
  mxs_table_init(&d.new_.domains);
  rc = load(&d.old);
  if (rc == 0) rc = load(&d.new_);
  if (rc < 0) { /* already said why */
    diff_free(&d);
    return MXS_REPORT_EXIT_INPUT;
  }
  rc = diff_run(&d);
  if (rc == 0) rc = json ? print_json(&d, stdout) : print_text(&d, stdout);
  diff_free(&d);
  if (rc < 0) {
    fprintf(stderr, "mxscan: cannot write the diff: %s\n", strerror(-rc));
    return MXS_REPORT_EXIT_INPUT;
  }
  return MXS_REPORT_EXIT_OK;
}
