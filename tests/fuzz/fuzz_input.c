/* fuzz_input.c - libFuzzer harness for the domain-list reader.
 *
 * The input is a domain list as a file (queue/input.c reads it through
 * stdio, as it reads a real one).  Checks: every domain returned is a
 * normalised name (at most 253 bytes of lower-case letters, digits, '-',
 * '_' and '.', no empty label, at least one dot) that normalises to
 * itself; every rejected line is reported with a line number inside the
 * file and a shown text without control characters; lines read and
 * rejected add up (a UTF-16 list ends at line 1); read again skipping repeats, it gives the first of each
 * domain in order and counts the rest.  The whole input is also given to
 * mxs_domain_normalize as one name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "queue/input.h"

typedef struct {
  unsigned long errors, last_line;
} seen_t;

static void on_error(void *arg, const char *name, unsigned long lineno, const char *line, const char *why) {
  seen_t *s = arg;
  if (strcmp(name, "fuzz") || !why || !why[0] || lineno == 0 || lineno <= s->last_line) abort();
  if (strlen(line) > 200) abort();
  for (const unsigned char *p = (const unsigned char *)line; *p; p++)
    if (*p < 0x20 || *p == 0x7f) abort();
  s->last_line = lineno;
  s->errors++;
}

static void check_domain(const char *d) {
  size_t n = strlen(d);
  if (n == 0 || n > 253 || !strchr(d, '.') || d[0] == '.' || d[n - 1] == '.' || strstr(d, "..")) abort();
  for (const char *p = d; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')) abort();
  char again[256];
  const char *why = NULL;
  if (mxs_domain_normalize(d, again, sizeof again, &why) != 0 || strcmp(again, d)) abort();
}

/* The list read again skipping repeats: exactly the first of each domain
 * of the plain read (ALL of them), in order, and the rest counted. */
static void check_repeats(const uint8_t *data, size_t len, unsigned long all) {
  enum { MAX = 512 };
  static char firsts[MAX][254];
  size_t nfirst = 0;
  FILE *fp = fmemopen((void *)data, len, "r");
  mxs_input_t *plain = fp ? mxs_input_new(fp, "fuzz", NULL, NULL) : NULL;
  FILE *fp2 = fmemopen((void *)data, len, "r");
  mxs_input_t *dedup = fp2 ? mxs_input_new(fp2, "fuzz", NULL, NULL) : NULL;
  if (!plain || !dedup) abort();
  mxs_input_skip_repeats(dedup, NULL, NULL);
  char name[254], got[254];
  unsigned long given = 0;
  while (mxs_input_next(plain, name, sizeof name, NULL) == 1) {
    size_t i = 0;
    while (i < nfirst && strcmp(firsts[i], name)) i++;
    if (i < nfirst) continue; /* a repeat: the other reader must skip it */
    if (nfirst == MAX) break; /* enough to compare */
    memcpy(firsts[nfirst++], name, sizeof name);
    if (mxs_input_next(dedup, got, sizeof got, NULL) != 1 || strcmp(got, name)) abort();
    given++;
  }
  if (nfirst < MAX && (mxs_input_next(dedup, got, sizeof got, NULL) != 0 || given + mxs_input_repeats(dedup) != all))
    abort();
  mxs_input_free(plain);
  mxs_input_free(dedup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  /* the whole input as one name */
  char *s = fuzz_strndup(data, len), out[256];
  const char *why = NULL;
  if (mxs_domain_normalize(s, out, sizeof out, &why) == 0)
    check_domain(out);
  else if (!why)
    abort();
  free(s);

  /* the input as a list (fmemopen refuses a size of 0) */
  if (len == 0) return 0;
  FILE *fp = fmemopen((void *)data, len, "r");
  if (!fp) abort();
  seen_t seen = {0, 0};
  mxs_input_t *in = mxs_input_new(fp, "fuzz", on_error, &seen);
  if (!in) abort();
  char name[254];
  unsigned long lineno = 0, last = 0, domains = 0;
  int rc;
  while ((rc = mxs_input_next(in, name, sizeof name, &lineno)) == 1) {
    if (lineno <= last) abort();
    last = lineno;
    check_domain(name);
    domains++;
  }
  /* a UTF-16 list ends the read at line 1, with that line reported */
  const char *nl = memchr(data, '\n', len);
  int utf16 = mxs_input_looks_utf16((const char *)data, nl ? (size_t)(nl - (const char *)data) : len);
  if (utf16 ? rc != -EILSEQ || domains || seen.errors != 1 : rc != 0) abort();
  if (mxs_input_rejected(in) != seen.errors || domains + seen.errors > mxs_input_lines(in)) abort();
  mxs_input_free(in); /* closes fp */
  if (!utf16) check_repeats(data, len, domains);
  return 0;
}
