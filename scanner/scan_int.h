/* scan_int.h - what scan.c (the run: input, DNS, lifecycle, outputs),
 * fanout.c (targets, scheduling, records), faults.c (the machine failing
 * under the run) and scan_dane.c (DANE's TLSA lookups and record fields)
 * share.  Internal to the scanner: nothing outside these files includes
 * it.  Functions here are named scan_* and are not part of any public
 * interface. */
#ifndef MXS_SCAN_INT_H
#define MXS_SCAN_INT_H

#include <libpsl.h>
#include <netinet/in.h> /* INET6_ADDRSTRLEN */
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "exporters/exporter.h"
#include "policy/policy.h"
#include "queue/sched.h"
#include "queue/source.h"
#include "queue/table.h"
#include "resolver/resolver.h"
#include "scanner/config.h"
#include "scanner/metrics.h"
#include "probe/probe.h"
#include "scanner/resume.h"
#include "scanner/runlock.h"
#include "scanner/stats.h"
#include "resolver/tlsa_cache.h"
#include "probe/verdict.h"
#include "scanner/workers.h"

#define MXS_MAX_EXPORTERS 4

typedef struct mxs_scan_s mxs_scan_t;

typedef struct domain_s {
  mxs_scan_t *scan;
  int dns_ms;
  int outstanding; /* records still to write; the domain ends at 0 */
  int finished;    /* every record written (maybe early, see abandon_dns) */
  int in_dns;      /* the resolver still holds a pointer to it */
  struct domain_s *dns_prev, *dns_next;
  mxs_class_set_t seen;           /* classes of its records */
  mxs_delivery_domain_t delivery; /* what a sender does with its mail (zeroed: no record yet) */
  struct job_s *done;             /* its records, ready, in output order */
  uint64_t token;                 /* the source's handle, for done() */
  int next_seq;
  int dns_abandoned;           /* recorded at the run's end before DNS answered */
  mxs_policy_result_t *policy; /* what the domain publishes (a reference), once known */
  int mx_secure;               /* --dnssec: its MX answer was authenticated (DANE) */
  char name[254];
} domain_t;

struct target_s;

/* One record of a domain: a (domain, MX name) waiting for the result of an
 * address, or a record that stopped at DNS.  A domain's records are written
 * together when its last one is ready, so each domain's records are
 * contiguous in the output: a crash can tear only the last domain, which
 * is what makes --resume exact. */
typedef struct job_s {
  domain_t *d;
  struct target_s *t; /* NULL: a DNS-stage record */
  char *mx;           /* NULL: no MX known */
  int pref;
  int implicit;
  int seq; /* position in the domain's output: MX preference, then address */
  /* DNS-stage records only */
  mxs_class_t dns_cls;
  char *dns_detail;
  int unfinished;
  char at[24];
  struct job_s *next;           /* in the target's waiters, then in d->done */
  int dane_candidate;           /* --dnssec: MX and addresses secure, so DANE is looked for */
  const mxs_tlsa_entry_t *tlsa; /* its TLSA answer (the run's cache); NULL: none asked or known */
  char *ip;                     /* DNS-stage records only: the address of an excluded one (excluded.c) */
} job_t;

typedef enum { T_CLAIMING, T_QUEUED, T_PERMIT, T_RUNNING, T_DONE } tstate_t;

/* One address (or address + name) to probe, and its result once known.
 *
 * An address's own target is probed with the first MX name seen for it as
 * SNI (or none, --sni none).  A later name whose certificate that probe did
 * not retain gets a name target of its own (NAME set below): the same
 * address probed with that name as SNI, through the same limits, because a
 * shared-hosting server chooses its certificate by the name it is sent.
 * A run keeps one for every address (and name probe) it meets, done or
 * not, to the end: fields are ordered so that it packs into 376 bytes
 * (jemalloc's 384-byte class; a byte more costs 64 per address). */
typedef struct target_s {
  mxs_sched_item_t item; /* first: the scheduler hands items back */
  mxs_scan_t *scan;
  tstate_t st;
  int attempts;             /* connections tried so far */
  mxs_probe_t *probe;       /* while running, for cancel */
  mxs_probe_result_t *last; /* outcome of the previous attempt while a retry waits */
  int claimed;              /* a distributed run: this machine probes it */
  int chose_by_name;        /* a name target got another certificate than the address's own probe */
  char *provider;           /* owned; registrable domain of the MX: the limiter's key */
  char ip[INET6_ADDRSTRLEN];
  unsigned char diag_next; /* --diag-profiles: the next retry to run */
  char *sni;               /* owned; the name sent in the handshake, NULL: none */
  char *key;               /* owned; its key in the targets table (claims and verdicts too) */
  mxs_verdict_t v;         /* the probe's result, refined with the legacy retry */
  job_t *waiters, **wtail;
  /* Name probes (never with --probe-per-name or --sni none). */
  struct target_s *addr;      /* a name target: its address's target; NULL: an address's own */
  struct target_s *names;     /* an address's own: its name targets, newest first (borrowed: the table owns them) */
  struct target_s *next_name; /* in addr->names */
  struct target_s *latest;    /* an address's own: the probe of it done last (what names past the cap reuse) */
  int nnames;                 /* name targets made for this address */
  int names_running;          /* ... not done yet */
  /* Jobs whose name no done probe of the address covers, waiting for the
   * name probes in flight: the next certificate may cover them (a server
   * that ignores SNI), which saves a connection per name. */
  job_t *parked, **ptail;
  const mxs_tlsa_entry_t *tlsa; /* a DANE probe of that host name: its TLSA records; NULL: none */
} target_t;

