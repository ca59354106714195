/* resume.h - continue a run that was killed, from what its output holds.
 *
 * A scan writes each domain's records together (scan.c), so the output of a
 * run killed at any point - SIGKILL, a power cut - is a sequence of whole
 * domains, then at most one partial domain and a torn record.  Resuming
 * keeps every complete domain, drops the last one (it may be partial) and
 * any domain with an "unfinished" record, rewrites the file to hold exactly
 * the kept domains, and tells the scan which domains to skip.  The final
 * file then holds the same records an uninterrupted run would have.
 */
#ifndef MXS_RESUME_H
#define MXS_RESUME_H

#include <stdint.h>
#include <stdio.h>

#include "queue/table.h"
#include "scanner/stats.h"

typedef struct {
  mxs_table_t done; /* domain -> non-NULL: complete in the file */
  uint64_t kept_domains, kept_records;
  uint64_t dropped_domains, dropped_records;
} mxs_resume_t;

/* Reads PATH, rewrites it to its complete domains, fills R and adds the
 * kept records to STATS.  FORMAT ("jsonl"/"msgpack") must be the file's.
 * A missing or empty file is a fresh start.  0, or -1 after printing why
 * to ERR (a file that is not results, or of the other format). */
int mxs_resume_prepare(const char *path, const char *format, mxs_resume_t *r, mxs_stats_t *stats, FILE *err);

/* 1 when DOMAIN is complete in the file: skip it. */
int mxs_resume_has(const mxs_resume_t *r, const char *domain);

void mxs_resume_free(mxs_resume_t *r);

#endif
