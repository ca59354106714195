/* config.h - the immutable settings of one run, from flags (and later a
 * config file).  main.c fills it; everything else only reads it. */
#ifndef MXS_CONFIG_H
#define MXS_CONFIG_H

typedef struct {
  const char *input;        /* path or "-" */
  const char *dns;          /* --dns, NULL = system resolver */
  const char *ca_file;      /* --ca-file, NULL = system store */
  int port;                 /* --port */
  const char *format;       /* jsonl | msgpack */
  const char *output;       /* -o, "-" = stdout */
  int output_given;         /* -o was given (with --redis: write both) */
  const char *redis_url;    /* --redis URL, NULL = none */
  const char *summary;      /* --summary FILE (JSON), NULL = none */
  const char *ehlo_name;    /* --ehlo-name */
  int ipv6;                 /* --ipv6 */
  int concurrency;          /* --concurrency */
  int per_ip;               /* --per-ip */
  int probe_per_name;       /* --probe-per-name */
  int legacy_retry;         /* diagnostic retry on TLS failure (--no-diag turns off) */
  int connect_timeout_ms;   /* --connect-timeout (seconds on the command line) */
  int banner_timeout_ms;    /* --banner-timeout */
  int command_timeout_ms;   /* --command-timeout */
  int handshake_timeout_ms; /* --handshake-timeout */
  int dns_timeout_ms;       /* --dns-timeout */
  int dns_tries;            /* --dns-tries */
  int quiet;                /* -q: no class table on stderr */
  /* politeness (queue/sched.h) */
  double rate;              /* --rate N: new connections per second overall, 0 = unlimited */
  int per_provider;         /* --per-provider N: probes at once per provider */
  double provider_rate;     /* --provider-rate N: new connections/s per provider */
  int per_ip_interval_ms;   /* --per-ip-interval S: gap between connections to one address */
  int retries;              /* --retries N: retries of transient failures */
  int retry_delay_ms;       /* --retry-delay S: first backoff, doubled per retry, jittered */
  int max_runtime_ms;       /* --max-runtime S: run-wide deadline, 0 = none */
  int threads;              /* --threads N: probe event loops (1 = all on the main loop) */
} mxs_config_t;

/* Fills C with the defaults. */
void mxs_config_defaults(mxs_config_t *c);

#endif
