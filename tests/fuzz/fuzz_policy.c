/* fuzz_policy.c - libFuzzer harness for the MTA-STS and TLS-RPT texts
 * (results/policy_parse.c): the policy file, the TXT records, the MX
 * pattern match.
 *
 * The input is one policy file, and also a set of TXT records (split at
 * '\n').  Beyond "does not crash", it checks what the parsers promise: a
 * parsed policy has a mode, a max_age of at most 10 digits and lower-case
 * mx patterns, each of which a host of its own shape matches; an id is
 * 1-32 letters and digits; rua URIs are mailto: or https://.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/policy.h"

static void check_policy(const char *p, size_t n) {
  mxs_sts_policy_t pol;
  char why[300];
  if (mxs_sts_policy_parse(p, n, &pol, why, sizeof why) < 0) {
    if (pol.mx || pol.nmx || !why[0]) abort();
    return;
  }
  if (pol.mode == MXS_STS_MODE_UNSET || pol.max_age < 0 || pol.max_age > 9999999999LL) abort();
  if (pol.mode != MXS_STS_NONE && pol.nmx == 0) abort();
  for (size_t i = 0; i < pol.nmx; i++) {
    const char *m = pol.mx[i];
    for (const char *c = m; *c; c++)
      if (*c >= 'A' && *c <= 'Z') abort();
    char host[300];
    /* "*.x.y" is matched by "a.x.y", "x.y" by itself */
    snprintf(host, sizeof host, "%s%s", m[0] == '*' ? "a" : "", m[0] == '*' ? m + 1 : m);
    if (!mxs_sts_mx_match(m, host)) abort();
  }
  mxs_sts_policy_free(&pol);
}

static void check_txt(const char *p, size_t n) {
  const char *recs[16];
  size_t lens[16], k = 0, start = 0;
  for (size_t i = 0; i <= n && k < 16; i++)
    if (i == n || p[i] == '\n') {
      recs[k] = p + start;
      lens[k++] = i - start;
      start = i + 1;
    }
  char id[MXS_STS_ID_MAX + 1], why[300];
  if (mxs_sts_txt_pick(recs, lens, k, id, why, sizeof why) == MXS_STS_TXT_OK) {
    size_t l = strlen(id);
    if (l < 1 || l > MXS_STS_ID_MAX) abort();
  }
  char **rua = NULL;
  size_t nrua = 0;
  if (mxs_tlsrpt_txt_pick(recs, lens, k, &rua, &nrua, why, sizeof why) == MXS_TLSRPT_OK) {
    if (nrua == 0) abort();
    for (size_t i = 0; i < nrua; i++)
      if (strncmp(rua[i], "mailto:", 7) != 0 && strncmp(rua[i], "https://", 8) != 0) abort();
    free(rua);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_policy((const char *)data, size);
  check_txt((const char *)data, size);
  return 0;
}
