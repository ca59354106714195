/* maillog.c - Postfix and Exim log lines to the recipient domains whose
 * deliveries failed on TLS (maillog.h says which lines count).
 *
 * Every scan works on [p, end) spans and never reads past END or relies on
 * a NUL: the lines come from files anyone may have written.
 */
#include "queue/maillog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS   1024 /* a power of two; active smtp processes or messages are far fewer */
#define KEYLEN  96
#define QIDLEN  32
#define HOSTLEN 160

enum {
  PF_TLS_UP = 1, /* Postfix: this process has a TLS session with HOST */
  PF_FAILED = 2, /* Postfix: this process's delivery of QID failed on TLS */
  EX_CLEAR = 4,  /* Exim: TLS failed, delivering unencrypted to this address */
  EX_TLSERR = 8, /* Exim: "TLS error on connection" with this address */
};

/* What a process (Postfix) or a (message, address) pair (Exim) said on
 * an earlier line. */
typedef struct {
  char key[KEYLEN]; /* "" = empty */
  char qid[QIDLEN];
  char host[HOSTLEN]; /* PF_TLS_UP: "name[addr]" as Postfix writes it */
  char domain[256];   /* PF_FAILED: the recipient domain of the delivery, once seen */
  unsigned flags;
} slot_t;

struct mxs_maillog_s {
  slot_t slots[SLOTS];
  char domain[256]; /* the domain handed to the callback */
};

mxs_maillog_t *mxs_maillog_new(void) { return calloc(1, sizeof(mxs_maillog_t)); }

void mxs_maillog_free(mxs_maillog_t *p) { free(p); }

/* ---- spans ----------------------------------------------------------------- */