struct mxs_scan_s {
  const mxs_config_t *cfg;
  uv_loop_t loop;
  mxs_resolver_t *resolver;
  mxs_tls_ctx_t *tls;
  mxs_probe_env_t penv;
  char read_buf[MXS_PROBE_READ_BUF]; /* penv's, for the probes on this loop */
  mxs_workers_t *workers;            /* --threads N > 1: N-1 probe threads; NULL: all probes here */
  mxs_runlock_t runlock;             /* -o FILE: FILE.lock, held for the whole run */
  int lock_busy;                     /* another run holds it: exit 1, not a usage error */
  mxs_resume_t resume;               /* --resume: domains the output already holds */
  uint64_t skipped;                  /* input domains skipped as already complete */
  mxs_source_t *source;              /* where domains come from (a file, a job queue) */
  mxs_source_factory_t make_source;  /* NULL: the file cfg->input */
  void *make_arg;
  int input_eof;
  mxs_exporter_t *out[MXS_MAX_EXPORTERS]; /* file and/or redis */
  size_t nout;
  mxs_table_t targets;       /* key -> target_t */
  mxs_sched_t sched;         /* who may connect next */
  uv_timer_t sched_timer;    /* wakes the scheduler when a limit lapses */
  const psl_ctx_t *psl;      /* public suffix list: MX host -> provider */
  domain_t *dns_head;        /* domains waiting for the resolver */
  uv_timer_t deadline_timer; /* --max-runtime */
  int deadline;              /* --max-runtime passed: cancel what runs */
  uint64_t seed;             /* retry jitter */
  size_t domains_active, high_water;
  uv_signal_t sigint, sigterm;
  uv_timer_t flush_timer; /* also drives the progress/status line */
  uint64_t domains_read;
  uint64_t domains_resolved; /* DNS answered (for the status line) */
  uint64_t last_status_ms, last_status_done;
  int tty;             /* stderr is a terminal: a live progress line */
  uv_idle_t pump_idle; /* reads input from the loop, never recursively */
  int concurrency;     /* --concurrency, fitted to the descriptor limit */
  int stopping;        /* a signal or the deadline: take no new work */
  int closed;
  int in_stop;         /* stop_run is walking the domain and target lists */
  size_t acks_pending; /* domains whose records an exporter has not stored yet */
  mxs_stats_t *stats;
  FILE *err;
  /* The sender profile of every probe (TLS context variant 0) and the
   * --diag-profiles retries (variants 1..ndiag; ndiag 0: the one legacy
   * retry, or none with --no-diag). */
  const mxs_profile_t *profile;
  int profile_custom;
  mxs_tls_settings_t tls_set; /* the profile with the knobs applied */
  const mxs_profile_t *diag[MXS_DIAG_MAX];
  size_t ndiag;
  mxs_metrics_t *metrics;   /* --metrics: NULL = none */
  uint64_t last_metrics_ms; /* loop time of the last metrics write */
  uv_timer_t out_timer;     /* an output failed: stop the run from the loop */
  unsigned out_failed;      /* outputs whose failure was reported (bit per s->out[i]) */
  uint64_t out_base;        /* bytes the -o FILE held before this run's first record (--resume) */
  /* faults.c: fewer probes at once while we run short of descriptors or ports */
  int throttle_cap; /* 0: not throttled */
  uint64_t throttle_cut, throttle_last;
  char throttle_why[64];
  /* faults.c: the resolver's server down (intake paused), --dns-down-limit */
  uv_timer_t dns_timer;
  int dns_state;                  /* mxs_resolver_state_t last seen */
  uint64_t dns_down_at;           /* loop time the outage began */
  char dns_why[400];              /* the detail of the records the down limit cuts short */
  mxs_policy_t *policy;           /* the domains' MTA-STS/TLS-RPT, NULL with --no-policy */
  mxs_sts_cache_t *sts_cache;     /* --policy-cache: read at the start, written at the end; NULL: none */
  mxs_tlsa_cache_t *tlsa;         /* --dnssec: the MX hosts' TLSA records; NULL: no DANE */
  struct dane_wait_s *dane_waits; /* domains waiting for TLSA answers */
};

