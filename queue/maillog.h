/* maillog.h - which recipient domains had a delivery fail on TLS, read from
 * the log lines of a sending Postfix or Exim (`mxscan maillog`).
 *
 * A pure parser of outside input: one log line in, at most one recipient
 * domain out through a callback.  No I/O, and no allocation after
 * mxs_maillog_new(), so it can be fuzzed; the caller reads the files (plain
 * or gzip) and keeps the domains.  Any bytes are safe: a line that is no
 * Postfix or Exim log line is MXS_ML_MALFORMED, never an error.
 *
 * What counts as a TLS failure of a delivery (README "Mail logs as input",
 * with the log lines real Postfix 3.7 and Exim 4.96 write):
 *  - Postfix: a `status=deferred` or `status=bounced` line whose reason is
 *    a TLS failure ("Cannot start TLS: handshake failure", "TLS is required,
 *    but was not offered by host ...", "... refused to start TLS: ...",
 *    "Server certificate not verified|trusted", "lost connection with ...
 *    while performing the TLS handshake", with or without "delivery
 *    temporarily suspended: "); and any status line of a delivery whose
 *    smtp process logged such a failure for the same queue id just before
 *    without a recipient (Postfix then tries another MX host, or, at `may`,
 *    the same one in the clear); and a session that died after "... TLS
 *    connection established to HOST" ("lost connection with HOST while
 *    ...", seen only with smtp_tls_loglevel >= 1).
 *  - Exim: a `==` (deferred) or `**` (bounced) line with errno -37 or -38
 *    (ERRNO_TLSFAILURE, ERRNO_TLSREQUIRED) or a TLS reason; a `=>` / `->`
 *    line after "TLS session...: delivering unencrypted to H=... [ADDR]"
 *    for the same message and address; a `=>` line without X= (no TLS)
 *    after "H=... [ADDR] TLS error on connection" (with X= the mail went
 *    over TLS and the error was a harmless close).
 * Failures of the sender's own TLS setup ("our TLS engine is unavailable",
 * "client TLS configuration problem") are no fault of the recipient's and
 * are not reported.
 *
 * State: the lines that prepare a failure are remembered per smtp process
 * (Postfix: host, program and pid) or per message and address (Exim) in a
 * fixed table; a key that collides with another overwrites it, so memory
 * stays bounded whatever the log.
 */
#ifndef MXS_MAILLOG_H
#define MXS_MAILLOG_H

#include <stddef.h>

typedef enum {
  MXS_ML_OTHER,     /* a log line that reports no failed delivery (most lines) */
  MXS_ML_MATCH,     /* a delivery failed on TLS: the callback got the recipient's domain */
  MXS_ML_MALFORMED, /* no Postfix or Exim log line, or a failure line missing its parts */
} mxs_ml_kind_t;

typedef struct {
  const char *domain; /* lower-case, no trailing dot; borrowed until the next line */
  const char *mta;    /* "postfix" or "exim" */
  int deferred;       /* 1: deferred or bounced; 0: then delivered in the clear */
} mxs_ml_failure_t;

typedef void (*mxs_ml_fn)(void *arg, const mxs_ml_failure_t *f);

typedef struct mxs_maillog_s mxs_maillog_t;

/* A parser with empty state; NULL on ENOMEM.  The caller frees it. */
mxs_maillog_t *mxs_maillog_new(void);
void mxs_maillog_free(mxs_maillog_t *p);

/* Parses one line of LEN bytes (without its newline; a trailing CR is
 * ignored; any bytes, NUL included).  On MXS_ML_MATCH, FN was called once
 * with ARG. */
mxs_ml_kind_t mxs_maillog_line(mxs_maillog_t *p, const char *line, size_t len, mxs_ml_fn fn, void *arg);

#endif
