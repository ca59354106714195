/* options.c - one table of options, read from a config file (inih) and from
 * the command line, into an mxs_config_t.
 *
 * Every option has a long flag and a [section] key in the file; the file is
 * read first so flags override it.  Values are checked the same way from
 * both, and an error names the flag, or the file, line and key.
 */
#include "cli/options.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "results/classify.h"
#include "results/delivery.h"
#include "results/profiles.h"
#include "probe/probe.h"
#include "probe/smtp.h"
#include "probe/tls.h"

/* K_SECS/K_SECS0: a duration (K_SECS above 0); K_RATE: per second, "N/m"
 * and "N/h" accepted; K_COUNT: a large whole number; K_CLASSES also takes
 * the word `deferred`, which is no class: it sets fail_on_deferred;
 * K_LEVEL: a security level mxscan computes (results/delivery.h).
 * K_TLSVER: a TLS version or "none" (an int, results/profiles.h);
 * K_TLSKNOB: a string OpenSSL must accept for the option of that name
 * (probe/tls.h); K_PROFILE(S): a sender profile name (a list of them). */
typedef enum {
  K_STR,
  K_INT,
  K_SECS,
  K_SECS0,
  K_RATE,
  K_COUNT,
  K_RATIO,
  K_FLAG,
  K_NOFLAG,
  K_FORMAT,
  K_SNI,
  K_CLASSES,
  K_LEVEL,
  K_TLSVER,
  K_TLSKNOB,
  K_PROFILE,
  K_PROFILES,
  K_EHLO,   /* a string that must be an EHLO argument (probe/smtp.h) */
  K_SOURCE, /* one address or "ADDR4,ADDR6" into source4/source6 */
} kind_t;

typedef struct {
  const char *name; /* --name; the file key is the same with '_' for '-' */
  int shortopt;     /* 0 or a letter */
  const char *section;
  kind_t kind;
  size_t off; /* field in mxs_config_t */
  long lo, hi;
  const char *arg;
  const char *help;
} opt_t;

#define F(field) offsetof(mxs_config_t, field)

