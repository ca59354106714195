/* exclude.c - the exclude list: parser and matcher (see exclude.h).
 *
 * Three hash tables (queue/table.h) map a key to the entry that made it:
 * exact names, suffixes (without their leading dot), and networks keyed
 * by family, prefix length and the masked address in hex.  An address is
 * matched by masking it to each prefix length the list uses, longest
 * first, so the cost follows the number of distinct lengths (a handful),
 * not the number of networks.
 */
#include "queue/exclude.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/input.h"
#include "queue/table.h"

#define MAX_LINE 1024 /* bytes of a line; an entry is at most ~260 */
#define SHOW     200  /* bytes of a bad line shown in a message */

typedef struct {
  char *text; /* owned: the entry as normalised */
  unsigned long line;
} entry_t;

struct mxs_exclude_s {
  mxs_table_t names, suffixes, nets; /* key -> entry_t (owned through entries) */
  entry_t **entries;                 /* owned, every entry, for freeing */
  size_t nentries;
  size_t counts[3];         /* names, suffixes, networks */
  unsigned char v4len[33];  /* 1: some IPv4 network has this prefix length */
  unsigned char v6len[129]; /* likewise for IPv6 */
};

enum { K_NAME, K_SUFFIX, K_NET };

mxs_exclude_t *mxs_exclude_new(void) {
  mxs_exclude_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  mxs_table_init(&x->names);
  mxs_table_init(&x->suffixes);
  mxs_table_init(&x->nets);
  return x;
}

void mxs_exclude_free(mxs_exclude_t *x) {
  if (!x) return;
  mxs_table_free(&x->names);
  mxs_table_free(&x->suffixes);
  mxs_table_free(&x->nets);
  for (size_t i = 0; i < x->nentries; i++) {
    free(x->entries[i]->text);
    free(x->entries[i]);
  }
  free(x->entries);
  free(x);
}

void mxs_exclude_counts(const mxs_exclude_t *x, size_t *names, size_t *suffixes, size_t *networks) {
  if (names) *names = x->counts[K_NAME];
  if (suffixes) *suffixes = x->counts[K_SUFFIX];
  if (networks) *networks = x->counts[K_NET];
}

/* ---- networks ------------------------------------------------------------ */

/* "4/24/c0000200": the key of an address masked to LEN bits. */
static void net_key(int v6, const unsigned char *addr, unsigned len, char *out, size_t outlen) {
  size_t nbytes = v6 ? 16 : 4;
  int n = snprintf(out, outlen, "%c/%u/", v6 ? '6' : '4', len);
  for (size_t i = 0; i < nbytes && (size_t)n + 3 <= outlen; i++) {
    unsigned bits = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * (unsigned)i : 0;
    unsigned char b = (unsigned char)(addr[i] & (unsigned char)(0xff00u >> bits));
    n += snprintf(out + n, outlen - (size_t)n, "%02x", b);
  }
}

/* Does ADDR have bits set past LEN? */
static int host_bits(const unsigned char *addr, size_t nbytes, unsigned len) {
  for (size_t i = 0; i < nbytes; i++) {
    unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * (unsigned)i : 0;
    if (addr[i] & (unsigned char)~(0xff00u >> keep)) return 1;
  }
  return 0;
}

/* "192.0.2.0/24", "2001:db8::/32", "192.0.2.7": the address, its family
 * and prefix length.  0, or -1 with *why. */
static int parse_net(const char *tok, unsigned char *addr, int *v6, unsigned *len, const char **why) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr(tok, '/');
  size_t hl = slash ? (size_t)(slash - tok) : strlen(tok);
  if (hl == 0 || hl >= sizeof host) return *why = "not an IPv4 or IPv6 address", -1;
  memcpy(host, tok, hl);
  host[hl] = '\0';
  if (inet_pton(AF_INET, host, addr) == 1)
    *v6 = 0;
  else if (inet_pton(AF_INET6, host, addr) == 1)
    *v6 = 1;
  else
    return *why = slash ? "not an IPv4 or IPv6 address before the '/'" : "not an IPv4 or IPv6 address", -1;
  unsigned max = *v6 ? 128 : 32;
  *len = max;
  if (slash) {
    const char *p = slash + 1;
    size_t nd = strspn(p, "0123456789");
    if (nd == 0 || nd > 3 || p[nd] != '\0') return *why = "the prefix length after '/' is not a number", -1;
    *len = (unsigned)strtoul(p, NULL, 10);
    if (*len > max) return *why = *v6 ? "prefix length over 128" : "prefix length over 32", -1;
  }
  if (host_bits(addr, *v6 ? 16 : 4, *len))
    return *why = "host bits set after the prefix length (write the network's first address, e.g. 192.0.2.0/24)", -1;
  return 0;
}

