/* delivery.h - what a sending MTA does with the mail, per TLS security level.
 *
 * For every class of classify.h, one row says what a sender whose TLS
 * settings are those the probe used does with mail to that (domain, MX)
 * at each of Postfix's security levels (smtp_tls_security_level): deliver
 * it over TLS, deliver it in cleartext, or not deliver it (deferred: queued
 * and retried, eventually bounced; the DNS failures that bounce at once
 * count here too).  README.md "What happens to the mail" gives the row of
 * every class with the MTAs' own documentation and where Postfix and Exim
 * differ.  delivery.c checks at compile time that every class has exactly
 * one row in its place, as explain.c does.
 *
 * A domain's outcome folds its records the way a sender walks its MX
 * hosts: in preference order, delivering to the first that takes the mail
 * (mxs_delivery_fold_t).
 *
 * `dane` and `mta-sts` (a sender that applies the domain's DANE TLSA
 * records, or its MTA-STS policy in mode enforce) follow from the record's
 * policy fields (policy.dane, policy.sts: results/policy.h) on top of its
 * `may` and `verify` outcomes: mxs_delivery_policy_levels().  Where DANE or
 * MTA-STS was not checked (no --dnssec, --no-policy, a record of an older
 * mxscan) their outcome is MXS_OUTCOME_UNKNOWN, and the record has no key.
 * Pure data and pure functions: no I/O, no allocation.
 */
#ifndef MXS_DELIVERY_H
#define MXS_DELIVERY_H

#include <stdint.h>

#include "results/classify.h"
#include "results/record.h"

/* The outcomes, in the order reports list them; UNKNOWN is no outcome. */
typedef enum {
  MXS_OUTCOME_TLS,       /* "tls": delivered encrypted */
  MXS_OUTCOME_CLEARTEXT, /* "cleartext": delivered without TLS */
  MXS_OUTCOME_DEFERRED,  /* "deferred": not delivered (queued, retried, bounced) */
  MXS_OUTCOME_UNKNOWN,   /* not known: a policy not checked, or a record that does not say */
} mxs_outcome_t;
#define MXS_OUTCOMES 3 /* the outcomes a record or a report names */

/* X(enum-suffix, "name"): the levels, Postfix's names (`mta-sts`: a
 * sender that applies MTA-STS, RFC 8461, in mode enforce). */
#define MXS_LEVEL_TABLE(X) \
  X(MAY, "may")            \
  X(ENCRYPT, "encrypt")    \
  X(VERIFY, "verify")      \
  X(SECURE, "secure")      \
  X(DANE, "dane")          \
  X(MTA_STS, "mta-sts")

typedef enum {
#define MXS_LEVEL_ENUM(id, name) MXS_LEVEL_##id,
  MXS_LEVEL_TABLE(MXS_LEVEL_ENUM)
#undef MXS_LEVEL_ENUM
      MXS_LEVEL_COUNT
} mxs_level_t;

/* The levels mxscan computes: all of them since the policy levels are (the
 * name stays: the per-level arrays of every room are sized by it). */
#define MXS_LEVELS_COMPUTED MXS_LEVEL_COUNT
/* The levels whose outcome the class and the certificate decide: MAY ..
 * SECURE; the ones after them need the record's policy fields. */
#define MXS_LEVELS_TLS 4

const char *mxs_level_name(mxs_level_t l);
/* The level named NAME, or -1. */
int mxs_level_from_name(const char *name);

const char *mxs_outcome_name(mxs_outcome_t o); /* "tls" "cleartext" "deferred" "unknown" */
/* The outcome named NAME; MXS_OUTCOME_UNKNOWN for any other string. */
mxs_outcome_t mxs_outcome_from_name(const char *name);

/* The outcome at level L of a record of class CLS with certificate
 * problems CERT_ERRORS (the record's cert_errors set).  NAMES_NEXTHOP is
 * 1 when the certificate names the recipient domain or a subdomain of it
 * (what `secure` checks), 0 when not, -1 when unknown; only `secure` with
 * a valid chain needs it.  At `dane` and `mta-sts` only the classes that
 * defer whatever the policy (no route, no SMTP session) have an outcome
 * here: the others need the policy fields (mxs_delivery_policy_levels);
 * UNKNOWN. */
mxs_outcome_t mxs_delivery_of(mxs_level_t l, mxs_class_t cls, mxs_class_set_t cert_errors, int names_nexthop);

/* The cell of class CLS at level L, as README's table names it: "tls",
 * "cleartext", "cleartext-after-retry" (a failed TLS attempt first),
 * "deferred", "tls-if-named" (`secure`: the certificate must name the
 * domain), "as-its-tls" (a policy class at a level that ignores policies),
 * "dane-or-may" (`dane`: DANE's verdict where it applies, else as `may`)
 * or "sts-or-may" (`mta-sts`: the policy's verdict under a valid enforce
 * policy, else as `may`). */
const char *mxs_delivery_cell_name(mxs_level_t l, mxs_class_t cls);

/* 1 when the cleartext delivery at level L comes only after a failed TLS
 * attempt (a handshake or TLS session failure at `may`): Postfix then
 * tries the other MX hosts first and falls back to cleartext on a later
 * delivery attempt; a fold ranks such an MX after those that take the
 * mail at once. */