static const opt_t opts[] = {
    {"dns", 0, "resolver", K_STR, F(dns), 0, 0, "HOST[:PORT],...", "DNS servers to ask instead of the system's"},
    {"dns-timeout", 0, "resolver", K_SECS, F(dns_timeout_ms), 0, 0, "S", "seconds per DNS try (2)"},
    {"dns-tries", 0, "resolver", K_INT, F(dns_tries), 1, 20, "N", "DNS tries per query (3)"},
    {"ipv6", 0, "resolver", K_FLAG, F(ipv6), 0, 0, NULL, "also probe the IPv6 addresses of MX hosts"},
    {"dns-down-limit", 0, "resolver", K_SECS, F(dns_down_limit_ms), 0, 0, "S",
     "the resolver answering nothing this long ends the run: unfinished records, exit 1 (5m)"},
    {"dnssec", 0, "resolver", K_FLAG, F(dnssec), 0, 0, NULL,
     "the --dns servers validate DNSSEC: trust their AD bit and check DANE (TLSA records, RFC 7672)"},
    {"port", 0, "scan", K_INT, F(port), 1, 65535, "N", "SMTP port to probe (25)"},
    {"ehlo-name", 0, "scan", K_EHLO, F(ehlo_name), 0, 0, "NAME",
     "name sent in EHLO: a domain (this host's FQDN) or [192.0.2.1], [IPv6:2001:db8::1]"},
    {"concurrency", 0, "scan", K_INT, F(concurrency), 1, 1000000, "N", "probes in flight at once (1000)"},
    {"threads", 0, "scan", K_INT, F(threads), 1, 256, "N",
     "event loops that probe, this thread's and N-1 more (the number of cores)"},
    {"keep-duplicates", 0, "scan", K_FLAG, F(keep_duplicates), 0, 0, NULL,
     "scan a domain again each time the list repeats it (default: once, the first line)"},
    {"probe-per-name", 0, "scan", K_FLAG, F(probe_per_name), 0, 0, NULL,
     "probe each (MX name, address), not each address once"},
    {"sni", 0, "scan", K_SNI, F(sni_none), 0, 0, "mx|none",
     "server name sent in the TLS handshake: the MX name, or none as stock Postfix and Exim (mx)"},
    {"sni-probes-per-address", 0, "scan", K_INT, F(sni_probes_per_address), 0, 1000000, "N",
     "at most N extra probes per address for names its certificate does not cover (0: no cap)"},
    {"no-diag", 0, "scan", K_NOFLAG, F(legacy_retry), 0, 0, NULL, "no legacy diagnostic retry after a TLS failure"},
    {"connect-timeout", 0, "scan", K_SECS, F(connect_timeout_ms), 0, 0, "S", "TCP connect timeout (10)"},
    {"banner-timeout", 0, "scan", K_SECS, F(banner_timeout_ms), 0, 0, "S",
     "wait for the greeting, greet pauses included (15)"},
    {"command-timeout", 0, "scan", K_SECS, F(command_timeout_ms), 0, 0, "S", "wait for a reply to a command (15)"},
    {"handshake-timeout", 0, "scan", K_SECS, F(handshake_timeout_ms), 0, 0, "S", "TLS handshake timeout (15)"},
    {"max-runtime", 0, "scan", K_SECS, F(max_runtime_ms), 0, 0, "S",
     "stop after S seconds; unfinished probes are recorded (none)"},
    {"diag-profiles", 0, "scan", K_PROFILES, F(diag_profiles), 0, 0, "NAME,...",
     "after a TLS failure, one retry per sender profile listed instead of the legacy retry"},
    {"exclude", 0, "scan", K_STR, F(exclude), 0, 0, "FILE",
     "never resolve or probe the domains, suffixes and networks in FILE (configs/exclude.conf)"},
    {"source-address", 0, "scan", K_SOURCE, F(source4), 0, 0, "ADDR[,ADDR]",
     "connect from this IPv4 and/or IPv6 address of this host, the one whose PTR is the EHLO name (the system's "
     "choice)"},
    {"per-ip", 0, "limits", K_INT, F(per_ip), 1, 1000, "N", "connections at once to one address (1)"},
    {"per-ip-interval", 0, "limits", K_SECS0, F(per_ip_interval_ms), 0, 0, "S",
     "minimum gap between connections to one address (0)"},
    {"per-provider", 0, "limits", K_INT, F(per_provider), 1, 1000000, "N",
     "probes at once per provider, the registrable domain of the MX (20)"},
    {"rate", 0, "limits", K_RATE, F(rate), 0, 0, "N", "new connections per second overall (200; 0: unlimited)"},
    {"provider-rate", 0, "limits", K_RATE, F(provider_rate), 0, 0, "N",
     "new connections per second per provider (10; 0: unlimited)"},
    {"retries", 0, "limits", K_INT, F(retries), 0, 20, "N",
     "retries of 421, tcp-timeout, smtp-banner-timeout, tls-died (2)"},
    {"retry-delay", 0, "limits", K_SECS0, F(retry_delay_ms), 0, 0, "S", "first retry delay, doubled, jittered (2)"},
    {"ca-file", 0, "tls", K_STR, F(ca_file), 0, 0, "FILE", "trust these roots (PEM), not the system store"},
    {"verify-cache", 0, "tls", K_INT, F(verify_cache), 0, 1000000, "N",
     "chains whose verification is remembered for the run (8192; 0: verify every chain)"},
    {"sender-profile", 0, "tls", K_PROFILE, F(sender_profile), 0, 0, "NAME",
     "probe with a named set of TLS settings (modern; see 'mxscan profiles')"},
    {"tls-min-version", 0, "tls", K_TLSVER, F(tls.min_version), 0, 0, "V",
     "lowest TLS version offered: 1.0 1.1 1.2 1.3, none (the profile's)"},
    {"tls-max-version", 0, "tls", K_TLSVER, F(tls.max_version), 0, 0, "V",
     "highest TLS version offered: 1.0 1.1 1.2 1.3, none (the profile's)"},
    {"ciphers", 0, "tls", K_TLSKNOB, F(tls.ciphers), 0, 0, "LIST",
     "OpenSSL cipher list for TLS 1.2 and below, SSL_CTX_set_cipher_list (the profile's)"},
    {"ciphersuites", 0, "tls", K_TLSKNOB, F(tls.ciphersuites), 0, 0, "LIST",
     "TLS 1.3 ciphersuites, SSL_CTX_set_ciphersuites (the profile's)"},
    {"groups", 0, "tls", K_TLSKNOB, F(tls.groups), 0, 0, "LIST",
     "key exchange groups in order, SSL_CTX_set1_groups_list (the profile's)"},
    {"sigalgs", 0, "tls", K_TLSKNOB, F(tls.sigalgs), 0, 0, "LIST",
     "signature algorithms, SSL_CTX_set1_sigalgs_list (the profile's)"},
    {"seclevel", 0, "tls", K_INT, F(tls.seclevel), 0, 5, "N", "OpenSSL security level 0..5 (the profile's)"},
    {"client-cert", 0, "tls", K_STR, F(tls.client_cert), 0, 0, "FILE",
     "client certificate chain (PEM), presented when the server asks for one"},
    {"client-key", 0, "tls", K_STR, F(tls.client_key), 0, 0, "FILE",
     "the client certificate's private key (PEM; default: in the --client-cert file)"},
    {"format", 0, "output", K_FORMAT, F(format), 0, 0, "jsonl|msgpack", "output format (jsonl)"},
    {"output", 'o', "output", K_STR, F(output), 0, 0, "FILE",
     "output file (-: standard output); a run holds FILE.lock, so a second run on FILE exits 1"},
    {"summary", 0, "output", K_STR, F(summary), 0, 0, "FILE", "write the class counts as JSON"},
    {"quiet", 'q', "output", K_FLAG, F(quiet), 0, 0, NULL, "no class table or progress on standard error"},
    {"status-interval", 0, "output", K_SECS, F(status_interval_ms), 0, 0, "S",
     "seconds between status lines when stderr is not a terminal (60)"},
    {"fail-on", 0, "output", K_CLASSES, F(fail_on), 0, 0, "CLASS,...",
     "exit 3 when a record has one of these classes; deferred: when a domain's mail would be deferred at "
     "--sender-level"},
    {"fail-on-ratio", 0, "output", K_RATIO, F(fail_on_ratio), 0, 0, "R",
     "exit 3 when more than R (0..1) of the domains fail (--fail-on classes or deferred, or any)"},
    {"resume", 0, "output", K_FLAG, F(resume), 0, 0, NULL,
     "continue the run that wrote -o FILE: skip the domains it completed"},
    {"metrics", 0, "output", K_STR, F(metrics), 0, 0, "FILE",
     "Prometheus text file for node_exporter's textfile collector, rewritten every --status-interval"},
    {"metrics-providers", 0, "output", K_INT, F(metrics_providers), 0, 10000, "N",
     "--metrics: providers with the most failing domains that get a series of their own (10)"},
    {"sender-level", 0, "output", K_LEVEL, F(sender_level), 0, 0, "LEVEL",
     "your MTA's smtp_tls_security_level, for --fail-on deferred: may, encrypt, verify, secure, dane (needs "
     "--dnssec), mta-sts (MTA-STS enforce over may) (may)"},
    {"redis", 0, "redis", K_STR, F(redis_url), 0, 0, "URL",
     "also (without -o: only) write records to Redis: redis://[:PASS@]HOST[:PORT][/DB], unix:///PATH"},
    {"redis-prefix", 0, "redis", K_STR, F(redis_prefix), 0, 0, "PREFIX", "key prefix (mxscan)"},
    {"redis-maxlen", 0, "redis", K_COUNT, F(redis_maxlen), 0, 0, "N", "trim the results stream to about N (10000000)"},
    {"redis-down-limit", 0, "redis", K_SECS, F(redis_down_limit_ms), 0, 0, "S",
     "Redis down this long: spill records to a local msgpack file and exit 1 (30)"},
    {"redis-spill-dir", 0, "redis", K_STR, F(redis_spill_dir), 0, 0, "DIR", "where the spill file goes (.)"},
    {"run", 0, "distributed", K_STR, F(redis_run), 0, 0, "ID",
     "the distributed run (mxscan enqueue prints it); with scan --redis: write into run ID"},
    {"claim-idle", 0, "distributed", K_SECS, F(claim_idle_ms), 0, 0, "S",
     "worker: take over jobs another worker has held this long without a sign of life (60)"},
    {"follow", 0, "distributed", K_FLAG, F(follow), 0, 0, NULL, "worker: wait for more jobs when the run is drained"},
    {"no-policy", 0, "policy", K_NOFLAG, F(policy), 0, 0, NULL,
     "do not check the domains' MTA-STS and TLS-RPT records (no TXT lookups, no fetches)"},
    {"sts-timeout", 0, "policy", K_SECS, F(sts_timeout_ms), 0, 0, "S", "deadline of one MTA-STS policy fetch (10)"},
    {"sts-concurrency", 0, "policy", K_INT, F(sts_concurrency), 1, 10000, "N", "MTA-STS policy fetches at once (64)"},
    {"sts-per-host", 0, "policy", K_INT, F(sts_per_host), 1, 1000, "N",
     "policy fetches at once to one policy host address (2)"},
    {"sts-port", 0, "policy", K_INT, F(sts_port), 1, 65535, "N",
     "HTTPS port of the policy hosts: 443, another one only for tests (443)"},
    {"policy-cache", 0, "policy", K_STR, F(policy_cache), 0, 0, "FILE",
     "keep the MTA-STS policies fetched in FILE and, as a sender's cache does, fetch one again only when the "
     "domain's TXT id changes or after --policy-refresh (none: fetch every policy every run)"},
    {"policy-refresh", 0, "policy", K_SECS0, F(policy_refresh_ms), 0, 0, "S",
     "with --policy-cache: fetch a cached policy again after between S/2 and S, spread by domain (259200: 3 days; 0: "
     "always)"},
    {"require-dane", 0, "policy", K_FLAG, F(require_dane), 0, 0, NULL,
     "audit as a sender that requires DANE: an MX host without DNSSEC-validated TLSA records is dane-required "
     "(needs --dnssec)"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* Keeps a copy of S for the config's lifetime (values read from a file). */
static const char *own(mxs_config_t *c, const char *s) {
  char **n = realloc(c->owned, (c->nowned + 1) * sizeof *n);
  if (!n) return NULL;
  c->owned = n;
  return (c->owned[c->nowned] = strdup(s)) ? c->owned[c->nowned++] : NULL;
}

static int parse_bool(const char *v, int *out) {
  static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(v, yes[i])) return *out = 1, 0;
    if (!strcasecmp(v, no[i])) return *out = 0, 0;
  }
  return -1;
}

