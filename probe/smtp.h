/* smtp.h - SMTP reply framing, EHLO parsing and the EHLO argument we
 * send, no I/O (fuzzable).
 *
 * The reader is fed raw bytes as they arrive and yields one complete reply
 * at a time (RFC 5321 4.2: "ddd-text" continuation lines, "ddd text" or
 * "ddd" last line).  It enforces a maximum line length and a maximum
 * number of lines per reply so a hostile peer cannot grow memory.
 */
#ifndef MXS_SMTP_H
#define MXS_SMTP_H

#include <stddef.h>

#define MXS_SMTP_MAX_LINE  1024 /* bytes incl. CRLF; RFC 5321 says 512 */
#define MXS_SMTP_MAX_LINES 64   /* lines in one reply */

typedef enum {
  MXS_SMTP_NEED_MORE = 0, /* no complete reply yet */
  MXS_SMTP_REPLY = 1,     /* a reply is ready in reader->reply */
  MXS_SMTP_ERR_LINE_TOO_LONG = -1,
  MXS_SMTP_ERR_TOO_MANY_LINES = -2,
  MXS_SMTP_ERR_MALFORMED = -3, /* not "ddd[ -]", or codes differ between lines */
  MXS_SMTP_ERR_NOMEM = -4,     /* the reply store could not grow (added after v1) */
} mxs_smtp_status_t;

typedef struct {
  int code;      /* 200..599 */
  size_t nlines; /* >= 1 */
  char **lines;  /* text after "ddd-"/"ddd ", NUL-terminated, no CRLF; owned by the reader */
} mxs_smtp_reply_t;

typedef struct mxs_smtp_reader_s mxs_smtp_reader_t;

/* Caller frees with mxs_smtp_reader_free. NULL on ENOMEM. */
mxs_smtp_reader_t *mxs_smtp_reader_new(void);
void mxs_smtp_reader_free(mxs_smtp_reader_t *r);

/* Consumes up to LEN bytes of DATA.  Stops as soon as a reply is complete
 * and stores how many bytes were consumed in *used (the rest belongs to
 * the next reply, or - after a 220 to STARTTLS - is an injection).
 * On MXS_SMTP_REPLY, *reply points to storage owned by the reader, valid
 * until the next feed or reset; otherwise *reply is set to NULL.  USED and
 * REPLY may be NULL.  Splitting the input into feeds of any size, down to
 * one byte, gives the same replies, errors and byte counts.
 *
 * Framing rules: a line ends at LF, and any CRs right before it are dropped
 * (bare-LF servers exist).  A line is "ddd-text" (more lines follow),
 * "ddd text" or "ddd" (last line), with ddd in 200..599 and the same on
 * every line of a reply.  A NUL byte anywhere, a bad code or separator, or
 * an empty line is MALFORMED as soon as the offending byte arrives.  A line
 * of more than MXS_SMTP_MAX_LINE bytes counting its CRLF is LINE_TOO_LONG
 * without waiting for its end; a continuation on line MXS_SMTP_MAX_LINES is
 * TOO_MANY_LINES.  On an error *used counts the bytes up to and including
 * the offending one.  An error status is sticky until reset (*used = 0).
 * Memory: about 2 KiB per reader plus the reply text, which never exceeds
 * MXS_SMTP_MAX_LINES * MXS_SMTP_MAX_LINE bytes and is reused between
 * replies. */
mxs_smtp_status_t mxs_smtp_reader_feed(mxs_smtp_reader_t *r, const char *data, size_t len, size_t *used,
                                       const mxs_smtp_reply_t **reply);

/* Forgets any partial input, the last reply and a sticky error. */
void mxs_smtp_reader_reset(mxs_smtp_reader_t *r);

/* Raw bytes consumed of an incomplete reply (to tell "partial greeting"
 * from none); 0 right after a complete reply. */
size_t mxs_smtp_reader_buffered(const mxs_smtp_reader_t *r);

/* Human-readable message for a status (static string, never NULL). */
const char *mxs_smtp_strerror(mxs_smtp_status_t s);

/* EHLO: the extension lines are reply lines 2..n (line 1 is the greeting
 * domain).  Returns 1 if keyword KW (case-insensitive, matched as a whole
 * word at the start of a line, after optional blanks, and ending at a blank
 * or the end of the line) is advertised: "starttls " matches STARTTLS,
 * "STARTTLSX" does not. */
int mxs_smtp_ehlo_has(const mxs_smtp_reply_t *ehlo, const char *kw);

/* Renders REPLY for a record's detail as the code followed by the text of
 * every non-empty line, each after one space: "421 4.7.0 Try again later"
 * or, multi-line, "554 5.7.1 Blocked see https://...".  Multi-line rejects
 * often put the reason on the first line and a URL on the last, so all
 * lines are kept.  At most OUTLEN-1 bytes, always NUL-terminated (when
 * OUTLEN > 0); a cut summary ends in "..."; bytes outside printable ASCII
 * (controls, UTF-8) become '?'.  A NULL REPLY gives "". */
void mxs_smtp_reply_summary(const mxs_smtp_reply_t *reply, char *out, size_t outlen);

/* The EHLO (and HELO) argument mxscan sends.  RFC 5321 4.1.1.1: a Domain
 * (sub-domain *("." sub-domain), a sub-domain being letters, digits and
 * hyphens that start and end with a letter or digit) or an address
 * literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").  Anything else ("bad
 * name", "my_host", a name with a trailing dot) would be sent as is and
 * rejected by the receivers, so a run's records would describe our EHLO,
 * not their TLS. */
/* 0 when NAME is a Domain or an address literal, else -1 with *why set
 * to a static reason ("invalid character ' ' ..."). */
int mxs_ehlo_name_check(const char *name, const char **why);

/* 1 when NAME (already checked) is fully qualified: an address literal or
 * a domain of two labels or more.  Many receivers refuse a single label
 * (Postfix reject_non_fqdn_helo_hostname). */
int mxs_ehlo_name_is_fqdn(const char *name);

#endif
