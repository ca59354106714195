/* cmd_probe.c - `mxscan probe DOMAIN`: one domain, explained.
 *
 * Resolves the domain, probes every (MX host, address) the way `mxscan
 * scan` does, with the same probe, verdict and legacy retry, and keeps the
 * transcript of every connection.  Unlike a scan nothing is shared: each
 * (MX name, address) gets its own connection with its own SNI, so every
 * transcript is exactly the dialogue behind its record.  Addresses are
 * probed at once, one connection per address at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd_probe.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "queue/input.h"
#include "resolver/resolver.h"
#include "scanner/loopcheck.h"
#include "scanner/scan.h"

#define EXIT_USAGE  2
#define EXIT_NOT_OK 3

static const char probe_usage[] =
    "usage: mxscan probe [options] DOMAIN\n"
    "\n"
    "Resolves DOMAIN and probes each of its MX addresses the way a sending MTA does,\n"
    "then prints for each: the DNS answers used, the SMTP transcript with timestamps\n"
    "and the TLS handshake (certificates included), the result class, and what it\n"
    "means, its likely cause and the fix.  When the modern TLS handshake fails, the\n"
    "legacy diagnostic retry is shown too: what an old sender (TLS 1.0) would get.\n"
    "\n"
    "  --mx HOST                 probe only this MX host of DOMAIN\n"
    "  --ip ADDR                 probe only this address of DOMAIN's MX hosts\n"
    "  --json                    one JSON document: the records as `mxscan scan`\n"
    "                            writes them, transcripts and explanations\n"
    "  --dns HOST[:PORT][,...]   DNS servers to ask instead of the system's\n"
    "  --ca-file FILE            trust these roots (PEM) instead of the system store\n"
    "  --port N                  SMTP port to probe (default 25)\n"
    "  --ehlo-name NAME          name to send in EHLO: a domain or [192.0.2.1] (default:\n"
    "                            this host's FQDN)\n"
    "  --ipv6                    also probe the IPv6 addresses of MX hosts\n"
    "  --no-diag                 no legacy diagnostic retry after a TLS failure\n"
    "  --connect-timeout S       seconds to wait for TCP connect (default 10)\n"
    "  --banner-timeout S        seconds to wait for the greeting (default 30)\n"
    "  --command-timeout S       seconds to wait for a reply to EHLO/STARTTLS (default 30)\n"
    "  --handshake-timeout S     seconds for the TLS handshake (default 30)\n"
    "  --dns-timeout S           seconds per DNS try (default 2)\n"
    "  --dns-tries N             DNS tries per query (default 3)\n"
    "  --sni mx|none             send each MX name as SNI (default), or none, as\n"
    "                            stock Postfix and Exim clients do\n"
    "  --sender-profile NAME     probe with a named sender profile (modern; see\n"
    "                            'mxscan profiles')\n"
    "  --tls-min-version V, --tls-max-version V, --ciphers LIST, --ciphersuites LIST,\n"
    "  --groups LIST, --sigalgs LIST, --seclevel N, --client-cert FILE, --client-key FILE\n"
    "                            change the profile's TLS settings, as for scan\n"
    "  --compare-profiles        probe each address once per sender profile: a matrix of\n"
    "                            classes, and which side is at fault and which setting\n"
    "                            makes the difference where one fails and one does not\n"
    "  --profiles NAME,...       the profiles to compare (default: all; with TLS options\n"
    "                            given, the changed --sender-profile as NAME+custom too)\n"
    "  --dnssec                  the --dns servers validate DNSSEC: check DANE (TLSA\n"
    "                            records of DNSSEC-secure MX hosts) in the handshake\n"
    "  --require-dane            as a sender that requires DANE (dane-required)\n"
    "  --source-address ADDR[,ADDR]  connect from this IPv4 and/or IPv6 address of this host\n"
    "  --exclude FILE            never resolve or probe what FILE lists, as for scan: DOMAIN,\n"
    "                            an MX host or an address on it gets an `excluded` record\n"
    "\n"
    "With --compare-profiles the exit status counts every cell of the matrix.\n"
    "Exit status: 0 every record is ok, 3 at least one is not (`excluded` too), 2 usage\n"
    "error (including --mx/--ip naming nothing of DOMAIN, a bad --exclude file), 1 the\n"
    "probe could not run (unreadable CA file, resolver setup, out of memory).\n";

enum {
  OPT_DNS = 256,
  OPT_CA,
  OPT_PORT,
  OPT_EHLO,
  OPT_IPV6,
  OPT_NO_DIAG,
  OPT_T_CONNECT,
  OPT_T_BANNER,
  OPT_T_COMMAND,
  OPT_T_HANDSHAKE,
  OPT_T_DNS,
  OPT_DNS_TRIES,
  OPT_SNI,
  OPT_PROFILE,
  OPT_TLS_MIN,
  OPT_TLS_MAX,
  OPT_CIPHERS,
  OPT_CIPHERSUITES,
  OPT_GROUPS,
  OPT_SIGALGS,
  OPT_SECLEVEL,
  OPT_CLIENT_CERT,
  OPT_CLIENT_KEY,
  OPT_DNSSEC,
  OPT_REQUIRE_DANE,
  OPT_SOURCE,
  OPT_EXCLUDE, /* the last of scan's */
  OPT_MX,
  OPT_IP,
  OPT_JSON,
  OPT_COMPARE,
  OPT_PROFILES,
};

