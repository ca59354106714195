/* input.c - streaming, bounded reader of the domain list.
 *
 * Lines are read a byte at a time from stdio's buffer (getc_unlocked), so a
 * pipe yields a domain as soon as its line arrives, NUL bytes are seen, and
 * a line longer than MXS_INPUT_MAX_LINE is discarded as it streams past
 * instead of being loaded: memory stays at one line buffer per reader.
 */
#include "queue/input.h"

#include <errno.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#define MXS_INPUT_MAX_LINE 4096 /* bytes kept of a line; more is an error */
#define MXS_INPUT_SHOW     200  /* bytes of a bad line shown in errors */
#define MXS_NAME_MAX       253  /* RFC 1035 2.3.4, in text form */
#define MXS_LABEL_MAX      63
#define BAD_CHAR           "invalid character (letters, digits, '-', '_' and '.' only)"

struct mxs_input_s {
  FILE *fp;
  char *name;
  mxs_input_error_cb err_cb;
  void *arg;
  unsigned long lineno, rejected;
  int dedupe;      /* mxs_input_skip_repeats() was called */
  mxs_seen_t seen; /* the domains given so far */
  unsigned long repeats;
  mxs_input_repeat_cb repeat_cb;
  void *repeat_arg;
  char line[MXS_INPUT_MAX_LINE + 1];
};

mxs_input_t *mxs_input_new(FILE *fp, const char *name, mxs_input_error_cb err_cb, void *arg) {
  if (fp == NULL) return NULL;
  mxs_input_t *in = calloc(1, sizeof *in);
  if (in == NULL) return NULL;
  in->name = strdup(name != NULL ? name : "-");
  if (in->name == NULL) {
    free(in);
    return NULL;
  }
  in->fp = fp;
  in->err_cb = err_cb;
  in->arg = arg;
  return in;
}

void mxs_input_skip_repeats(mxs_input_t *in, mxs_input_repeat_cb cb, void *arg) {
  if (!in->dedupe) mxs_seen_init(&in->seen);
  in->dedupe = 1;
  in->repeat_cb = cb;
  in->repeat_arg = arg;
}

unsigned long mxs_input_repeats(const mxs_input_t *in) { return in->repeats; }

void mxs_input_print_repeat(FILE *err, const char *name, unsigned long lineno, const char *domain, unsigned long nth) {
  if (nth <= MXS_INPUT_REPEATS_SHOWN)
    fprintf(err, "mxscan: %s:%lu: %s again, given by an earlier line (skipped: one record per domain)\n", name, lineno,
            domain);
  else if (nth == MXS_INPUT_REPEATS_SHOWN + 1)
    fprintf(err, "mxscan: %s: more repeated domains are skipped without a line each (the summary counts them)\n", name);
}

void mxs_input_free(mxs_input_t *in) {
  if (in == NULL) return;
  if (in->dedupe) mxs_seen_free(&in->seen);
  if (in->fp != stdin) fclose(in->fp);
  free(in->name);
  free(in);
}

unsigned long mxs_input_lines(const mxs_input_t *in) { return in->lineno; }
unsigned long mxs_input_rejected(const mxs_input_t *in) { return in->rejected; }

