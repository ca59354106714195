/* udpdrops.h - how many queries a DNS server on this machine has dropped.
 *
 * Internal to resolver/.  Linux counts, per UDP socket, the datagrams it
 * threw away because the socket's receive buffer was full: the last column
 * of /proc/net/udp and /proc/net/udp6.  When the server mxscan asks runs on
 * this machine (unbound on 127.0.0.1, the usual set-up for a scan), the
 * counter of the socket it listens on says for certain when our queries
 * overran it, which a timeout alone cannot tell from a slow name.
 *
 * A socket is the server's when it is bound to the server's address and
 * port, or, for a loopback server, to the wildcard address and that port
 * (unbound's `interface: 0.0.0.0`).  A server elsewhere has no socket here
 * (and one in another network namespace is not seen): its drops are
 * unknown.  Pure parsing plus one reader; no allocation kept.
 */
#ifndef MXS_RESOLVER_UDPDROPS_H
#define MXS_RESOLVER_UDPDROPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int family;       /* AF_INET or AF_INET6 */
  uint8_t addr[16]; /* network order: 4 bytes for AF_INET */
  uint16_t port;    /* host order */
} mxs_udp_endpoint_t;

/* Adds to *DROPS the drop counters of the sockets listed in TEXT (the
 * contents of /proc/net/udp, or of /proc/net/udp6 when V6) that belong to
 * any of the N servers EPS, each socket once (two loopback servers on one
 * port share a wildcard socket).  Returns how many sockets matched; lines
 * that do not read are skipped. */
size_t mxs_udp_drops_parse(const char *text, int v6, const mxs_udp_endpoint_t *eps, size_t n, uint64_t *drops);

/* The drops of the N servers EPS, summed, read from /proc/net/udp and
 * udp6.  Returns how many sockets matched (0: none of the servers is on
 * this machine, or /proc cannot be read). */
size_t mxs_udp_drops_read(const mxs_udp_endpoint_t *eps, size_t n, uint64_t *drops);

#endif
