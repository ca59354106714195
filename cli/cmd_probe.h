/* cmd_probe.h - `mxscan probe DOMAIN`: the data of one explained domain,
 * shared by the run (cmd_probe.c) and its two renderings, text for people
 * and one JSON document for tickets and tools (cmd_probe_print.c).
 *
 * Everything here is owned by the mxs_pdomain_t: the DNS answer is copied
 * out of the resolver callback, each (MX, address) keeps its verdict and
 * the transcripts of its connections.
 */
#ifndef MXS_CMD_PROBE_H
#define MXS_CMD_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "resolver/tlsa_cache.h"
#include "scanner/config.h"
#include "probe/probe.h"
#include "probe/verdict.h"

/* One transcript line: milliseconds since the connection attempt began,
 * the direction ('S' server, 'C' client, 'T' TLS, '*' event) and the text. */
typedef struct {
  int64_t t_ms;
  char dir;
  char *text; /* owned */
} mxs_pline_t;

typedef struct {
  mxs_pline_t *lines; /* owned */
  size_t n, cap;
  uint64_t t0_ns; /* uv_hrtime() when the connection attempt began */
  int used;       /* a connection was attempted */
  int truncated;  /* a line was lost to an allocation failure */
} mxs_transcript_t;

/* One MX host of the DNS answer, as the resolver gave it. */
typedef struct {
  char *host; /* owned */
  int pref;
  mxs_class_t status;
  char *detail; /* owned */
  char **addrs; /* owned */
  size_t naddrs;
  int secure;                   /* --dnssec: its address answers were authenticated */
  const mxs_tlsa_entry_t *tlsa; /* --dnssec, a DANE candidate: its TLSA answer (run's cache) */
} mxs_pmx_t;

typedef enum { MXS_PI_DNS, MXS_PI_QUEUED, MXS_PI_RUNNING, MXS_PI_DONE } mxs_pitem_state_t;

struct mxs_pdomain_s;

/* One record to be: an (MX, address) to probe, or an MX host (or the
 * domain, mx == NULL) that stopped at DNS. */
typedef struct {
  struct mxs_pdomain_s *dom;
  const mxs_pmx_t *mx; /* borrowed from dom->mx; NULL for a domain-level DNS record */
  const char *ip;      /* borrowed from mx->addrs; NULL for a DNS record */
  mxs_pitem_state_t st;
  mxs_class_t dns_cls; /* for DNS records */
  const char *dns_detail;
  char *own_detail;    /* dns_detail when the item owns it (exclusions) */
  const char *excl_ip; /* a DNS record for an address on the exclude list
                        * (borrowed from mx->addrs): never connected to */
  int col;             /* its column (sender profile) in dom->cols */
  mxs_probe_env_t env; /* per item: its trace_arg is the item */
  mxs_verdict_t v;     /* the probe's outcome (owned) */
  mxs_transcript_t modern, legacy;
  mxs_transcript_t *cur; /* the transcript being written */
  /* --dnssec: policy.dane, and the class DANE gives the record (set once
   * the item is done: mxs_pitem_record only points at them) */
  int dane;     /* the probe carries the MX host's TLSA records */
  int has_dane; /* the record has policy.dane */
  mxs_dane_view_t dane_view;
  mxs_policy_view_t policy_view;
  char dane_matched[16];
  int dane_cls_set; /* DANE changed the class */
  mxs_class_t dane_cls;
  char dane_detail[400];
} mxs_pitem_t;

/* One sender profile the domain is probed with: the one of the options,
 * or with --compare-profiles each column of the matrix. */
typedef struct {
  const mxs_profile_t *profile; /* static */
  int custom;                   /* TLS options changed it: "NAME+custom" */
  mxs_tls_settings_t set;       /* its settings as applied (strings borrowed from the config or the table) */
  char name[64];                /* as the record's `profile` says it */
  mxs_tls_ctx_t *tls;           /* owned */
} mxs_pcolumn_t;

typedef struct mxs_pdomain_s {
  const mxs_config_t *cfg;
  mxs_pcolumn_t *cols; /* owned; [0] the probe's profile, or the compared ones */
  size_t ncols;
  int compare;           /* --compare-profiles: each (MX, address) once per column, no legacy retry */
  char name[254];        /* normalised */
  const char *dns_label; /* the --dns servers or "system resolver" */
  /* the DNS answer */
  int answered;
  mxs_class_t status;
  char *detail; /* owned */
  int implicit_mx;
  int dns_ms;
  char scanned_at[24]; /* when the answer came: for DNS records */
  int mx_secure;       /* --dnssec: the MX answer was authenticated */
  mxs_pmx_t *mx;       /* owned */
  size_t nmx;
  /* the records, in DNS order */
  mxs_pitem_t *items; /* owned */
  size_t nitems;
} mxs_pdomain_t;

/* The record of ITEM exactly as `mxscan scan` writes it.  R borrows from
 * ITEM, TM and DETAIL. */
void mxs_pitem_record(const mxs_pitem_t *item, mxs_record_t *r, mxs_timings_t *tm, char *detail, size_t len);

/* The class of ITEM's record, and whether every record is ok. */
mxs_class_t mxs_pitem_class(const mxs_pitem_t *item);
int mxs_pdomain_all_ok(const mxs_pdomain_t *d);

/* Prints TEXT word-wrapped at 78 columns, each line indented by INDENT. */
void mxs_print_wrapped(FILE *fp, int indent, const char *text);

/* The whole explanation for people, and the same as one JSON document.
 * Both return 0, or -1 when writing to FP failed. */
int mxs_pdomain_print_text(const mxs_pdomain_t *d, FILE *fp);
int mxs_pdomain_print_json(const mxs_pdomain_t *d, FILE *fp);

/* --compare-profiles (cmd_compare.c): refines each failed handshake with
 * what the other profiles got at the same address, then prints the matrix
 * and which side is at fault, as text or one JSON document.  0, or -1 when
 * writing failed. */
void mxs_compare_refine(mxs_pdomain_t *d);
int mxs_compare_print_text(const mxs_pdomain_t *d, FILE *fp);
int mxs_compare_print_json(const mxs_pdomain_t *d, FILE *fp);

#endif