int mxs_input_progress(const mxs_input_t *in, double *fraction) {
  struct stat st;
  int fd = fileno(in->fp);
  off_t pos = ftello(in->fp);
  if (fd < 0 || pos < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return -1;
  *fraction = (double)pos / (double)st.st_size;
  return 0;
}

/* Decodes one UTF-8 sequence of S (N bytes available): its length, or 0 if
 * it is invalid (truncated, overlong, surrogate, above U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  size_t len;
  uint32_t c = s[0];
  if (c < 0x80)
    len = 1;
  else if ((c & 0xe0) == 0xc0)
    len = 2, c &= 0x1f;
  else if ((c & 0xf0) == 0xe0)
    len = 3, c &= 0x0f;
  else if ((c & 0xf8) == 0xf0)
    len = 4, c &= 0x07;
  else
    return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  *cp = c;
  return len;
}

static int utf8_valid(const char *s, size_t n) {
  uint32_t cp;
  for (size_t i = 0, k; i < n; i += k)
    if ((k = utf8_decode((const unsigned char *)s + i, n - i, &cp)) == 0) return 0;
  return 1;
}

/* Copies S (N bytes) into OUT (MXS_INPUT_SHOW + 1 bytes) for an error
 * message, cut to MXS_INPUT_SHOW bytes ending in "..." if longer.  Valid
 * UTF-8 is kept so "bücher..example" reads as typed, but control
 * characters (C0, DEL, C1) and invalid bytes become '?' so a hostile list
 * cannot drive the operator's terminal.  Output never outgrows input. */
static void printable_copy(const char *s, size_t n, char *out) {
  size_t o = 0, i = 0, limit = n <= MXS_INPUT_SHOW ? n : MXS_INPUT_SHOW - 3;
  while (i < n) {
    uint32_t cp = 0;
    size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
    int bad = k == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
    size_t w = bad ? 1 : k;
    if (o + w > limit) break;
    if (bad)
      out[o] = '?';
    else
      memcpy(out + o, s + i, k);
    o += w;
    i += k == 0 ? 1 : k;
  }
  if (i < n) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* ---- domain names ------------------------------------------------------ */

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int is_ldh(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

static int is_hex_or(int c, const char *also) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c && strchr(also, c));
}

/* The common paste errors get reasons of their own, each saying what the
 * line is instead of only which byte is wrong: a list exported from a
 * mail database or a spreadsheet holds addresses, URLs, "host:port" and
 * CSV rows far more often than names with a stray byte.  Address
 * literals ("[192.0.2.1]") and IPv6 addresses are not domains either
 * (RFC 5321 4.1.3). */
static const char *paste_reason(const char *s, size_t len) {
  if (s[0] == '[') return "address literal, not a domain";
  if (memmem(s, len, "://", 3) != NULL) return "a URL, not a domain (give only its host name)";
  if (memchr(s, '@', len) != NULL) return "an email address, not a domain (give the part after '@')";
  const char *colon = memchr(s, ':', len);
  if (colon != NULL) {
    size_t port = strspn(colon + 1, "0123456789");
    if (port > 0 && port <= 5 && colon + 1 + port == s + len)
      return "a host:port, not a domain (give the name without the port)";
    size_t i = 0, colons = 0;
    for (; i < len && is_hex_or((unsigned char)s[i], ":."); i++) colons += s[i] == ':';
    return i == len && colons >= 2 ? "IPv6 address, not a domain" : "':' in the name";
  }
  if (memchr(s, ',', len) != NULL || memchr(s, ';', len) != NULL)
    return "',' or ';' in the name: the input is one domain per line, not CSV";
  if (len >= 2 && s[0] == '*' && s[1] == '.') return "a wildcard, not a domain (give the domain itself)";
  return NULL;
}

/* Checks one lower-case ASCII name (no trailing dot). */
static const char *check_ascii(const char *s, size_t len) {
  size_t labels = 0, start = 0, last = 0;
  if (len == 0) return "empty name";
  if (len > MXS_NAME_MAX) return "name longer than 253 bytes";
  for (size_t i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') {
      if (!is_ldh((unsigned char)s[i])) return BAD_CHAR;
      continue;
    }
    size_t n = i - start;
    if (n == 0) return start == 0 ? "leading dot" : "empty label (\"..\")";
    if (n > MXS_LABEL_MAX) return "label longer than 63 bytes";
    if (s[start] == '-' || s[i - 1] == '-') return "label starts or ends with '-'";
    labels++;
    last = start;
    start = i + 1;
  }
  if (labels < 2) return "single-label name (no dot), not a mail domain";
  if (strspn(s + last, "0123456789") == len - last)
    return labels == 4 && strspn(s, "0123456789.") == len ? "IPv4 address, not a domain"
                                                          : "all-numeric top-level label";
  return NULL;
}

