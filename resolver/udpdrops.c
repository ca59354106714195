/* udpdrops.c - the drop counters of DNS servers' sockets (see udpdrops.h). */
#include "resolver/udpdrops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
  FIELDS = 13,          /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
  ST_CLOSE = 7,         /* TCP_CLOSE: an unconnected socket, as a server's is */
  MAX_FILE = 16u << 20, /* a machine with 100,000 UDP sockets: far past any we need */
};

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* N hex digits at S into *out; -1 if any is not one. */
static int hexn(const char *s, size_t n, uint32_t *out) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v << 4 | (uint32_t)h;
  }
  *out = v;
  return 0;
}

/* "0100007F:0035" (udp6: 32 digits before the colon).  The kernel prints
 * each 32-bit word of the address as the integer it is in memory, so the
 * word's own bytes, copied out, are the address in network order. */
static int parse_local(const char *s, size_t len, int v6, uint8_t addr[16], uint16_t *port) {
  size_t words = v6 ? 4 : 1;
  if (len != words * 8 + 5 || s[words * 8] != ':') return -1;
  for (size_t i = 0; i < words; i++) {
    uint32_t w;
    if (hexn(s + i * 8, 8, &w) < 0) return -1;
    memcpy(addr + i * 4, &w, 4);
  }
  uint32_t p;
  if (hexn(s + words * 8 + 1, 4, &p) < 0) return -1;
  *port = (uint16_t)p;
  return 0;
}

static int is_loopback(const mxs_udp_endpoint_t *ep) {
  static const uint8_t v6lo[16] = {[15] = 1};
  return ep->family == AF_INET ? ep->addr[0] == 127 : memcmp(ep->addr, v6lo, 16) == 0;
}

static int all_zero(const uint8_t *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i]) return 0;
  return 1;
}

/* Is a socket bound to ADDR (V6: 16 bytes) the server EP's? */
static int belongs(const uint8_t *addr, int v6, const mxs_udp_endpoint_t *ep) {
  if (!v6 && ep->family == AF_INET && memcmp(addr, ep->addr, 4) == 0) return 1;
  if (v6 && ep->family == AF_INET6 && memcmp(addr, ep->addr, 16) == 0) return 1;
  /* the wildcard: only for a loopback server, which can be no other
   * machine's (a dual-stack "::" socket takes IPv4 too) */
  return is_loopback(ep) && all_zero(addr, v6 ? 16 : 4) && (v6 || ep->family == AF_INET);
}

/* One line: its fields split on blanks, in place of a copy. */
static size_t line_drops(const char *line, size_t len, int v6, const mxs_udp_endpoint_t *eps, size_t n,
                         uint64_t *drops) {
  const char *f[FIELDS];
  size_t flen[FIELDS], nf = 0, i = 0;
  while (i < len && nf < FIELDS) {
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i == len) break;
    f[nf] = line + i;
    while (i < len && line[i] != ' ' && line[i] != '\t') i++;
    flen[nf] = (size_t)(line + i - f[nf]);
    nf++;
  }
  if (nf < FIELDS) return 0;
  uint8_t addr[16];
  uint16_t port;
  uint32_t st;
  if (parse_local(f[1], flen[1], v6, addr, &port) < 0) return 0;
  if (flen[3] != 2 || hexn(f[3], 2, &st) < 0 || st != ST_CLOSE) return 0;
  size_t i_ep = 0;
  while (i_ep < n && !(eps[i_ep].port == port && belongs(addr, v6, &eps[i_ep]))) i_ep++;
  if (i_ep == n) return 0;
  uint64_t d = 0;
  for (size_t k = 0; k < flen[12]; k++) {
    char c = f[12][k];
    if (c < '0' || c > '9' || d > (UINT64_MAX - 9) / 10) return 0;
    d = d * 10 + (uint64_t)(c - '0');
  }
  if (flen[12] == 0) return 0;
  *drops += d;
  return 1;
}

size_t mxs_udp_drops_parse(const char *text, int v6, const mxs_udp_endpoint_t *eps, size_t n, uint64_t *drops) {
  size_t found = 0;
  const char *p = strchr(text, '\n'); /* the header */
  while (p && *++p) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    found += line_drops(p, len, v6, eps, n, drops);
    p = end;
  }
  return found;
}

/* The whole of PATH, NUL-terminated, or NULL.  Caller frees. */
static char *slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (cap - len < 4096) {
      char *nb = cap < MAX_FILE ? realloc(buf, cap * 2) : NULL;
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) {
        free(buf);
        buf = NULL;
      }
      break;
    }
    len += (size_t)n;
  }
  close(fd);
  if (buf) buf[len] = '\0';
  return buf;
}

size_t mxs_udp_drops_read(const mxs_udp_endpoint_t *eps, size_t n, uint64_t *drops) {
  size_t found = 0;
  for (int v6 = 0; v6 < 2 && n > 0; v6++) {
    char *text = slurp(v6 ? "/proc/net/udp6" : "/proc/net/udp");
    if (text == NULL) continue;
    found += mxs_udp_drops_parse(text, v6, eps, n, drops);
    free(text);
  }
  return found;
}
