/* reader.h - streams the records of a results file back in.
 *
 * Reads what the file exporters write (shared/spec/results.md): a msgpack
 * file (a plain concatenation of record maps) or JSON Lines, told apart by
 * the first byte, from a path or standard input ("-").  One record at a
 * time, in bounded memory, so a report over millions of records never
 * holds the file.
 *
 * A file cut short by a crash mid-write ends in a torn record: that is not
 * an error: next() returns 0, mxs_reader_torn() says where it starts, and
 * mxs_reader_good_offset() is the length a resumed run truncates the file
 * to (the end of the last complete record).
 * Anything else that is not a record -- a file of neither format, a
 * corrupt record in the middle -- is an error naming the file, the record
 * number and the byte offset.
 */
#ifndef MXS_READER_H
#define MXS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "results/classify.h"
#include "results/delivery.h"
#include "results/policy.h"

typedef enum {
  MXS_RESULTS_UNKNOWN = 0, /* nothing read yet, or an empty file */
  MXS_RESULTS_JSONL,
  MXS_RESULTS_MSGPACK,
} mxs_results_format_t;

/* The fields of a record that reading tools use.  Every string is
 * NUL-terminated and borrowed from the reader: valid until the next
 * mxs_reader_next() or mxs_reader_close().  Other fields of the record are
 * checked for well-formedness and skipped. */
typedef struct {
  const char *domain;     /* always */
  mxs_class_t cls;        /* always, a class of the contract */
  const char *stage;      /* "" when absent */
  const char *detail;     /* "" when absent */
  const char *scanned_at; /* "" when absent */
  const char *tlsrpt;     /* "" when absent */
  const char *mx;         /* NULL: no MX known */
  int64_t pref;
  int implicit_mx;
  int unfinished; /* "unfinished": true (the run ended before the probe) */
  const char *ip; /* NULL: no address known */
  int64_t port;
  int64_t smtp_code;       /* 0: none */
  const char *tls_version; /* NULL: no handshake */
  const char *cipher;
  const char *group;
  int has_cert;            /* a "cert" map was present */
  const char *cert_sha256; /* NULL when absent */
  const char *cert_not_after;
  const char *cert_subject_cn;
  int64_t cert_days_left; /* INT64_MAX when absent */
  const char *banner;     /* NULL when absent: the server's greeting, its own words */
  int has_delivery;       /* a "delivery" map was present (records of mxscan before it wrote one have none) */
  /* What a sender does with the mail at each level: the record's
   * `delivery` values, or, for a record written before mxscan wrote them,
   * what its class alone decides (at `dane` and `mta-sts`: its policy
   * fields; MXS_OUTCOME_UNKNOWN where they do not). */
  mxs_outcome_t delivery[MXS_LEVELS_COMPUTED];
  /* the `policy` map (results/policy.h); the lists keep their first
   * MXS_POLICY_MAX_LIST entries */
  int has_policy;              /* a "policy" map was present */
  int has_sts;                 /* ... with an "sts" map */
  const char *sts_txt_id;      /* NULL when absent */
  const char *sts_mode;        /* NULL: no policy was read */
  int64_t sts_max_age;         /* -1 when absent */
  int sts_mx_match;            /* -1 when absent */
  const char *sts_fetch_error; /* NULL when absent */
  const char *sts_invalid;     /* NULL when absent */
  const char *sts_mx[MXS_POLICY_MAX_LIST];
  size_t sts_nmx;
  const char *tlsrpt_rua[MXS_POLICY_MAX_LIST];
  size_t ntlsrpt_rua;
  const char *tlsrpt_error; /* NULL when absent */
  /* policy.dane (DANE, RFC 7672; results/policy.h) */
  int has_dane;            /* a "dane" map was present */
  int dane_secure;         /* -1 when absent, else 0/1 */
  int64_t dane_tlsa_count; /* -1 when absent */
  const char *dane_tlsa[MXS_POLICY_MAX_LIST];
  size_t ndane_tlsa;
  int dane_usable;          /* -1 when absent */
  int dane_match;           /* -1 when absent */
  const char *dane_matched; /* NULL when absent */
  const char *dane_error;   /* NULL when absent */
} mxs_read_record_t;

typedef struct mxs_reader_s mxs_reader_t;

/* Opens PATH ("-": standard input) for reading.  0 and *out (the caller
 * closes it), or -errno with a message naming the file in err. */
int mxs_reader_open(const char *path, mxs_reader_t **out, char *err, size_t errlen);

/* Opens an already open descriptor (not closed by the reader); NAME is used
 * in messages. */
int mxs_reader_open_fd(int fd, const char *name, mxs_reader_t **out, char *err, size_t errlen);

/* Reads the next record into *rec.  1: a record; 0: the end of the input
 * (check mxs_reader_torn()); negative: an error, described by
 * mxs_reader_error() (-EBADMSG for input that is not records, -EIO and
 * other -errno for read failures, -ENOMEM).  After an error the reader
 * yields nothing more. */
int mxs_reader_next(mxs_reader_t *r, mxs_read_record_t *rec);

/* The last error: "FILE: record N at byte OFFSET: what went wrong". */
const char *mxs_reader_error(const mxs_reader_t *r);

mxs_results_format_t mxs_reader_format(const mxs_reader_t *r);

/* Complete records read so far. */
uint64_t mxs_reader_count(const mxs_reader_t *r);

/* Byte offset just past the last complete record (and, for JSON Lines,
 * its newline): the length a crashed file should be truncated to. */
uint64_t mxs_reader_good_offset(const mxs_reader_t *r);

/* After next() returned 0: 1 when the input ended in a torn record, with
 * the offset where it starts and its length; 0 otherwise.  (Truncate to
 * mxs_reader_good_offset(), which may be before it: blank lines.)  A
 * JSON Lines record without its newline counts as torn: the writer always
 * ends a record with one, so it stopped mid-record. */
int mxs_reader_torn(const mxs_reader_t *r, uint64_t *offset, uint64_t *len);

/* Closes R (NULL is fine). */
void mxs_reader_close(mxs_reader_t *r);

#endif
