/* main.c - argv to a running scan; the only place that exits. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "scanner/classify.h"
#include "scanner/commands.h"
#include "scanner/config.h"
#include "scanner/scan.h"
#include "scanner/stats.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: mxscan scan [options] [INPUT|-]   scan the domains in INPUT (one per line)\n"
    "       mxscan classes                    list the result classes and their TLS-RPT types\n"
    "       mxscan --help | --version\n"
    "\n"
    "scan options:\n"
    "  --dns HOST[:PORT][,...]   DNS servers to ask instead of the system's\n"
    "  --ca-file FILE            trust these roots (PEM) instead of the system store\n"
    "  --port N                  SMTP port to probe (default 25)\n"
    "  --format jsonl|msgpack    output format (default jsonl)\n"
    "  -o, --output FILE         output file ('-' or absent: standard output)\n"
    "  --summary FILE            write the class counts as JSON to FILE\n"
    "  --redis URL               also (without -o: only) write records to Redis:\n"
    "                            redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]\n"
    "  --ehlo-name NAME          name to send in EHLO (default: this host's FQDN)\n"
    "  --ipv6                    also probe the IPv6 addresses of MX hosts\n"
    "  --concurrency N           probes in flight at once (default 1000)\n"
    "  --per-ip N                connections at once to one address (default 1)\n"
    "  --probe-per-name          probe each (MX name, address) instead of each address once\n"
    "  --no-diag                 no legacy diagnostic retry after a TLS failure\n"
    "  --connect-timeout S       seconds to wait for TCP connect (default 10)\n"
    "  --banner-timeout S        seconds to wait for the greeting (default 30)\n"
    "  --command-timeout S       seconds to wait for a reply to EHLO/STARTTLS (default 30)\n"
    "  --handshake-timeout S     seconds for the TLS handshake (default 30)\n"
    "  --dns-timeout S           seconds per DNS try (default 2)\n"
    "  --dns-tries N             DNS tries per query (default 3)\n"
    "  --threads N               probe threads, each with its own event loop (default: the\n"
    "                            number of cores; 1: everything on one loop)\n"
    "  -q, --quiet               no class table on standard error\n"
    "\npoliteness:\n"
    "  --rate N                  new connections per second overall (default 200, 0: unlimited)\n"
    "  --per-provider N          probes at once per provider (registrable domain of the MX) (default 20)\n"
    "  --provider-rate N         new connections per second per provider (default 10, 0: unlimited)\n"
    "  --per-ip-interval S       minimum seconds between connections to one address (default 0)\n"
    "  --retries N               retries of transient failures: 421, tcp-timeout,\n"
    "                            smtp-banner-timeout, tls-died (default 2)\n"
    "  --retry-delay S           first retry delay, doubled per retry, jittered (default 5)\n"
    "  --max-runtime S           stop after S seconds; unfinished probes are recorded (default: none)\n"
    "\n"
    "Exit status: 0 the run completed (whatever it found), 1 it could not complete\n"
    "(interrupted, records that could not be written), 2 usage or setup error.\n";

enum {
  OPT_DNS = 256,
  OPT_CA,
  OPT_PORT,
  OPT_FORMAT,
  OPT_SUMMARY,
  OPT_EHLO,
  OPT_IPV6,
  OPT_CONC,
  OPT_PER_IP,
  OPT_PER_NAME,
  OPT_NO_DIAG,
  OPT_T_CONNECT,
  OPT_T_BANNER,
  OPT_T_COMMAND,
  OPT_T_HANDSHAKE,
  OPT_T_DNS,
  OPT_DNS_TRIES,
  OPT_REDIS,
  OPT_RATE,
  OPT_PER_PROVIDER,
  OPT_PROVIDER_RATE,
  OPT_PER_IP_INTERVAL,
  OPT_RETRIES,
  OPT_RETRY_DELAY,
  OPT_MAX_RUNTIME,
  OPT_THREADS,
};

static const struct option scan_opts[] = {
    {"dns", required_argument, 0, OPT_DNS},
    {"ca-file", required_argument, 0, OPT_CA},
    {"port", required_argument, 0, OPT_PORT},
    {"format", required_argument, 0, OPT_FORMAT},
    {"output", required_argument, 0, 'o'},
    {"summary", required_argument, 0, OPT_SUMMARY},
    {"ehlo-name", required_argument, 0, OPT_EHLO},
    {"ipv6", no_argument, 0, OPT_IPV6},
    {"concurrency", required_argument, 0, OPT_CONC},
    {"per-ip", required_argument, 0, OPT_PER_IP},
    {"probe-per-name", no_argument, 0, OPT_PER_NAME},
    {"no-diag", no_argument, 0, OPT_NO_DIAG},
    {"connect-timeout", required_argument, 0, OPT_T_CONNECT},
    {"banner-timeout", required_argument, 0, OPT_T_BANNER},
    {"command-timeout", required_argument, 0, OPT_T_COMMAND},
    {"handshake-timeout", required_argument, 0, OPT_T_HANDSHAKE},
    {"dns-timeout", required_argument, 0, OPT_T_DNS},
    {"dns-tries", required_argument, 0, OPT_DNS_TRIES},
    {"redis", required_argument, 0, OPT_REDIS},
    {"quiet", no_argument, 0, 'q'},
    {"rate", required_argument, 0, OPT_RATE},
    {"per-provider", required_argument, 0, OPT_PER_PROVIDER},
    {"provider-rate", required_argument, 0, OPT_PROVIDER_RATE},
    {"per-ip-interval", required_argument, 0, OPT_PER_IP_INTERVAL},
    {"retries", required_argument, 0, OPT_RETRIES},
    {"retry-delay", required_argument, 0, OPT_RETRY_DELAY},
    {"max-runtime", required_argument, 0, OPT_MAX_RUNTIME},
    {"threads", required_argument, 0, OPT_THREADS},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

void mxs_config_defaults(mxs_config_t *c) {
  *c = (mxs_config_t){
      .input = "-",
      .port = 25,
      .format = "jsonl",
      .output = "-",
      .concurrency = 1000,
      .per_ip = 1,
      .legacy_retry = 1,
      .connect_timeout_ms = 10000,
      .banner_timeout_ms = 30000,
      .command_timeout_ms = 30000,
      .handshake_timeout_ms = 30000,
      .dns_timeout_ms = 2000,
      .dns_tries = 3,
      /* Polite by default: a large provider sees at most 20 of our
       * connections at once and 10 new ones a second. */
      .rate = 200,
      .per_provider = 20,
      .provider_rate = 10,
      .retries = 2,
      .retry_delay_ms = 5000,
      .threads = (int)uv_available_parallelism(),
  };
}

