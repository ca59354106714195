/* policy.h - the domain's own TLS policies in the record, and their texts.
 *
 * A domain may tell senders how strict to be: MTA-STS (RFC 8461: a TXT
 * record at _mta-sts.DOMAIN and a policy file over HTTPS), DANE (RFC 7672:
 * TLSA records) and where to send reports of failures, TLS-RPT (RFC 8460:
 * a TXT record at _smtp._tls.DOMAIN).  This header holds, all pure and
 * free of I/O so that they can be tested and fuzzed alone:
 *   - the parsers of the three texts (the two TXT records, the policy file)
 *     and the MX pattern match of RFC 8461 section 4.1;
 *   - the view of a domain's policies that a record carries (the `policy`
 *     map of the contract), borrowed like everything in a record;
 *   - mxs_policy_apply(): what the policy makes of one probe's class.
 * policy/ (the fetcher) fills the views; scanner/ attaches them to records.
 */
#ifndef MXS_POLICY_H
#define MXS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "results/classify.h"

/* RFC 8461 section 3.3: a policy is at most 64 KiB. */
#define MXS_STS_MAX_POLICY ((size_t)64 * 1024)
/* The id of an STS TXT record: 1 to 32 letters and digits. */
#define MXS_STS_ID_MAX 32
/* More rua URIs or mx lines than this are not kept (none seen in practice). */
#define MXS_POLICY_MAX_LIST 64

/* ---- MTA-STS --------------------------------------------------------- */

typedef enum { MXS_STS_MODE_UNSET = 0, MXS_STS_ENFORCE, MXS_STS_TESTING, MXS_STS_NONE } mxs_sts_mode_t;

/* "enforce", "testing", "none"; NULL for MXS_STS_MODE_UNSET. */
const char *mxs_sts_mode_name(mxs_sts_mode_t m);

/* The outcome of the _mta-sts TXT lookup's records (RFC 8461 section 3.1):
 * records not beginning with "v=STSv1" are not STS records and are
 * ignored; exactly one must remain, and be valid. */
typedef enum {
  MXS_STS_TXT_NONE = 0, /* no STS record: the domain has no MTA-STS */
  MXS_STS_TXT_OK,       /* one valid record: id is set */
  MXS_STS_TXT_INVALID,  /* one STS record that does not parse, or several: why says */
} mxs_sts_txt_t;

/* Looks at the N TXT records RECS (record i is LENS[i] bytes, its strings
 * already joined; NUL bytes possible).  Writes the id (NUL-ended) into ID
 * for MXS_STS_TXT_OK, the reason into WHY for MXS_STS_TXT_INVALID. */
mxs_sts_txt_t mxs_sts_txt_pick(const char *const *recs, const size_t *lens, size_t n, char id[MXS_STS_ID_MAX + 1],
                               char *why, size_t whylen);

/* A parsed policy file.  mx patterns are lower-case copies, owned. */
typedef struct {
  mxs_sts_mode_t mode;
  int64_t max_age;
  char **mx;
  size_t nmx;
} mxs_sts_policy_t;

/* Parses the policy text TEXT (LEN bytes, not NUL-ended) per RFC 8461
 * section 3.2: LF or CRLF lines of "key: value"; version STSv1, mode and
 * max_age required, mx required unless mode is none; unknown keys ignored;
 * a key given twice (mx apart) keeps its first value.  0 and *OUT (free it
 * with mxs_sts_policy_free), or -1 with the reason in WHY ("line 3: ..."),
 * *OUT zeroed.  -ENOMEM-free: an allocation failure is a -1 too. */
int mxs_sts_policy_parse(const char *text, size_t len, mxs_sts_policy_t *out, char *why, size_t whylen);
void mxs_sts_policy_free(mxs_sts_policy_t *p);

/* RFC 8461 section 4.1: does MX host HOST match PATTERN?  Case-insensitive,
 * a trailing dot ignored; "*.example.com" matches exactly one more label
 * on the left ("mx.example.com", not "example.com" nor "a.b.example.com"). */
int mxs_sts_mx_match(const char *pattern, const char *host);
/* Whether HOST matches any of the N patterns. */
int mxs_sts_mx_match_any(const char *const *patterns, size_t n, const char *host);

/* ---- TLS-RPT --------------------------------------------------------- */

typedef enum {
  MXS_TLSRPT_NONE = 0, /* no v=TLSRPTv1 record */
  MXS_TLSRPT_OK,       /* one valid record: the rua URIs */
  MXS_TLSRPT_INVALID,  /* one that does not parse, or several */
} mxs_tlsrpt_txt_t;

