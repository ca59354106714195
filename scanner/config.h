/* config.h - the immutable settings of one run, from a config file and
 * flags (cli/options.c owns the option table).  The cli fills it;
 * everything else only reads it. */
#ifndef MXS_CONFIG_H
#define MXS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "queue/exclude.h"
#include "results/classify.h"
#include "results/profiles.h"

typedef struct {
  const char *input;           /* path or "-" */
  const char *dns;             /* --dns, NULL = system resolver */
  const char *ca_file;         /* --ca-file, NULL = system store */
  int verify_cache;            /* --verify-cache N: chain outcomes remembered, 0 = off */
  int port;                    /* --port */
  const char *format;          /* jsonl | msgpack */
  const char *output;          /* -o, "-" = stdout */
  int output_given;            /* -o was given (with --redis: write both) */
  const char *redis_url;       /* --redis URL, NULL = none */
  const char *redis_prefix;    /* --redis-prefix (default: the exporter's, "mxscan") */
  double redis_maxlen;         /* --redis-maxlen: stream MAXLEN ~ (0: the exporter's) */
  int redis_down_limit_ms;     /* --redis-down-limit: then spill to a file (0: the exporter's) */
  const char *redis_spill_dir; /* --redis-spill-dir */
  const char *redis_run;       /* --run ID: a distributed run (enqueue/worker/collect/status) */
  int claim_idle_ms;           /* --claim-idle S: take over a dead worker's jobs idle this long */
  int follow;                  /* --follow: workers wait for more jobs when the stream is drained */
  const char *summary;         /* --summary FILE (JSON), NULL = none */
  const char *ehlo_name;       /* --ehlo-name */
  int ipv6;                    /* --ipv6 */
  int concurrency;             /* --concurrency */
  int per_ip;                  /* --per-ip */
  int probe_per_name;          /* --probe-per-name */
  int keep_duplicates;         /* --keep-duplicates: a domain the list repeats is scanned again */
  int sni_none;                /* --sni none: send no SNI (0: the MX name, the default) */
  int sni_probes_per_address;  /* --sni-probes-per-address N: name probes per address, 0 = no cap */
  int legacy_retry;            /* diagnostic retry on TLS failure (--no-diag turns off) */
  int connect_timeout_ms;      /* --connect-timeout (seconds on the command line) */
  int banner_timeout_ms;       /* --banner-timeout */
  int command_timeout_ms;      /* --command-timeout */
  int handshake_timeout_ms;    /* --handshake-timeout */
  int dns_timeout_ms;          /* --dns-timeout */
  int dns_tries;               /* --dns-tries */
  int quiet;                   /* -q: no class table on stderr */
  /* politeness (queue/sched.h) */
  double rate;             /* --rate N: new connections per second overall, 0 = unlimited */
  int per_provider;        /* --per-provider N: probes at once per provider */
  double provider_rate;    /* --provider-rate N: new connections/s per provider */
  int per_ip_interval_ms;  /* --per-ip-interval S: gap between connections to one address */
  int retries;             /* --retries N: retries of transient failures */
  int retry_delay_ms;      /* --retry-delay S: first backoff, doubled per retry, jittered */
  int max_runtime_ms;      /* --max-runtime S: run-wide deadline, 0 = none */
  int threads;             /* --threads N: probe event loops (1 = all on the main loop) */
  int status_interval_ms;  /* --status-interval: status lines when stderr is no terminal */
  mxs_class_set_t fail_on; /* --fail-on classes (0: none given) */
  double fail_on_ratio;    /* --fail-on-ratio (0: not given) */
  int fail_on_deferred;    /* --fail-on deferred: mail to a domain would be deferred at sender_level */
  int sender_level;        /* --sender-level: an mxs_level_t (results/delivery.h), 0 = may */
  int resume;              /* --resume: continue the run that wrote -o FILE */
  /* the sender's TLS settings (results/profiles.h) */
  const char *sender_profile; /* --sender-profile NAME, NULL = modern */
  mxs_tls_settings_t tls;     /* --tls-min-version ... --client-key given on top of it ("not given": 0/-1/NULL) */
  const char *diag_profiles;  /* --diag-profiles a,b: retries after a TLS failure instead of legacy, NULL = none */
  const char *metrics;        /* --metrics FILE: Prometheus text file (scanner/metrics.h), NULL = none */
  int metrics_providers;      /* --metrics-providers N: providers with a series of their own */
  int dns_down_limit_ms;      /* --dns-down-limit S: the resolver silent this long ends the run (exit 1) */
  /* the domains' own policies (policy/policy.h): MTA-STS, TLS-RPT */
  int policy;               /* check them (--no-policy turns off: no lookups, records as before) */
  int sts_timeout_ms;       /* --sts-timeout S: a whole policy fetch */
  int sts_concurrency;      /* --sts-concurrency N: policy fetches at once */
  int sts_per_host;         /* --sts-per-host N: fetches at once to one address */
  int sts_port;             /* --sts-port N: HTTPS port of policy hosts (443; tests) */
  const char *policy_cache; /* --policy-cache FILE: policies kept across runs (policy/cache.h), NULL = none */
  int policy_refresh_ms;    /* --policy-refresh S: fetch a cached policy again after this long */
  int dnssec;               /* --dnssec: the --dns servers validate; DANE is checked */
  int require_dane;         /* --require-dane: audit as a sender that requires DANE (dane-required) */
  const char *exclude;      /* --exclude FILE: never resolve or probe these (queue/exclude.h) */
  mxs_exclude_t *excluded;  /* the list read from it (cli: mxs_config_finish); owned, NULL = none */
  char source4[48];         /* --source-address: bind IPv4 probes to it ("": the system's choice) */
  char source6[48];         /* ... and IPv6 probes */
  char **owned;             /* strings read from a config file */
  size_t nowned;
} mxs_config_t;

/* Fills C with the defaults. */
void mxs_config_defaults(mxs_config_t *c);
/* Frees what C owns (strings from a config file, the exclude list). */
void mxs_config_free(mxs_config_t *c);
/* The sender profile C names (or modern) and its settings with C's knobs
 * applied into OUT; returns 1 when knobs changed them ("custom"), 0 if not,
 * -1 for an unknown profile name. */
int mxs_config_tls_settings(const mxs_config_t *c, const mxs_profile_t **profile, mxs_tls_settings_t *out);
/* This host's fully qualified name (the EHLO default) into BUF. */
const char *mxs_config_default_ehlo_name(char *buf, size_t len);

#endif
