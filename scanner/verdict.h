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
#include "scanner/probe.h"

typedef struct {
  mxs_probe_result_t *res;    /* owned; the modern probe */
  mxs_probe_result_t *legacy; /* owned; the diagnostic retry, or NULL */
  mxs_class_t cls;            /* class of the dialogue before certificate checks */
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
/* 1 when the handshake failed in a way the legacy retry can explain. */
int mxs_verdict_wants_legacy(const mxs_verdict_t *v);
/* Takes LEGACY and refines the class. */
void mxs_verdict_add_legacy(mxs_verdict_t *v, mxs_probe_result_t *legacy);
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
