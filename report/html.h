/* html.h - writing HTML that is safe to open in a browser.
 *
 * Everything a report shows from a record was chosen by someone else: a
 * DNS zone (domain and MX names), a remote server (banners, replies,
 * certificate names).  Every such string reaches the page through
 * mxs_html_text(), which escapes the five characters that could end a text
 * node or an attribute value and replaces what is not valid UTF-8 or is a
 * control character, so no record can add markup, scripts or attributes.
 * Stateless; the caller owns FP.
 */
#ifndef MXS_HTML_H
#define MXS_HTML_H

#include <stddef.h>
#include <stdio.h>

/* S as HTML text, safe in element content and in a quoted attribute value
 * (& < > " ' are entities; bytes that are not UTF-8 and control characters
 * but tab become U+FFFD).  NULL writes nothing. */
void mxs_html_text(FILE *fp, const char *s);

/* The same for at most MAX characters of S, then "..." when it was longer. */
void mxs_html_text_max(FILE *fp, const char *s, size_t max);

/* The length of the valid UTF-8 sequence at S (1 to 4), or 0 when the byte
 * at S does not start one.  S is NUL-terminated. */
size_t mxs_utf8_len(const unsigned char *s);

#endif
