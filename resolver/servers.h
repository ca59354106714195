/* servers.h - the --dns server list, checked before c-ares sees it.
 *
 * Internal to resolver/.  c-ares 1.18's ares_set_servers_ports_csv() takes
 * "1.2.3.4:99999" (truncating the port) and rejects "[::1]" without a port,
 * so the list is parsed here and handed on in one unambiguous spelling.
 */
#ifndef MXS_RESOLVER_SERVERS_H
#define MXS_RESOLVER_SERVERS_H

#include <stddef.h>

/* Parses LIST ("HOST[:PORT][,HOST[:PORT]...]", HOST an IPv4 address, an
 * IPv6 address in brackets, or a bare IPv6 address without port; blanks
 * around entries ignored) into "1.2.3.4:53,[::1]:53" form, port 53 when
 * absent.  Returns 0 and sets *out (caller frees), or UV_EINVAL / UV_ENOMEM
 * with a message in errbuf. */
int mxs_resolver_servers_csv(const char *list, char **out, char *errbuf, size_t errlen);

#endif
