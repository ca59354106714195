/* report_html.h - `mxscan report --html`: one self-contained HTML page.
 *
 * No external script, style, font or image: the styles and a small sort
 * script are inline (a Content-Security-Policy in the page allows nothing
 * else, so not even a string that escaped escaping could run), the charts
 * are inline SVG (svg_chart.h), and every string from a record goes
 * through mxs_html_text() (html.h).
 */
#ifndef MXS_REPORT_HTML_H
#define MXS_REPORT_HTML_H

#include <stdio.h>

#include "report/report_int.h"
#include "report/report_run.h"
#include "report/report_trend.h"

/* Writes the page for the last run R (read with opts.html), the earlier
 * runs in T (at least the last one is added here) and what RI knows of the
 * last run (RI->source NULL: nothing).  LABEL names the last run.  0 or
 * negative (ENOMEM, a write error). */
int mxs_report_print_html(mxs_report_t *r, mxs_trend_t *t, const mxs_run_info_t *ri, const char *label, FILE *fp);

#endif
