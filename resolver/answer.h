/* answer.h - the DNS answers the resolver reads, as pure functions: raw
 * bytes from the wire in, what the resolver keeps out.  No I/O and no
 * state, so the parsing of outside data can be tested and fuzzed alone
 * (tests/fuzz/fuzz_dns.c); resolver.c feeds them what c-ares hands back.
 *
 * c-ares does the wire format (ares_parse_mx_reply, ares_parse_a_reply,
 * ares_parse_aaaa_reply, CNAME chains inside an answer included); these
 * add what mxscan decides on top: how many addresses are kept, their
 * text, and the MX order.  Before c-ares sees an answer, its names are
 * walked: a label type that does not exist, a compression loop or a name
 * of more than MXS_DNS_MAX_NAME octets is ARES_EBADNAME ("malformed name
 * in the answer"), because
 * c-ares 1.18 checks no length and would expand them, pointers landing in
 * labels read before, to many times the message's size.  Names over RFC
 * 1035's 255 octets but within MXS_DNS_MAX_NAME still pass: the resolver
 * reports such an MX target as not a host name (resolver/hostname.h).  So
 * a name we are given has at most MXS_DNS_MAX_NAME octets, 4 bytes each
 * once escaped.
 */
#ifndef MXS_RESOLVER_ANSWER_H
#define MXS_RESOLVER_ANSWER_H

#include <ares.h>
#include <stddef.h>

#define MXS_DNS_MAX_ADDRS 32   /* addresses kept per family of one host */
#define MXS_DNS_MAX_NAME  1024 /* octets of one name on the wire, at most (RFC 1035: 255) */

/* The addresses of one A or AAAA answer: textual addresses packed as
 * "a\0b\0" in buf (owned, malloc'd; NULL when n is 0).  status is the
 * ARES_* outcome: ARES_SUCCESS only with n > 0, ARES_ENODATA for an
 * answer without an address of that family (a CNAME chain that ends in
 * nothing), else the query's or the parser's error. */
typedef struct {
  int status;
  int ad;        /* not parsed: the caller's (the answer was authenticated, --dnssec) */
  size_t n, len; /* addresses, bytes used in buf */
  char *buf;
} mxs_dns_addrs_t;

/* Parses one A (AAAA when AAAA is set) answer of ALEN bytes at ABUF, for a
 * query that ended with STATUS (ABUF is read only when it is ARES_SUCCESS),
 * into *OUT (overwritten).  At most MXS_DNS_MAX_ADDRS are kept, in answer
 * order.  Free with mxs_dns_addrs_free. */
void mxs_dns_addrs_parse(mxs_dns_addrs_t *out, int aaaa, int status, const unsigned char *abuf, int alen);
void mxs_dns_addrs_free(mxs_dns_addrs_t *a);

/* The MX targets of one answer, sorted by preference (stable: ties keep
 * answer order), null targets ("0 .", RFC 7505) left out but counted.
 * mx points into list, which the caller frees with mxs_dns_mx_free. */
typedef struct {
  struct ares_mx_reply *list; /* owned: c-ares' list */
  const struct ares_mx_reply **mx;
  size_t nmx;   /* targets kept */
  size_t nnull; /* null targets left out */
} mxs_dns_mx_t;

/* Parses an MX answer (see mxs_dns_addrs_parse for STATUS) into *OUT
 * (overwritten).  Returns ARES_SUCCESS when the answer holds at least one
 * MX record (possibly only null ones: nmx 0, nnull > 0), ARES_ENODATA when
 * it holds none (no MX, or only a CNAME), ARES_ENOMEM, or the query's or
 * the parser's error.  On anything but success *OUT holds nothing to free
 * (freeing it is still fine). */
int mxs_dns_mx_parse(mxs_dns_mx_t *out, int status, const unsigned char *abuf, int alen);
void mxs_dns_mx_free(mxs_dns_mx_t *m);

/* The records of one answer to a question of another kind (what
 * mxs_resolver_query() delivers) as N byte strings: for TXT, each record's
 * strings joined, in answer order; for A and AAAA, the addresses as text
 * (mxs_dns_addrs_parse's); for TLSA, each record's RDATA as on the wire
 * (usage, selector, matching type, data), at most MXS_DNS_MAX_TLSA.
 * status as for the addresses: ARES_SUCCESS only with n > 0. */
#define MXS_DNS_MAX_TLSA 64 /* TLSA records kept per answer (more are counted, not kept) */

typedef enum { MXS_DNS_ITEMS_TXT, MXS_DNS_ITEMS_A, MXS_DNS_ITEMS_AAAA, MXS_DNS_ITEMS_TLSA } mxs_dns_items_kind_t;

typedef struct {
  int status;
  size_t n;
  char **items; /* owned, one block: the pointers, the lengths, then each string NUL-ended; NULL when n is 0 */
  size_t *lens; /* in the same block */
} mxs_dns_items_t;

/* Parses the answer (see mxs_dns_addrs_parse for STATUS; a TXT or TLSA
 * answer is read only on ARES_SUCCESS, an A or AAAA one on ARES_ENODATA
 * too) into *OUT (overwritten).  Free with mxs_dns_items_free. */
void mxs_dns_items_parse(mxs_dns_items_t *out, mxs_dns_items_kind_t kind, int status, const unsigned char *abuf,
                         int alen);
void mxs_dns_items_free(mxs_dns_items_t *it);

#endif