/* The first rows are scan's options, in the order of the enum above:
 * parse_probe_opt finds their names by that position. */
static const struct option probe_opts[] = {
    {"dns", required_argument, 0, OPT_DNS},
    {"ca-file", required_argument, 0, OPT_CA},
    {"port", required_argument, 0, OPT_PORT},
    {"ehlo-name", required_argument, 0, OPT_EHLO},
    {"ipv6", no_argument, 0, OPT_IPV6},
    {"no-diag", no_argument, 0, OPT_NO_DIAG},
    {"connect-timeout", required_argument, 0, OPT_T_CONNECT},
    {"banner-timeout", required_argument, 0, OPT_T_BANNER},
    {"command-timeout", required_argument, 0, OPT_T_COMMAND},
    {"handshake-timeout", required_argument, 0, OPT_T_HANDSHAKE},
    {"dns-timeout", required_argument, 0, OPT_T_DNS},
    {"dns-tries", required_argument, 0, OPT_DNS_TRIES},
    {"sni", required_argument, 0, OPT_SNI},
    {"sender-profile", required_argument, 0, OPT_PROFILE},
    {"tls-min-version", required_argument, 0, OPT_TLS_MIN},
    {"tls-max-version", required_argument, 0, OPT_TLS_MAX},
    {"ciphers", required_argument, 0, OPT_CIPHERS},
    {"ciphersuites", required_argument, 0, OPT_CIPHERSUITES},
    {"groups", required_argument, 0, OPT_GROUPS},
    {"sigalgs", required_argument, 0, OPT_SIGALGS},
    {"seclevel", required_argument, 0, OPT_SECLEVEL},
    {"client-cert", required_argument, 0, OPT_CLIENT_CERT},
    {"client-key", required_argument, 0, OPT_CLIENT_KEY},
    {"dnssec", no_argument, 0, OPT_DNSSEC},
    {"require-dane", no_argument, 0, OPT_REQUIRE_DANE},
    {"source-address", required_argument, 0, OPT_SOURCE},
    {"exclude", required_argument, 0, OPT_EXCLUDE},
    {"mx", required_argument, 0, OPT_MX},
    {"ip", required_argument, 0, OPT_IP},
    {"json", no_argument, 0, OPT_JSON},
    {"compare-profiles", no_argument, 0, OPT_COMPARE},
    {"profiles", required_argument, 0, OPT_PROFILES},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct {
  mxs_config_t cfg;
  char domain[254];
  char only_mx[254];              /* "" = every MX host */
  char only_ip[INET6_ADDRSTRLEN]; /* "" = every address; canonical text */
  int json;
  int compare;          /* --compare-profiles */
  const char *profiles; /* --profiles a,b: the columns (NULL: every profile) */
} probe_opts_t;

/* ---- options (the names, ranges and units of `mxscan scan`) ------------ */

/* --ip: any spelling of an address, kept in the resolver's (inet_ntop)
 * spelling so it compares equal; an IPv6 address implies --ipv6. */
static int parse_ip(const char *arg, probe_opts_t *o) {
  unsigned char bin[sizeof(struct in6_addr)];
  int af = inet_pton(AF_INET, arg, bin) == 1 ? AF_INET : inet_pton(AF_INET6, arg, bin) == 1 ? AF_INET6 : 0;
  if (!af || !inet_ntop(af, bin, o->only_ip, sizeof o->only_ip)) {
    fprintf(stderr, "mxscan: --ip: '%s' is not an IPv4 or IPv6 address\n", arg);
    return -1;
  }
  if (af == AF_INET6) o->cfg.ipv6 = 1;
  return 0;
}

static int parse_name(const char *opt, const char *arg, char *out, size_t len) {
  const char *why = NULL;
  if (mxs_domain_normalize(arg, out, len, &why) < 0) {
    fprintf(stderr, "mxscan: %s: '%s' is not a domain name: %s\n", opt, arg, why);
    return -1;
  }
  return 0;
}

static int parse_probe_opt(int c, const char *opt, probe_opts_t *o) {
  mxs_config_t *cfg = &o->cfg;
  switch (c) {
  case OPT_DNS:
  case OPT_CA:
  case OPT_PORT:
  case OPT_EHLO:
  case OPT_IPV6:
  case OPT_NO_DIAG:
  case OPT_T_CONNECT:
  case OPT_T_BANNER:
  case OPT_T_COMMAND:
  case OPT_T_HANDSHAKE:
  case OPT_T_DNS:
  case OPT_DNS_TRIES:
  case OPT_SNI:
  case OPT_PROFILE:
  case OPT_TLS_MIN:
  case OPT_TLS_MAX:
  case OPT_CIPHERS:
  case OPT_CIPHERSUITES:
  case OPT_GROUPS:
  case OPT_SIGALGS:
  case OPT_SECLEVEL:
  case OPT_CLIENT_CERT:
  case OPT_CLIENT_KEY:
  case OPT_DNSSEC:
  case OPT_REQUIRE_DANE:
  case OPT_SOURCE:
  case OPT_EXCLUDE: /* scan's own options: one table checks them (cli/options.c) */
    return mxs_config_set(cfg, probe_opts[c - OPT_DNS].name, optarg, stderr);
  case OPT_MX: return parse_name(opt, optarg, o->only_mx, sizeof o->only_mx);
  case OPT_IP: return parse_ip(optarg, o);
  case OPT_JSON: o->json = 1; return 0;
  case OPT_COMPARE: o->compare = 1; return 0;
  case OPT_PROFILES: {
    const mxs_profile_t *list[32];
    size_t n;
    char why[300];
    if (mxs_profile_list_parse(optarg, list, 32, &n, why, sizeof why) < 0) {
      fprintf(stderr, "mxscan: --profiles: %s\n", why);
      return -1;
    }
    o->profiles = optarg;
    return 0;
  }
  default: return -1;
  }
}

/* Returns 0, or the exit status of a usage error (or of --help: 0 via *done). */
static int parse_args(int argc, char **argv, probe_opts_t *o, int *done) {
  int c, idx;
  opterr = 1;
  while ((c = getopt_long(argc, argv, "h", probe_opts, &idx)) != -1) {
    if (c == 'h') {
      fputs(probe_usage, stdout);
      *done = 1;
      return 0;
    }
    if (c == '?' || parse_probe_opt(c, argv[optind - 1], o) < 0) {
      if (c == '?') fprintf(stderr, "Try 'mxscan probe --help'.\n");
      return EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "mxscan: probe takes exactly one DOMAIN\n%s", probe_usage);
    return EXIT_USAGE;
  }
  if (o->profiles && !o->compare) {
    fprintf(stderr, "mxscan: --profiles goes with --compare-profiles\n");
    return EXIT_USAGE;
  }
  if (mxs_config_check_tls(&o->cfg, stderr) < 0) return EXIT_USAGE;
  return parse_name("probe", argv[optind], o->domain, sizeof o->domain) < 0 ? EXIT_USAGE : 0;
}

/* ---- transcripts ------------------------------------------------------- */

static void transcript_add(mxs_transcript_t *t, char dir, const char *fmt, ...) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 32;
    mxs_pline_t *nl = realloc(t->lines, cap * sizeof *nl);
    if (!nl) {
      t->truncated = 1;
      return;
    }
    t->lines = nl;
    t->cap = cap;
  }
  char text[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  mxs_pline_t *l = &t->lines[t->n];
  l->t_ms = (int64_t)((uv_hrtime() - t->t0_ns) / 1000000);
  l->dir = dir;
  if (!(l->text = strdup(text))) {
    t->truncated = 1;
    return;
  }
  t->n++;
}