static int starts(const char *p, const char *end, const char *lit) {
  size_t n = strlen(lit);
  return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

static const char *find(const char *p, const char *end, const char *lit) {
  size_t n = strlen(lit);
  for (; (size_t)(end - p) >= n; p++)
    if (*p == lit[0] && memcmp(p, lit, n) == 0) return p;
  return NULL;
}

static int digit(char c) { return c >= '0' && c <= '9'; }

static int alnum(char c) { return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* N digits at P (all before END). */
static int digits(const char *p, const char *end, size_t n) {
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!digit(p[i])) return 0;
  return 1;
}

/* Copies [p, end) into OUT[cap] NUL-ended; 0, or -1 when it does not fit. */
static int copy(char *out, size_t cap, const char *p, const char *end) {
  size_t n = (size_t)(end - p);
  if (n >= cap) return -1;
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

/* ---- the line's prefix ----------------------------------------------------- */

typedef struct {
  int exim;                    /* Exim's own log file: its timestamp, no host or program */
  const char *host, *host_end; /* syslog: the host */
  const char *prog, *prog_end; /* syslog: "postfix/smtp", "exim" ... */
  const char *pid, *pid_end;   /* syslog: the pid, maybe empty */
  const char *msg;             /* the text after the prefix */
} hdr_t;

/* "Dec  2 00:14:22 " or "Dec 02 00:14:22 " (syslog, Postfix's maillog_file). */
static const char *bsd_time(const char *p, const char *end) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (end - p < 16 || p[3] != ' ') return NULL;
  int m = 0;
  for (; m < 12; m++)
    if (!memcmp(p, months + 3 * m, 3)) break;
  if (m == 12 || !(p[4] == ' ' || digit(p[4])) || !digit(p[5]) || p[6] != ' ') return NULL;
  p += 7;
  if (!digits(p, end, 2) || p[2] != ':' || !digits(p + 3, end, 2) || p[5] != ':' || !digits(p + 6, end, 2) ||
      p[8] != ' ')
    return NULL;
  return p + 9;
}

/* "2026-12-02" then SEP then "00:14:22" at P; returns what follows. */
static const char *iso_time(const char *p, const char *end, char sep) {
  if (!digits(p, end, 4) || end - p < 19 || p[4] != '-' || !digits(p + 5, end, 2) || p[7] != '-' ||
      !digits(p + 8, end, 2) || p[10] != sep || !digits(p + 11, end, 2) || p[13] != ':' || !digits(p + 14, end, 2) ||
      p[16] != ':' || !digits(p + 17, end, 2))
    return NULL;
  return p + 19;
}

static int parse_hdr(const char *p, const char *end, hdr_t *h) {
  memset(h, 0, sizeof *h);
  const char *q;
  if ((q = iso_time(p, end, ' '))) { /* Exim: [.ddd] [+HHMM] [[pid]] */
    if (q < end && *q == '.' && digits(q + 1, end, 3)) q += 4;
    if (end - q >= 6 && q[0] == ' ' && (q[1] == '+' || q[1] == '-') && digits(q + 2, end, 4)) q += 6;
    if (end - q >= 3 && q[0] == ' ' && q[1] == '[' && digit(q[2])) {
      const char *c = q + 2;
      while (c < end && digit(*c)) c++;
      if (c >= end || *c != ']') return -1;
      q = c + 1;
    }
    if (q >= end || *q != ' ') return -1;
    h->exim = 1;
    h->msg = q + 1;
    return 0;
  }
  if ((q = iso_time(p, end, 'T'))) { /* RFC 3339 syslog: [.frac] [Z|+HH:MM] */
    if (q < end && (*q == '.' || *q == ',')) {
      q++;
      while (q < end && digit(*q)) q++;
    }
    if (q < end && *q == 'Z')
      q++;
    else if (q < end && (*q == '+' || *q == '-')) {
      q++;
      while (q < end && (digit(*q) || *q == ':')) q++;
    }
    if (q >= end || *q != ' ') return -1;
    q++;
  } else if (!(q = bsd_time(p, end))) {
    return -1;
  }
  h->host = q; /* HOST PROG[PID]: */
  while (q < end && *q != ' ') q++;
  if (q == h->host || q >= end) return -1;
  h->host_end = q++;
  h->prog = q;
  while (q < end && *q != '[' && *q != ':' && *q != ' ') q++;
  if (q == h->prog || q >= end) return -1;
  h->prog_end = q;
  if (*q == '[') {
    h->pid = ++q;
    while (q < end && digit(*q)) q++;
    if (q >= end || *q != ']') return -1;
    h->pid_end = q++;
  } else {
    h->pid = h->pid_end = q;
  }
  if (end - q < 2 || q[0] != ':' || q[1] != ' ') return -1;
  h->msg = q + 2;
  return 0;
}

/* The last component of the program name: "postfix-out/smtp" -> "smtp". */
static int prog_is(const hdr_t *h, const char *name) {
  const char *c = h->prog_end;
  while (c > h->prog && c[-1] != '/') c--;
  return (size_t)(h->prog_end - c) == strlen(name) && !memcmp(c, name, strlen(name));
}

/* ---- state ----------------------------------------------------------------- */

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot of KEY; with CREATE a colliding entry is replaced by an empty
 * one for KEY, without it the answer is NULL. */
static slot_t *slot(mxs_maillog_t *p, const char *key, int create) {
  slot_t *s = &p->slots[hash(key) & (SLOTS - 1)];
  if (!strcmp(s->key, key)) return s;
  if (!create) return NULL;
  memset(s, 0, sizeof *s);
  snprintf(s->key, sizeof s->key, "%s", key);
  return s;
}

/* ---- the recipient ------------------------------------------------------------ */

/* The domain of the address [a, end) into p->domain, lower-case and
 * without a trailing dot.  0, or -1 when there is no plausible domain. */
static int set_domain(mxs_maillog_t *p, const char *a, const char *end) {
  const char *at = NULL;
  if (a < end && *a == '"') { /* a quoted local part may hold '@' and blanks */
    const char *c = a + 1;
    while (c < end && *c != '"') c += *c == '\\' ? 2 : 1;
    if (c >= end || c + 1 >= end || c[1] != '@') return -1;
    at = c + 1;
  } else {
    for (const char *c = a; c < end; c++)
      if (*c == '@') at = c;
  }
  if (!at) return -1;
  const char *d = at + 1, *e = end;
  if (e > d && e[-1] == '.') e--;
  size_t n = (size_t)(e - d);
  if (n == 0 || n >= sizeof p->domain || *d == '.' || *d == '[' || e[-1] == '.') return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)d[i];
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    /* letters, digits, '-', '_', '.', and UTF-8 (scan normalises IDNs) */
    if (!(c >= 0x80 || alnum((char)c) || c == '-' || c == '_' || c == '.')) return -1;
    if (c == '.' && i > 0 && p->domain[i - 1] == '.') return -1;
    p->domain[i] = (char)c;
  }
  p->domain[n] = '\0';
  return 0;
}

