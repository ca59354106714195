/* reader.c - the results reader: buffering, format detection, torn tails,
 * and the table of the keys it keeps.
 *
 * The file is read in large chunks into one buffer; a record is parsed only
 * once it lies whole in the buffer, so the parsers never see a partial read
 * and a record's strings can point into the buffer (JSON) or a scratch area
 * as large as the buffer (msgpack) until the next call.  The buffer grows
 * only for a record longer than a chunk, up to MAX_RECORD: past that the
 * input is not a results file, and we say so instead of eating memory.
 */
#include "results/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/dane.h"
#include "results/reader_int.h"

#define CHUNK      ((size_t)1 << 20)
#define MAX_RECORD ((size_t)16 << 20) /* records are a few KiB; 16 MiB is garbage */

struct mxs_reader_s {
  int fd, own_fd;
  char *name;         /* owned */
  unsigned char *buf; /* owned; bytes [pos, end) are unread */
  char *scratch;      /* owned; cap + 1 bytes, msgpack strings */
  size_t cap, pos, end;
  size_t searched; /* JSON Lines: bytes after pos known to hold no newline */
  uint64_t base;   /* file offset of buf[0] */
  int eof, failed;
  mxs_results_format_t fmt;
  uint64_t count, good;
  int torn;
  uint64_t torn_at, torn_len;
  char err[400];
};

/* ---- the kept keys ------------------------------------------------------ */

static const char *const field_names[] = {
    [MXS_RD_DOMAIN] = "domain",
    [MXS_RD_CLASS] = "class",
    [MXS_RD_STAGE] = "stage",
    [MXS_RD_DETAIL] = "detail",
    [MXS_RD_SCANNED_AT] = "scanned_at",
    [MXS_RD_TLSRPT] = "tlsrpt",
    [MXS_RD_MX] = "mx",
    [MXS_RD_IP] = "ip",
    [MXS_RD_TLS_VERSION] = "tls_version",
    [MXS_RD_CIPHER] = "cipher",
    [MXS_RD_GROUP] = "group",
    [MXS_RD_SHA256] = "sha256",
    [MXS_RD_NOT_AFTER] = "not_after",
    [MXS_RD_SUBJECT_CN] = "subject_cn",
    [MXS_RD_PREF] = "pref",
    [MXS_RD_PORT] = "port",
    [MXS_RD_SMTP_CODE] = "smtp_code",
    [MXS_RD_DAYS_LEFT] = "days_left",
    [MXS_RD_IMPLICIT_MX] = "implicit_mx",
    [MXS_RD_UNFINISHED] = "unfinished",
    [MXS_RD_CERT] = "cert",
    [MXS_RD_BANNER] = "banner",
    [MXS_RD_DLV_MAY] = "may",
    [MXS_RD_DLV_MAY + 1] = "encrypt",
    [MXS_RD_DLV_MAY + 2] = "verify",
    [MXS_RD_DLV_SECURE] = "secure",
    [MXS_RD_DLV_SECURE + 1] = "dane",
    [MXS_RD_DLV_LAST] = "mta-sts",
    [MXS_RD_DELIVERY] = "delivery",
    [MXS_RD_STS_TXT_ID] = "txt_id",
    [MXS_RD_STS_MODE] = "mode",
    [MXS_RD_STS_FETCH_ERROR] = "fetch_error",
    [MXS_RD_STS_INVALID] = "invalid",
    [MXS_RD_TLSRPT_ERROR] = "tlsrpt_error",
    [MXS_RD_STS_MAX_AGE] = "max_age",
    [MXS_RD_STS_MX_MATCH] = "mx_match",
    [MXS_RD_STS_MX] = "mx",
    [MXS_RD_TLSRPT_RUA] = "tlsrpt_rua",
    [MXS_RD_POLICY] = "policy",
    [MXS_RD_STS] = "sts",
    [MXS_RD_DANE_MATCHED] = "matched",
    [MXS_RD_DANE_ERROR] = "error",
    [MXS_RD_DANE_TLSA_COUNT] = "tlsa_count",
    [MXS_RD_DANE_SECURE] = "secure",
    [MXS_RD_DANE_USABLE] = "usable",
    [MXS_RD_DANE_MATCH] = "match",
    [MXS_RD_DANE_TLSA] = "tlsa",
    [MXS_RD_DANE] = "dane",
};