static int die_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "mxscan: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'mxscan --help'.\n");
  return EXIT_USAGE;
}

/* Parses an integer option in [lo, hi]. */
static int parse_int(const char *opt, const char *arg, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (errno || *end || end == arg || v < lo || v > hi) {
    fprintf(stderr, "mxscan: %s: '%s' is not a whole number from %ld to %ld\n", opt, arg, lo, hi);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Parses seconds (decimals allowed) into milliseconds. */
static int parse_secs(const char *opt, const char *arg, int *out_ms) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || *end || end == arg || !(v > 0) || v > 3600) {
    fprintf(stderr, "mxscan: %s: '%s' is not a number of seconds (0 < S <= 3600)\n", opt, arg);
    return -1;
  }
  *out_ms = (int)(v * 1000 + 0.5);
  return 0;
}

/* Parses a non-negative rate (per second, decimals allowed). */
static int parse_rate(const char *opt, const char *arg, double *out) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || *end || end == arg || !(v >= 0) || v > 1e7) {
    fprintf(stderr, "mxscan: %s: '%s' is not a rate per second (0 = unlimited)\n", opt, arg);
    return -1;
  }
  *out = v;
  return 0;
}

/* Seconds where 0 is allowed (intervals). */
static int parse_secs0(const char *opt, const char *arg, int *out_ms) {
  if (strcmp(arg, "0") == 0) {
    *out_ms = 0;
    return 0;
  }
  return parse_secs(opt, arg, out_ms);
}