static void transcript_free(mxs_transcript_t *t) {
  for (size_t i = 0; i < t->n; i++) free(t->lines[i].text);
  free(t->lines);
}

/* The probe's trace hook: every line of the connection the item runs now. */
static void on_trace(void *arg, const char *ip, char dir, const char *text) {
  (void)ip;
  mxs_pitem_t *it = arg;
  if (it->cur) transcript_add(it->cur, dir, "%s", text);
}

/* ---- probing ----------------------------------------------------------- */

static void pump(mxs_pdomain_t *d);

/* --dnssec: policy.dane of IT's record and the class DANE gives it,
 * fixed once IT is done (or, for a DNS record, built). */
static void item_dane(mxs_pitem_t *it) {
  const mxs_pdomain_t *d = it->dom;
  if (!d->cfg->dnssec || !it->mx) return;
  mxs_verdict_dane_view(it->ip ? &it->v : NULL, it->dane, it->mx->tlsa, d->cfg->require_dane, &it->dane_view,
                        it->dane_matched);
  it->policy_view = (mxs_policy_view_t){.dane = &it->dane_view};
  it->has_dane = 1;
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_pitem_record(it, &r, &tm, detail, sizeof detail);
  mxs_class_t cls = r.cls;
  const char *text = r.detail;
  mxs_policy_apply(&it->policy_view, &cls, r.cert_errors, &text, it->dane_detail, sizeof it->dane_detail);
  if (cls != r.cls) {
    it->dane_cls = cls;
    it->dane_cls_set = 1; /* TEXT is dane_detail now */
  }
}