static const unsigned char field_scope[] = {
    [MXS_RD_SHA256] = MXS_RD_IN_CERT,
    [MXS_RD_NOT_AFTER] = MXS_RD_IN_CERT,
    [MXS_RD_SUBJECT_CN] = MXS_RD_IN_CERT,
    [MXS_RD_DAYS_LEFT] = MXS_RD_IN_CERT,
    [MXS_RD_CERT] = MXS_RD_IN_TOP, /* the rest are 0 == MXS_RD_IN_TOP too */
    [MXS_RD_DLV_MAY] = MXS_RD_IN_DELIVERY,
    [MXS_RD_DLV_MAY + 1] = MXS_RD_IN_DELIVERY,
    [MXS_RD_DLV_MAY + 2] = MXS_RD_IN_DELIVERY,
    [MXS_RD_DLV_SECURE] = MXS_RD_IN_DELIVERY,
    [MXS_RD_DLV_SECURE + 1] = MXS_RD_IN_DELIVERY,
    [MXS_RD_DLV_LAST] = MXS_RD_IN_DELIVERY,
    [MXS_RD_STS_TXT_ID] = MXS_RD_IN_STS,
    [MXS_RD_STS_MODE] = MXS_RD_IN_STS,
    [MXS_RD_STS_FETCH_ERROR] = MXS_RD_IN_STS,
    [MXS_RD_STS_INVALID] = MXS_RD_IN_STS,
    [MXS_RD_STS_MAX_AGE] = MXS_RD_IN_STS,
    [MXS_RD_STS_MX_MATCH] = MXS_RD_IN_STS,
    [MXS_RD_STS_MX] = MXS_RD_IN_STS,
    [MXS_RD_TLSRPT_ERROR] = MXS_RD_IN_POLICY,
    [MXS_RD_TLSRPT_RUA] = MXS_RD_IN_POLICY,
    [MXS_RD_STS] = MXS_RD_IN_POLICY,
    [MXS_RD_DANE_MATCHED] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_ERROR] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_TLSA_COUNT] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_SECURE] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_USABLE] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_MATCH] = MXS_RD_IN_DANE,
    [MXS_RD_DANE_TLSA] = MXS_RD_IN_DANE,
    [MXS_RD_DANE] = MXS_RD_IN_POLICY,
};
_Static_assert(MXS_RD_DLV_SECURE - MXS_RD_DLV_MAY == MXS_LEVEL_SECURE - MXS_LEVEL_MAY &&
                   MXS_RD_DLV_LAST - MXS_RD_DLV_MAY == MXS_LEVEL_MTA_STS - MXS_LEVEL_MAY,
               "one key per level");

/* Called for every key of every record, so the common path is a length
 * and first-byte compare before one memcmp. */
int mxs_rd_lookup(int scope, const char *k, size_t n) {
  if (n == 0) return MXS_RD_NONE;
  for (int id = MXS_RD_DOMAIN; id <= MXS_RD_LAST; id++) {
    const char *f = field_names[id];
    if (f[0] == k[0] && field_scope[id] == scope && strlen(f) == n && memcmp(f, k, n) == 0) return id;
  }
  return MXS_RD_NONE;
}

