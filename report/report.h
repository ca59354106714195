/* report.h - what `mxscan report` and `mxscan diff` share: reading result
 * files, an arena for the strings they keep, aligned text tables and JSON
 * helpers.  Nothing here is part of the scan.
 */
#ifndef MXS_REPORT_H
#define MXS_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "queue/table.h"
#include "results/classify.h"
#include "results/encoders.h"
#include "results/reader.h"

/* Exit statuses of report and diff (README "Reports and diffs"). */
#define MXS_REPORT_EXIT_OK    0
#define MXS_REPORT_EXIT_INPUT 1 /* an input could not be read */
#define MXS_REPORT_EXIT_USAGE 2

/* ---- arena: many small allocations freed at once ------------------------ */

typedef struct mxs_arena_chunk_s mxs_arena_chunk_t;
typedef struct {
  mxs_arena_chunk_t *head; /* owned */
} mxs_arena_t;

void mxs_arena_init(mxs_arena_t *a);
/* N zeroed bytes, aligned for any type, or NULL on ENOMEM. */
void *mxs_arena_alloc(mxs_arena_t *a, size_t n);
/* A copy of S (NULL stays NULL; on ENOMEM, NULL too: check when S was not). */
char *mxs_arena_strdup(mxs_arena_t *a, const char *s);
/* printf into the arena; NULL on ENOMEM. */
char *mxs_arena_printf(mxs_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mxs_arena_free(mxs_arena_t *a);

/* ---- progress on a terminal --------------------------------------------- */

/* One line on FP, redrawn in place at most a few times a second, for long
 * reads (report, diff, collect).  Only when FP is a terminal: in a cron
 * log or a pipe nothing at all is written.  No state beyond the struct. */
typedef struct {
  FILE *fp;
  int on;           /* FP is a terminal */
  int drawn;        /* a line is on the screen */
  uint64_t next_ms; /* monotonic time of the next redraw */
} mxs_progress_t;

void mxs_progress_init(mxs_progress_t *p, FILE *fp);
/* Redraws the line (printf format) unless it was redrawn less than 250 ms
 * ago; the first call always draws. */
void mxs_progress_show(mxs_progress_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the line, so what follows starts on a clean one. */
void mxs_progress_end(mxs_progress_t *p);

/* ---- reading ------------------------------------------------------------ */

/* Called for each record; a negative return stops the read with that code. */
typedef int (*mxs_record_fn)(void *arg, const mxs_read_record_t *rec);

/* Feeds every record of PATH ("-": stdin) to FN.  A torn last record is a
 * warning on ERR, not an error.  0, or negative after printing a message
 * that names the file (and the record and byte offset) on ERR.  When ERR
 * is a terminal, shows the bytes read of the file's size meanwhile. */
int mxs_report_read(const char *path, mxs_record_fn fn, void *arg, uint64_t *nrecords, FILE *err);

/* The values of T as an array sorted by CMP (qsort over void *); the
 * caller frees it.  NULL on ENOMEM. */
void **mxs_report_table_values(const mxs_table_t *t, int (*cmp)(const void *, const void *));
/* A CMP for values that are structs whose first member is `const char *name`. */
int mxs_report_cmp_name(const void *a, const void *b);

/* A domain's class: ok only when every record is ok, else the first
 * failing class in contract order (the rule of the scan's own table). */
mxs_class_t mxs_domain_class(mxs_class_set_t seen);

/* ---- text tables ---------------------------------------------------------- */

/* Rows of cells, printed with every column as wide as its widest cell.
 * Cells are borrowed: keep them alive (e.g. in the arena) until printed. */
typedef struct {
  size_t ncol;
  unsigned right;     /* bit i: right-align column i (numbers) */
  const char **cells; /* owned array, nrows * ncol */
  size_t nrows, cap;
} mxs_tab_t;

void mxs_tab_init(mxs_tab_t *t, size_t ncol, unsigned right);
/* Appends a row of t->ncol cells (NULL prints as ""); 0 or -ENOMEM. */
int mxs_tab_row(mxs_tab_t *t, const char *const *cells);
/* Prints the rows indented by two spaces; the first row is the header. */
void mxs_tab_print(const mxs_tab_t *t, FILE *fp);
void mxs_tab_free(mxs_tab_t *t);

/* ---- JSON output through the record encoder ------------------------------ */

/* {"total": N, "classes": {name: count, ...}} in contract order, nonzero only. */
void mxs_j_class_counts(mxs_encoder_t *e, const uint64_t *counts, uint64_t total);
/* Writes the encoded document and a newline to FP; 0 or -errno. */
int mxs_json_emit(mxs_json_encoder_t *j, FILE *fp);

/* ---- the commands' parts --------------------------------------------------- */

typedef struct mxs_report_s mxs_report_t;

typedef struct {
  int expiring_days;   /* certificates with days_left <= this are listed */
  int tlsrpt;          /* keep what --tlsrpt needs */
  size_t top;          /* text: rows of the long tables (0: all) */
  const char *contact; /* TLS-RPT contact-info */
  int html;            /* keep what --html needs: why each domain fails, failing domains per provider */
  size_t rows;         /* --html: rows of the domain tables (0: all) */
} mxs_report_opts_t;

/* report_agg.c: the aggregation.  new returns NULL on ENOMEM. */
mxs_report_t *mxs_report_new(const mxs_report_opts_t *o);
void mxs_report_free(mxs_report_t *r);
int mxs_report_add(void *report, const mxs_read_record_t *rec); /* an mxs_record_fn */
/* Records that a file was read (for headings). */
int mxs_report_add_file(mxs_report_t *r, const char *path, uint64_t nrecords);

/* report_out.c: the three outputs.  0 or negative (ENOMEM, write error). */
int mxs_report_print_text(mxs_report_t *r, FILE *fp);
int mxs_report_print_json(mxs_report_t *r, FILE *fp);
int mxs_report_print_tlsrpt(mxs_report_t *r, FILE *fp);

#endif
