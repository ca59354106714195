/* answer.c - DNS answers to what the resolver keeps (see answer.h). */
#include "resolver/answer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dnsmsg.h"

/* ---- names c-ares may expand ----------------------------------------------
 *
 * c-ares 1.18 expands names without any length check, and compression
 * pointers may land inside labels read before, so a name can read the same
 * bytes over and over: a 463-byte answer gave a 369-octet MX name
 * (tests/fuzz/corpus/dns/crash-long-name), and a 64 KiB one could give
 * megabytes per record.  The walk bounds each name (MXS_DNS_MAX_NAME
 * octets, so at most 4 KiB escaped: a 64 KiB answer costs at most a few
 * MiB for a moment), refuses label types that do not exist and pointer
 * loops, and leaves everything else (counts past the end, cut records) to
 * c-ares to refuse. */

enum { DNS_HEADER = 12, MAX_POINTERS = 128, T_NS = 2, T_CNAME = 5, T_SOA = 6, T_PTR = 12, T_MX = 15 };

/* Walks the name at *OFF.  1: fine, *OFF past it; 0: too long, a bad
 * label type or a pointer loop; -1: it runs past the end (c-ares' to
 * refuse). */
static int name_ok(const unsigned char *m, size_t len, size_t *off) {
  size_t p = *off, wire = 0, end = 0;
  int jumped = 0, pointers = 0;
  for (;;) {
    if (p >= len) return -1;
    unsigned c = m[p];
    if ((c & 0xc0) == 0xc0) {
      if (p + 1 >= len) return -1;
      if (!jumped) end = p + 2;
      jumped = 1;
      if (++pointers > MAX_POINTERS) return 0;
      p = ((c & 0x3fu) << 8) | m[p + 1];
      continue;
    }
    if (c & 0xc0) return 0; /* 01 and 10: no such label types */
    wire += c + 1;
    if (wire > MXS_DNS_MAX_NAME) return 0;
    if (c == 0) break;
    p += c + 1;
  }
  *off = jumped ? end : p + 1;
  return 1;
}

/* ARES_SUCCESS when every name c-ares would expand (questions, owners, and
 * the names inside NS, CNAME, SOA, PTR and MX data) passes, else
 * ARES_EBADNAME. */
static int names_within_limits(const unsigned char *m, int alen) {
  size_t len = alen > 0 ? (size_t)alen : 0, off = DNS_HEADER;
  if (len < DNS_HEADER) return ARES_SUCCESS;
  unsigned qd = (unsigned)m[4] << 8 | m[5];
  unsigned rr = ((unsigned)m[6] << 8 | m[7]) + ((unsigned)m[8] << 8 | m[9]) + ((unsigned)m[10] << 8 | m[11]);
  for (unsigned i = 0; i < qd + rr; i++) {
    int rc = name_ok(m, len, &off);
    if (rc < 0) return ARES_SUCCESS;
    if (rc == 0) return ARES_EBADNAME;
    if (i < qd) {
      off += 4;
      continue;
    }
    if (off + 10 > len) return ARES_SUCCESS;
    unsigned type = (unsigned)m[off] << 8 | m[off + 1], rdlen = (unsigned)m[off + 8] << 8 | m[off + 9];
    size_t rdata = off + 10, next = rdata + rdlen, n = rdata + (type == T_MX ? 2 : 0);
    if (next > len) return ARES_SUCCESS;
    if (type == T_MX || type == T_NS || type == T_CNAME || type == T_PTR || type == T_SOA) {
      if ((rc = name_ok(m, len, &n)) < 0) return ARES_SUCCESS;
      if (rc == 0 || (type == T_SOA && name_ok(m, len, &n) == 0)) return ARES_EBADNAME;
    }
    off = next;
  }
  return ARES_SUCCESS;
}

