/* svg_chart.h - the charts of `mxscan report --html`, drawn as inline SVG.
 *
 * No script and no library: each call writes one complete <svg> element
 * whose marks carry <title> tooltips and whose labels are real <text>, so
 * the chart reads without the page's script and a test can read it back.
 * Labels go through mxs_html_text() (html.h): they may come from records.
 * The caller owns every argument; nothing is kept between calls.
 */
#ifndef MXS_SVG_CHART_H
#define MXS_SVG_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char *label; /* left of the bar */
  uint64_t value;    /* its length, printed at its end */
  const char *color; /* a CSS color we chose ("#2e7d32"), never record text */
  const char *tip;   /* tooltip; NULL: "label: value" */
} mxs_svg_bar_t;

/* A horizontal bar chart, one row per bar, in the order given.  CLASS is
 * added to the svg's class list (e.g. "classes"), TITLE is its accessible
 * name. */
void mxs_svg_hbars(FILE *fp, const char *cls, const char *title, const mxs_svg_bar_t *bars, size_t n);

typedef struct {
  const char *name;  /* legend text */
  const char *color; /* as above */
} mxs_svg_series_t;

/* Stacked columns: one column per X label (e.g. a run), one segment per
 * series, VALUES[x * NS + s]; a legend of the series that occur. */
void mxs_svg_stacked(FILE *fp, const char *cls, const char *title, const char *const *xlabels, size_t nx,
                     const mxs_svg_series_t *series, size_t ns, const uint64_t *values);

#endif