void mxs_rd_begin(mxs_rd_t *d, mxs_read_record_t *rec) {
  *rec = (mxs_read_record_t){.stage = "",
                             .detail = "",
                             .scanned_at = "",
                             .tlsrpt = "",
                             .cert_days_left = INT64_MAX,
                             .sts_max_age = -1,
                             .dane_secure = -1,
                             .dane_tlsa_count = -1,
                             .dane_usable = -1,
                             .dane_match = -1,
                             .sts_mx_match = -1};
  d->dlv_given = 0;
  d->rec = rec;
  d->have_domain = d->have_class = 0;
  d->why[0] = '\0';
}

int mxs_rd_set_str(mxs_rd_t *d, int id, const char *s) {
  mxs_read_record_t *r = d->rec;
  switch (id) {
  case MXS_RD_DOMAIN:
    r->domain = s;
    d->have_domain = 1;
    return 0;
  case MXS_RD_CLASS: {
    int c = mxs_class_from_name(s);
    if (c < 0) {
      /* the name goes into a message for a terminal: printable ASCII only */
      char shown[61];
      size_t i = 0;
      for (; s[i] && i < sizeof shown - 1; i++) shown[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
      shown[i] = '\0';
      snprintf(d->why, sizeof d->why, "unknown class '%s'", shown);
      return -1;
    }
    r->cls = (mxs_class_t)c;
    d->have_class = 1;
    return 0;
  }
  case MXS_RD_STAGE: r->stage = s; return 0;
  case MXS_RD_DETAIL: r->detail = s; return 0;
  case MXS_RD_SCANNED_AT: r->scanned_at = s; return 0;
  case MXS_RD_TLSRPT: r->tlsrpt = s; return 0;
  case MXS_RD_MX: r->mx = s; return 0;
  case MXS_RD_IP: r->ip = s; return 0;
  case MXS_RD_TLS_VERSION: r->tls_version = s; return 0;
  case MXS_RD_CIPHER: r->cipher = s; return 0;
  case MXS_RD_GROUP: r->group = s; return 0;
  case MXS_RD_SHA256: r->cert_sha256 = s; return 0;
  case MXS_RD_NOT_AFTER: r->cert_not_after = s; return 0;
  case MXS_RD_SUBJECT_CN: r->cert_subject_cn = s; return 0;
  case MXS_RD_STS_TXT_ID: r->sts_txt_id = s; return 0;
  case MXS_RD_STS_MODE: r->sts_mode = s; return 0;
  case MXS_RD_STS_FETCH_ERROR: r->sts_fetch_error = s; return 0;
  case MXS_RD_STS_INVALID: r->sts_invalid = s; return 0;
  case MXS_RD_DANE_MATCHED: r->dane_matched = s; return 0;
  case MXS_RD_DANE_ERROR: r->dane_error = s; return 0;
  case MXS_RD_TLSRPT_ERROR: r->tlsrpt_error = s; return 0;
  case MXS_RD_BANNER: r->banner = s; return 0;
  default:
    if (id >= MXS_RD_DLV_MAY && id <= MXS_RD_DLV_LAST) {
      /* an outcome this reader does not know reads as unknown, not as an error */
      r->delivery[id - MXS_RD_DLV_MAY] = mxs_outcome_from_name(s);
      d->dlv_given |= 1u << (id - MXS_RD_DLV_MAY);
    }
    return 0;
  }
}

void mxs_rd_set_int(mxs_rd_t *d, int id, int64_t v) {
  mxs_read_record_t *r = d->rec;
  switch (id) {
  case MXS_RD_PREF: r->pref = v; break;
  case MXS_RD_PORT: r->port = v; break;
  case MXS_RD_SMTP_CODE: r->smtp_code = v; break;
  case MXS_RD_DAYS_LEFT: r->cert_days_left = v; break;
  case MXS_RD_STS_MAX_AGE: r->sts_max_age = v; break;
  case MXS_RD_DANE_TLSA_COUNT: r->dane_tlsa_count = v; break;
  default: break;
  }
}

void mxs_rd_add_str(mxs_rd_t *d, int id, const char *s) {
  mxs_read_record_t *r = d->rec;
  if (id == MXS_RD_STS_MX && r->sts_nmx < MXS_POLICY_MAX_LIST)
    r->sts_mx[r->sts_nmx++] = s;
  else if (id == MXS_RD_DANE_TLSA && r->ndane_tlsa < MXS_POLICY_MAX_LIST)
    r->dane_tlsa[r->ndane_tlsa++] = s;
  else if (id == MXS_RD_TLSRPT_RUA && r->ntlsrpt_rua < MXS_POLICY_MAX_LIST)
    r->tlsrpt_rua[r->ntlsrpt_rua++] = s;
}

void mxs_rd_set_bool(mxs_rd_t *d, int id, int v) {
  if (id == MXS_RD_IMPLICIT_MX)
    d->rec->implicit_mx = v;
  else if (id == MXS_RD_UNFINISHED)
    d->rec->unfinished = v;
  else if (id == MXS_RD_CERT)
    d->rec->has_cert = v;
  else if (id == MXS_RD_STS_MX_MATCH)
    d->rec->sts_mx_match = v;
  else if (id == MXS_RD_DELIVERY)
    d->rec->has_delivery = v;
  else if (id == MXS_RD_POLICY)
    d->rec->has_policy = v;
  else if (id == MXS_RD_STS)
    d->rec->has_sts = v;
  else if (id == MXS_RD_DANE)
    d->rec->has_dane = v;
  else if (id == MXS_RD_DANE_SECURE)
    d->rec->dane_secure = v;
  else if (id == MXS_RD_DANE_USABLE)
    d->rec->dane_usable = v;
  else if (id == MXS_RD_DANE_MATCH)
    d->rec->dane_match = v;
}

int mxs_rd_bad_type(mxs_rd_t *d, int scope, int id) {
  const char *want = id <= MXS_RD_LAST_STR   ? "a string"
                     : id <= MXS_RD_LAST_INT ? "an integer"
                     : mxs_rd_is_bool(id)    ? "a boolean"
                     : mxs_rd_is_list(id)    ? "an array of strings"
                                             : "a map";
  static const char *const prefix[] = {"", "cert.", "delivery.", "policy.", "policy.sts.", "policy.dane."};
  snprintf(d->why, sizeof d->why, "'%s%s' is not %s", scope >= 0 && scope <= MXS_RD_IN_DANE ? prefix[scope] : "",
           field_names[id], want);
  return -1;
}

/* The `dane` and `mta-sts` outcomes a record does not state (an mxscan
 * before them wrote it): from its policy fields where it has them, as
 * mxscan computes them (results/delivery.h); without them only a class
 * that defers at every level decides. */
static void policy_levels(mxs_rd_t *d) {
  mxs_read_record_t *r = d->rec;
  mxs_dane_view_t dv;
  mxs_delivery_policy_t p = {.dane = mxs_dane_read_view(r, &dv) ? &dv : NULL,
                             .sts = -1,
                             .sts_mx_match = -1,
                             .tls_done = r->tls_version != NULL};
  /* an unfinished record's policy.sts may be what a lookup cut short had */
  if (!r->has_sts || r->unfinished) {
    /* no policy.sts: not checked, or none published: the record cannot say */
  } else if (r->sts_mode && !strcmp(r->sts_mode, "enforce") && !r->sts_fetch_error && !r->sts_invalid) {
    p.sts = 1;
    p.sts_mx_match = r->sts_mx_match;
  } else {
    p.sts = 0;
  }
  mxs_outcome_t out[MXS_LEVEL_COUNT];
  memcpy(out, r->delivery, sizeof out);
  mxs_delivery_policy_levels(r->cls, &p, out);
  for (int l = MXS_LEVELS_TLS; l < MXS_LEVEL_COUNT; l++)
    if (!(d->dlv_given & (1u << l))) r->delivery[l] = out[l];
}

int mxs_rd_end(mxs_rd_t *d) {
  if (d->have_domain && d->have_class) {
    /* levels the record does not state: what its class alone says */
    for (int l = 0; l < MXS_LEVELS_TLS; l++)
      if (!(d->dlv_given & (1u << l))) d->rec->delivery[l] = mxs_delivery_of((mxs_level_t)l, d->rec->cls, 0, -1);
    policy_levels(d);
    return 0;
  }
  snprintf(d->why, sizeof d->why, "not a results record: no '%s'", d->have_domain ? "class" : "domain");
  return -1;
}

/* ---- buffering --------------------------------------------------------- */

static int fail(mxs_reader_t *r, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(r->err, sizeof r->err, "%s: ", r->name);
  if (n > 0 && (size_t)n < sizeof r->err) vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
  va_end(ap);
  r->failed = rc;
  return rc;
}

/* Makes room and reads once: moves the unread bytes to the front (the
 * caller is done with the previous record), grows the buffer when they
 * fill it.  0 (r->eof set at the end of input) or -errno. */
static int fill(mxs_reader_t *r) {
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->end - r->pos);
    r->base += r->pos;
    r->end -= r->pos;
    r->pos = 0;
  }
  if (r->end == r->cap) {
    size_t cap = r->cap * 2;
    unsigned char *nb = realloc(r->buf, cap);
    if (!nb) return fail(r, -ENOMEM, "out of memory");
    r->buf = nb;
    char *ns = realloc(r->scratch, cap + 1);
    if (!ns) return fail(r, -ENOMEM, "out of memory");
    r->scratch = ns;
    r->cap = cap;
  }
  ssize_t n;
  do n = read(r->fd, r->buf + r->end, r->cap - r->end);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    return fail(r, -e, "read error at byte %llu: %s", (unsigned long long)(r->base + r->end), strerror(e));
  }
  if (n == 0) r->eof = 1;
  r->end += (size_t)n;
  return 0;
}