static mxs_ml_kind_t report(mxs_maillog_t *p, const char *mta, int deferred, mxs_ml_fn fn, void *arg) {
  mxs_ml_failure_t f = {p->domain, mta, deferred};
  if (fn) fn(arg, &f);
  return MXS_ML_MATCH;
}

/* ---- Postfix ---------------------------------------------------------------- */

static const char SUSPENDED[] = "delivery temporarily suspended: ";

static const char *skip_suspended(const char *r, const char *end) {
  return starts(r, end, SUSPENDED) ? r + sizeof SUSPENDED - 1 : r;
}

/* A reason Postfix gives when TLS with the server failed. */
static int pf_tls_reason(const char *r, const char *end) {
  r = skip_suspended(r, end);
  if (starts(r, end, "Cannot start TLS") || starts(r, end, "Server certificate not ") ||
      starts(r, end, "TLS failure") || find(r, end, "while performing the TLS handshake"))
    return 1;
  /* "TLS is required, but our TLS engine is unavailable": our side */
  return starts(r, end, "TLS is required, but") && !find(r, end, "our TLS engine");
}

/* "lost connection with HOST while ..." or "conversation with HOST timed
 * out while ...": the session with HOST died. */
static int pf_lost(const char *r, const char *end, const char *host) {
  r = skip_suspended(r, end);
  const char *h = starts(r, end, "lost connection with ") ? r + 21
                  : starts(r, end, "conversation with ")  ? r + 18
                                                          : NULL;
  size_t n = strlen(host);
  return h && n && (size_t)(end - h) > n && !memcmp(h, host, n) && h[n] == ' ';
}

/* "QID: " at P (short ids: upper-case hex; long ids: letters and digits
 * without vowels); returns what follows, or NULL. */
static const char *pf_qid(const char *p, const char *end, const char **qend) {
  const char *c = p;
  while (c < end && (digit(*c) || (*c >= 'A' && *c <= 'F'))) c++;
  if (c - p < 6 || !starts(c, end, ": ")) {
    for (c = p; c < end && alnum(*c) && !strchr("aeiouAEIOU", *c); c++) {
    }
    if (c - p < 10 || !starts(c, end, ": ")) return NULL;
  }
  *qend = c;
  return c + 2;
}

static const char *const TLS_UP[] = {
    "Trusted TLS connection established to ", "Untrusted TLS connection established to ",
    "Verified TLS connection established to ", "Anonymous TLS connection established to "};

