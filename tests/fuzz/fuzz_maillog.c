/* fuzz_maillog.c - libFuzzer harness for the mail log parser.
 *
 * The input is cut into lines (one parser keeps its state across them, as
 * `mxscan maillog` does).  Beyond "does not crash", it checks the
 * contract: the callback is called exactly once for a MATCH and never
 * otherwise, and the domain it gets is a plausible lower-case name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/maillog.h"

static int calls;

static void on_failure(void *arg, const mxs_ml_failure_t *f) {
  (void)arg;
  calls++;
  size_t n = strlen(f->domain);
  if (n == 0 || n > 255 || f->domain[n - 1] == '.' || f->domain[0] == '.' || f->domain[0] == '[') abort();
  for (size_t i = 0; i < n; i++)
    if (f->domain[i] >= 'A' && f->domain[i] <= 'Z') abort();
  if (strcmp(f->mta, "postfix") && strcmp(f->mta, "exim")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  static mxs_maillog_t *p;
  if (!p) p = mxs_maillog_new(); /* kept across inputs: state from earlier lines is part of the game */
  const char *s = (const char *)data, *end = s + len;
  while (s <= end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    calls = 0;
    mxs_ml_kind_t k = mxs_maillog_line(p, s, (size_t)(e - s), on_failure, NULL);
    if (calls != (k == MXS_ML_MATCH)) abort();
    if (!nl) break;
    s = nl + 1;
  }
  return 0;
}
