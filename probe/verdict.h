/* verdict.h - from a probe result (plus its legacy retry) to records.
 *
 * A verdict belongs to one probed address.  It decides the class of the
 * dialogue once (refining a TLS failure with the legacy retry) and then
 * renders a record for each MX name that shares the address: only the
 * host-name check differs between them.
 */
#ifndef MXS_VERDICT_H
#define MXS_VERDICT_H

#include "resolver/tlsa_cache.h"
#include "results/record.h"
#include "probe/probe.h"

/* At most this many --diag-profiles retries per probe. */
#define MXS_DIAG_MAX 8

/* The retries of --diag-profiles, in the order given. */
typedef struct {
  size_t n;
  mxs_probe_result_t *res[MXS_DIAG_MAX]; /* owned */
  mxs_diag_profile_t d[MXS_DIAG_MAX];    /* the record's diag.profiles; borrows from res */
} mxs_verdict_retries_t;

typedef struct {
  mxs_probe_result_t *res;        /* owned; the probe (with the run's sender profile) */
  mxs_probe_result_t *legacy;     /* owned; the default diagnostic retry, or NULL */
  mxs_verdict_retries_t *retries; /* owned; --diag-profiles instead of the legacy retry, or NULL */
  const char *profile;            /* static (results/profiles.h): the probe's sender profile; NULL: none set */
  unsigned char profile_custom;   /* options changed its settings */
  unsigned short min_version;     /* the probe's versions (MXS_TLS_V*), 0: modern's (TLS 1.2 and up) */
  unsigned short max_version;     /* 0: no highest */
  mxs_class_t cls;                /* class of the dialogue before certificate checks */
  /* Owned; set only when the legacy retry refined the detail.  NULL: the
   * detail is res->detail (a run keeps one verdict per address, so the
   * usual case holds no second copy). */
  char *detail;
  mxs_diag_t diag;
  int has_diag;
  char scanned_at[24];
} mxs_verdict_t;

/* Takes RES. */
void mxs_verdict_set(mxs_verdict_t *v, mxs_probe_result_t *res);
/* The probe could not even be started (UV error ERR). */
void mxs_verdict_set_error(mxs_verdict_t *v, int err);
/* The run ended before this address was probed: an unfinished record. */
void mxs_verdict_set_unfinished(mxs_verdict_t *v, const char *why);
/* Which sender profile the probe used: NAME static (results/profiles.h),
 * CUSTOM when options changed it, and its versions (MXS_TLS_V*, 0: no
 * bound), against which a retry's version tells a version mismatch. */
void mxs_verdict_set_profile(mxs_verdict_t *v, const char *name, int custom, int min_version, int max_version);
/* 1 when the handshake failed in a way the legacy retry can explain. */
int mxs_verdict_wants_legacy(const mxs_verdict_t *v);
/* Takes LEGACY and refines the class. */
void mxs_verdict_add_legacy(mxs_verdict_t *v, mxs_probe_result_t *legacy);
/* --diag-profiles: takes RES, the retry with PROFILE (static), and refines
 * the class and detail from every retry so far.  0, or -1 (out of memory,
 * or MXS_DIAG_MAX reached: RES is freed, the verdict stays as it was). */
int mxs_verdict_add_retry(mxs_verdict_t *v, const char *profile, mxs_probe_result_t *res);
/* Refines a failed handshake's class with OTHERS, probes of the same
 * address with other profiles (`mxscan probe --compare-profiles`): as
 * retries would, without taking them or changing the detail. */
void mxs_verdict_refine_by(mxs_verdict_t *v, const mxs_probe_result_t *const *others, size_t n);
/* Points v->diag at the retries (after decoding a verdict). */
void mxs_verdict_rebuild_diag(mxs_verdict_t *v);
void mxs_verdict_free(mxs_verdict_t *v);

/* Fills R (every field but domain/mx/pref/implicit_mx/ip/port) for MX_NAME.
 * R borrows from V, TM and DETAIL, which the caller provides. */
void mxs_verdict_record(const mxs_verdict_t *v, const char *mx_name, mxs_record_t *r, mxs_timings_t *tm, char *detail,
                        size_t detail_len);

/* policy.dane of a record (--dnssec) in *OUT: E is the MX host's TLSA
 * answer when the host is a DANE candidate (its MX and address answers
 * DNSSEC-secure) and the answer is known, else NULL (not looked up); V the
 * verdict the record reports (NULL: a record that stopped at DNS) and
 * PROBED_WITH whether that probe carried E's records (only then does it
 * say whether they match); REQUIRED: --require-dane.  OUT borrows from E,
 * V and MATCHED. */
void mxs_verdict_dane_view(const mxs_verdict_t *v, int probed_with, const mxs_tlsa_entry_t *e, int required,
                           mxs_dane_view_t *out, char matched[16]);

#endif
