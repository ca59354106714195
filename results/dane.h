/* dane.h - what DANE (RFC 7672) makes of a record, for a sender that
 * applies it.
 *
 * The record carries the facts in policy.dane (results/policy.h): whether
 * the MX host's DNS is DNSSEC-secure, its TLSA records, whether any is
 * usable and whether the certificate matched.  This file turns them into
 *   - the record's class: the DANE failures a sender meets (dnssec-invalid
 *     before the connection, tlsa-invalid after the handshake) when they
 *     come first in contract order; a DANE match never removes a WebPKI
 *     failure from the class, since `class` is the first failing check and
 *     WebPKI is still checked (policy.dane.match carries the DANE verdict);
 *   - the delivery outcome at the "dane" sender level: what an MTA that
 *     applies DANE does with this MX host.
 * Pure, no I/O.
 */
#ifndef MXS_DANE_H
#define MXS_DANE_H

#include <stdint.h>

#include "results/policy.h"
#include "results/reader.h"
#include "results/record.h"

/* One TLSA record (RFC 6698 2.1) and the records of one TLSA base domain
 * (the MX host name), as the resolver keeps them and the TLS engine
 * matches them.  Borrowed everywhere: their owner keeps them unchanged for
 * the run, so probes on any thread may read them. */
typedef struct {
  uint8_t usage, selector, mtype;
  const unsigned char *data;
  size_t len;
} mxs_dane_rr_t;

typedef struct {
  const char *base; /* the TLSA base domain, also DANE-TA's reference identifier */
  size_t n;
  const mxs_dane_rr_t *rr;
} mxs_dane_rrset_t;

/* Whether a TLSA record is usable for SMTP (RFC 7672 3.1.3, RFC 6698 2.1):
 * DANE-TA(2) or DANE-EE(3), selector Cert(0) or SPKI(1), matching type
 * Full(0) with some data, SHA2-256(1) with 32 bytes or SHA2-512(2) with 64
 * (a digest of another length is malformed, so unusable: RFC 7671 4.1). */
int mxs_dane_rr_usable(uint8_t usage, uint8_t selector, uint8_t mtype, size_t len);

/* Whether a DANE sender applies DANE to this MX host: its MX, address and
 * TLSA answers are secure and it has TLSA records (usable or not: a secure
 * RRset with none usable still makes TLS mandatory, RFC 7672 2.2). */
int mxs_dane_applies(const mxs_dane_view_t *d);

/* The class a DANE sender meets, when it comes before *CLS in contract
 * order: dnssec-invalid for a failed TLSA lookup of a secure host (RFC
 * 8460 4.3.2.3: no valid records from the resolver), dane-required for a
 * sender that requires DANE (d->required) where it does not apply,
 * tlsa-invalid for a certificate that matched no usable record or an RRset
 * with none usable.
 * Then *DETAIL points at BUF with the reason (with d->mismatch for a
 * mismatch).  Else nothing changes, BUF included. */
void mxs_dane_apply(const mxs_dane_view_t *d, mxs_class_t *cls, const char **detail, char *buf, size_t buflen);

/* The delivery outcome of record R at the "dane" sender level. */
typedef enum {
  MXS_DANE_NOT_APPLIED = 0, /* DANE does not apply (no --dnssec, insecure DNS, no
                             * TLSA records, no MX host): the sender's other
                             * rules decide, as for any sender */
  MXS_DANE_DELIVER,         /* a DANE sender delivers to this MX host */
  MXS_DANE_DEFER,           /* a DANE sender does not: the lookup failed, TLS did
                             * not come up, or the certificate matched no usable
                             * record */
} mxs_dane_delivery_t;

/* "not-applied", "deliver", "defer". */
const char *mxs_dane_delivery_name(mxs_dane_delivery_t o);

/* From R's policy.dane and its TLS facts (tls_version: the handshake
 * completed; class post-tls-ehlo-failed: the session did not survive it).
 * A sender that requires DANE (--require-dane) defers where it does not
 * apply.
 * With usable records, only a match delivers; with a secure RRset of only
 * unusable records, TLS must still come up, unauthenticated (RFC 7672 2.2).
 * A DANE match delivers whatever WebPKI says: a self-signed certificate
 * with a matching DANE-EE record is a success for a DANE sender. */
mxs_dane_delivery_t mxs_dane_delivery(const mxs_record_t *r);

/* The same from the facts: D (NULL: no policy.dane), the record's class
 * and whether its handshake completed (it has a tls_version).  For a
 * sender at Postfix's `dane` security level: NOT_APPLIED is what its `may`
 * level does (no usable DNSSEC-validated TLSA records), DELIVER is
 * delivery over TLS, DEFER is no delivery. */
mxs_dane_delivery_t mxs_dane_delivery_of(const mxs_dane_view_t *d, mxs_class_t cls, int tls_done);

/* policy.dane of a record read back (results/reader.h) as a view, for
 * mxs_dane_delivery_of(); 0 when it has none.  `required` is not in a
 * record (it made the class dane-required) and reads as 0. */
int mxs_dane_read_view(const mxs_read_record_t *r, mxs_dane_view_t *out);

#endif