static int parse_number(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo) || d > hi) return -1;
  *out = d;
  return 0;
}

/* A duration as operators write it in a crontab: seconds ("90", "1.5"), or
 * numbers with units, summed ("500ms", "90s", "30m", "8h", "1h30m", "2d"). */
static int parse_duration(const char *v, double *secs) {
  static const struct {
    const char *unit;
    double secs;
  } units[] = {{"ms", 0.001}, {"s", 1}, {"sec", 1}, {"min", 60}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  double total = 0;
  const char *p = v;
  int parts = 0;
  do {
    char *end;
    errno = 0;
    double d = strtod(p, &end);
    if (errno || end == p || !(d >= 0) || *p == '+' || *p == '-' || isspace((unsigned char)*p)) return -1;
    p = end;
    if (!*p && parts == 0) return *secs = d, 0; /* a bare number: seconds */
    size_t i = 0, n = 0;
    for (; i < sizeof units / sizeof units[0]; i++) {
      n = strlen(units[i].unit);
      if (!strncasecmp(p, units[i].unit, n) && !isalpha((unsigned char)p[n])) break;
    }
    if (i == sizeof units / sizeof units[0]) return -1;
    total += d * units[i].secs;
    p += n;
    parts++;
  } while (*p);
  *secs = total;
  return 0;
}

/* A rate: per second ("200", "200/s"), per minute ("600/m") or per hour. */
static int parse_rate(const char *v, double *per_sec) {
  char num[64];
  const char *slash = strchr(v, '/');
  size_t n = slash ? (size_t)(slash - v) : strlen(v);
  if (n == 0 || n >= sizeof num) return -1;
  memcpy(num, v, n);
  num[n] = '\0';
  double d, per = 1;
  if (parse_number(num, 0, 1e9, &d) < 0) return -1;
  if (slash) {
    const char *u = slash + 1;
    if (!strcasecmp(u, "s") || !strcasecmp(u, "sec"))
      per = 1;
    else if (!strcasecmp(u, "m") || !strcasecmp(u, "min"))
      per = 60;
    else if (!strcasecmp(u, "h"))
      per = 3600;
    else
      return -1;
  }
  *per_sec = d / per;
  return *per_sec <= 1e7 ? 0 : -1;
}

#define SHOWN_MAX 100 /* bytes of a bad value quoted in a message */

/* VALUE for a message: at most SHOWN_MAX bytes ("..." after), control
 * characters as '?', so a CR LF pasted into a flag or a hostile config
 * file cannot forge lines in the operator's log.  OUT holds SHOWN_MAX + 4. */
static const char *show(const char *value, char *out) {
  size_t n = 0;
  for (; value[n] && n < SHOWN_MAX; n++) out[n] = (unsigned char)value[n] < 0x20 || value[n] == 0x7f ? '?' : value[n];
  strcpy(out + n, value[n] ? "..." : "");
  return out;
}

/* Classes, and the word `deferred` into *DEFERRED (both replaced, so a
 * flag overrides the config file's list whole). */
static int parse_classes(const char *v, mxs_class_set_t *out, int *deferred, char *why, size_t whylen) {
  mxs_class_set_t set = 0;
  int dfr = 0;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", v);
  for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    int c = mxs_class_from_name(tok);
    if (c < 0 && !strcmp(tok, "deferred")) {
      dfr = 1;
      continue;
    }
    if (c < 0) {
      char shown[SHOWN_MAX + 4];
      snprintf(why, whylen, "'%s' is not a class (see 'mxscan classes') nor 'deferred'", show(tok, shown));
      return -1;
    }
    set |= MXS_CLASS_BIT(c);
  }
  *out = set;
  *deferred = dfr;
  return 0;
}

