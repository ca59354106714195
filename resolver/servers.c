/* servers.c - parse and re-spell the DNS server list (see servers.h). */
#include "resolver/servers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { ADDR_MAX = 64, ENTRY_OUT_MAX = 64 /* "[" v6 "]:" 5 digits, NUL */ };

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* 1..65535 in plain decimal. */
static int parse_port(const char *s, size_t n) {
  if (n == 0 || n > 5) return -1;
  int port = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    port = port * 10 + (s[i] - '0');
  }
  return port >= 1 && port <= 65535 ? port : -1;
}

/* One entry S[0..n) -> "ADDR:PORT" or "[ADDR]:PORT" in OUT. */
static int parse_entry(const char *s, size_t n, char *out) {
  char addr[ADDR_MAX];
  unsigned char bin[16];
  const char *a = s, *p = NULL; /* address and port text (NULL: none) */
  size_t alen = n;
  int v6;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL) return -1;
    a = s + 1;
    alen = (size_t)(close - a);
    if (close + 1 < s + n) {
      if (close[1] != ':') return -1;
      p = close + 2;
    }
    v6 = 1;
  } else {
    const char *colon = memchr(s, ':', n);
    v6 = colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) != NULL;
    if (colon && !v6) { /* IPv4:PORT; a bare IPv6 address has no port */
      alen = (size_t)(colon - s);
      p = colon + 1;
    }
  }
  if (alen == 0 || alen >= sizeof(addr)) return -1;
  memcpy(addr, a, alen);
  addr[alen] = '\0';
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) return -1;
  int port = p ? parse_port(p, (size_t)(s + n - p)) : 53;
  if (port < 0) return -1;
  snprintf(out, ENTRY_OUT_MAX, v6 ? "[%s]:%d" : "%s:%d", addr, port);
  return 0;
}

static int fail(char *errbuf, size_t errlen, const char *what, const char *s, size_t n) {
  if (errbuf && errlen)
    snprintf(errbuf, errlen, "bad DNS server %s\"%.*s\": want IP[:PORT] or [IPv6]:PORT, comma-separated", what, (int)n,
             s);
  return UV_EINVAL;
}

int mxs_resolver_servers_csv(const char *list, char **out, char *errbuf, size_t errlen) {
  size_t cap = 1;
  for (const char *c = list; *c; c++) cap += *c == ',';
  char *buf = malloc(cap * (ENTRY_OUT_MAX + 1));
  if (buf == NULL) return UV_ENOMEM;
  size_t len = 0;
  const char *s = list;
  for (;;) {
    const char *end = strchr(s, ',');
    if (end == NULL) end = s + strlen(s);
    const char *b = s, *e = end;
    while (b < e && is_blank(*b)) b++;
    while (e > b && is_blank(e[-1])) e--;
    if (b == e || parse_entry(b, (size_t)(e - b), buf + len + (len > 0)) < 0) {
      free(buf);
      return b == e ? fail(errbuf, errlen, "list ", list, strlen(list)) : fail(errbuf, errlen, "", b, (size_t)(e - b));
    }
    if (len > 0) buf[len++] = ',';
    len += strlen(buf + len);
    if (*end == '\0') break;
    s = end + 1;
  }
  *out = buf;
  return 0;
}