int mxs_reader_open_fd(int fd, const char *name, mxs_reader_t **out, char *err, size_t errlen) {
  mxs_reader_t *r = calloc(1, sizeof *r);
  if (r) {
    r->name = strdup(name);
    r->buf = malloc(CHUNK);
    r->scratch = malloc(CHUNK + 1);
  }
  if (!r || !r->name || !r->buf || !r->scratch) {
    snprintf(err, errlen, "%s: out of memory", name);
    mxs_reader_close(r);
    return -ENOMEM;
  }
  r->fd = fd;
  r->cap = CHUNK;
  *out = r;
  return 0;
}

int mxs_reader_open(const char *path, mxs_reader_t **out, char *err, size_t errlen) {
  int stdin_ = strcmp(path, "-") == 0;
  int fd = stdin_ ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
    return -e;
  }
  int rc = mxs_reader_open_fd(fd, stdin_ ? "<stdin>" : path, out, err, errlen);
  if (rc < 0) {
    if (!stdin_) close(fd);
    return rc;
  }
  (*out)->own_fd = !stdin_;
  return 0;
}

void mxs_reader_close(mxs_reader_t *r) {
  if (!r) return;
  if (r->own_fd) close(r->fd);
  free(r->name);
  free(r->buf);
  free(r->scratch);
  free(r);
}

