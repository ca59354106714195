/* hostname.h - is an MX target a host name a sender could connect to?
 *
 * DNS carries any bytes in a name, and c-ares hands an MX target over as
 * long as its characters are printable and not special: a 300-byte name or
 * one with '/' or '*' arrives like any other.  A sending MTA resolves only
 * host names (RFC 5321 2.3.5, RFC 1123 2.1), so the resolver asks nothing
 * for a target that is not one and reports it as an MX host without an
 * address.  Underscores are tolerated, as Postfix does: DNS and c-ares
 * carry them and some real MX hosts have them.  Pure; no allocation.
 */
#ifndef MXS_RESOLVER_HOSTNAME_H
#define MXS_RESOLVER_HOSTNAME_H

#include <stddef.h>

/* 0 when NAME (no trailing dot) is a host name: 1-253 characters, labels
 * of 1-63 letters, digits, '-' or '_'.  Else -1 with why in WHY ("312
 * characters (at most 253)", "a label of 64 characters (at most 63)",
 * "an empty label", "the character '*'"). */
int mxs_resolver_hostname_check(const char *name, char *why, size_t len);

#endif
