/* replace.h - a file of ours replaced whole: the metrics file, the HTML
 * report, the policy cache.
 *
 * The new contents go to a temporary file beside the old one (mkstemp on
 * the caller's template, so it is on the same file system), are flushed
 * to disk, and only then renamed over it: a reader, or a crash, sees the
 * old file or the new one, never half of either.  The temporary file is
 * made readable by all (0644), as the files it replaces are.
 *
 * Ownership: mxs_replace_open fills R; exactly one of mxs_replace_commit
 * or mxs_replace_abort ends it, and frees what it holds.
 */
#ifndef MXS_RESULTS_REPLACE_H
#define MXS_RESULTS_REPLACE_H

#include <stdio.h>

typedef struct {
  FILE *fp;  /* write the new contents here */
  char *tmp; /* owned: the temporary file's name */
} mxs_replace_t;

/* Creates the temporary file from TEMPLATE (ending in XXXXXX, copied).
 * 0, or -errno (nothing left behind). */
int mxs_replace_open(mxs_replace_t *r, const char *template_);

/* Flushes, syncs and closes the temporary file, then renames it to PATH.
 * 0, or -errno: the temporary file is removed and PATH is as it was. */
int mxs_replace_commit(mxs_replace_t *r, const char *path);

/* Drops the temporary file; PATH is as it was. */
void mxs_replace_abort(mxs_replace_t *r);

#endif
