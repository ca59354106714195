/* dnsmsg.h - the few DNS wire-format pieces mxscan reads and writes itself.
 *
 * c-ares 1.18 builds its queries without a way to set the DO bit (or AD),
 * and its parsers drop the header flags and know nothing of TLSA.  With
 * --dnssec the resolver therefore writes its own queries (RD, AD, and an
 * EDNS0 OPT record with DO, RFC 3225 / RFC 6840 section 5.7), hands them to
 * ares_send(), and reads the AD bit and the TLSA records (RFC 6698 section
 * 2.1) of the raw answer here.
 *
 * Everything here is pure: no allocation, no I/O, no global state.  The
 * parsers take any bytes (tests/fuzz/fuzz_dnsmsg.c) and never read past
 * LEN; what they return points into the caller's message.
 */
#ifndef MXS_RESOLVER_DNSMSG_H
#define MXS_RESOLVER_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

enum {
  MXS_DNS_HEADER_LEN = 12,
  MXS_DNS_TYPE_TLSA = 52,
  /* The EDNS0 UDP payload size we advertise: the DNS flag day 2020 value,
   * which avoids IP fragmentation; larger answers come over TCP (TC). */
  MXS_DNS_EDNS_UDP = 1232,
  /* A query: header, a name of at most 255 bytes, type, class, OPT. */
  MXS_DNS_QUERY_MAX = MXS_DNS_HEADER_LEN + 255 + 4 + 11,
};

/* The header fields a stub resolver acts on. */
typedef struct {
  unsigned id;
  int qr, tc, rd, ra, ad, cd; /* flags, 0 or 1 */
  int rcode;                  /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
  unsigned qdcount, ancount, nscount, arcount;
} mxs_dns_header_t;

/* Reads the header of MSG (LEN bytes).  0, or -1 when LEN < 12. */
int mxs_dns_header(const unsigned char *msg, size_t len, mxs_dns_header_t *out);

/* Writes the query for NAME (dots between labels, a trailing dot allowed,
 * no escapes: host names), class IN, type QTYPE, with RD set, into BUF
 * (BUFLEN bytes; MXS_DNS_QUERY_MAX always do).  DNSSEC: also the AD bit and
 * an OPT record advertising MXS_DNS_EDNS_UDP with DO set, so a validating
 * resolver says whether the answer is authenticated (AD) even where it
 * would not set AD for a query without DO.  Returns the length, or -1 for
 * an empty label, a label over 63 bytes, a name over 255 bytes on the wire
 * or a buffer too small.  The id is 0: ares_send() sets its own. */
int mxs_dns_build_query(const char *name, unsigned qtype, int dnssec, unsigned char *buf, size_t buflen);

/* One TLSA record (RFC 6698 2.1): DATA points into the message. */
typedef struct {
  uint8_t usage, selector, mtype;
  const unsigned char *data;
  size_t len;
} mxs_tlsa_rr_t;

/* The TLSA records of the answer section of MSG, in answer order, class IN
 * only, whatever their owner (a CNAME chain the resolver followed ends at
 * the records); other types (CNAME, RRSIG) are skipped.  A record whose
 * RDATA is shorter than its three fixed octets is malformed and skipped.
 * Stores at most MAX in OUT and the number found in *N (which may exceed
 * MAX).  0, or -1 when the message is truncated or malformed (a name that
 * runs past the end, a bad label type, an RR past the end). */
int mxs_dns_parse_tlsa(const unsigned char *msg, size_t len, mxs_tlsa_rr_t *out, size_t max, size_t *n);

#endif