/* ---- names ---------------------------------------------------------------- */

/* A suffix entry ("*.gov.example", ".gov.example") normalised like a
 * domain, into OUT without its dot.  A label is put in front so a
 * single-label suffix (".example") passes the two-label rule. */
static int parse_suffix(const char *rest, char *out, size_t outlen, const char **why) {
  char tmp[MAX_LINE + 3], norm[256];
  if (!rest[0]) return *why = "empty suffix (write .example.com or *.example.com)", -1;
  if (rest[0] == '.') return *why = "empty label (\"..\")", -1;
  snprintf(tmp, sizeof tmp, "x.%s", rest);
  if (mxs_domain_normalize(tmp, norm, sizeof norm, why) < 0) return -1;
  if (strlen(norm + 2) >= outlen) return *why = "name longer than 253 bytes", -1;
  strcpy(out, norm + 2);
  return 0;
}

/* ---- adding --------------------------------------------------------------- */

static int add_entry(mxs_exclude_t *x, mxs_table_t *t, int kind, const char *key, const char *text,
                     unsigned long line) {
  if (mxs_table_get(t, key)) return 0; /* a repeated entry: the first one stands */
  entry_t *e = calloc(1, sizeof *e);
  entry_t **v = realloc(x->entries, (x->nentries + 1) * sizeof *v);
  if (v) x->entries = v;
  if (!e || !v || !(e->text = strdup(text)) || mxs_table_put(t, key, e) < 0) {
    if (e) free(e->text);
    free(e);
    return -1;
  }
  e->line = line;
  x->entries[x->nentries++] = e;
  x->counts[kind]++;
  return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

int mxs_exclude_add_line(mxs_exclude_t *x, const char *text, unsigned long line, const char **why) {
  const char *s = text;
  while (is_blank(*s)) s++;
  if (*s == '\0' || *s == '#') return 0;
  const char *end = s;
  while (*end && !is_blank(*end)) end++;
  const char *rest = end;
  while (is_blank(*rest)) rest++;
  if (*rest && *rest != '#') return *why = "unexpected text after the entry (one entry per line)", -1;
  char tok[MAX_LINE + 1];
  size_t n = (size_t)(end - s);
  if (n > MAX_LINE) return *why = "line too long", -1;
  memcpy(tok, s, n);
  tok[n] = '\0';

  unsigned char addr[16];
  int v6;
  unsigned len;
  char key[64], shown[INET6_ADDRSTRLEN + 8], name[256];
  /* Names have no '/' or ':', and a name of digits and dots only is none
   * (its last label would be all digits). */
  int looks_net =
      strchr(tok, '/') || strchr(tok, ':') || (strspn(tok, "0123456789.") == n && strpbrk(tok, "0123456789"));
  if (looks_net) {
    if (parse_net(tok, addr, &v6, &len, why) < 0) return -1;
    net_key(v6, addr, len, key, sizeof key);
    char a[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, addr, a, sizeof a);
    snprintf(shown, sizeof shown, "%s/%u", a, len);
    if (add_entry(x, &x->nets, K_NET, key, shown, line) < 0) return *why = "out of memory", -1;
    (v6 ? x->v6len : x->v4len)[len] = 1;
    return 0;
  }
  if (!strncmp(tok, "*.", 2) || tok[0] == '.') {
    if (parse_suffix(tok + (tok[0] == '*' ? 2 : 1), name, sizeof name, why) < 0) return -1;
    char dotted[258];
    snprintf(dotted, sizeof dotted, ".%s", name);
    if (add_entry(x, &x->suffixes, K_SUFFIX, name, dotted, line) < 0) return *why = "out of memory", -1;
    return 0;
  }
  if (mxs_domain_normalize(tok, name, sizeof name, why) < 0) return -1;
  if (add_entry(x, &x->names, K_NAME, name, name, line) < 0) return *why = "out of memory", -1;
  return 0;
}

/* ---- reading -------------------------------------------------------------- */

/* TEXT (LEN bytes) for a message: at most SHOW bytes, cut at a UTF-8
 * boundary, control characters as '?' (a hostile file must not drive the
 * operator's terminal). */
static void shown_copy(const char *text, size_t len, char *out) {
  size_t n = len <= SHOW ? len : SHOW;
  while (n < len && n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80) n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  strcpy(out + n, n < len ? "..." : "");
}

long mxs_exclude_read(mxs_exclude_t *x, FILE *fp, const char *name, mxs_exclude_error_cb cb, void *arg) {
  char buf[MAX_LINE + 1];
  unsigned long lineno = 0;
  long bad = 0;
  for (;;) {
    size_t n = 0;
    int c, any = 0, too_long = 0, nul = 0;
    while ((c = getc(fp)) != EOF && c != '\n') {
      any = 1;
      if (n < MAX_LINE)
        buf[n++] = (char)c;
      else
        too_long = 1;
      nul |= c == '\0';
    }
    if (c == EOF && ferror(fp)) return errno ? -errno : -EIO;
    if (!any && c == EOF) break;
    lineno++;
    while (n > 0 && buf[n - 1] == '\r') n--;
    buf[n] = '\0';
    const char *line = buf, *why = NULL;
    if (lineno == 1 && n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) line += 3; /* a UTF-8 BOM */
    if (too_long)
      why = "line too long (over 1024 bytes)";
    else if (nul)
      why = "NUL byte in line";
    else if (mxs_exclude_add_line(x, line, lineno, &why) == 0)
      continue;
    bad++;
    if (cb) {
      char shown[SHOW + 4];
      shown_copy(line, strlen(line), shown);
      cb(arg, name, lineno, shown, why);
    }
  }
  return bad;
}

static void print_bad(void *arg, const char *name, unsigned long line, const char *text, const char *why) {
  fprintf(arg, "mxscan: %s:%lu: bad exclude entry '%s': %s\n", name, line, text, why);
}

int mxs_exclude_load(const char *path, mxs_exclude_t **out, FILE *err) {
  FILE *fp = fopen(path, "r");
  if (!fp) {
    fprintf(err, "mxscan: cannot read exclude file '%s': %s\n", path, strerror(errno));
    return -1;
  }
  mxs_exclude_t *x = mxs_exclude_new();
  long bad = x ? mxs_exclude_read(x, fp, path, print_bad, err) : -ENOMEM;
  fclose(fp);
  if (bad < 0)
    fprintf(err, "mxscan: reading exclude file '%s': %s\n", path, strerror((int)-bad));
  else if (bad > 0)
    fprintf(err, "mxscan: %s: %ld bad line(s): nothing scanned\n", path, bad);
  if (bad != 0) {
    mxs_exclude_free(x);
    return -1;
  }
  *out = x;
  return 0;
}

/* ---- matching ------------------------------------------------------------- */

static int hit_of(const entry_t *e, mxs_exclude_hit_t *hit) {
  if (!e) return 0;
  if (hit) *hit = (mxs_exclude_hit_t){e->text, e->line};
  return 1;
}

int mxs_exclude_name(const mxs_exclude_t *x, const char *name, mxs_exclude_hit_t *hit) {
  if (!x || !name) return 0;
  if (hit_of(mxs_table_get(&x->names, name), hit)) return 1;
  for (const char *p = strchr(name, '.'); p; p = strchr(p + 1, '.'))
    if (hit_of(mxs_table_get(&x->suffixes, p + 1), hit)) return 1;
  return 0;
}

static int match_family(const mxs_exclude_t *x, int v6, const unsigned char *addr, mxs_exclude_hit_t *hit) {
  const unsigned char *lens = v6 ? x->v6len : x->v4len;
  char key[64];
  for (int len = v6 ? 128 : 32; len >= 0; len--) {
    if (!lens[len]) continue;
    net_key(v6, addr, (unsigned)len, key, sizeof key);
    if (hit_of(mxs_table_get(&x->nets, key), hit)) return 1;
  }
  return 0;
}

int mxs_exclude_addr(const mxs_exclude_t *x, const char *ip, mxs_exclude_hit_t *hit) {
  unsigned char a[16];
  if (!x || !ip) return 0;
  if (inet_pton(AF_INET, ip, a) == 1) return match_family(x, 0, a, hit);
  if (inet_pton(AF_INET6, ip, a) != 1) return 0;
  if (match_family(x, 1, a, hit)) return 1;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !memcmp(a, mapped, sizeof mapped) && match_family(x, 0, a + 12, hit); /* ::ffff:a.b.c.d */
}

char *mxs_exclude_why(char *out, size_t len, const char *what, const char *file, const mxs_exclude_hit_t *hit) {
  snprintf(out, len, "%s%son the exclude list (%s:%lu: %s)", what ? what : "", what ? " is " : "",
           file ? file : "--exclude", hit->line, hit->entry);
  return out;
}