/* This host's fully qualified name for EHLO, as MTAs send it. */
static const char *default_ehlo_name(char *buf, size_t len) {
  if (gethostname(buf, len) != 0 || !buf[0]) return "localhost.localdomain";
  buf[len - 1] = '\0';
  if (strchr(buf, '.')) return buf;
  struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;
  if (getaddrinfo(buf, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname && strchr(ai->ai_canonname, '.'))
    snprintf(buf, len, "%s", ai->ai_canonname);
  if (ai) freeaddrinfo(ai);
  return buf;
}

static int parse_scan_opt(int c, const char *opt, mxs_config_t *cfg) {
  switch (c) {
  case OPT_DNS: cfg->dns = optarg; return 0;
  case OPT_CA: cfg->ca_file = optarg; return 0;
  case OPT_PORT: return parse_int(opt, optarg, 1, 65535, &cfg->port);
  case OPT_FORMAT:
    if (strcmp(optarg, "jsonl") && strcmp(optarg, "msgpack")) {
      fprintf(stderr, "mxscan: --format: '%s' is not jsonl or msgpack\n", optarg);
      return -1;
    }
    cfg->format = optarg;
    return 0;
  case 'o':
    cfg->output = optarg;
    cfg->output_given = 1;
    return 0;
  case OPT_SUMMARY: cfg->summary = optarg; return 0;
  case OPT_REDIS: cfg->redis_url = optarg; return 0;
  case OPT_EHLO: cfg->ehlo_name = optarg; return 0;
  case OPT_IPV6: cfg->ipv6 = 1; return 0;
  case OPT_CONC: return parse_int(opt, optarg, 1, 1000000, &cfg->concurrency);
  case OPT_PER_IP: return parse_int(opt, optarg, 1, 1000, &cfg->per_ip);
  case OPT_PER_NAME: cfg->probe_per_name = 1; return 0;
  case OPT_NO_DIAG: cfg->legacy_retry = 0; return 0;
  case OPT_T_CONNECT: return parse_secs(opt, optarg, &cfg->connect_timeout_ms);
  case OPT_T_BANNER: return parse_secs(opt, optarg, &cfg->banner_timeout_ms);
  case OPT_T_COMMAND: return parse_secs(opt, optarg, &cfg->command_timeout_ms);
  case OPT_T_HANDSHAKE: return parse_secs(opt, optarg, &cfg->handshake_timeout_ms);
  case OPT_T_DNS: return parse_secs(opt, optarg, &cfg->dns_timeout_ms);
  case OPT_DNS_TRIES: return parse_int(opt, optarg, 1, 20, &cfg->dns_tries);
  case 'q': cfg->quiet = 1; return 0;
  case OPT_RATE: return parse_rate(opt, optarg, &cfg->rate);
  case OPT_PER_PROVIDER: return parse_int(opt, optarg, 1, 100000, &cfg->per_provider);
  case OPT_PROVIDER_RATE: return parse_rate(opt, optarg, &cfg->provider_rate);
  case OPT_PER_IP_INTERVAL: return parse_secs0(opt, optarg, &cfg->per_ip_interval_ms);
  case OPT_RETRIES: return parse_int(opt, optarg, 0, 20, &cfg->retries);
  case OPT_RETRY_DELAY: return parse_secs0(opt, optarg, &cfg->retry_delay_ms);
  case OPT_MAX_RUNTIME: return parse_secs(opt, optarg, &cfg->max_runtime_ms);
  case OPT_THREADS: return parse_int(opt, optarg, 1, 256, &cfg->threads);
  default: return -1;
  }
}

int mxs_cmd_scan(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_config_defaults(&cfg);
  int c, idx;
  opterr = 1;
  while ((c = getopt_long(argc, argv, "o:qh", scan_opts, &idx)) != -1) {
    if (c == 'h') {
      fputs(usage_text, stdout);
      return 0;
    }
    if (c == '?') return die_usage("%s", "invalid option");
    const char *name = argv[optind - 1];
    if (parse_scan_opt(c, name, &cfg) < 0) return EXIT_USAGE;
  }
  if (argc - optind > 1) return die_usage("too many inputs: '%s'", argv[optind + 1]);
  if (optind < argc) cfg.input = argv[optind];
  char host[HOST_NAME_MAX + 1];
  if (!cfg.ehlo_name) cfg.ehlo_name = default_ehlo_name(host, sizeof host);

  mxs_stats_t stats;
  int rc = mxs_scan_run(&cfg, &stats, stderr);
  if (rc == 2) return EXIT_USAGE;
  if (!cfg.quiet) mxs_stats_print(&stats, stderr);
  if (cfg.summary) {
    char err[512];
    if (mxs_stats_write_json(&stats, cfg.summary, err, sizeof err) < 0) {
      fprintf(stderr, "mxscan: %s\n", err);
      rc = 1;
    }
  }
  return rc;
}

int mxs_cmd_classes(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("%-26s %-9s %-24s %s\n", "class", "stage", "tlsrpt", "meaning");
  for (int i = 0; i < MXS_CLASS_COUNT; i++)
    printf("%-26s %-9s %-24s %s\n", mxs_class_name((mxs_class_t)i), mxs_class_stage((mxs_class_t)i),
           mxs_class_tlsrpt((mxs_class_t)i), mxs_class_hint((mxs_class_t)i));
  return 0;
}

/* Every subcommand; add a row here and a file of its own. */
static const mxs_command_t commands[] = {
    {"scan", mxs_cmd_scan, "scan the domains of a list"},
    {"classes", mxs_cmd_classes, "list the result classes and their TLS-RPT types"},
    {"probe", mxs_cmd_probe, "probe one domain: transcript, class, explanation and fix"},
    {"explain", mxs_cmd_explain, "explain a result class: likely cause and fix"},
    {"report", mxs_cmd_report, "summarise results files: classes, providers, certificates, TLS-RPT"},
    {"diff", mxs_cmd_diff, "what changed between two results files"},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("mxscan %s\n", MXS_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  return die_usage("unknown command '%s'", cmd);
}
