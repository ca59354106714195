/* profile_why.h - why one sender profile fails at an address where another
 * gets through, and whose side it is on (`mxscan probe --compare-profiles`).
 *
 * Pure: it reads what the two handshakes negotiated or failed on and the
 * two profiles' settings, and asks OpenSSL (through the oracle) only what a
 * set of settings would offer.  No I/O, nothing allocated; the caller owns
 * everything.  cli/cmd_compare.c gathers the cells and prints the findings.
 */
#ifndef MXS_PROFILE_WHY_H
#define MXS_PROFILE_WHY_H

#include <stddef.h>

#include "results/classify.h"
#include "results/profiles.h"

/* One probe of one address with one sender profile. */
typedef struct {
  const char *column;            /* "modern", "modern+custom" */
  const mxs_tls_settings_t *set; /* what it offered */
  mxs_class_t cls;               /* its record's class */
  int handshake;                 /* the TLS handshake completed */
  const char *version;           /* negotiated, NULL without a handshake */
  const char *cipher;
  const char *group;
  const char *key_type; /* the server's leaf key, NULL when no leaf was seen */
  int key_bits;
  int alert;          /* the fatal alert the server sent, -1 for none */
  int cert_requested; /* the server asked for a client certificate */
  int cert_sent;      /* ... and this profile had one to send */
} mxs_cmp_cell_t;

/* What the comparison asks OpenSSL: would a client with SET offer NAME (a
 * cipher, or with GROUP a key exchange group)?  1, 0, -1 (cannot tell). */
typedef struct {
  int (*offers)(void *arg, const mxs_tls_settings_t *set, int group, const char *name);
  void *arg;
} mxs_cmp_oracle_t;

typedef enum { MXS_FAULT_UNKNOWN, MXS_FAULT_SENDER, MXS_FAULT_RECEIVER } mxs_fault_t;

typedef struct {
  mxs_fault_t fault;
  const char *setting; /* static: "version", "cipher", "group", "security level", "client certificate",
                        * "renegotiation", or "unknown" */
  char text[700];      /* one paragraph for people */
} mxs_cmp_finding_t;

/* "sender", "receiver", "unknown". */
const char *mxs_fault_name(mxs_fault_t f);

/* 1 when CELL got less far than OTHER on TLS grounds: its handshake failed
 * and OTHER's completed, or its only difference is a certificate too weak
 * for its security level. */
int mxs_cmp_worse(const mxs_cmp_cell_t *cell, const mxs_cmp_cell_t *other);

/* Why FAIL failed where OK got through (mxs_cmp_worse(FAIL, OK)): the
 * setting that makes the difference and the side it is on, from what the
 * handshakes negotiated and the settings.  Always fills *F (fault unknown
 * when nothing in the settings explains it). */
void mxs_cmp_explain(const mxs_cmp_cell_t *fail, const mxs_cmp_cell_t *ok, const mxs_cmp_oracle_t *o,
                     mxs_cmp_finding_t *f);

/* When every cell of a row fails the same way: one line saying so (and,
 * for a server that wants a client certificate, that it rejected every
 * one offered).  Fills *F; fault unknown unless the cells say more. */
void mxs_cmp_explain_all(const mxs_cmp_cell_t *cells, size_t n, mxs_cmp_finding_t *f);

#endif
