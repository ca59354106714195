/* fuzz_exclude.c - libFuzzer harness for the exclude list.
 *
 * The input is an exclude file, then (after a NUL byte) names and
 * addresses to match, one a line.  Checks: a name matched is the entry
 * itself or lies under a suffix entry; the entry a match names is text
 * the parser takes back, alone, and then matches the same name or
 * address again (so what a record's detail quotes is a working entry);
 * the hit's line lies inside the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "queue/exclude.h"

static void rematch(const mxs_exclude_hit_t *hit, const char *q, int addr) {
  mxs_exclude_t *y = mxs_exclude_new();
  const char *why = NULL;
  if (!y || mxs_exclude_add_line(y, hit->entry, 1, &why) != 0) abort();
  if (!(addr ? mxs_exclude_addr(y, q, NULL) : mxs_exclude_name(y, q, NULL))) abort();
  mxs_exclude_free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  const uint8_t *sep = memchr(data, 0, len);
  size_t flen = sep ? (size_t)(sep - data) : len;
  mxs_exclude_t *x = mxs_exclude_new();
  if (!x) abort();
  unsigned long lines = 1;
  for (size_t i = 0; i < flen; i++) lines += data[i] == '\n';
  if (flen > 0) {
    FILE *fp = fmemopen((void *)data, flen, "r");
    if (!fp || mxs_exclude_read(x, fp, "fuzz", NULL, NULL) < 0) abort();
    fclose(fp);
  }
  char *queries = fuzz_strndup(sep ? sep + 1 : data, sep ? len - flen - 1 : 0);
  for (char *save = NULL, *q = strtok_r(queries, "\n", &save); q; q = strtok_r(NULL, "\n", &save)) {
    mxs_exclude_hit_t hit;
    if (mxs_exclude_name(x, q, &hit)) {
      size_t ql = strlen(q), el = strlen(hit.entry);
      int exact = !strcmp(q, hit.entry), under = hit.entry[0] == '.' && ql > el && !strcmp(q + ql - el, hit.entry);
      if ((!exact && !under) || hit.line == 0 || hit.line > lines) abort();
      rematch(&hit, q, 0);
    }
    if (mxs_exclude_addr(x, q, &hit)) {
      if (hit.line == 0 || hit.line > lines) abort();
      rematch(&hit, q, 1);
    }
  }
  free(queries);
  mxs_exclude_free(x);
  return 0;
}
