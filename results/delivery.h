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
 * `dane` and `mta-sts` (an MTA-STS policy in mode enforce) are levels of
 * the table already, but their outcome depends on the domain's DANE or
 * MTA-STS policy, which mxscan does not check yet: they are "not computed"
 * (MXS_OUTCOME_UNKNOWN, and no key in the record) until policy fields fill
 * their cells.  Pure data and pure functions: no I/O, no allocation.
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
  MXS_OUTCOME_UNKNOWN,   /* not computed: a level that needs policy checks, or an old record */
} mxs_outcome_t;
#define MXS_OUTCOMES 3 /* the outcomes a record or a report names */

/* X(enum-suffix, "name", computed): the levels, Postfix's names.  A level
 * that is not computed yet has no key in a record's `delivery` map. */
#define MXS_LEVEL_TABLE(X) \
  X(MAY, "may", 1)         \
  X(ENCRYPT, "encrypt", 1) \
  X(VERIFY, "verify", 1)   \
  X(SECURE, "secure", 1)   \
  X(DANE, "dane", 0)       \
  X(MTA_STS, "mta-sts", 0)

typedef enum {
#define MXS_LEVEL_ENUM(id, name, computed) MXS_LEVEL_##id,
  MXS_LEVEL_TABLE(MXS_LEVEL_ENUM)
#undef MXS_LEVEL_ENUM
      MXS_LEVEL_COUNT
} mxs_level_t;

/* The computed levels are the first ones: MAY .. SECURE. */
#define MXS_LEVELS_COMPUTED 4

const char *mxs_level_name(mxs_level_t l);
/* The level named NAME, or -1. */
int mxs_level_from_name(const char *name);
/* 1 when mxscan computes outcomes for L. */
int mxs_level_computed(mxs_level_t l);

const char *mxs_outcome_name(mxs_outcome_t o); /* "tls" "cleartext" "deferred" "unknown" */
/* The outcome named NAME; MXS_OUTCOME_UNKNOWN for any other string. */
mxs_outcome_t mxs_outcome_from_name(const char *name);

/* The outcome at level L of a record of class CLS with certificate
 * problems CERT_ERRORS (the record's cert_errors set).  NAMES_NEXTHOP is
 * 1 when the certificate names the recipient domain or a subdomain of it
 * (what `secure` checks), 0 when not, -1 when unknown; only `secure` with
 * a valid chain needs it.  UNKNOWN for the levels not computed. */
mxs_outcome_t mxs_delivery_of(mxs_level_t l, mxs_class_t cls, mxs_class_set_t cert_errors, int names_nexthop);

/* The cell of class CLS at level L, as README's table names it: "tls",
 * "cleartext", "cleartext-after-retry" (a failed TLS attempt first),
 * "deferred", "tls-if-named" (`secure`: the certificate must name the
 * domain) or "not-computed" (a level that needs policy checks). */
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

/* The outcomes of record R at the computed levels. */
void mxs_delivery_record(const mxs_record_t *r, mxs_outcome_t out[MXS_LEVELS_COMPUTED]);

/* Writes R's "delivery" map (value only; the caller wrote the key):
 * {"may": "tls", "encrypt": ..., "verify": ..., "secure": ...}. */
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

/* One fold per computed level, fed whole records. */
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
