/* svg_chart.c - inline SVG bar charts (see svg_chart.h). */
#include "report/svg_chart.h"

#include <string.h>

#include "report/html.h"

#define WIDTH   760
#define ROW     22
#define BAR     16
#define LABEL_C 7.0 /* px per label character at the page's 12px font: a fair average */

static size_t chars(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xC0) != 0x80;
  return n;
}

static void open_svg(FILE *fp, const char *cls, const char *title, int h) {
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart %s\" width=\"%d\" height=\"%d\" ", cls, WIDTH,
          h);
  fprintf(fp, "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", WIDTH, h);
  mxs_html_text(fp, title);
  fputs("\"><title>", fp);
  mxs_html_text(fp, title);
  fputs("</title>\n", fp);
}

void mxs_svg_hbars(FILE *fp, const char *cls, const char *title, const mxs_svg_bar_t *bars, size_t n) {
  uint64_t max = 0;
  size_t longest = 4;
  for (size_t i = 0; i < n; i++) {
    if (bars[i].value > max) max = bars[i].value;
    size_t c = chars(bars[i].label);
    if (c > longest) longest = c;
  }
  if (longest > 40) longest = 40; /* longer labels are cut; the tooltip has them whole */
  int left = (int)(longest * LABEL_C) + 12, span = WIDTH - left - 90;
  int h = (int)n * ROW + 8;
  open_svg(fp, cls, title, h);
  for (size_t i = 0; i < n; i++) {
    const mxs_svg_bar_t *b = &bars[i];
    int y = 4 + (int)i * ROW;
    double w = max ? (double)span * (double)b->value / (double)max : 0;
    if (b->value && w < 1) w = 1; /* a nonzero count stays visible */
    fputs("<g class=\"bar\"><title>", fp);
    if (b->tip) {
      mxs_html_text(fp, b->tip);
    } else {
      mxs_html_text(fp, b->label);
      fprintf(fp, ": %llu", (unsigned long long)b->value);
    }
    fprintf(fp, "</title><text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + BAR - 3);
    mxs_html_text_max(fp, b->label, 40);
    fprintf(fp, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", left, y, w, BAR, b->color);
    fprintf(fp, "<text class=\"value\" x=\"%.1f\" y=\"%d\">%llu</text></g>\n", left + w + 5, y + BAR - 3,
            (unsigned long long)b->value);
  }
  fputs("</svg>\n", fp);
}

void mxs_svg_stacked(FILE *fp, const char *cls, const char *title, const char *const *xlabels, size_t nx,
                     const mxs_svg_series_t *series, size_t ns, const uint64_t *values) {
  const int top = 12, plot_h = 220, axis = 56, legend_w = 170;
  uint64_t max = 0, used = 0; /* bit s: series s occurs */
  for (size_t x = 0; x < nx; x++) {
    uint64_t sum = 0;
    for (size_t s = 0; s < ns; s++) {
      sum += values[x * ns + s];
      if (values[x * ns + s] && s < 64) used |= UINT64_C(1) << s;
    }
    if (sum > max) max = sum;
  }
  int plot_w = WIDTH - axis - legend_w - 10, h = top + plot_h + 40;
  double slot = nx ? (double)plot_w / (double)nx : plot_w, colw = slot * 0.7 > 60 ? 60 : slot * 0.7;
  open_svg(fp, cls, title, h);
  /* the value axis: four grid lines */
  for (int k = 0; k <= 4; k++) {
    double y = top + plot_h - plot_h * k / 4.0;
    fprintf(fp, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", axis,
            axis + plot_w, y, y);
    fprintf(fp, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n", axis - 4, y + 4,
            (unsigned long long)(max * (uint64_t)k / 4));
  }
  for (size_t x = 0; x < nx; x++) {
    double cx = axis + slot * (double)x + (slot - colw) / 2, y = top + plot_h;
    fputs("<g class=\"column\">", fp);
    for (size_t s = 0; s < ns; s++) {
      uint64_t v = values[x * ns + s];
      if (!v) continue;
      double sh = max ? plot_h * (double)v / (double)max : 0;
      y -= sh;
      fprintf(fp, "<rect class=\"seg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", cx, y,
              colw, sh, series[s].color);
      mxs_html_text(fp, xlabels[x]);
      fputs(": ", fp);
      mxs_html_text(fp, series[s].name);
      fprintf(fp, " %llu</title></rect>", (unsigned long long)v);
    }
    fprintf(fp, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", cx + colw / 2, top + plot_h + 16);
    mxs_html_text_max(fp, xlabels[x], slot > 110 ? 18 : 10);
    fputs("</text></g>\n", fp);
  }
  int ly = top;
  for (size_t s = 0; s < ns; s++) {
    if (s < 64 && !(used & (UINT64_C(1) << s))) continue;
    int lx = WIDTH - legend_w;
    fprintf(fp, "<g class=\"legend\"><rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", lx, ly,
            series[s].color);
    fprintf(fp, "<text x=\"%d\" y=\"%d\">", lx + 18, ly + 10);
    mxs_html_text(fp, series[s].name);
    fputs("</text></g>\n", fp);
    ly += 18;
  }
  fputs("</svg>\n", fp);
}