void mxs_dns_addrs_parse(mxs_dns_addrs_t *f, int aaaa, int status, const unsigned char *abuf, int alen) {
  struct ares_addrttl a4[MXS_DNS_MAX_ADDRS];
  struct ares_addr6ttl a6[MXS_DNS_MAX_ADDRS];
  int n = MXS_DNS_MAX_ADDRS;
  *f = (mxs_dns_addrs_t){0};
  if (status == ARES_SUCCESS) status = names_within_limits(abuf, alen);
  if (status == ARES_SUCCESS) {
    status = aaaa ? ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n) : ares_parse_a_reply(abuf, alen, NULL, a4, &n);
    /* A CNAME chain that ends without an address parses as success. */
    if (status == ARES_SUCCESS && n <= 0) status = ARES_ENODATA;
  }
  if (status == ARES_SUCCESS && (f->buf = malloc((size_t)n * INET6_ADDRSTRLEN)) == NULL) status = ARES_ENOMEM;
  f->status = status;
  for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
    const void *src = aaaa ? (const void *)&a6[i].ip6addr : (const void *)&a4[i].ipaddr;
    if (inet_ntop(aaaa ? AF_INET6 : AF_INET, src, f->buf + f->len, INET6_ADDRSTRLEN) == NULL) continue;
    f->len += strlen(f->buf + f->len) + 1;
    f->n++;
  }
}

void mxs_dns_addrs_free(mxs_dns_addrs_t *f) {
  free(f->buf);
  f->buf = NULL;
  f->n = f->len = 0;
}

static int is_null_target(const char *host) {
  /* c-ares expands the root name to "" (it strips trailing dots); accept
   * "." too in case another version keeps it. */
  return host[0] == '\0' || strcmp(host, ".") == 0;
}

int mxs_dns_mx_parse(mxs_dns_mx_t *out, int status, const unsigned char *abuf, int alen) {
  *out = (mxs_dns_mx_t){0};
  if (status != ARES_SUCCESS) return status;
  if ((status = names_within_limits(abuf, alen)) != ARES_SUCCESS) return status;
  struct ares_mx_reply *list = NULL;
  status = ares_parse_mx_reply(abuf, alen, &list);
  /* An answer with only a CNAME and no MX is NODATA too. */
  if (status == ARES_SUCCESS && list == NULL) status = ARES_ENODATA;
  if (status != ARES_SUCCESS) {
    if (list) ares_free_data(list);
    return status;
  }
  size_t n = 0, k = 0;
  for (const struct ares_mx_reply *p = list; p; p = p->next) n++;
  const struct ares_mx_reply **v = malloc(n * sizeof *v);
  if (v == NULL) {
    ares_free_data(list);
    return ARES_ENOMEM;
  }
  /* Insertion sort by preference: stable, and answers are short. */
  for (const struct ares_mx_reply *p = list; p; p = p->next) {
    if (is_null_target(p->host)) {
      out->nnull++;
      continue;
    }
    size_t j = k++;
    for (; j > 0 && v[j - 1]->priority > p->priority; j--) v[j] = v[j - 1];
    v[j] = p;
  }
  out->list = list;
  out->mx = v;
  out->nmx = k;
  return ARES_SUCCESS;
}

void mxs_dns_mx_free(mxs_dns_mx_t *m) {
  if (m->list) ares_free_data(m->list);
  free(m->mx);
  *m = (mxs_dns_mx_t){0};
}

/* ---- the answers of mxs_resolver_query ---------------------------------- */

/* Packs N strings (STR[i], LEN[i] bytes) into OUT's one block. */
static int items_pack(mxs_dns_items_t *out, size_t n, const unsigned char *const *str, const size_t *len) {
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) bytes += len[i] + 1;
  char *block = malloc(n * (sizeof(char *) + sizeof(size_t)) + bytes + 1);
  if (block == NULL) return ARES_ENOMEM;
  out->items = (char **)block;
  out->lens = (size_t *)(block + n * sizeof(char *));
  char *p = (char *)(out->lens + n);
  for (size_t i = 0; i < n; i++) {
    if (len[i]) memcpy(p, str[i], len[i]);
    p[len[i]] = '\0';
    out->items[i] = p;
    out->lens[i] = len[i];
    p += len[i] + 1;
  }
  out->n = n;
  return ARES_SUCCESS;
}

/* TXT records: the strings of one record (record_start marks the first)
 * joined, in answer order. */
