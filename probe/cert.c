/* cert.c - leaf certificate fields for records, and leaf-only checks. */
#include "probe/cert.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char *name_to_str(const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  if (!b) return NULL;
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)n + 1);
  if (s) {
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
  }
  BIO_free(b);
  return s;
}

static char *subject_cn(X509 *x) {
  X509_NAME *n = X509_get_subject_name(x);
  int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  if (i < 0) return NULL;
  unsigned char *utf8 = NULL;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
  if (len < 0) return NULL;
  char *s = strndup((char *)utf8, (size_t)len);
  OPENSSL_free(utf8);
  return s;
}

/* Collects the dNSName SANs; IP SANs are irrelevant for MX host names. */
static void collect_san(X509 *x, mxs_cert_info_t *info) {
  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  if (!gens) return;
  int n = sk_GENERAL_NAME_num(gens);
  char **san = calloc((size_t)n + 1, sizeof *san);
  size_t k = 0;
  for (int i = 0; san && i < n; i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if (g->type != GEN_DNS) continue;
    const ASN1_IA5STRING *s = g->d.dNSName;
    const unsigned char *data = ASN1_STRING_get0_data(s);
    size_t len = (size_t)ASN1_STRING_length(s);
    if (memchr(data, 0, len)) continue; /* "evil.test\0.good.test": never a name */
    san[k] = strndup((const char *)data, len);
    if (san[k]) k++;
  }
  GENERAL_NAMES_free(gens);
  info->san = (const char *const *)san;
  info->nsan = k;
}

int64_t mxs_asn1_unix(const ASN1_TIME *t) {
  struct tm tm;
  if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
  return (int64_t)timegm(&tm);
}

static mxs_class_set_t leaf_problems(X509 *x, const mxs_cert_info_t *i) {
  int weak = 0;
  if ((!strcmp(i->key_type, "RSA") || !strcmp(i->key_type, "RSA-PSS") || !strcmp(i->key_type, "DSA")) &&
      i->key_bits < 2048)
    weak = 1;
  if (!strcmp(i->key_type, "EC") && i->key_bits < 224) weak = 1;
  int mdnid = NID_undef;
  if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) && (mdnid == NID_md5 || mdnid == NID_sha1)) weak = 1;
  return weak ? MXS_CLASS_BIT(MXS_CLASS_CERT_WEAK) : 0;
}

static void key_info(X509 *x, mxs_cert_info_t *info) {
  EVP_PKEY *pk = X509_get0_pubkey(x);
  info->key_type = "unknown";
  if (!pk) return;
  info->key_bits = EVP_PKEY_get_bits(pk);
  switch (EVP_PKEY_get_base_id(pk)) {
  case EVP_PKEY_RSA: info->key_type = "RSA"; break;
  case EVP_PKEY_RSA_PSS: info->key_type = "RSA-PSS"; break;
  case EVP_PKEY_EC: info->key_type = "EC"; break;
  case EVP_PKEY_ED25519: info->key_type = "ED25519"; break;
  case EVP_PKEY_ED448: info->key_type = "ED448"; break;
  case EVP_PKEY_DSA: info->key_type = "DSA"; break;
  default: break;
  }
}

static void hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

mxs_cert_t *mxs_cert_new(X509 *leaf, int chain_len, int64_t now, const EVP_MD *sha256) {
  mxs_cert_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  mxs_cert_info_t *info = &c->info;
  info->subject_cn = subject_cn(leaf);
  info->issuer = name_to_str(X509_get_issuer_name(leaf));
  collect_san(leaf, info);
  int64_t nb = mxs_asn1_unix(X509_get0_notBefore(leaf)), na = mxs_asn1_unix(X509_get0_notAfter(leaf));
  mxs_rfc3339(nb, info->not_before);
  mxs_rfc3339(na, info->not_after);
  /* floor division: a certificate expiring in 3 hours has 0 days left,
   * one expired 3 hours ago has -1 */
  int64_t d = na - now;
  info->days_left = (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
  key_info(leaf, info);
  info->sig_alg = OBJ_nid2ln(X509_get_signature_nid(leaf));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_digest(leaf, sha256 ? sha256 : EVP_sha256(), md, &mdlen) && mdlen == 32) hex(md, mdlen, info->sha256);
  info->chain_len = chain_len;
  c->leaf_problems = leaf_problems(leaf, info);
  return c;
}

void mxs_cert_free(mxs_cert_t *c) {
  if (!c) return;
  free((char *)c->info.subject_cn);
  free((char *)c->info.issuer);
  for (size_t i = 0; i < c->info.nsan; i++) free((char *)c->info.san[i]);
  free((char **)c->info.san);
  free(c);
}

mxs_class_set_t mxs_cert_leaf_problems(const mxs_cert_t *c) { return c->leaf_problems; }

int mxs_name_matches(const char *pattern, const char *host) {
  size_t pl = strlen(pattern), hl = strlen(host);
  if (pl && pattern[pl - 1] == '.') pl--; /* absolute names match relative ones */
  if (hl && host[hl - 1] == '.') hl--;
  if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    /* "*.example.com" matches one whole label: not "example.com", not
     * "a.b.example.com", and never a bare public suffix like "*.com" */
    const char *dot = memchr(host, '.', hl);
    if (!dot || dot == host) return 0;
    size_t rest = hl - (size_t)(dot - host);
    return rest == pl - 1 && memchr(pattern + 2, '.', pl - 2) && !strncasecmp(dot, pattern + 1, rest);
  }
  return pl == hl && !strncasecmp(pattern, host, hl);
}

int mxs_cert_matches_host(const mxs_cert_t *c, const char *host) {
  const mxs_cert_info_t *i = &c->info;
  for (size_t k = 0; k < i->nsan; k++)
    if (mxs_name_matches(i->san[k], host)) return 1;
  /* the CN counts only when there is no dNSName at all (RFC 6125 6.4.4) */
  return i->nsan == 0 && i->subject_cn && mxs_name_matches(i->subject_cn, host);
}