/* UTS #46 mapping (includes lower-casing and NFC) to an A-label name.
 * Nontransitional first (IDNA2008: "faß" stays ß), as browsers and MTAs now
 * do; transitional only if that refuses the name. */
static const char *to_alabel(const char *in, char *out, size_t outlen) {
  char *res = NULL;
  int rc = idn2_to_ascii_8z(in, &res, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    int rc2 = idn2_to_ascii_8z(in, &res, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
    /* Report the first refusal; idn2_strerror's strings are static. */
    if (rc2 != IDN2_OK && rc == IDN2_TOO_BIG_DOMAIN) return "name longer than 253 bytes";
    if (rc2 != IDN2_OK && rc == IDN2_TOO_BIG_LABEL) return "label longer than 63 bytes";
    if (rc2 != IDN2_OK) return idn2_strerror(rc);
  }
  const char *why = NULL;
  if (strlen(res) >= outlen)
    why = "name longer than 253 bytes";
  else
    strcpy(out, res);
  idn2_free(res);
  return why;
}

/* Maps IN (LEN bytes of valid UTF-8) to a lower-case ASCII name in TMP
 * (TMPLEN bytes). */
static const char *map_name(const char *in, size_t len, char *tmp, size_t tmplen) {
  int ascii = 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c >= 0x80) ascii = 0;
    /* ASCII outside LDH is refused before libidn2, whose reasons for a
     * space or a control byte ("A-label roundtrip failed") mislead. */
    else if (c != '.' && !is_ldh(ascii_lower(c)))
      return BAD_CHAR;
  }
  if (ascii) {
    if (len >= tmplen) return "name longer than 253 bytes";
    memcpy(tmp, in, len);
    tmp[len] = '\0';
  } else {
    /* idn2 wants a NUL-terminated string without the trailing dot. */
    char *u = strndup(in, len);
    const char *w = u == NULL ? "out of memory" : to_alabel(u, tmp, tmplen);
    free(u);
    if (w != NULL) return w;
  }
  for (char *p = tmp; *p != '\0'; p++) *p = (char)ascii_lower((unsigned char)*p);
  return NULL;
}

/* The whole normalisation into TMP (MXS_NAME_MAX + 2 bytes). */
static const char *normalize(const char *in, char *tmp) {
  size_t len = in != NULL ? strlen(in) : 0;
  const char *w;
  if (len > 0 && in[len - 1] == '.') len--; /* the root: "example.com." */
  if (len == 0) return "empty name";
  /* Bounds libidn2's work; no name this long can map to 253 bytes. */
  if (len > 4 * (MXS_NAME_MAX + 1)) return "name longer than 253 bytes";
  if ((w = paste_reason(in, len)) != NULL) return w;
  if (!utf8_valid(in, len)) return "invalid UTF-8";
  if ((w = map_name(in, len, tmp, MXS_NAME_MAX + 2)) != NULL) return w;
  return check_ascii(tmp, strlen(tmp));
}

int mxs_domain_normalize(const char *in, char *out, size_t outlen, const char **why) {
  char tmp[MXS_NAME_MAX + 2];
  const char *w = normalize(in, tmp);
  if (w == NULL && strlen(tmp) >= outlen) w = "output buffer too small";
  if (w != NULL) {
    if (why != NULL) *why = w;
    return -1;
  }
  strcpy(out, tmp);
  return 0;
}

/* ---- lines --------------------------------------------------------------- */

/* Reads one line into in->line.  Returns its length (>= 0), -1 at end of
 * input, or -2 on a read error.  *TOO_LONG is set when bytes were dropped;
 * *HAS_NUL when the kept part holds a NUL byte. */
