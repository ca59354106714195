/* ehlo_name.h - what mxscan may send after EHLO/HELO.
 *
 * RFC 5321 4.1.1.1: the argument of EHLO is a Domain (sub-domain *("."
 * sub-domain), a sub-domain being letters, digits and hyphens that start
 * and end with a letter or digit) or an address literal ("[192.0.2.1]",
 * "[IPv6:2001:db8::1]").  Anything else ("bad name", "my_host", a name
 * with a trailing dot) would be sent as is and rejected by the receivers,
 * so a run's records would describe our EHLO, not their TLS.  Pure; no
 * I/O.
 */
#ifndef MXS_EHLO_NAME_H
#define MXS_EHLO_NAME_H

/* 0 when NAME is a Domain or an address literal, else -1 with *why set
 * to a static reason ("invalid character ' ' ..."). */
int mxs_ehlo_name_check(const char *name, const char **why);

/* 1 when NAME (already checked) is fully qualified: an address literal or
 * a domain of two labels or more.  Many receivers refuse a single label
 * (Postfix reject_non_fqdn_helo_hostname). */
int mxs_ehlo_name_is_fqdn(const char *name);

#endif
