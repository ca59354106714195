/* input.h - streaming reader of the domain list.
 *
 * Reads one domain per line from a FILE (a file or stdin) without loading
 * the list: the caller pulls the next valid domain when the pipeline has
 * room.  Blank lines and '#' comments (whole-line, or after whitespace) are
 * skipped.  Each domain is normalised to lower-case IDNA A-label form with
 * no trailing dot; a line that is not a valid domain name is reported
 * through the error callback with its line number and skipped.
 *
 * Line rules: LF or CRLF endings; surrounding blanks ignored; a UTF-8 BOM
 * before line 1 ignored; "example.com  # note" is fine, "example.com foo"
 * is rejected ("unexpected text after domain"), "example.com#x" is rejected
 * ('#' inside the name).  At most 4096 bytes of a line are kept: a longer
 * line is skipped as it streams ("line too long"), so memory stays bounded
 * whatever the input.  A line with a NUL byte is rejected.
 */
#ifndef MXS_INPUT_H
#define MXS_INPUT_H

#include <stddef.h>
#include <stdio.h>

#include "queue/seen.h"

typedef struct mxs_input_s mxs_input_t;

/* Called for each rejected line: NAME is the input's name (e.g. "-" or the
 * path), LINENO 1-based, LINE the raw text (without newline, truncated to a
 * sane length), WHY a short reason such as "label longer than 63 bytes". */
typedef void (*mxs_input_error_cb)(void *arg, const char *name, unsigned long lineno, const char *line,
                                   const char *why);

/* Takes ownership of FP (closed by mxs_input_free unless it is stdin).
 * NAME is copied (NULL means "-"); ERR_CB may be NULL.  Returns NULL on
 * ENOMEM or a NULL FP, and then FP still belongs to the caller. */
mxs_input_t *mxs_input_new(FILE *fp, const char *name, mxs_input_error_cb err_cb, void *arg);
void mxs_input_free(mxs_input_t *in);

/* Next valid domain: returns 1 and copies it (NUL-terminated, <= 253 bytes)
 * into OUT (at least 254 bytes), 0 at end of input, or a negative errno on a
 * read error (-EINVAL if OUTLEN < 254; -EILSEQ, after line 1 was reported,
 * for a list in UTF-16, whose every line would be rejected).  Rejected lines are reported through
 * the callback, counted and skipped: they never end the read.  Sets *lineno
 * to the domain's line when non-NULL. */
int mxs_input_next(mxs_input_t *in, char *out, size_t outlen, unsigned long *lineno);

/* Normalises one domain name into OUT (>= 254 bytes).  Returns 0, or -1 with
 * *why set to a static reason.  Pure; used by mxs_input_next and tests.
 *
 * Steps: one trailing dot is dropped; ASCII is lower-cased; a name with
 * non-ASCII UTF-8 goes through libidn2 (UTS #46 nontransitional, NFC, with
 * a transitional retry) to A-labels: "BÜCHER.example" -> "xn--bcher-kva.example";
 * invalid UTF-8 is rejected.  The result must then have: at most 253 bytes,
 * labels of 1..63 bytes (no leading dot, no ".."), letters, digits, '-' and
 * '_' only, no label starting or ending with '-', at least two labels
 * ("localhost" and "com" are not mail domains), and a last label that is
 * not all digits (so no IPv4 address).  '_' is allowed, as Postfix allows
 * it, because real zones hold such names and resolving them is harmless.
 * "[192.0.2.1]" and IPv6 addresses are rejected as address literals. */
int mxs_domain_normalize(const char *in, char *out, size_t outlen, const char **why);

/* Called for each line whose domain (DOMAIN, normalised) an earlier line
 * of the input already gave: NAME and LINENO as for the error callback. */
typedef void (*mxs_input_repeat_cb)(void *arg, const char *name, unsigned long lineno, const char *domain);

/* From now on a domain given before ("Example.COM." after "example.com",
 * "bücher.example" after "xn--bcher-kva.example") is skipped, counted and
 * reported through CB (may be NULL): one record per domain, whatever the
 * list repeats.  Costs 8 to 16 bytes per distinct domain (seen.h). */
void mxs_input_skip_repeats(mxs_input_t *in, mxs_input_repeat_cb cb, void *arg);

/* Lines skipped as repeats so far. */
unsigned long mxs_input_repeats(const mxs_input_t *in);

/* The message for the NTH repeat (1-based) on ERR: a line each for the
 * first MXS_INPUT_REPEATS_SHOWN, then one saying the rest are only counted
 * (a list that repeats half its 10M lines must not bury the errors). */
#define MXS_INPUT_REPEATS_SHOWN 10
void mxs_input_print_repeat(FILE *err, const char *name, unsigned long lineno, const char *domain, unsigned long nth);

/* 1 when LINE (N bytes, the first line of a list) is UTF-16: a byte-order
 * mark, or printable ASCII with NUL bytes between.  mxs_input_next then
 * reports line 1 and returns -EILSEQ. */
int mxs_input_looks_utf16(const char *line, size_t n);

/* Lines read and lines rejected so far. */
unsigned long mxs_input_lines(const mxs_input_t *in);
unsigned long mxs_input_rejected(const mxs_input_t *in);

/* How far into a regular file the reader is, 0..1 (for an ETA).  0, or -1
 * when the input is a pipe or its size is unknown. */
int mxs_input_progress(const mxs_input_t *in, double *fraction);

#endif
