/* stats.h - class counts of a run, the operator's table and the JSON summary. */
#ifndef MXS_STATS_H
#define MXS_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "scanner/egress.h"
#include "policy/policy.h"
#include "results/classify.h"
#include "results/profiles.h"
#include "results/delivery.h"

typedef struct {
  uint64_t probes[MXS_CLASS_COUNT];  /* records by class */
  uint64_t domains[MXS_CLASS_COUNT]; /* domains by their class (see README) */
  uint64_t nprobes, ndomains;
  uint64_t lines_rejected;   /* input lines that were not domains */
  uint64_t lines_duplicate;  /* input lines skipped: their domain came on an earlier line */
  uint64_t write_errors;     /* records an exporter failed to take */
  uint64_t unfinished;       /* records marked unfinished (the run ended first) */
  uint64_t verify_lookups;   /* chain verifications looked up in the cache */
  uint64_t verify_hits;      /* ... and answered from it (probe/vcache.h) */
  uint64_t sni_probes;       /* extra probes of an address for a name its first certificate did not cover */
  uint64_t sni_addresses;    /* addresses that served another certificate for such a name */
  int64_t started, finished; /* unix time */
  uint64_t started_ms;       /* loop time at the start, for rates */
  int interrupted;           /* stopped by a signal before the end */
  char input_error[256];     /* "": the input was read to its end; else why not (the rest was not scanned) */
  mxs_egress_t egress;       /* the connects, for the blocked-port watch (scanner/egress.h) */
  char egress_blocked[512];  /* "": some got through, or too few tried; else the warning */
  int aborted;               /* a second signal: exit at once, nothing torn down */
  const char *profile;       /* the sender profile of the probes (static), NULL: none set up */
  int profile_custom;        /* options changed its settings */
  mxs_tls_settings_t tls;    /* its settings as applied (strings borrowed from the config) */
  /* What a sender does with the mail (results/delivery.h): domains by
   * outcome at each computed level, and the domains whose mail would be
   * deferred at the sender's level (--sender-level), by their class. */
  uint64_t delivery[MXS_LEVELS_COMPUTED][MXS_OUTCOMES + 1];
  uint64_t deferred[MXS_CLASS_COUNT];
  int sender_level;          /* an mxs_level_t */
  unsigned dns_outages;      /* times the resolver was found not answering */
  uint64_t dns_down_ms;      /* how long it did not answer, in all */
  size_t dns_reasked;        /* lookups timed out while it answered others, asked again */
  int dns_drops_known;       /* the resolver runs on this machine: its socket's drops were read */
  uint64_t dns_drops;        /* ... queries its kernel dropped for a full buffer during the run */
  size_t dns_window_lowest;  /* ... and the fewest queries at once that made us keep to */
  char dns_servers[256];     /* who was asked, for the messages */
  int dns_gave_up;           /* --dns-down-limit ended the run */
  uint64_t local_shortages;  /* probe starts that hit our own shortage (EMFILE, no port): retried */
  int policy_checked;        /* the domains' policies were looked up (not --no-policy) */
  mxs_policy_stats_t policy; /* ... and what was found */
  int dane_checked;          /* --dnssec: DANE was looked for */
  uint64_t tlsa_lookups;     /* MX hosts whose TLSA records were asked for (secure ones) */
  uint64_t dane_probes;      /* probes of their own for hosts with secure, usable TLSA records */
} mxs_stats_t;

/* Counts one finished domain's delivery outcomes; CLS is its class. */
void mxs_stats_add_delivery(mxs_stats_t *s, const mxs_delivery_domain_t *d, mxs_class_t cls);

/* 1 when the run should alert: a record of a class in FAIL_ON, a domain
 * whose mail would be deferred at the sender level when FAIL_DEFERRED, or
 * more than RATIO (when > 0) of the domains failing: counted under one of
 * the FAIL_ON classes or deferred (FAIL_DEFERRED), or under any class but
 * ok and excluded when neither is given.  Excluded domains are not
 * counted among the domains unless FAIL_ON names the class. */
int mxs_stats_should_alert(const mxs_stats_t *s, mxs_class_set_t fail_on, int fail_deferred, double ratio);

/* The class table for people: one row per class seen, counts and shares. */
void mxs_stats_print(const mxs_stats_t *s, FILE *fp);

/* The same as JSON into PATH.  0, or -errno with a message in err. */
int mxs_stats_write_json(const mxs_stats_t *s, const char *path, char *err, size_t errlen);

#endif