static long read_line(mxs_input_t *in, int *too_long, int *has_nul) {
  size_t n = 0;
  int c, any = 0;
  *too_long = *has_nul = 0;
  while ((c = getc_unlocked(in->fp)) != EOF) {
    any = 1;
    if (c == '\n') break;
    if (n < MXS_INPUT_MAX_LINE) {
      in->line[n++] = (char)c;
      *has_nul |= c == '\0';
    } else {
      *too_long = 1;
    }
  }
  in->line[n] = '\0';
  if (c == EOF && ferror(in->fp)) return -2;
  if (!any) return -1;
  return (long)n;
}

static void reject(mxs_input_t *in, size_t len, const char *why) {
  char shown[MXS_INPUT_SHOW + 1];
  in->rejected++;
  if (in->err_cb == NULL) return;
  printable_copy(in->line, len, shown);
  in->err_cb(in->arg, in->name, in->lineno, shown, why);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Parses in->line (LEN bytes): 1 with the domain in OUT, 0 for a line to
 * skip (blank, comment or rejected). */
static int parse_line(mxs_input_t *in, size_t len, char *out, size_t outlen) {
  char *s = in->line, *end;
  const char *why = NULL;
  while (len > 0 && s[len - 1] == '\r') len--; /* CRLF files; the raw line too */
  /* A UTF-8 byte-order mark that Windows editors put before line 1. */
  if (in->lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) s += 3;
  while (is_space(*s)) s++;
  if (*s == '\0' || *s == '#') return 0;
  for (end = s; *end != '\0' && !is_space(*end); end++) {
  }
  char *rest = end;
  while (is_space(*rest)) rest++;
  if (*rest != '\0' && *rest != '#')
    why = "unexpected text after domain";
  else {
    char saved = *end; /* cut the token out in place, then restore the raw line */
    *end = '\0';
    int ok = mxs_domain_normalize(s, out, outlen, &why) == 0;
    *end = saved;
    if (ok) return 1;
  }
  reject(in, len, why);
  return 0;
}

static int is_print(unsigned char c) { return c > 0x20 && c < 0x7f; }

/* A list saved as UTF-16 (a Windows editor's "Unicode"): its byte-order
 * mark, or two printable ASCII characters each with a NUL byte beside it
 * (LE or BE).  Every line of it would be rejected for its NUL bytes, so it
 * is refused as a whole at line 1. */
int mxs_input_looks_utf16(const char *line, size_t n) {
  const unsigned char *s = (const unsigned char *)line;
  if (n >= 2 && ((s[0] == 0xff && s[1] == 0xfe) || (s[0] == 0xfe && s[1] == 0xff))) return 1;
  return n >= 4 &&
         ((is_print(s[0]) && !s[1] && is_print(s[2]) && !s[3]) || (!s[0] && is_print(s[1]) && !s[2] && is_print(s[3])));
}

int mxs_input_next(mxs_input_t *in, char *out, size_t outlen, unsigned long *lineno) {
  if (in == NULL || out == NULL || outlen < MXS_NAME_MAX + 1) return -EINVAL;
  for (;;) {
    int too_long, has_nul;
    long n = read_line(in, &too_long, &has_nul);
    if (n == -2) return errno != 0 ? -errno : -EIO;
    if (n == -1) return 0;
    in->lineno++;
    if (in->lineno == 1 && mxs_input_looks_utf16(in->line, (size_t)n)) {
      reject(in, (size_t)n, "the list is UTF-16, not UTF-8 or ASCII: convert it (iconv -f UTF-16 -t UTF-8)");
      return -EILSEQ;
    }
    if (too_long)
      reject(in, (size_t)n, "line too long (over 4096 bytes)");
    else if (has_nul)
      reject(in, (size_t)n, "NUL byte in line");
    else if (parse_line(in, (size_t)n, out, outlen)) {
      /* out of memory (-1) keeps the domain: a repeat scanned twice beats a domain lost */
      if (in->dedupe && mxs_seen_add(&in->seen, out, strlen(out)) == 0) {
        in->repeats++;
        if (in->repeat_cb) in->repeat_cb(in->repeat_arg, in->name, in->lineno, out);
        continue;
      }
      if (lineno != NULL) *lineno = in->lineno;
      return 1;
    }
  }
}