static void item_done(mxs_pitem_t *it) {
  it->st = MXS_PI_DONE;
  it->cur = NULL;
  item_dane(it);
  pump(it->dom);
}

static void on_legacy_done(void *arg, mxs_probe_result_t *res) {
  mxs_pitem_t *it = arg;
  mxs_verdict_add_legacy(&it->v, res);
  item_done(it);
}

static int item_connect(mxs_pitem_t *it, int legacy);

/* The sender profile of IT's column, on its verdict. */
static void set_profile(mxs_pitem_t *it) {
  const mxs_pcolumn_t *c = &it->dom->cols[it->col];
  mxs_verdict_set_profile(&it->v, c->profile->name, c->custom, c->set.min_version, c->set.max_version);
}

static void on_probe_done(void *arg, mxs_probe_result_t *res) {
  mxs_pitem_t *it = arg;
  mxs_verdict_set(&it->v, res);
  set_profile(it);
  /* As in a scan: a failed modern handshake gets one retry with legacy
   * settings, which names the failure and shows what an old sender gets.
   * Comparing profiles, the other columns are the retries. */
  if (!it->dom->compare && it->dom->cfg->legacy_retry && mxs_verdict_wants_legacy(&it->v) && item_connect(it, 1) == 0)
    return;
  item_done(it);
}

/* Starts the modern probe or the legacy retry of IT.  0 or a UV error. */
static int item_connect(mxs_pitem_t *it, int legacy) {
  mxs_transcript_t *t = legacy ? &it->legacy : &it->modern;
  const mxs_config_t *cfg = it->dom->cfg;
  it->cur = t;
  t->used = 1;
  t->t0_ns = uv_hrtime();
  transcript_add(t, '*', "connecting to %s port %d", it->ip, cfg->port);
  /* with DANE the SNI is the MX name whatever --sni says (RFC 7672 8.1) */
  const char *sni = cfg->sni_none && !it->dane ? NULL : it->mx->host;
  int rc =
      mxs_probe_start_dane(&it->env, it->ip, cfg->port, sni, legacy, it->dane && !legacy ? &it->mx->tlsa->rrset : NULL,
                           legacy ? on_legacy_done : on_probe_done, it, NULL);
  if (rc < 0) {
    transcript_add(t, '*', "could not start the connection: %s", uv_strerror(rc));
    it->cur = NULL;
  }
  return rc;
}

static int ip_busy(const mxs_pdomain_t *d, const char *ip) {
  for (size_t i = 0; i < d->nitems; i++)
    if (d->items[i].st == MXS_PI_RUNNING && strcmp(d->items[i].ip, ip) == 0) return 1;
  return 0;
}

/* Starts every queued probe whose address has no connection open. */
static void pump(mxs_pdomain_t *d) {
  for (size_t i = 0; i < d->nitems; i++) {
    mxs_pitem_t *it = &d->items[i];
    if (it->st != MXS_PI_QUEUED || ip_busy(d, it->ip)) continue;
    it->st = MXS_PI_RUNNING;
    int rc = item_connect(it, 0);
    if (rc < 0) {
      mxs_verdict_set_error(&it->v, rc);
      set_profile(it);
      it->st = MXS_PI_DONE; /* no recursion: the loop goes on from here */
      item_dane(it);
    }
  }
}

