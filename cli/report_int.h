/* report_int.h - the report's aggregates, shared by report_agg.c (which
 * fills them) and report_out.c (which prints them).  Not for other users. */
#ifndef MXS_REPORT_INT_H
#define MXS_REPORT_INT_H

#include <libpsl.h>

#include "cli/report.h"
#include "queue/table.h"

/* One TLS-RPT failure-details entry (per domain): records that agree on
 * these four fields are one entry with a count. */
typedef struct mxs_rfail_s {
  struct mxs_rfail_s *next;
  const char *type, *mx, *ip, *detail; /* arena */
  uint64_t count;
} mxs_rfail_t;

typedef struct {
  const char *name; /* arena */
  mxs_class_set_t seen;
  uint64_t tls_ok, tls_fail; /* TLS-RPT sessions (records whose tlsrpt is not "none") */
  mxs_rfail_t *fails;        /* only with opts.tlsrpt */
  /* only with opts.tlsrpt: the domain's MTA-STS policy, from its first
   * record with a policy.sts map */
  int sts;              /* it publishes MTA-STS (valid or not) */
  const char *sts_mode; /* arena; NULL: no policy was fetched */
  int64_t sts_max_age;
  const char **sts_mx; /* arena */
  size_t sts_nmx;
} mxs_rdomain_t;

typedef struct {
  const char *name; /* arena: registrable domain of the MX hosts */
  uint64_t probes, ok;
  uint64_t fails[MXS_CLASS_COUNT];
} mxs_rprovider_t;

typedef struct {
  const char *name; /* arena */
  uint64_t n;
} mxs_rcount_t;

typedef struct {
  const char *domain, *mx, *not_after, *sha256; /* arena */
  int64_t days_left;
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
};

#endif
