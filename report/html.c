/* html.c - HTML escaping (see html.h for why every record string goes here). */
#include "report/html.h"

#include <string.h>

size_t mxs_utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  unsigned cp, min;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
    cp = cp << 6 | (s[i] & 0x3F);
  }
  /* overlong forms, UTF-16 surrogates and code points past U+10FFFF are no UTF-8 */
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

void mxs_html_text_max(FILE *fp, const char *s, size_t max) {
  if (!s) return;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t shown = 0; *p; shown++) {
    if (shown == max) {
      fputs("...", fp);
      return;
    }
    size_t n = mxs_utf8_len(p);
    /* bidirectional overrides (U+202A..E, U+2066..9) would let a banner
     * display text in another order than it was sent: replaced too */
    int bidi = n == 3 && p[0] == 0xE2 &&
               ((p[1] == 0x80 && p[2] >= 0xAA && p[2] <= 0xAE) || (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9));
    if (n == 0 || (*p < 0x20 && *p != '\t') || *p == 0x7f || bidi) {
      fputs("\xEF\xBF\xBD", fp); /* U+FFFD: what we will not pass on */
      p += bidi ? 3 : 1;
      continue;
    }
    switch (*p) {
    case '&': fputs("&amp;", fp); break;
    case '<': fputs("&lt;", fp); break;
    case '>': fputs("&gt;", fp); break;
    case '"': fputs("&quot;", fp); break;
    case '\'': fputs("&#39;", fp); break;
    default: fwrite(p, 1, n, fp); break;
    }
    p += n;
  }
}

void mxs_html_text(FILE *fp, const char *s) { mxs_html_text_max(fp, s, (size_t)-1); }
