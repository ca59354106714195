/* report_int.h - the report's aggregates, shared by report_agg.c (which
 * fills them) and report_out.c (which prints them).  Not for other users. */
#ifndef MXS_REPORT_INT_H
#define MXS_REPORT_INT_H

#include <libpsl.h>

#include "queue/table.h"
#include "report/report.h"
#include "results/delivery.h"

/* One TLS-RPT failure-details entry (per domain): records that agree on
 * these four fields are one entry with a count. */
typedef struct mxs_rfail_s {
  struct mxs_rfail_s *next;
  const char *type, *mx, *ip, *detail; /* arena */
  uint64_t count;
} mxs_rfail_t;

/* A list of distinct strings (arena), in order of first appearance. */
typedef struct mxs_rstr_s {
  struct mxs_rstr_s *next;
  const char *s;
} mxs_rstr_t;

/* The record that gave a failing domain its class (the first failing
 * class in contract order; the first such record when several tie).
 * Kept with opts.html only: the HTML lists every failing domain. */
typedef struct {
  mxs_class_t cls;
  const char *stage, *mx, *ip, *detail, *banner; /* arena; mx, ip, banner may be NULL */
} mxs_rwhy_t;

typedef struct mxs_rprovider_s mxs_rprovider_t;

/* A provider at which a domain has a failing record (opts.html): counts
 * each failing domain once per provider. */
typedef struct mxs_rpfail_s {
  struct mxs_rpfail_s *next;
  mxs_rprovider_t *p;
} mxs_rpfail_t;

typedef struct {
  const char *name; /* arena */
  mxs_class_set_t seen;
  uint64_t tls_ok, tls_fail;      /* TLS-RPT sessions (records whose tlsrpt is not "none") */
  mxs_rfail_t *fails;             /* only with opts.tlsrpt */
  mxs_rwhy_t *why;                /* only with opts.html; NULL while every record is ok */
  mxs_rpfail_t *pfails;           /* only with opts.html */
  mxs_delivery_domain_t delivery; /* what a sender does with its mail (zeroed: empty) */
  /* only with opts.tlsrpt: the domain's MTA-STS policy, from its first
   * record with a policy.sts map */
  int sts;              /* it publishes MTA-STS (valid or not) */
  const char *sts_mode; /* arena; NULL: no policy was fetched */
  int64_t sts_max_age;
  const char **sts_mx; /* arena */
  size_t sts_nmx;
  /* only with opts.tlsrpt: DANE, from the records whose MX host DANE
   * applies to (policy.dane secure, with TLSA records): the distinct TLSA
   * records and those MX hosts, in order of first appearance */
  mxs_rstr_t *tlsa, *dane_mx; /* arena; NULL: DANE applies to none */
  size_t ntlsa, ndane_mx;
} mxs_rdomain_t;

struct mxs_rprovider_s {
  const char *name; /* arena: registrable domain of the MX hosts */
  uint64_t probes, ok;
  uint64_t fails[MXS_CLASS_COUNT];
  uint64_t fail_domains; /* domains with a failing record here (opts.html) */
};

typedef struct {
  const char *name; /* arena */
  uint64_t n;
} mxs_rcount_t;

typedef struct {
  const char *domain, *mx, *not_after, *sha256; /* arena */
  int64_t days_left;
  const char *subject_cn; /* arena; "" when absent */
} mxs_rexpiring_t;

typedef struct {
  const char *path; /* borrowed from argv */
  uint64_t records;
} mxs_rfile_t;

struct mxs_report_s {
  mxs_report_opts_t o;
  const psl_ctx_t *psl; /* libpsl's builtin list, not owned */
  mxs_arena_t arena;
  mxs_table_t domains;       /* domain -> mxs_rdomain_t */
  mxs_table_t providers;     /* provider -> mxs_rprovider_t */
  mxs_table_t mx_provider;   /* MX host -> mxs_rprovider_t: one PSL lookup per host */
  mxs_table_t versions;      /* tls_version -> mxs_rcount_t */
  mxs_table_t ciphers;       /* cipher -> mxs_rcount_t */
  mxs_rexpiring_t *expiring; /* owned array */
  size_t nexpiring, capexpiring;
  uint64_t probes[MXS_CLASS_COUNT], nprobes;
  char first_at[24], last_at[24]; /* earliest and latest scanned_at */
  mxs_rfile_t *files;             /* owned array */
  size_t nfiles;
  uint64_t delivery_records; /* records carrying a "delivery" field (issue 13's outcomes) */
};

/* The sorted view of the aggregates every output prints, built once per
 * output (report_out.c).  The arrays are owned; their elements are the
 * report's. */
typedef struct {
  uint64_t dclass[MXS_CLASS_COUNT];   /* domains by their class */
  mxs_rdomain_t **domains;            /* by name */
  mxs_rprovider_t **providers;        /* by probes, most first */
  mxs_rcount_t **versions, **ciphers; /* by count, most first */
  size_t ndomains, nproviders, nversions, nciphers, nexpiring;
  uint64_t no_tls;                                          /* domains with no ok record */
  uint64_t delivery[MXS_LEVELS_COMPUTED][MXS_OUTCOMES + 1]; /* domains by outcome per level */
} mxs_rview_t;

/* 0 or -ENOMEM.  Also sorts r->expiring soonest first, one row per
 * (domain, MX, certificate). */
int mxs_report_view_build(mxs_report_t *r, mxs_rview_t *v);
void mxs_report_view_free(mxs_rview_t *v);

#endif
