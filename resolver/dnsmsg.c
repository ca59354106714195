/* dnsmsg.c - DNS headers, queries with DO/AD, TLSA answers (see dnsmsg.h). */
#include "resolver/dnsmsg.h"

#include <string.h>

enum { TYPE_OPT = 41, CLASS_IN = 1, FLAG_DO = 0x8000 };

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

static void put16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

int mxs_dns_header(const unsigned char *msg, size_t len, mxs_dns_header_t *out) {
  if (msg == NULL || len < MXS_DNS_HEADER_LEN) return -1;
  unsigned f = get16(msg + 2);
  *out = (mxs_dns_header_t){.id = get16(msg),
                            .qr = (f >> 15) & 1,
                            .tc = (f >> 9) & 1,
                            .rd = (f >> 8) & 1,
                            .ra = (f >> 7) & 1,
                            .ad = (f >> 5) & 1,
                            .cd = (f >> 4) & 1,
                            .rcode = (int)(f & 0xf),
                            .qdcount = get16(msg + 4),
                            .ancount = get16(msg + 6),
                            .nscount = get16(msg + 8),
                            .arcount = get16(msg + 10)};
  return 0;
}

int mxs_dns_build_query(const char *name, unsigned qtype, int dnssec, unsigned char *buf, size_t buflen) {
  size_t nlen = strlen(name);
  if (nlen > 0 && name[nlen - 1] == '.') nlen--;
  /* the wire name: a length byte per label, the root's zero byte */
  size_t wire = nlen ? nlen + 2 : 1;
  size_t need = MXS_DNS_HEADER_LEN + wire + 4 + (dnssec ? 11 : 0);
  if (wire > 255 || need > buflen) return -1;
  memset(buf, 0, MXS_DNS_HEADER_LEN);
  /* RD; AD in a query asks for the AD bit in the answer (RFC 6840 5.7) */
  put16(buf + 2, 0x0100 | (dnssec ? 0x0020 : 0));
  put16(buf + 4, 1);
  put16(buf + 10, dnssec ? 1 : 0);
  unsigned char *p = buf + MXS_DNS_HEADER_LEN;
  const char *s = name, *end = name + nlen;
  while (s < end) {
    const char *dot = memchr(s, '.', (size_t)(end - s));
    size_t l = dot ? (size_t)(dot - s) : (size_t)(end - s);
    if (l == 0 || l > 63) return -1;
    *p++ = (unsigned char)l;
    memcpy(p, s, l);
    p += l;
    s += l + (dot != NULL);
    if (dot && s == end) return -1; /* "a..": an empty last label */
  }
  *p++ = 0;
  put16(p, qtype);
  put16(p + 2, CLASS_IN);
  p += 4;
  if (dnssec) { /* OPT: root owner, type 41, class = UDP size, TTL = ext-rcode, version, DO */
    *p++ = 0;
    put16(p, TYPE_OPT);
    put16(p + 2, MXS_DNS_EDNS_UDP);
    p[4] = 0;
    p[5] = 0;
    put16(p + 6, FLAG_DO);
    put16(p + 8, 0); /* no options */
    p += 10;
  }
  return (int)(p - buf);
}

/* Skips the name at *OFF without following compression pointers (a
 * pointer ends a name).  0, or -1 when it runs past LEN or uses a label
 * type other than a length (0b00) or a pointer (0b11). */
static int skip_name(const unsigned char *msg, size_t len, size_t *off) {
  size_t o = *off;
  for (;;) {
    if (o >= len) return -1;
    unsigned b = msg[o];
    if (b == 0) {
      *off = o + 1;
      return 0;
    }
    if ((b & 0xc0) == 0xc0) {
      if (o + 2 > len) return -1;
      *off = o + 2;
      return 0;
    }
    if (b & 0xc0) return -1;
    o += 1 + b;
  }
}

int mxs_dns_parse_tlsa(const unsigned char *msg, size_t len, mxs_tlsa_rr_t *out, size_t max, size_t *n) {
  mxs_dns_header_t h;
  *n = 0;
  if (mxs_dns_header(msg, len, &h) < 0) return -1;
  size_t off = MXS_DNS_HEADER_LEN;
  for (unsigned i = 0; i < h.qdcount; i++) {
    if (skip_name(msg, len, &off) < 0 || off + 4 > len) return -1;
    off += 4;
  }
  for (unsigned i = 0; i < h.ancount; i++) {
    if (skip_name(msg, len, &off) < 0 || off + 10 > len) return -1;
    unsigned type = get16(msg + off), cls = get16(msg + off + 2), rdlen = get16(msg + off + 8);
    off += 10;
    if (off + rdlen > len) return -1;
    if (type == MXS_DNS_TYPE_TLSA && cls == CLASS_IN && rdlen >= 3) {
      if (*n < max)
        out[*n] = (mxs_tlsa_rr_t){.usage = msg[off],
                                  .selector = msg[off + 1],
                                  .mtype = msg[off + 2],
                                  .data = msg + off + 3,
                                  .len = rdlen - 3u};
      (*n)++;
    }
    off += rdlen;
  }
  return 0;
}