/* --source-address: one address, or an IPv4 and an IPv6 one separated by a
 * comma, kept in canonical text per family.  A later value of a family
 * replaces an earlier one (flags override the file; given twice, the two
 * families add up).  SHOWN is VALUE for messages. */
static int parse_sources(mxs_config_t *c, const char *value, const char *shown, char *why, size_t wl) {
  char v4[sizeof c->source4] = "", v6[sizeof c->source6] = "", buf[128];
  if (strlen(value) >= sizeof buf) return snprintf(why, wl, "'%s' is too long", shown), -1;
  snprintf(buf, sizeof buf, "%s", value);
  int n = 0;
  for (char *p = buf, *tok; (tok = strsep(&p, ",")) != NULL; n++) {
    unsigned char bin[16];
    int v6_ = inet_pton(AF_INET6, tok, bin) == 1;
    if (n == 2 || (!v6_ && inet_pton(AF_INET, tok, bin) != 1))
      return snprintf(why, wl, "'%s' is not an IPv4 and/or an IPv6 address (ADDR or ADDR4,ADDR6)", shown), -1;
    char *dst = v6_ ? v6 : v4;
    if (dst[0]) return snprintf(why, wl, "'%s' gives two IPv%c addresses", shown, v6_ ? '6' : '4'), -1;
    inet_ntop(v6_ ? AF_INET6 : AF_INET, bin, dst, sizeof v4);
  }
  if (v4[0]) memcpy(c->source4, v4, sizeof v4);
  if (v6[0]) memcpy(c->source6, v6, sizeof v6);
  return 0;
}

