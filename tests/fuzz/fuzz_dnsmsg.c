/* fuzz_dnsmsg.c - libFuzzer harness for the DNS answer reader
 * (resolver/dnsmsg.h), which reads untrusted bytes from the network.
 *
 * Beyond "does not crash": every TLSA record returned lies inside the
 * input, the count does not depend on how many records there is room for,
 * and a query built from the input's text either fails or parses back
 * with the header we asked for. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mxs_tlsa_rr_t rr[8], one[1];
  size_t n = 0, n1 = 0;
  int rc = mxs_dns_parse_tlsa(data, size, rr, 8, &n);
  if (mxs_dns_parse_tlsa(data, size, one, 1, &n1) != rc || n1 != n) abort();
  for (size_t i = 0; rc == 0 && i < n && i < 8; i++)
    if (rr[i].data < data + 3 || rr[i].data + rr[i].len > data + size) abort();
  char name[300];
  size_t l = size < sizeof name - 1 ? size : sizeof name - 1;
  memcpy(name, data, l);
  name[l] = '\0';
  unsigned char q[MXS_DNS_QUERY_MAX];
  int qlen = mxs_dns_build_query(name, 52, 1, q, sizeof q);
  if (qlen > 0) {
    mxs_dns_header_t h;
    if ((size_t)qlen > sizeof q || mxs_dns_header(q, (size_t)qlen, &h) < 0 || !h.ad || !h.rd || h.qdcount != 1 ||
        h.arcount != 1 || mxs_dns_parse_tlsa(q, (size_t)qlen, rr, 8, &n) < 0)
      abort();
  }
  return 0;
}