/* ---- records ----------------------------------------------------------- */

/* The first byte tells the formats apart: a results record is a JSON
 * object or a msgpack map, and neither starts like the other ('{' and
 * whitespace are msgpack integers, never a record). */
static int detect(mxs_reader_t *r) {
  unsigned char c = r->buf[r->pos];
  if (c == '{' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
    r->fmt = MXS_RESULTS_JSONL;
  else if ((c & 0xF0) == 0x80 || c == 0xde || c == 0xdf)
    r->fmt = MXS_RESULTS_MSGPACK;
  else
    return fail(r, -EBADMSG, "not a results file (neither JSON Lines nor msgpack): first byte 0x%02x", c);
  return 0;
}

static int is_blank(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return 0;
  return 1;
}

/* The input ended with [pos, end) unread: nothing, or a torn record. */
static int at_end(mxs_reader_t *r) {
  size_t rest = r->end - r->pos;
  if (rest && !(r->fmt == MXS_RESULTS_JSONL && is_blank(r->buf + r->pos, rest))) {
    r->torn = 1;
    r->torn_at = r->base + r->pos;
    r->torn_len = rest;
  }
  return 0;
}

static int bad_record(mxs_reader_t *r, const char *why) {
  return fail(r, -EBADMSG, "record %llu at byte %llu: %s", (unsigned long long)r->count + 1,
              (unsigned long long)(r->base + r->pos), why);
}

static int next_jsonl(mxs_reader_t *r, mxs_read_record_t *rec) {
  for (;;) {
    unsigned char *p = r->buf + r->pos;
    size_t avail = r->end - r->pos;
    unsigned char *nl = memchr(p + r->searched, '\n', avail - r->searched);
    if (!nl) {
      r->searched = avail;
      if (r->eof) return at_end(r);
      if (avail >= MAX_RECORD) return bad_record(r, "line longer than 16 MiB");
      int rc = fill(r);
      if (rc < 0) return rc;
      continue;
    }
    size_t len = (size_t)(nl - p);
    r->searched = 0;
    if (is_blank(p, len)) { /* tolerated: concatenated or hand-edited files */
      r->pos += len + 1;
      continue;
    }
    mxs_rd_t d;
    mxs_rd_begin(&d, rec);
    if (mxs_rd_json(&d, (char *)p, (char *)nl) < 0) return bad_record(r, d.why);
    r->pos += len + 1;
    r->count++;
    r->good = r->base + r->pos;
    return 1;
  }
}

static int next_msgpack(mxs_reader_t *r, mxs_read_record_t *rec) {
  for (;;) {
    size_t avail = r->end - r->pos;
    if (avail) {
      mxs_rd_t d;
      mxs_rd_begin(&d, rec);
      long n = mxs_rd_msgpack(&d, r->buf + r->pos, avail, r->scratch);
      if (n < 0) return bad_record(r, d.why);
      if (n > 0) {
        r->pos += (size_t)n;
        r->count++;
        r->good = r->base + r->pos;
        return 1;
      }
    }
    if (r->eof) return at_end(r);
    if (avail >= MAX_RECORD) return bad_record(r, "record longer than 16 MiB");
    int rc = fill(r);
    if (rc < 0) return rc;
  }
}

int mxs_reader_next(mxs_reader_t *r, mxs_read_record_t *rec) {
  if (r->failed) return r->failed;
  while (r->fmt == MXS_RESULTS_UNKNOWN) {
    if (r->pos < r->end) {
      int rc = detect(r);
      if (rc < 0) return rc;
    } else if (r->eof) {
      return 0; /* empty input: no records */
    } else {
      int rc = fill(r);
      if (rc < 0) return rc;
    }
  }
  if (r->torn) return 0;
  return r->fmt == MXS_RESULTS_JSONL ? next_jsonl(r, rec) : next_msgpack(r, rec);
}

const char *mxs_reader_error(const mxs_reader_t *r) { return r->err; }
mxs_results_format_t mxs_reader_format(const mxs_reader_t *r) { return r->fmt; }
uint64_t mxs_reader_count(const mxs_reader_t *r) { return r->count; }
uint64_t mxs_reader_good_offset(const mxs_reader_t *r) { return r->good; }

int mxs_reader_torn(const mxs_reader_t *r, uint64_t *offset, uint64_t *len) {
  if (!r->torn) return 0;
  if (offset) *offset = r->torn_at;
  if (len) *len = r->torn_len;
  return 1;
}