/* ---- the DNS answer ---------------------------------------------------- */

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static int copy_mx(mxs_pmx_t *dst, const mxs_mx_host_t *src) {
  dst->pref = src->pref;
  dst->status = src->status;
  dst->secure = src->secure;
  dst->host = dup_or_empty(src->host);
  dst->detail = dup_or_empty(src->detail);
  dst->addrs = src->naddrs ? calloc(src->naddrs, sizeof *dst->addrs) : NULL;
  if (!dst->host || !dst->detail || (src->naddrs && !dst->addrs)) return -1;
  for (size_t k = 0; k < src->naddrs; k++) {
    if (!(dst->addrs[k] = strdup(src->addrs[k]))) return -1;
    dst->naddrs++;
  }
  return 0;
}

/* Address order: IPv4 before IPv6, then numerically. */
static int cmp_addr(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  unsigned char bx[sizeof(struct in6_addr)] = {0}, by[sizeof(struct in6_addr)] = {0};
  int vx = inet_pton(AF_INET, x, bx) == 1 ? 4 : (inet_pton(AF_INET6, x, bx), 6);
  int vy = inet_pton(AF_INET, y, by) == 1 ? 4 : (inet_pton(AF_INET6, y, by), 6);
  return vx != vy ? vx - vy : memcmp(bx, by, sizeof bx);
}

/* MX order: preference, then name.  Senders pick at random among equal
 * preferences, and DNS servers rotate records, so this order is as good
 * as the answer's and the same on every run. */
static int cmp_mx(const void *a, const void *b) {
  const mxs_pmx_t *x = a, *y = b;
  return x->pref != y->pref ? (x->pref > y->pref) - (x->pref < y->pref) : strcmp(x->host, y->host);
}

static int copy_answer(mxs_pdomain_t *d, const mxs_domain_answer_t *a) {
  d->answered = 1;
  d->status = a->status;
  d->implicit_mx = a->implicit_mx;
  d->mx_secure = a->mx_secure;
  d->dns_ms = a->dns_ms;
  mxs_rfc3339((int64_t)time(NULL), d->scanned_at);
  if (!(d->detail = dup_or_empty(a->detail))) return -1;
  if (a->nmx && !(d->mx = calloc(a->nmx, sizeof *d->mx))) return -1;
  for (size_t i = 0; i < a->nmx; i++) {
    d->nmx++;
    if (copy_mx(&d->mx[i], &a->mx[i]) < 0) return -1;
    if (d->mx[i].naddrs > 1) qsort(d->mx[i].addrs, d->mx[i].naddrs, sizeof *d->mx[i].addrs, cmp_addr);
  }
  if (d->nmx > 1) qsort(d->mx, d->nmx, sizeof *d->mx, cmp_mx);
  return 0;
}

/* "not VERB: WHAT is on the exclude list (...)", as a scan's record says
 * it (queue/exclude.h), for an item to own; NULL on ENOMEM. */
static char *exclude_detail(const mxs_config_t *c, const char *verb, const char *what, const mxs_exclude_hit_t *hit) {
  char why[640], text[700];
  snprintf(text, sizeof text, "not %s: %s", verb, mxs_exclude_why(why, sizeof why, what, c->exclude, hit));
  return strdup(text);
}

static mxs_pitem_t *add_item(mxs_pdomain_t *d, const mxs_pmx_t *mx, const char *ip) {
  mxs_pitem_t *it = &d->items[d->nitems++];
  it->dom = d;
  it->mx = mx;
  it->ip = ip;
  it->st = ip ? MXS_PI_QUEUED : MXS_PI_DNS;
  return it;
}

/* One item per record `mxscan scan` would write, --mx and --ip applied;
 * comparing profiles, one per column of each (MX, address). */