int mxs_delivery_retried(mxs_level_t l, mxs_class_t cls);

/* Postfix's `secure` name check (smtp_tls_secure_cert_match = nexthop,
 * dot-nexthop): 1 when a DNS name of the certificate (its SAN dNSNames,
 * or the CN when it has none) is DOMAIN or a subdomain of it (a wildcard
 * "*.DOMAIN" counts as one); case-insensitive, trailing dots ignored. */
int mxs_delivery_names_nexthop(const mxs_cert_info_t *cert, const char *domain);

/* What a record says of the domain's policies, for the `dane` and
 * `mta-sts` levels.  Borrowed. */
typedef struct {
  const mxs_dane_view_t *dane; /* policy.dane; NULL: DANE not checked (no --dnssec) */
  int sts;                     /* -1: MTA-STS not checked (--no-policy, an older record);
                                * 1: a valid policy in mode enforce applies;
                                * 0: none does (no policy, testing, none, not
                                * fetched, invalid: RFC 8461 5, as without one) */
  int sts_mx_match;            /* sts 1: the MX matches its mx patterns (1, 0; -1: not said) */
  int tls_done;                /* the handshake completed (the record has tls_version) */
} mxs_delivery_policy_t;

/* Fills OUT[MXS_LEVEL_DANE] and OUT[MXS_LEVEL_MTA_STS] of a record of class
 * CLS with policy facts P, from OUT[MXS_LEVEL_MAY] and OUT[MXS_LEVEL_VERIFY]
 * (set first: mxs_delivery_record does both):
 *   dane: where DANE applies (policy.dane secure with TLSA records: RFC
 *     7672 2.2) tls with TLS up and a matching certificate (or any, when
 *     none of the records is usable), else deferred; a failed TLSA lookup
 *     (bogus, RFC 7672 2.1.1) deferred; elsewhere as `may` (Postfix's
 *     `dane` without usable TLSA records);
 *   mta-sts: under a valid enforce policy, deferred for an MX the policy
 *     does not list, else as `verify` (TLS with a WebPKI-valid certificate
 *     for the MX name, RFC 8461 4.2); without one as `may` (the sender's
 *     own level: Postfix with an MTA-STS policy daemon).
 * UNKNOWN where the policy was not checked, unless the class defers at
 * every level. */
void mxs_delivery_policy_levels(mxs_class_t cls, const mxs_delivery_policy_t *p, mxs_outcome_t out[MXS_LEVEL_COUNT]);

/* The outcomes of record R at every level. */
void mxs_delivery_record(const mxs_record_t *r, mxs_outcome_t out[MXS_LEVELS_COMPUTED]);

/* Writes R's "delivery" map (value only; the caller wrote the key):
 * {"may": "tls", "encrypt": ..., "verify": ..., "secure": ..., "dane": ...,
 * "mta-sts": ...}; `dane` and `mta-sts` only where known (checked, or the
 * class defers at every level). */
void mxs_delivery_encode(const mxs_record_t *r, mxs_encoder_t *e);

/* ---- a domain: its records folded the way a sender walks its MX hosts --
 *
 * The MX hosts that take the mail at once (tls or cleartext) decide: those
 * with the lowest preference, and cleartext if any of them is (equal
 * preferences are tried in random order, so some mail goes in the clear).
 * Without one, an MX that takes it in cleartext after a failed TLS attempt
 * makes it cleartext; without that, deferred.  An unknown record at or
 * below the deciding preference (or anywhere, when nothing decides) makes
 * the domain unknown.  Records without an MX (DNS failures) defer. */
typedef struct {
  uint16_t pref;         /* lowest preference that takes the mail at once */
  uint16_t unknown_pref; /* lowest preference of an unknown record */
  uint8_t now;           /* outcome at PREF: TLS or CLEARTEXT */
  uint8_t flags;         /* internal: which of the above are set */
} mxs_delivery_fold_t;

/* A zeroed fold is empty too (so a calloc'ed owner needs no init). */
void mxs_delivery_fold_init(mxs_delivery_fold_t *f);
/* Adds a record's outcome OUT at a level, RETRIED as mxs_delivery_retried()
 * says, for an MX of preference PREF (any value when the record has none:
 * it matters only for outcomes that deliver). */
void mxs_delivery_fold_add(mxs_delivery_fold_t *f, mxs_outcome_t out, int retried, int64_t pref);
mxs_outcome_t mxs_delivery_fold_result(const mxs_delivery_fold_t *f);

/* One fold per level, fed whole records. */
typedef struct {
  mxs_delivery_fold_t level[MXS_LEVELS_COMPUTED];
} mxs_delivery_domain_t;

void mxs_delivery_domain_init(mxs_delivery_domain_t *d);
void mxs_delivery_domain_add(mxs_delivery_domain_t *d, const mxs_record_t *r);
/* A record read back (results/reader.h): its outcomes, class and MX
 * preference. */
void mxs_delivery_domain_add_outcomes(mxs_delivery_domain_t *d, const mxs_outcome_t out[MXS_LEVELS_COMPUTED],
                                      mxs_class_t cls, int64_t pref);

#endif