static int parse_level(const char *v, int *out, char *why, size_t whylen) {
  int l = mxs_level_from_name(v);
  if (l >= 0) return *out = l, 0;
  snprintf(why, whylen, "'%s' is not a level: may, encrypt, verify, secure, dane, mta-sts", v);
  return -1;
}

/* Stores VALUE (NULL for a flag without argument) into the field of O.
 * FROM_FILE: the value is copied, and flags take a yes/no value. */
static int set_value(mxs_config_t *c, const opt_t *o, const char *value, int from_file, char *why, size_t wl) {
  char *field = (char *)c + o->off;
  double d;
  int b = 1;
  const char *reason = NULL;
  char shown[SHOWN_MAX + 4];
  const char *v = value ? show(value, shown) : ""; /* VALUE, as the messages below show it */
  switch (o->kind) {
  case K_FLAG:
  case K_NOFLAG:
    if (from_file && parse_bool(value, &b) < 0) return snprintf(why, wl, "'%s' is not yes or no", v), -1;
    *(int *)field = o->kind == K_FLAG ? b : !b;
    return 0;
  case K_STR:
  case K_FORMAT:
  case K_EHLO:
    if (o->kind == K_FORMAT && strcmp(value, "jsonl") && strcmp(value, "msgpack"))
      return snprintf(why, wl, "'%s' is not jsonl or msgpack", v), -1;
    if (o->kind == K_EHLO && mxs_ehlo_name_check(value, &reason) < 0)
      return snprintf(why, wl, "'%s' is not a domain name or an address literal: %s", v, reason), -1;
    if (from_file && !(value = own(c, value))) return snprintf(why, wl, "out of memory"), -1;
    *(const char **)field = value;
    if (o->off == F(output)) c->output_given = 1;
    return 0;
  case K_SNI:
    if (strcmp(value, "mx") && strcmp(value, "none")) return snprintf(why, wl, "'%s' is not mx or none", v), -1;
    *(int *)field = strcmp(value, "none") == 0;
    return 0;
  case K_INT:
    if (parse_number(value, (double)o->lo, (double)o->hi, &d) < 0 || d != (double)(long)d)
      return snprintf(why, wl, "'%s' is not a whole number from %ld to %ld", v, o->lo, o->hi), -1;
    *(int *)field = (int)d;
    return 0;
  case K_SECS:
  case K_SECS0:
    if (parse_duration(value, &d) < 0 || d > 86400 * 7 || (o->kind == K_SECS && d * 1000 < 0.5))
      return snprintf(why, wl,
                      "'%s' is not a number of seconds%s (or a duration: 500ms, 90s, 30m, 8h, 1h30m; 7 days at most)",
                      v, o->kind == K_SECS ? " above 0" : ""),
             -1;
    *(int *)field = (int)(d * 1000 + 0.5);
    return 0;
  case K_RATE:
    if (parse_rate(value, &d) < 0)
      return snprintf(why, wl, "'%s' is not a rate per second (N or N/s; N/m per minute, N/h per hour)", v), -1;
    *(double *)field = d;
    return 0;
  case K_COUNT:
    if (parse_number(value, 0, 1e12, &d) < 0 || d != (double)(long long)d)
      return snprintf(why, wl, "'%s' is not a whole number", v), -1;
    *(double *)field = d;
    return 0;
  case K_RATIO:
    if (parse_number(value, 0, 1, &d) < 0) return snprintf(why, wl, "'%s' is not a ratio from 0 to 1", v), -1;
    *(double *)field = d;
    return 0;
  case K_CLASSES: return parse_classes(value, (mxs_class_set_t *)field, &c->fail_on_deferred, why, wl);
  case K_SOURCE: return parse_sources(c, value, v, why, wl);
  case K_LEVEL: return parse_level(value, (int *)field, why, wl);
  case K_TLSVER:
    if (mxs_tls_version_parse(value, 1, (int *)field) < 0)
      return snprintf(why, wl, "'%s' is not a TLS version (1.0, 1.1, 1.2, 1.3, TLSv1.2 ..., or none)", v), -1;
    return 0;
  case K_TLSKNOB:
  case K_PROFILE:
  case K_PROFILES:
    if (o->kind == K_TLSKNOB && mxs_tls_check_knob(o->name, value, why, wl) < 0) return -1;
    if (o->kind == K_PROFILE && !mxs_profile_find(value))
      return snprintf(why, wl, "'%s' is not a profile (%s)", v, mxs_profile_names()), -1;
    if (o->kind == K_PROFILES) {
      const mxs_profile_t *list[16];
      size_t n;
      if (mxs_profile_list_parse(value, list, 8, &n, why, wl) < 0) return -1;
    }
    if (from_file && !(value = own(c, value))) return snprintf(why, wl, "out of memory"), -1;
    *(const char **)field = value;
    return 0;
  }
  return -1;
}