static int build_items(mxs_pdomain_t *d, const probe_opts_t *o, const mxs_probe_env_t *env) {
  const mxs_exclude_t *x = o->cfg.excluded;
  mxs_exclude_hit_t hit;
  size_t max = 1;
  for (size_t i = 0; i < d->nmx; i++) max += d->mx[i].naddrs ? d->mx[i].naddrs * d->ncols : 1;
  if (!(d->items = calloc(max, sizeof *d->items))) return -1;
  if (d->status != MXS_CLASS_OK) {
    mxs_pitem_t *it = add_item(d, NULL, NULL);
    it->dns_cls = d->status;
    it->dns_detail = d->detail;
    return 0;
  }
  for (size_t i = 0; i < d->nmx; i++) {
    const mxs_pmx_t *mx = &d->mx[i];
    if (o->only_mx[0] && strcmp(mx->host, o->only_mx) != 0) continue;
    if (mx->status == MXS_CLASS_EXCLUDED && mxs_exclude_name(x, mx->host, &hit)) { /* not looked up */
      if (o->only_ip[0]) continue;
      mxs_pitem_t *it = add_item(d, mx, NULL);
      it->dns_cls = MXS_CLASS_EXCLUDED; /* no policy judged on what was not probed: no item_dane */
      if (!(it->dns_detail = it->own_detail = exclude_detail(&o->cfg, "resolved", mx->host, &hit))) return -1;
      continue;
    }
    if (mx->status != MXS_CLASS_OK || mx->naddrs == 0) {
      if (o->only_ip[0]) continue;
      mxs_pitem_t *it = add_item(d, mx, NULL);
      it->dns_cls = mx->status == MXS_CLASS_OK ? MXS_CLASS_MX_NO_ADDRESS : mx->status;
      it->dns_detail = mx->detail;
      item_dane(it);
      continue;
    }
    for (size_t k = 0; k < mx->naddrs; k++) {
      if (o->only_ip[0] && strcmp(mx->addrs[k], o->only_ip) != 0) continue;
      if (mxs_exclude_addr(x, mx->addrs[k], &hit)) { /* one record, whatever the columns */
        mxs_pitem_t *it = add_item(d, mx, NULL);
        it->dns_cls = MXS_CLASS_EXCLUDED;
        it->excl_ip = mx->addrs[k];
        if (!(it->dns_detail = it->own_detail = exclude_detail(&o->cfg, "probed", mx->addrs[k], &hit))) return -1;
        continue;
      }
      for (size_t c = 0; c < d->ncols; c++) {
        mxs_pitem_t *it = add_item(d, mx, mx->addrs[k]);
        it->col = (int)c;
        /* as a scan: a host with secure, usable TLSA records is probed with them */
        it->dane = mx->tlsa && mx->tlsa->secure && mx->tlsa->usable;
        it->env = *env;
        it->env.tls = d->cols[c].tls;
        it->env.trace = on_trace;
        it->env.trace_arg = it;
      }
    }
  }
  return 0;
}

typedef struct {
  const probe_opts_t *o;
  mxs_resolver_t *resolver;
  mxs_tlsa_cache_t tlsa; /* --dnssec: the TLSA records of the secure MX hosts */
  int tlsa_pending;      /* answers still to come before the probes start */
  mxs_probe_env_t env;   /* the template of every item's env */
  mxs_pdomain_t dom;
  int oom;
  char read_buf[MXS_PROBE_READ_BUF]; /* env's */
} run_t;

/* DNS is done (the TLSA answers too): the items, then the probes. */
static void dns_done(run_t *run) {
  for (size_t i = 0; i < run->dom.nmx; i++) {
    mxs_pmx_t *mx = &run->dom.mx[i];
    int candidate = run->dom.mx_secure && mx->secure && mx->status == MXS_CLASS_OK && mx->naddrs > 0;
    mx->tlsa = candidate && run->o->cfg.dnssec ? mxs_tlsa_find(&run->tlsa, mx->host) : NULL;
  }
  if (build_items(&run->dom, run->o, &run->env) < 0)
    run->oom = 1;
  else
    pump(&run->dom);
  mxs_resolver_close(run->resolver, NULL, NULL); /* one domain: done with DNS */
  run->resolver = NULL;
}

static void on_tlsa(void *arg, const mxs_tlsa_entry_t *e) {
  run_t *run = arg;
  (void)e;
  if (--run->tlsa_pending == 0) dns_done(run);
}

static void on_resolved(void *arg, const mxs_domain_answer_t *a) {
  run_t *run = arg;
  if (copy_answer(&run->dom, a) < 0) {
    run->oom = 1;
    mxs_resolver_close(run->resolver, NULL, NULL);
    run->resolver = NULL;
    return;
  }
  /* --dnssec: the TLSA records of the DNSSEC-secure MX hosts first (RFC
   * 7672 2.2), as a scan asks them (resolver/tlsa_cache.h) */
  run->tlsa_pending = 1;
  for (size_t i = 0; run->o->cfg.dnssec && i < run->dom.nmx; i++) {
    const mxs_pmx_t *mx = &run->dom.mx[i];
    if (run->dom.status == MXS_CLASS_OK && run->dom.mx_secure && mx->secure && mx->status == MXS_CLASS_OK &&
        mx->naddrs > 0 && mxs_tlsa_lookup(&run->tlsa, mx->host, on_tlsa, run) == 0)
      run->tlsa_pending++;
  }
  on_tlsa(run, NULL);
}

