/* answer.c - DNS answers to what the resolver keeps (see answer.h). */
#include "resolver/answer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void mxs_dns_addrs_parse(mxs_dns_addrs_t *f, int aaaa, int status, const unsigned char *abuf, int alen) {
  struct ares_addrttl a4[MXS_DNS_MAX_ADDRS];
  struct ares_addr6ttl a6[MXS_DNS_MAX_ADDRS];
  int n = MXS_DNS_MAX_ADDRS;
  *f = (mxs_dns_addrs_t){0};
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