int mxs_config_check_tls(const mxs_config_t *c, FILE *err) {
  const mxs_profile_t *p;
  mxs_tls_settings_t s;
  if (mxs_config_tls_settings(c, &p, &s) < 0) return fprintf(err, "mxscan: --sender-profile: unknown\n"), -1;
  if (s.min_version && s.max_version && s.min_version > s.max_version) {
    fprintf(err, "mxscan: --tls-min-version %s is above --tls-max-version %s (profile %s%s)\n",
            mxs_tls_version_name(s.min_version), mxs_tls_version_name(s.max_version), p->name,
            c->tls.min_version || c->tls.max_version ? " with the versions given" : "");
    return -1;
  }
  if (c->tls.client_key && !c->tls.client_cert) {
    fprintf(err, "mxscan: --client-key %s: needs --client-cert\n", c->tls.client_key);
    return -1;
  }
  char why[PATH_MAX + 256];
  if (c->tls.client_cert && mxs_tls_check_client_cert(s.client_cert, s.client_key, s.seclevel, why, sizeof why) < 0) {
    fprintf(err, "mxscan: %s\n", why);
    return -1;
  }
  return 0;
}

int mxs_config_set(mxs_config_t *c, const char *name, const char *value, FILE *err) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (strcmp(opts[i].name, name) != 0) continue;
    char why[256];
    if (set_value(c, &opts[i], value, 0, why, sizeof why) == 0) return 0;
    fprintf(err, "mxscan: --%s: %s\n", name, why);
    return -1;
  }
  fprintf(err, "mxscan: --%s: no such option\n", name);
  return -1;
}