/* --exclude names the domain itself: one record, as a scan writes it. */
static int exclude_domain(run_t *run, const mxs_exclude_hit_t *hit) {
  mxs_pdomain_t *d = &run->dom;
  d->answered = 1;
  d->status = MXS_CLASS_EXCLUDED;
  mxs_rfc3339((int64_t)time(NULL), d->scanned_at);
  if (!(d->detail = exclude_detail(&run->o->cfg, "resolved", NULL, hit))) return UV_ENOMEM;
  return build_items(d, run->o, &run->env) < 0 ? UV_ENOMEM : 0;
}

/* ---- the command ------------------------------------------------------- */

static void free_domain(mxs_pdomain_t *d) {
  for (size_t i = 0; i < d->nitems; i++) {
    free(d->items[i].own_detail);
    mxs_verdict_free(&d->items[i].v);
    transcript_free(&d->items[i].modern);
    transcript_free(&d->items[i].legacy);
  }
  free(d->items);
  for (size_t i = 0; i < d->nmx; i++) {
    free(d->mx[i].host);
    free(d->mx[i].detail);
    for (size_t k = 0; k < d->mx[i].naddrs; k++) free(d->mx[i].addrs[k]);
    free(d->mx[i].addrs);
  }
  free(d->mx);
  free(d->detail);
  for (size_t i = 0; i < d->ncols; i++) mxs_tls_ctx_free(d->cols[i].tls);
  free(d->cols);
}

/* --mx/--ip that name nothing of the domain: say what there is. */
static int report_no_match(const run_t *run) {
  const mxs_pdomain_t *d = &run->dom;
  fprintf(stderr, "mxscan: %s%s%s%s%s is not among the MX hosts and addresses of %s; it has:\n",
          run->o->only_mx[0] ? "--mx " : "", run->o->only_mx, run->o->only_mx[0] && run->o->only_ip[0] ? " " : "",
          run->o->only_ip[0] ? "--ip " : "", run->o->only_ip, d->name);
  for (size_t i = 0; i < d->nmx; i++) {
    fprintf(stderr, "  %s (MX %d):", d->mx[i].host, d->mx[i].pref);
    for (size_t k = 0; k < d->mx[i].naddrs; k++) fprintf(stderr, " %s", d->mx[i].addrs[k]);
    fprintf(stderr, "%s\n", d->mx[i].naddrs ? "" : " no address");
  }
  return EXIT_USAGE;
}

static void set_column(mxs_pcolumn_t *c, const mxs_profile_t *p, int custom, const mxs_tls_settings_t *set) {
  c->profile = p;
  c->custom = custom;
  c->set = *set;
  snprintf(c->name, sizeof c->name, "%s%s", p->name, custom ? "+custom" : "");
}

/* The sender profiles to probe with: the options' one; comparing, the
 * --profiles (or every profile of the table), and "NAME+custom" when TLS
 * options change the --sender-profile (default modern). */
static int make_columns(const probe_opts_t *o, mxs_pdomain_t *d) {
  const mxs_profile_t *base, *list[32];
  mxs_tls_settings_t set;
  int custom = mxs_config_tls_settings(&o->cfg, &base, &set);
  size_t n = 0;
  char why[300];
  if (!o->compare) {
    list[n++] = base;
  } else if (!o->profiles || mxs_profile_list_parse(o->profiles, list, 32, &n, why, sizeof why) < 0) {
    for (n = 0; n < mxs_profile_count() && n < 32; n++) list[n] = mxs_profile_at(n);
  }
  size_t extra = o->compare && custom;
  if (!(d->cols = calloc(n + extra, sizeof *d->cols))) return -1;
  for (size_t i = 0; i < n; i++)
    set_column(&d->cols[i], list[i], o->compare ? 0 : custom, o->compare ? &list[i]->set : &set);
  if (extra) set_column(&d->cols[n], base, 1, &set);
  d->ncols = n + extra;
  return 0;
}