static int items_txt(mxs_dns_items_t *out, const unsigned char *abuf, int alen) {
  struct ares_txt_ext *txt = NULL;
  int status = ares_parse_txt_reply_ext(abuf, alen, &txt);
  size_t n = 0, total = 0;
  for (struct ares_txt_ext *t = txt; status == ARES_SUCCESS && t; t = t->next) {
    n += t->record_start || n == 0;
    total += t->length;
  }
  if (status == ARES_SUCCESS && n == 0) status = ARES_ENODATA;
  unsigned char *joined = status == ARES_SUCCESS ? malloc(total + 1) : NULL;
  const unsigned char **str = status == ARES_SUCCESS ? calloc(n, sizeof(*str)) : NULL;
  size_t *len = status == ARES_SUCCESS ? calloc(n, sizeof(*len)) : NULL;
  if (status == ARES_SUCCESS && (!joined || !str || !len)) status = ARES_ENOMEM;
  if (status == ARES_SUCCESS) {
    size_t k = 0, off = 0;
    for (struct ares_txt_ext *t = txt; t; t = t->next) {
      if (t->record_start && t != txt) k++;
      if (str[k] == NULL) str[k] = joined + off;
      memcpy(joined + off, t->txt, t->length);
      off += t->length;
      len[k] += t->length;
    }
    status = items_pack(out, n, str, len);
  }
  free(joined);
  free(str);
  free(len);
  if (txt) ares_free_data(txt);
  return status;
}

/* TLSA records: each item is one record's RDATA as on the wire. */
static int items_tlsa(mxs_dns_items_t *out, const unsigned char *abuf, int alen) {
  mxs_tlsa_rr_t rr[MXS_DNS_MAX_TLSA];
  size_t n = 0;
  if (mxs_dns_parse_tlsa(abuf, (size_t)alen, rr, MXS_DNS_MAX_TLSA, &n) < 0) return ARES_EBADRESP;
  if (n > MXS_DNS_MAX_TLSA) n = MXS_DNS_MAX_TLSA;
  if (n == 0) return ARES_ENODATA; /* only a CNAME, or RRSIGs */
  const unsigned char *str[MXS_DNS_MAX_TLSA];
  size_t len[MXS_DNS_MAX_TLSA];
  for (size_t i = 0; i < n; i++) {
    str[i] = rr[i].data - 3; /* the RDATA starts at the usage octet */
    len[i] = rr[i].len + 3;
  }
  return items_pack(out, n, str, len);
}

static int items_addrs(mxs_dns_items_t *out, int aaaa, int status, const unsigned char *abuf, int alen) {
  mxs_dns_addrs_t f;
  mxs_dns_addrs_parse(&f, aaaa, status, abuf, alen);
  status = f.status;
  const unsigned char *str[MXS_DNS_MAX_ADDRS];
  size_t len[MXS_DNS_MAX_ADDRS];
  const char *a = f.buf;
  for (size_t i = 0; status == ARES_SUCCESS && i < f.n; i++, a += strlen(a) + 1) {
    str[i] = (const unsigned char *)a;
    len[i] = strlen(a);
  }
  if (status == ARES_SUCCESS) status = items_pack(out, f.n, str, len);
  mxs_dns_addrs_free(&f);
  return status;
}

void mxs_dns_items_parse(mxs_dns_items_t *out, mxs_dns_items_kind_t kind, int status, const unsigned char *abuf,
                         int alen) {
  *out = (mxs_dns_items_t){.status = status};
  if (kind == MXS_DNS_ITEMS_A || kind == MXS_DNS_ITEMS_AAAA) {
    if (status == ARES_SUCCESS || status == ARES_ENODATA)
      out->status = items_addrs(out, kind == MXS_DNS_ITEMS_AAAA, status, abuf, alen);
  } else if (status == ARES_SUCCESS) { /* a failure or a denial: nothing to parse */
    out->status = kind == MXS_DNS_ITEMS_TXT ? items_txt(out, abuf, alen) : items_tlsa(out, abuf, alen);
  }
  if (out->status != ARES_SUCCESS) { /* nothing half-made is kept */
    free(out->items);
    out->items = NULL;
    out->lens = NULL;
    out->n = 0;
  }
}

void mxs_dns_items_free(mxs_dns_items_t *it) {
  free(it->items);
  it->items = NULL;
  it->lens = NULL;
  it->n = 0;
}