int mxs_parse_long(const char *opt, const char *arg, long lo, long hi, long *out, FILE *err) {
  double d;
  if (parse_number(arg, (double)lo, (double)hi, &d) < 0 || d != (double)(long)d) {
    fprintf(err, "mxscan: %s: '%s' is not a whole number from %ld to %ld\n", opt, arg, lo, hi);
    return -1;
  }
  *out = (long)d;
  return 0;
}

static const opt_t *find_key(const char *section, const char *key) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (strcmp(opts[i].section, section) != 0) continue;
    const char *a = opts[i].name, *b = key;
    while (*a && (*a == *b || (*a == '-' && *b == '_'))) a++, b++;
    if (!*a && !*b) return &opts[i];
  }
  return NULL;
}

struct ini_ctx {
  mxs_config_t *c;
  char first_error[300]; /* inih reports the line; we say what was wrong */
};

static int on_ini(void *user, const char *section, const char *key, const char *value) {
  struct ini_ctx *x = user;
  const opt_t *o = find_key(section, key);
  char why[256];
  char k[SHOWN_MAX + 4], sec[SHOWN_MAX + 4];
  if (!o)
    snprintf(why, sizeof why, "unknown key '%s' in [%s]", show(key, k), show(section, sec));
  else if (set_value(x->c, o, value, 1, why, sizeof why) == 0)
    return 1;
  if (!x->first_error[0]) snprintf(x->first_error, sizeof x->first_error, "%s", why);
  return 0;
}

int mxs_config_load_file(mxs_config_t *c, const char *path, FILE *err) {
  struct ini_ctx x = {c, ""};
  int rc = ini_parse(path, on_ini, &x);
  if (rc == -1) {
    fprintf(err, "mxscan: cannot read config file '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (rc != 0) {
    fprintf(err, "mxscan: %s:%d: %s\n", path, rc, x.first_error[0] ? x.first_error : "syntax error");
    return -1;
  }
  return 0;
}

void mxs_config_usage(FILE *fp) {
  fputs(
      "usage: mxscan scan [options] [INPUT|-]\n\n"
      "Reads one domain per line (blank lines and # comments skipped) and writes one\n"
      "record per (domain, MX host, address).  Options (each also a key of the config\n"
      "file, in the [section] shown, with '_' for '-'):\n\n"
      "  --config FILE             read options from FILE first (INI, see configs/mxscan.conf)\n",
      fp);
  const char *section = "";
  for (size_t i = 0; i < NOPTS; i++) {
    const opt_t *o = &opts[i];
    if (strcmp(section, o->section) != 0) fprintf(fp, "\n[%s]\n", section = o->section);
    char left[64];
    snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->shortopt ? "-" : "", o->shortopt ? o->shortopt : ' ',
             o->shortopt ? ", " : "", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(fp, "  %-26s%s\n", o->shortopt ? left : left + 1, o->help);
  }
  fputs(
      "\nS is a duration: seconds, or with units (500ms, 90s, 30m, 8h, 1h30m).  A rate N\n"
      "is per second; N/m and N/h give it per minute or per hour.\n"
      "\nExit status: 0 the run completed (whatever it found); 1 it could not complete\n"
      "(interrupted, --max-runtime, records that could not be written); 2 usage or\n"
      "configuration error; 3 the run completed and --fail-on/--fail-on-ratio matched.\n",
      fp);
}

/* The path given with --config, looked for before any other option so the
 * command line overrides the file whatever the order. */
static const char *find_config_arg(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--config") && i + 1 < argc) return argv[i + 1];
    if (!strncmp(argv[i], "--config=", 9)) return argv[i] + 9;
  }
  return NULL;
}

