/* report_html_int.h - what the two halves of the HTML writer share:
 * report_html.c (the page, the run, classes, stages, providers) and
 * report_html_lists.c (the domain tables, certificates, the trend).
 * Not for other users. */
#ifndef MXS_REPORT_HTML_INT_H
#define MXS_REPORT_HTML_INT_H

#include <stdio.h>

#include "report/report_html.h"

/* The stages of the "failures by stage" section, in the order a probe
 * meets them. */
typedef enum { HG_DNS, HG_TCP, HG_SMTP, HG_STARTTLS, HG_TLS, HG_CERT, HG_POST, HG_OK, HG_COUNT } hgroup_t;

hgroup_t mxs_html_group(mxs_class_t c);
const char *mxs_html_group_name(hgroup_t g);
const char *mxs_html_group_color(hgroup_t g);

/* A count as people read it: "12,345". */
void mxs_html_num(FILE *fp, uint64_t n);
/* <td class="num" data-v="N">12,345</td> */
void mxs_html_td_num(FILE *fp, uint64_t n);
/* <td>escaped S</td> */
void mxs_html_td(FILE *fp, const char *s);
/* A share with one decimal: "12.5%" (no cell). */
void mxs_html_pct(FILE *fp, uint64_t n, uint64_t total);

/* How many rows of a domain table to print (opts.rows, 0: all), and the
 * note under a table that was cut. */
size_t mxs_html_rows(const mxs_report_t *r, size_t n);
void mxs_html_cut_note(FILE *fp, size_t shown, size_t n, const char *what);

/* report_html_lists.c */
void mxs_html_failing(mxs_report_t *r, const mxs_rview_t *v, FILE *fp);
void mxs_html_expiring(mxs_report_t *r, const mxs_rview_t *v, FILE *fp);
void mxs_html_trend(mxs_report_t *r, const mxs_trend_t *t, FILE *fp);

#endif