/* fanout.c */
/* Queues the record of (D, MX) at address IP: probes IP once, or reuses it. */
int scan_add_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip);
/* A record that stops at DNS: for the domain (MX == NULL) or one MX host.
 * Returns its job (already queued in D, NULL when out of memory). */
job_t *scan_emit_dns_record(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, mxs_class_t cls,
                            const char *detail);
/* One of D's records is ready; at the last, D's records are written. */
void scan_domain_release(domain_t *d);
/* Starts what the limits allow now; arms the scheduler timer. */
void scan_pump_probes(mxs_scan_t *s);
void scan_on_sched_timer(uv_timer_t *h);
/* Run end: records for what never started, cancel what runs. */
void scan_abandon_queued(mxs_scan_t *s, const char *why);
void scan_cancel_running(void *arg, const char *key, void *val);
/* mxs_table_each callback freeing a target. */
void scan_free_target(void *arg, const char *key, void *val);

/* excluded.c: the --exclude list (cfg->excluded) at the two places where
 * the scan would reach out.  Each returns 1 when the list matched and the
 * record saying so is queued (nothing is resolved or probed), else 0. */
/* Before D is resolved; D holds no record yet.  On 1, D is recorded and
 * released (and freed): the caller must not touch it. */
int scan_exclude_domain(mxs_scan_t *s, domain_t *d);
/* Before (D, MX) at IP becomes a probe: the MX host's name or the address;
 * IP NULL: MX was not looked up (the resolver skipped its excluded name). */
int scan_exclude_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip);

/* scan.c */
void scan_pump_input(mxs_scan_t *s);
void scan_maybe_finish(mxs_scan_t *s);
/* Stops taking work, records what is left as unfinished (WHY); DEADLINE
 * also cuts the probes that run.  As a signal does. */
void scan_stop(mxs_scan_t *s, int deadline, const char *why);

/* faults.c: the outputs */
/* After a domain's records were flushed: an output that failed (a full
 * disk, a closed pipe) is reported once and stops the run, soon. */
void scan_check_outputs(mxs_scan_t *s);

/* faults.c: our own descriptors and ports */
/* RES (kept by the caller) failed for want of our own resources: lower the
 * limit of probes at once. */
void scan_throttle_shortage(mxs_scan_t *s, const mxs_probe_result_t *res);
/* A probe ended on the peer's terms: the limit may creep back up. */
void scan_throttle_ok(mxs_scan_t *s);
/* "" or "; throttled to 831 probes (too many open files)". */
void scan_throttle_status(const mxs_scan_t *s, char *out, size_t len);

/* faults.c: the resolver */
/* --dns: asks the resolver ". NS" before anything is opened; -1 with a
 * message in ERR when nobody answers. */
int scan_dns_startup_check(mxs_scan_t *s, char *err, size_t errlen);
void scan_dns_init(mxs_scan_t *s);
/* The resolver's on_health: messages, intake, the down limit. */
void scan_dns_on_health(void *arg);
/* 1 while the resolver is being checked or is down: read no domains. */
int scan_dns_paused(const mxs_scan_t *s);
/* "" or "; DNS DOWN for 12 s (...), 340 lookups held, intake paused". */
void scan_dns_status(mxs_scan_t *s, char *out, size_t len);
/* At the end: the outage counters into the stats, the timer closed. */
void scan_dns_close(mxs_scan_t *s);
/* Queues the records of D's answer A: jobs per MX address, DNS records. */
void scan_queue_mx(mxs_scan_t *s, domain_t *d, const mxs_domain_answer_t *a);

/* scan_dane.c */
/* 1: D waits for the TLSA records of its DANE candidates and its jobs are
 * queued (scan_queue_mx) once they are known, under a hold of its own;
 * 0: queue them now. */
int scan_dane_hold(mxs_scan_t *s, domain_t *d, const mxs_domain_answer_t *a);
/* The run stops: domains waiting for TLSA answers are queued now. */
void scan_dane_stop(mxs_scan_t *s);
/* For a job of (D, MX): whether it is a DANE candidate, and its TLSA answer. */
const mxs_tlsa_entry_t *scan_dane_entry(const mxs_scan_t *s, const domain_t *d, const mxs_mx_host_t *mx,
                                        int *candidate);
/* policy.dane of J's record in *OUT (borrowing from J, its target and
 * MATCHED); 0 when the record has none (no --dnssec, no MX). */
int scan_dane_view(const mxs_scan_t *s, const job_t *j, mxs_dane_view_t *out, char matched[16]);

#endif
