/* reader_int.h - what the results reader shares with its two parsers.
 *
 * The parsers (reader_json.c, reader_msgpack.c) are pure: bytes in memory
 * to a record, no I/O, so they can be tested and fuzzed alone.  They hand
 * every key they meet to the field table here, which knows the keys the
 * reader keeps and the type each must have.
 */
#ifndef MXS_READER_INT_H
#define MXS_READER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "results/reader.h"

/* Where a key was found: the record map, its "cert" map, its "delivery"
 * map, its "policy" map or that one's "sts" or "dane" map. */
enum { MXS_RD_IN_TOP, MXS_RD_IN_CERT, MXS_RD_IN_DELIVERY, MXS_RD_IN_POLICY, MXS_RD_IN_STS, MXS_RD_IN_DANE };

/* Kept keys.  0 = a key the reader skips (checked, not kept). */
enum {
  MXS_RD_NONE = 0,
  MXS_RD_DOMAIN,
  MXS_RD_CLASS,
  MXS_RD_STAGE,
  MXS_RD_DETAIL,
  MXS_RD_SCANNED_AT,
  MXS_RD_TLSRPT,
  MXS_RD_MX,
  MXS_RD_IP,
  MXS_RD_TLS_VERSION,
  MXS_RD_CIPHER,
  MXS_RD_GROUP,
  MXS_RD_SHA256,
  MXS_RD_NOT_AFTER,
  MXS_RD_SUBJECT_CN,
  MXS_RD_BANNER,
  MXS_RD_DLV_MAY, /* delivery.may .. delivery.mta-sts, in level order */
  MXS_RD_DLV_SECURE = MXS_RD_DLV_MAY + MXS_LEVEL_SECURE,
  MXS_RD_DLV_LAST = MXS_RD_DLV_MAY + MXS_LEVEL_COUNT - 1,
  MXS_RD_STS_TXT_ID, /* policy.sts.* and policy.* */
  MXS_RD_STS_MODE,
  MXS_RD_STS_FETCH_ERROR,
  MXS_RD_STS_INVALID,
  MXS_RD_TLSRPT_ERROR,
  MXS_RD_DANE_MATCHED, /* policy.dane.* */
  MXS_RD_DANE_ERROR,
  MXS_RD_LAST_STR = MXS_RD_DANE_ERROR, /* ids up to here are strings */
  MXS_RD_PREF,
  MXS_RD_PORT,
  MXS_RD_SMTP_CODE,
  MXS_RD_DAYS_LEFT,
  MXS_RD_STS_MAX_AGE,
  MXS_RD_DANE_TLSA_COUNT,
  MXS_RD_LAST_INT = MXS_RD_DANE_TLSA_COUNT, /* then integers */
  MXS_RD_IMPLICIT_MX,                       /* booleans */
  MXS_RD_UNFINISHED,
  MXS_RD_STS_MX_MATCH,
  MXS_RD_DANE_SECURE,
  MXS_RD_DANE_USABLE,
  MXS_RD_DANE_MATCH,
  MXS_RD_LAST_BOOL = MXS_RD_DANE_MATCH,
  MXS_RD_STS_MX, /* arrays of strings */
  MXS_RD_TLSRPT_RUA,
  MXS_RD_DANE_TLSA,
  MXS_RD_LAST_LIST = MXS_RD_DANE_TLSA,
  MXS_RD_CERT, /* maps */
  MXS_RD_DELIVERY,
  MXS_RD_POLICY,
  MXS_RD_STS,
  MXS_RD_DANE,
  MXS_RD_LAST = MXS_RD_DANE,
};

static inline int mxs_rd_is_bool(int id) { return id > MXS_RD_LAST_INT && id <= MXS_RD_LAST_BOOL; }
static inline int mxs_rd_is_list(int id) { return id > MXS_RD_LAST_BOOL && id <= MXS_RD_LAST_LIST; }
/* The scope of the keys of map ID, or -1 when ID is not a map. */
static inline int mxs_rd_map_scope(int id) {
  return id == MXS_RD_CERT       ? MXS_RD_IN_CERT
         : id == MXS_RD_DELIVERY ? MXS_RD_IN_DELIVERY
         : id == MXS_RD_POLICY   ? MXS_RD_IN_POLICY
         : id == MXS_RD_STS      ? MXS_RD_IN_STS
         : id == MXS_RD_DANE     ? MXS_RD_IN_DANE
                                 : -1;
}

/* One record being parsed. */
typedef struct {
  mxs_read_record_t *rec;
  int have_domain, have_class;
  unsigned dlv_given; /* bit l: delivery[l] came from the record */
  char why[160];      /* what is wrong, when a parser fails */
} mxs_rd_t;

/* Clears REC and D for a new record. */
void mxs_rd_begin(mxs_rd_t *d, mxs_read_record_t *rec);
/* The id of key K (N bytes) in SCOPE, or MXS_RD_NONE. */
int mxs_rd_lookup(int scope, const char *k, size_t n);
/* Stores a value of kept key ID.  0, or -1 with d->why set. */
int mxs_rd_set_str(mxs_rd_t *d, int id, const char *s);
void mxs_rd_set_int(mxs_rd_t *d, int id, int64_t v);
/* A map or a boolean of kept key ID: a map is set to 1 when present. */
void mxs_rd_set_bool(mxs_rd_t *d, int id, int v);
/* Appends S to list ID (past MXS_POLICY_MAX_LIST entries: dropped). */
void mxs_rd_add_str(mxs_rd_t *d, int id, const char *s);
/* Says why ID's value has the wrong type; returns -1. */
int mxs_rd_bad_type(mxs_rd_t *d, int scope, int id);
/* Checks the record is complete.  0, or -1 with d->why. */
int mxs_rd_end(mxs_rd_t *d);

/* Parses one JSON Lines record in [p, end) (the line without its newline),
 * decoding strings in place: the record's strings point into it.  0, or
 * -1 with d->why. */
int mxs_rd_json(mxs_rd_t *d, char *p, char *end);

/* Parses one msgpack record from the N bytes at P.  Returns its length in
 * bytes; 0 when the N bytes end before the record does; -1 with d->why
 * when it is not a record.  The record's strings are copied, NUL-ended,
 * into SCRATCH, which must hold N + 1 bytes. */
long mxs_rd_msgpack(mxs_rd_t *d, const unsigned char *p, size_t n, char *scratch);

#endif