static mxs_ml_kind_t postfix(mxs_maillog_t *p, const hdr_t *h, const char *end, mxs_ml_fn fn, void *arg) {
  char key[KEYLEN];
  int kn = snprintf(key, sizeof key, "%.*s %.*s[%.*s]", (int)(h->host_end - h->host), h->host,
                    (int)(h->prog_end - h->prog), h->prog, (int)(h->pid_end - h->pid), h->pid);
  if (kn < 0 || (size_t)kn >= sizeof key) return MXS_ML_OTHER; /* a name this long is no Postfix of ours */
  const char *m = h->msg, *qend, *rest = pf_qid(m, end, &qend);
  if (!rest) { /* no queue id: the lines that announce a TLS session */
    for (size_t i = 0; i < sizeof TLS_UP / sizeof TLS_UP[0]; i++) {
      if (!starts(m, end, TLS_UP[i])) continue;
      const char *host = m + strlen(TLS_UP[i]), *b = memchr(host, ']', (size_t)(end - host));
      slot_t *s = slot(p, key, 1);
      s->flags &= ~PF_TLS_UP;
      if (b && memchr(host, '[', (size_t)(b - host)) && copy(s->host, sizeof s->host, host, b + 1) == 0)
        s->flags |= PF_TLS_UP;
      break;
    }
    return MXS_ML_OTHER;
  }
  char qid[QIDLEN];
  if (copy(qid, sizeof qid, m, qend) < 0) return MXS_ML_OTHER;
  slot_t *s = slot(p, key, 1);
  int up = (s->flags & PF_TLS_UP) != 0, earlier = (s->flags & PF_FAILED) && !strcmp(s->qid, qid);
  s->flags &= ~PF_TLS_UP; /* whatever this line says, it ends that session's news */
  if (!earlier) s->flags &= ~PF_FAILED;

  if (!starts(rest, end, "to=<")) { /* an event of the delivery, no recipient */
    if (pf_tls_reason(rest, end) || (up && pf_lost(rest, end, s->host))) {
      s->flags |= PF_FAILED;
      snprintf(s->qid, sizeof s->qid, "%s", qid);
      s->domain[0] = '\0'; /* the next status line tells whose delivery it was */
    }
    return MXS_ML_OTHER;
  }
  /* to=<RCPT>, [orig_to=<...>, ]relay=..., status=STATUS (REASON) */
  const char *a = rest + 4, *a_end = find(a, end, ">, ");
  const char *st = a_end ? find(a_end, end, ", status=") : NULL;
  if (!st) return MXS_ML_MALFORMED;
  st += 9;
  const char *st_end = st;
  while (st_end < end && *st_end != ' ') st_end++;
  const char *r = st_end, *r_end = end;
  if (starts(r, end, " (")) {
    r += 2;
    if (r_end > r && r_end[-1] == ')') r_end--;
  }
  int failing = starts(st, st_end, "deferred") || starts(st, st_end, "bounced");
  int tls = failing && (pf_tls_reason(r, r_end) || (up && pf_lost(r, r_end, s->host)));
  if (!tls && !earlier) return MXS_ML_OTHER;
  if (set_domain(p, a, a_end) < 0) return tls ? MXS_ML_MALFORMED : MXS_ML_OTHER;
  if (!tls && s->domain[0] && strcmp(s->domain, p->domain) != 0) {
    /* the same message's next delivery request, to another domain */
    s->flags &= ~PF_FAILED;
    return MXS_ML_OTHER;
  }
  if (tls || !s->domain[0]) {
    s->flags |= PF_FAILED; /* the other recipients of this delivery follow */
    snprintf(s->qid, sizeof s->qid, "%s", qid);
    snprintf(s->domain, sizeof s->domain, "%s", p->domain);
  }
  return report(p, "postfix", failing, fn, arg);
}

/* ---- Exim ------------------------------------------------------------------- */

/* "1xYXzK-0008Eg-0Z " (4.96) or the longer ids of 4.97; returns what
 * follows, ID in [p, *id_end). */
static const char *ex_msgid(const char *p, const char *end, const char **id_end) {
  static const unsigned char lo[] = {6, 6, 2}, hi[] = {6, 11, 4};
  const char *c = p;
  for (int part = 0; part < 3; part++) {
    const char *s = c;
    while (c < end && alnum(*c)) c++;
    if (c - s < lo[part] || c - s > hi[part] || c >= end || *c != (part < 2 ? '-' : ' ')) return NULL;
    c++;
  }
  *id_end = c - 1;
  return c;
}

/* The address of "H=name [addr]", "H=[addr]" or "name [addr]" at P. */
static int ex_addr(const char *p, const char *end, const char **a, const char **a_end) {
  if (starts(p, end, "H=")) p += 2;
  if (p < end && *p != '[') {
    while (p < end && *p != ' ') p++;
    if (!starts(p, end, " [")) return -1;
    p++;
  }
  if (p >= end || *p != '[') return -1;
  const char *b = memchr(p, ']', (size_t)(end - p));
  if (!b || b == p + 1) return -1;
  *a = p + 1;
  *a_end = b;
  return 0;
}

/* The slot key "MSGID|ADDR". */
static int ex_key(char *key, const char *id, const char *id_end, const char *a, const char *a_end) {
  int n = snprintf(key, KEYLEN, "%.*s|%.*s", (int)(id_end - id), id, (int)(a_end - a), a);
  return n > 0 && n < KEYLEN ? 0 : -1;
}

/* The end of the recipient at P: the first blank, after a quoted local
 * part if there is one; NULL when a quote is not closed. */
static const char *ex_rcpt_end(const char *p, const char *end) {
  const char *c = p;
  if (c < end && *c == '"' && !(c = find(p + 1, end, "\"@"))) return NULL;
  while (c < end && *c != ' ') c++;
  return c;
}