/* Resolves and probes on LOOP; returns the exit status. */
static int run_probe(run_t *run, uv_loop_t *loop) {
  const mxs_config_t *c = &run->o->cfg;
  char err[512] = "";
  mxs_resolver_opts_t ro = mxs_scan_resolver_opts(c);
  int rc = mxs_resolver_new(loop, &ro, &run->resolver, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "mxscan: %s\n", err[0] ? err : uv_strerror(rc));
    return rc == UV_EINVAL ? EXIT_USAGE : 1;
  }
  /* One TLS context per column: a legacy diagnostic retry for the probe's
   * profile; comparing, the other columns are the diagnosis. */
  const mxs_tls_variant_t legacy = {"legacy", 0, &mxs_profile_find("legacy")->set};
  for (size_t i = 0; i < run->dom.ncols; i++) {
    mxs_pcolumn_t *col = &run->dom.cols[i];
    mxs_tls_ctx_opts_t to = {
        c->ca_file, 0, {col->profile->name, col->custom, &col->set}, &legacy, run->dom.compare ? 0 : 1};
    if (mxs_tls_ctx_new_ex(&to, &col->tls, err, sizeof err) < 0) {
      fprintf(stderr, "mxscan: %s\n", err);
      mxs_resolver_close(run->resolver, NULL, NULL);
      uv_run(loop, UV_RUN_DEFAULT);
      return 1;
    }
  }
  run->env = mxs_scan_probe_env(c, loop, run->dom.cols[0].tls, run->read_buf);
  mxs_tlsa_cache_init(&run->tlsa, run->resolver, c->port);
  mxs_exclude_hit_t hit;
  if (mxs_exclude_name(c->excluded, run->dom.name, &hit)) { /* its record says so; nothing is asked */
    rc = exclude_domain(run, &hit);
    mxs_resolver_close(run->resolver, NULL, NULL);
    run->resolver = NULL;
  } else {
    rc = mxs_resolver_resolve(run->resolver, run->dom.name, on_resolved, run);
  }
  if (rc < 0 && !run->resolver) { /* the excluded domain's record */
    run->oom = 1;
  } else if (rc < 0) {
    fprintf(stderr, "mxscan: cannot resolve %s: %s\n", run->dom.name, uv_strerror(rc));
    mxs_resolver_close(run->resolver, NULL, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  if (rc < 0 || run->oom || !run->dom.answered) {
    if (run->oom) fprintf(stderr, "mxscan: out of memory\n");
    return 1;
  }
  if (run->dom.nitems == 0) return report_no_match(run);
  int wr;
  if (run->dom.compare) {
    mxs_compare_refine(&run->dom);
    wr = run->o->json ? mxs_compare_print_json(&run->dom, stdout) : mxs_compare_print_text(&run->dom, stdout);
  } else {
    wr = run->o->json ? mxs_pdomain_print_json(&run->dom, stdout) : mxs_pdomain_print_text(&run->dom, stdout);
  }
  if (wr < 0 || fflush(stdout) != 0) {
    fprintf(stderr, "mxscan: writing the output: %s\n", strerror(errno));
    return 1;
  }
  return mxs_pdomain_all_ok(&run->dom) ? 0 : EXIT_NOT_OK;
}

int mxs_cmd_probe(int argc, char **argv) {
  probe_opts_t o = {0};
  mxs_config_defaults(&o.cfg);
  int done = 0, rc = parse_args(argc, argv, &o, &done);
  if (rc || done) return rc;
  if (o.cfg.require_dane && !o.cfg.dnssec) {
    fprintf(stderr, "mxscan: --require-dane needs --dnssec (validating --dns servers)\n");
    return EXIT_USAGE;
  }
  char host[HOST_NAME_MAX + 1];
  if (mxs_config_finish(&o.cfg, host, sizeof host, stderr) < 0) {
    mxs_config_free(&o.cfg);
    return EXIT_USAGE;
  }

  run_t run = {.o = &o};
  run.dom.cfg = &o.cfg;
  run.dom.compare = o.compare;
  if (make_columns(&o, &run.dom) < 0) {
    fprintf(stderr, "mxscan: out of memory\n");
    mxs_config_free(&o.cfg);
    return 1;
  }
  snprintf(run.dom.name, sizeof run.dom.name, "%s", o.domain);
  run.dom.dns_label = o.cfg.dns ? o.cfg.dns : "the system's resolvers";
  uv_loop_t loop;
  if (uv_loop_init(&loop) < 0) return 1;
  rc = run_probe(&run, &loop);
  free_domain(&run.dom);
  mxs_tlsa_cache_free(&run.tlsa); /* the records are printed: nothing points into it now */
  mxs_config_free(&o.cfg);
  mxs_loop_close(&loop, "probe", stderr);
  return rc;
}
