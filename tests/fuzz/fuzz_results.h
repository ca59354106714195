/* fuzz_results.h - the body of the results-reader harnesses
 * (fuzz_results_jsonl.c, fuzz_results_msgpack.c: the same checks, a seed
 * corpus of each format).
 *
 * The input is a results file, read by results/reader.c from a memfd as
 * `mxscan report`, `diff` and `scan --resume` read one; every record read
 * goes into the report's aggregation (report/), which is then printed in its
 * forms (text, JSON, TLS-RPT) to /dev/null.  Checks the reader's
 * contract: each record has a domain and a class of the contract, the
 * good offset never goes back or past the input, a torn tail lies inside
 * the input after the good offset, and an error comes with a message
 * naming the file.  The two record parsers are also given the input
 * directly (the JSON one a line at a time, in place).
 */
#ifndef MXS_FUZZ_RESULTS_H
#define MXS_FUZZ_RESULTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "fuzz_util.h"
#include "results/reader.h"
#include "results/reader_int.h"

static void fuzz_parsers(const uint8_t *data, size_t len) {
  mxs_read_record_t rec;
  mxs_rd_t d;
  char *copy = fuzz_strndup(data, len), *scratch = malloc(len + 1);
  if (!scratch) abort();
  mxs_rd_begin(&d, &rec);
  long n = mxs_rd_msgpack(&d, data, len, scratch);
  if (n > (long)len || (n < 0 && !d.why[0])) abort();
  if (n > 0 && (!rec.domain || (unsigned)rec.cls >= MXS_CLASS_COUNT)) abort();
  char *nl = memchr(copy, '\n', len);
  mxs_rd_begin(&d, &rec);
  if (mxs_rd_json(&d, copy, nl ? nl : copy + len) == 0 && (!rec.domain || (unsigned)rec.cls >= MXS_CLASS_COUNT))
    abort();
  free(scratch);
  free(copy);
}

static int fuzz_results_file(const uint8_t *data, size_t len) {
  fuzz_parsers(data, len);
  int fd = fuzz_memfd(data, len);
  mxs_reader_t *r;
  char err[256];
  if (mxs_reader_open_fd(fd, "fuzz", &r, err, sizeof err) < 0) abort();
  mxs_report_opts_t o = {.expiring_days = 14, .tlsrpt = 1, .top = 5, .contact = "postmaster@example.test"};
  mxs_report_t *rep = mxs_report_new(&o);
  if (!rep) abort();
  mxs_read_record_t rec;
  uint64_t good = 0, count = 0;
  int rc;
  while ((rc = mxs_reader_next(r, &rec)) == 1) {
    if (!rec.domain || (unsigned)rec.cls >= MXS_CLASS_COUNT || !rec.stage || !rec.detail) abort();
    uint64_t g = mxs_reader_good_offset(r);
    if (g <= good || g > len) abort();
    good = g;
    count++;
    if (mxs_report_add(rep, &rec) < 0) abort();
  }
  if (mxs_reader_count(r) != count) abort();
  if (rc < 0) {
    if (strncmp(mxs_reader_error(r), "fuzz: ", 6) != 0) abort();
    if (mxs_reader_next(r, &rec) != rc) abort(); /* errors are sticky */
  } else {
    uint64_t at, tlen;
    if (mxs_reader_torn(r, &at, &tlen) && (at < good || at + tlen != len || tlen == 0)) abort();
  }
  mxs_report_add_file(rep, "fuzz", count);
  FILE *null = fuzz_devnull();
  mxs_report_print_text(rep, null);
  mxs_report_print_json(rep, null);
  mxs_report_print_tlsrpt(rep, null);
  mxs_report_free(rep);
  mxs_reader_close(r);
  close(fd);
  return 0;
}

#endif
