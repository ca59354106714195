/* explain.h - what each result class means to a postmaster: the plain-
 * language explanation, the likely cause and the fix.
 *
 * Kept beside the class table (classify.h) as one X-macro table with one
 * row per class, in the same order; explain.c checks at compile time that
 * every class has exactly one row in its place, so a class added to
 * MXS_CLASS_TABLE without an explanation does not build.  Used by
 * `mxscan probe` and `mxscan explain`.
 */
#ifndef MXS_EXPLAIN_H
#define MXS_EXPLAIN_H

#include "results/classify.h"

typedef struct {
  const char *what;  /* what happened, in plain language */
  const char *cause; /* the usual reasons for it */
  const char *fix;   /* what the operator of the server should do */
} mxs_explain_t;

/* The row of class C (static storage); NULL when C is not a class. */
const mxs_explain_t *mxs_explain(mxs_class_t c);

#endif