/* RFC 8460 section 3, as mxs_sts_txt_pick: for MXS_TLSRPT_OK, *RUA is an
 * array of *NRUA NUL-ended URIs (mailto: or https:) in one allocation the
 * caller frees with free(*RUA). */
mxs_tlsrpt_txt_t mxs_tlsrpt_txt_pick(const char *const *recs, const size_t *lens, size_t n, char ***rua, size_t *nrua,
                                     char *why, size_t whylen);

/* ---- the record's view ------------------------------------------------ */

/* policy.sts: present when the domain publishes an STS TXT record (valid or
 * not) or its lookup failed.  Strings borrowed. */
typedef struct {
  const char *txt_id;      /* NULL: no single valid record */
  mxs_sts_mode_t mode;     /* UNSET: no valid policy */
  int64_t max_age;         /* with a mode */
  const char *const *mx;   /* with a mode: the patterns */
  size_t nmx;              /* with a mode */
  int mx_match;            /* with a mode and an MX: 1 or 0; else -1 */
  const char *fetch_error; /* the TXT lookup or the HTTPS fetch failed: why */
  const char *invalid;     /* the TXT record(s) or the policy text are invalid: why */
  int64_t cached_at;       /* the policy came from --policy-cache, fetched then
                            * (Unix seconds): `cached_at`; 0: fetched in this run */
} mxs_sts_view_t;

/* policy.dane: DANE (RFC 7672) for this record's MX host, present with
 * --dnssec for every record that names an MX host.  A sender applies DANE
 * when `secure` (the MX answer, the host's address answers and its TLSA
 * answer all validated) and the TLSA RRset has records. */
typedef struct {
  int looked_up;           /* the TLSA records were asked for: the MX and the
                            * host's addresses are DNSSEC-secure (RFC 7672 2.2) */
  int secure;              /* ... and the TLSA answer (records or denial) is too */
  size_t tlsa_count;       /* TLSA records at _25._tcp.MX (with looked_up) */
  const char *const *tlsa; /* their presentation form, "3 1 1 <hex>" (tlsa_count of them) */
  int usable;              /* some record has usage DANE-TA(2) or DANE-EE(3) with a
                            * known selector and matching type (RFC 7672 3.1.3:
                            * PKIX-TA(0), PKIX-EE(1) are unusable for SMTP) */
  int match;               /* the certificate matched a usable record (with the
                            * name checks of 3.2 for DANE-TA): 1 or 0; -1 when not
                            * evaluated (no handshake, or nothing usable) */
  const char *matched;     /* "3 1 1": the record that matched; NULL */
  const char *error;       /* the TLSA lookup failed (SERVFAIL: bogus, timeout ...): why; NULL */
  const char *mismatch;    /* match == 0: OpenSSL's reason ("no matching DANE TLSA
                            * records"); not a field of its own: the record's
                            * detail carries it (results/dane.h) */
  int required;            /* the sender requires DANE (--require-dane): not a field
                            * either, it changes the class (dane-required) */
} mxs_dane_view_t;

/* The `policy` map of a record: what checking the domain's policies found.
 * A record carries it only when there is something in it. */
typedef struct {
  const mxs_sts_view_t *sts; /* NULL: no MTA-STS record */
  /* DANE's view (`dane`, below: last, so positional initializers of the
   * fields above stay valid) is per MX host, encoded between sts and the
   * TLS-RPT fields; its classes (dnssec-invalid, dane-required,
   * tlsa-invalid) come each before its MTA-STS counterpart: a sender that
   * does DANE applies it where an MX has usable TLSA records (RFC 8461
   * section 2). */
  const char *const *tlsrpt_rua; /* the TLS-RPT rua URIs, NULL: none */
  size_t ntlsrpt_rua;            /* how many */
  const char *tlsrpt_error;      /* the TLS-RPT record is invalid, or its lookup failed: why */
  const mxs_dane_view_t *dane;   /* NULL: not checked (no --dnssec, or no MX host) */
} mxs_policy_view_t;

/* Whether P has anything to write. */
int mxs_policy_view_empty(const mxs_policy_view_t *p);

/* What policy P makes of a probe with class *CLS and certificate problems
 * CERT_ERRORS: a policy class when P's failure comes first in contract
 * order (a fetch error or an invalid policy; under enforce an MX the policy
 * does not list, or a certificate not valid under WebPKI).  When the class
 * changes, *DETAIL is pointed at BUF, which gets the reason, with the
 * probe's own detail after it for a certificate failure.  Else nothing
 * changes. */
void mxs_policy_apply(const mxs_policy_view_t *p, mxs_class_t *cls, mxs_class_set_t cert_errors, const char **detail,
                      char *buf, size_t buflen);

#endif
