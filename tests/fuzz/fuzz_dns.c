/* fuzz_dns.c - libFuzzer harness for the DNS answers the resolver reads.
 *
 * The input is one raw DNS message, as a resolver would send it back: the
 * harness hands it to resolver/answer.c as the answer to an MX, an A and
 * an AAAA query (c-ares' parsers plus our sorting, null-MX and address
 * logic) and to a TXT, A, AAAA and TLSA question (mxs_resolver_query's
 * items), and checks what comes out: MX targets sorted by preference with
 * no null target among them and every record accounted for, at most
 * MXS_DNS_MAX_ADDRS addresses per family, each one text that parses back
 * as an address of that family, items NUL-ended and within the message,
 * and a status that agrees with the count.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/answer.h"

static void check_mx(const uint8_t *data, size_t len) {
  mxs_dns_mx_t m;
  int st = mxs_dns_mx_parse(&m, ARES_SUCCESS, data, (int)len);
  if (st != ARES_SUCCESS) {
    if (m.list || m.mx || m.nmx || m.nnull) abort();
    mxs_dns_mx_free(&m);
    return;
  }
  size_t total = 0;
  for (const struct ares_mx_reply *p = m.list; p; p = p->next) total++;
  if (total == 0 || m.nmx + m.nnull != total) abort();
  for (size_t i = 0; i < m.nmx; i++) {
    const char *h = m.mx[i]->host;
    if (!h || !h[0] || !strcmp(h, ".")) abort();
    if (i > 0 && m.mx[i - 1]->priority > m.mx[i]->priority) abort();
    /* names keep MXS_DNS_MAX_NAME octets (answer.c refuses the others),
     * each byte escaped (\DDD) in at most 4 */
    if (strlen(h) > 4 * MXS_DNS_MAX_NAME) abort();
  }
  mxs_dns_mx_free(&m);
  if (m.list || m.mx) abort();
}

static void check_addrs(const uint8_t *data, size_t len, int aaaa) {
  mxs_dns_addrs_t a;
  mxs_dns_addrs_parse(&a, aaaa, ARES_SUCCESS, data, (int)len);
  if ((a.status == ARES_SUCCESS) != (a.n > 0) || a.n > MXS_DNS_MAX_ADDRS) abort();
  const char *s = a.buf;
  size_t used = 0;
  for (size_t i = 0; i < a.n; i++) {
    unsigned char bin[16];
    if (inet_pton(aaaa ? AF_INET6 : AF_INET, s, bin) != 1) abort();
    used += strlen(s) + 1;
    s += strlen(s) + 1;
  }
  if (used != a.len) abort();
  mxs_dns_addrs_free(&a);
  /* A failed query never reads the bytes. */
  mxs_dns_addrs_parse(&a, aaaa, ARES_ETIMEOUT, NULL, 0);
  if (a.status != ARES_ETIMEOUT || a.n) abort();
  mxs_dns_addrs_free(&a);
}

/* The answers of mxs_resolver_query: N NUL-ended strings, as many as the
 * status says, none longer than the message, addresses that parse back. */
static void check_items(const uint8_t *data, size_t len, mxs_dns_items_kind_t kind) {
  mxs_dns_items_t it;
  mxs_dns_items_parse(&it, kind, ARES_SUCCESS, data, (int)len);
  size_t max = kind == MXS_DNS_ITEMS_TLSA ? MXS_DNS_MAX_TLSA : kind == MXS_DNS_ITEMS_TXT ? len : MXS_DNS_MAX_ADDRS;
  if ((it.status == ARES_SUCCESS) != (it.n > 0) || it.n > max || (it.n && (!it.items || !it.lens))) abort();
  size_t total = 0;
  for (size_t i = 0; i < it.n; i++) {
    if (it.items[i][it.lens[i]] != '\0') abort();
    total += it.lens[i];
    if (kind == MXS_DNS_ITEMS_TLSA && it.lens[i] < 3) abort(); /* usage, selector, matching type */
    unsigned char bin[16];
    if ((kind == MXS_DNS_ITEMS_A || kind == MXS_DNS_ITEMS_AAAA) &&
        inet_pton(kind == MXS_DNS_ITEMS_AAAA ? AF_INET6 : AF_INET, it.items[i], bin) != 1)
      abort();
  }
  if (kind != MXS_DNS_ITEMS_A && kind != MXS_DNS_ITEMS_AAAA && total > len) abort(); /* each byte from the message */
  mxs_dns_items_free(&it);
  if (it.items || it.n) abort();
  mxs_dns_items_parse(&it, kind, ARES_ESERVFAIL, NULL, 0); /* a failed query never reads the bytes */
  if (it.status != ARES_ESERVFAIL || it.n || it.items) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len > 65535) return 0; /* a DNS message is at most 64 KiB */
  check_mx(data, len);
  check_addrs(data, len, 0);
  check_addrs(data, len, 1);
  for (int k = MXS_DNS_ITEMS_TXT; k <= MXS_DNS_ITEMS_TLSA; k++) check_items(data, len, (mxs_dns_items_kind_t)k);
  return 0;
}