int mxs_config_parse(mxs_config_t *c, int argc, char **argv, FILE *err) {
  struct option lo[NOPTS + 3];
  char shorts[16] = "h";
  for (size_t i = 0; i < NOPTS; i++) {
    int flag = opts[i].kind == K_FLAG || opts[i].kind == K_NOFLAG;
    lo[i] = (struct option){opts[i].name, flag ? no_argument : required_argument, NULL, (int)(256 + i)};
    if (opts[i].shortopt) {
      size_t n = strlen(shorts);
      shorts[n] = (char)opts[i].shortopt;
      if (!flag) shorts[++n] = ':';
    }
  }
  lo[NOPTS] = (struct option){"config", required_argument, NULL, 'C'};
  lo[NOPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
  lo[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};
  const char *cfile = find_config_arg(argc, argv);
  if (cfile && mxs_config_load_file(c, cfile, err) < 0) return -1;
  int ch;
  /* 0, not 1: glibc then starts getopt afresh, forgetting where a parse
   * that stopped inside an option cluster ("-qZW") left it (pointing into
   * that argv, maybe freed since: tests/cli/test_config.c). */
  optind = 0;
  opterr = 1;
  while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
    if (ch == 'h') return 1;
    if (ch == 'C') continue;
    if (ch == '?') return -1;
    const opt_t *o = NULL;
    for (size_t i = 0; i < NOPTS && !o; i++)
      if (ch == (int)(256 + i) || ch == opts[i].shortopt) o = &opts[i];
    char why[256];
    if (o && set_value(c, o, optarg, 0, why, sizeof why) < 0) {
      fprintf(err, "mxscan: --%s: %s\n", o->name, why);
      return -1;
    }
  }
  if (argc - optind > 1) {
    fprintf(err, "mxscan: too many inputs: '%s'\n", argv[optind + 1]);
    return -1;
  }
  if (optind < argc) c->input = argv[optind];
  return mxs_config_check_tls(c, err);
}

/* The EHLO name: this host's when none was given.  A host name that is
 * no valid EHLO argument stops the run; one without a dot is a warning,
 * because many receivers refuse it and the records would say so. */
static int finish_ehlo(mxs_config_t *c, char *host, size_t hostlen, FILE *err) {
  int given = c->ehlo_name != NULL;
  const char *why = NULL;
  if (!given) c->ehlo_name = mxs_config_default_ehlo_name(host, hostlen);
  if (mxs_ehlo_name_check(c->ehlo_name, &why) < 0) {
    /* given names were checked when set */
    fprintf(err, "mxscan: this host's name '%.100s' cannot be sent in EHLO (%s): give --ehlo-name\n", c->ehlo_name,
            why);
    return -1;
  }
  if (!mxs_ehlo_name_is_fqdn(c->ehlo_name))
    fprintf(err,
            "mxscan: warning: the EHLO name '%s'%s is not fully qualified: many receivers reject it (Postfix "
            "reject_non_fqdn_helo_hostname) and the records would describe that, not their TLS; give --ehlo-name "
            "mail.example.com, the name the PTR record of the scanning address gives\n",
            c->ehlo_name, given ? "" : " (this host's name)");
  return 0;
}

/* Each source address must be one a socket can bind to, now: an address
 * that is not this host's is exit 2 at start, not a failed record per
 * probe later. */
static int finish_sources(const mxs_config_t *c, FILE *err) {
  const char *src[2] = {c->source4, c->source6};
  for (int i = 0; i < 2; i++) {
    char why[256];
    if (src[i][0] && mxs_probe_check_source(src[i], why, sizeof why) < 0) {
      fprintf(err, "mxscan: --source-address: %s\n", why);
      return -1;
    }
  }
  if (c->ipv6 && c->source4[0] && !c->source6[0])
    fprintf(err,
            "mxscan: warning: --source-address gives no IPv6 address: IPv6 probes connect from the system's "
            "choice\n");
  return 0;
}

int mxs_config_finish(mxs_config_t *c, char *host, size_t hostlen, FILE *err) {
  if (finish_ehlo(c, host, hostlen, err) < 0 || finish_sources(c, err) < 0) return -1;
  if (c->exclude && !c->excluded) {
    if (mxs_exclude_load(c->exclude, &c->excluded, err) < 0) return -1;
    size_t names, suffixes, nets;
    mxs_exclude_counts(c->excluded, &names, &suffixes, &nets);
    if (!c->quiet)
      fprintf(err, "mxscan: excluding %zu domain(s), %zu suffix(es) and %zu network(s) of %s\n", names, suffixes, nets,
              c->exclude);
  }
  return 0;
}