static int ex_tls_text(const char *p, const char *end) {
  return find(p, end, "TLS session") || find(p, end, "a TLS session is required") || find(p, end, "TLS error");
}

static mxs_ml_kind_t exim(mxs_maillog_t *p, const char *m, const char *end, mxs_ml_fn fn, void *arg) {
  const char *id = m, *id_end, *rest = ex_msgid(m, end, &id_end);
  if (!rest) return MXS_ML_OTHER; /* no message: daemon, queue runner, incoming connections */
  const char *h, *a, *a_end, *r_end;
  char key[KEYLEN];
  int have_key = 0;
  if ((h = find(rest, end, " H=")) && ex_addr(h + 1, end, &a, &a_end) == 0)
    have_key = ex_key(key, id, id_end, a, a_end) == 0;

  if (starts(rest, end, "== ") || starts(rest, end, "** ")) { /* deferred, failed */
    const char *rc = rest + 3;
    if (!(r_end = ex_rcpt_end(rc, end))) return MXS_ML_MALFORMED;
    const char *e = find(rest, end, " defer (");
    int tls = ex_tls_text(r_end, end) || (e && (starts(e + 8, end, "-37)") || starts(e + 8, end, "-38)")));
    slot_t *s = have_key ? slot(p, key, 0) : NULL;
    if (!tls && !(s && (s->flags & (EX_CLEAR | EX_TLSERR)))) return MXS_ML_OTHER;
    if (set_domain(p, rc, r_end) < 0) return MXS_ML_MALFORMED;
    return report(p, "exim", 1, fn, arg);
  }
  if (starts(rest, end, "=> ") || starts(rest, end, "-> ")) { /* delivered */
    slot_t *s = have_key ? slot(p, key, 0) : NULL;
    if (!s || !(s->flags & (EX_CLEAR | EX_TLSERR))) return MXS_ML_OTHER;
    if (!(s->flags & EX_CLEAR) && find(rest, end, " X=")) { /* over TLS after all: a harmless close */
      s->flags &= ~EX_TLSERR;
      return MXS_ML_OTHER;
    }
    const char *rc = rest + 3;
    if (!(r_end = ex_rcpt_end(rc, end)) || set_domain(p, rc, r_end) < 0) return MXS_ML_MALFORMED;
    return report(p, "exim", 0, fn, arg);
  }
  const char *u = find(rest, end, "delivering unencrypted to ");
  if (u && find(rest, u, "TLS session")) { /* TLS failed: Exim tries in the clear */
    if (ex_addr(u + 26, end, &a, &a_end) < 0 || ex_key(key, id, id_end, a, a_end) < 0) return MXS_ML_MALFORMED;
    slot(p, key, 1)->flags |= EX_CLEAR;
    return MXS_ML_OTHER;
  }
  if (starts(rest, end, "H=") && find(rest, end, " TLS error on connection")) {
    if (ex_addr(rest, end, &a, &a_end) < 0 || ex_key(key, id, id_end, a, a_end) < 0) return MXS_ML_MALFORMED;
    slot(p, key, 1)->flags |= EX_TLSERR;
  }
  return MXS_ML_OTHER;
}

/* ---- a line ----------------------------------------------------------------- */

mxs_ml_kind_t mxs_maillog_line(mxs_maillog_t *p, const char *line, size_t len, mxs_ml_fn fn, void *arg) {
  const char *end = line + len;
  if (end > line && end[-1] == '\r') end--;
  if (memchr(line, '\0', (size_t)(end - line))) return MXS_ML_MALFORMED;
  hdr_t h;
  if (parse_hdr(line, end, &h) < 0) return MXS_ML_MALFORMED;
  if (h.exim) return exim(p, h.msg, end, fn, arg);
  if (prog_is(&h, "exim") || prog_is(&h, "exim4")) return exim(p, h.msg, end, fn, arg);
  if (h.prog_end - h.prog > 1 && memchr(h.prog, '/', (size_t)(h.prog_end - h.prog)) &&
      (prog_is(&h, "smtp") || prog_is(&h, "lmtp") || prog_is(&h, "error") || prog_is(&h, "retry")))
    return postfix(p, &h, end, fn, arg);
  return MXS_ML_OTHER;
}
