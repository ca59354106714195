/* profile_why.c - the setting that makes the difference between two
 * sender profiles at one address, and whose side it is on.
 *
 * The side: a receiver that needs what a current sender (the modern
 * profile) no longer offers - TLS 1.0, a cipher or group outside OpenSSL's
 * defaults, a small DH key, no secure renegotiation - is at fault; a
 * sender whose settings are narrower than a current sender's, or that
 * lacks the client certificate the receiver asks for, is.
 */
#include "results/profile_why.h"

#include <stdio.h>
#include <string.h>

const char *mxs_fault_name(mxs_fault_t f) {
  return f == MXS_FAULT_SENDER ? "sender" : f == MXS_FAULT_RECEIVER ? "receiver" : "unknown";
}

static int version_of(const char *name) {
  int v = 0;
  return name && mxs_tls_version_parse(name, 0, &v) == 0 ? v : 0;
}

static int is_tls_failure(mxs_class_t cls) { return strcmp(mxs_class_stage(cls), "tls") == 0; }

int mxs_cmp_worse(const mxs_cmp_cell_t *cell, const mxs_cmp_cell_t *other) {
  if (!cell->handshake && other->handshake) return is_tls_failure(cell->cls);
  return cell->handshake && other->handshake && cell->cls == MXS_CLASS_CERT_WEAK && other->cls != MXS_CLASS_CERT_WEAK;
}

/* The alerts a server sends about versions, ciphers and certificates. */
static const char *alert_name(int a) {
  switch (a) {
  case 40: return "handshake_failure";
  case 42: return "bad_certificate";
  case 43: return "unsupported_certificate";
  case 44: return "certificate_revoked";
  case 45: return "certificate_expired";
  case 46: return "certificate_unknown";
  case 48: return "unknown_ca";
  case 49: return "access_denied";
  case 70: return "protocol_version";
  case 71: return "insufficient_security";
  case 116: return "certificate_required";
  default: return "a fatal alert";
  }
}

static void seclevel_text(const mxs_tls_settings_t *s, char *out, size_t len) {
  if (s->seclevel >= 0)
    snprintf(out, len, "security level %d", s->seclevel);
  else
    snprintf(out, len, "OpenSSL's default security level");
}

static void set_finding(mxs_cmp_finding_t *f, mxs_fault_t fault, const char *setting) {
  f->fault = fault;
  f->setting = setting;
}

static int explain_client_cert(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, mxs_cmp_finding_t *f) {
  if (!x->cert_requested || x->alert < 0 || !ok->cert_sent) return 0;
  set_finding(f, MXS_FAULT_SENDER, "client certificate");
  char refused[160];
  if (x->cert_sent)
    snprintf(refused, sizeof refused, "the certificate %s presented (%.80s)", x->column,
             x->set->client_cert ? x->set->client_cert : "?");
  else
    snprintf(refused, sizeof refused, "%s, which presents none", x->column);
  snprintf(f->text, sizeof f->text,
           "The receiver asks for a client certificate and refused %s (alert %d, %s); %s presented %.120s and was "
           "accepted. Present a client certificate from a CA the receiver trusts.",
           refused, x->alert, alert_name(x->alert), ok->column, ok->set->client_cert ? ok->set->client_cert : "one");
  return 1;
}

static int explain_key_exchange(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, mxs_cmp_finding_t *f) {
  char lx[48], lo[48];
  seclevel_text(x->set, lx, sizeof lx);
  seclevel_text(ok->set, lo, sizeof lo);
  if (x->cls == MXS_CLASS_TLS_LEGACY_RENEGOTIATION) {
    set_finding(f, MXS_FAULT_RECEIVER, "renegotiation");
    snprintf(f->text, sizeof f->text,
             "The receiver does not support RFC 5746 secure renegotiation: %s refuses such servers, %s allows them "
             "(SSL_OP_LEGACY_SERVER_CONNECT) and gets %s %s. The receiver's TLS stack is outdated.",
             x->column, ok->column, ok->version, ok->cipher);
    return 1;
  }
  if (x->cls == MXS_CLASS_TLS_WEAK_DH) {
    set_finding(f, MXS_FAULT_RECEIVER, "security level");
    snprintf(f->text, sizeof f->text,
             "The receiver's key exchange (%s, with %s) is too small for %s's %s; %s, at %s, accepts it. The "
             "receiver should use a DH group of at least 2048 bits, or ECDHE.",
             ok->group, ok->cipher, x->column, lx, ok->column, lo);
    return 1;
  }
  if (x->cls == MXS_CLASS_CERT_WEAK && ok->cls != MXS_CLASS_CERT_WEAK) {
    set_finding(f, MXS_FAULT_RECEIVER, "security level");
    snprintf(f->text, sizeof f->text,
             "The receiver's certificate (%s key, %d bits) is too weak for %s's %s; %s, at %s, does not object. The "
             "receiver should use an RSA key of 2048 bits or more, or an EC key.",
             x->key_type ? x->key_type : "?", x->key_bits, x->column, lx, ok->column, lo);
    return 1;
  }
  return 0;
}

static int explain_version(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, mxs_cmp_finding_t *f) {
  int v = version_of(ok->version), lo = x->set->min_version, hi = x->set->max_version;
  if (v && lo && v < lo) {
    int old = v < MXS_TLS_V1_2;
    set_finding(f, old ? MXS_FAULT_RECEIVER : MXS_FAULT_SENDER, "version");
    snprintf(f->text, sizeof f->text,
             "The receiver speaks at most %s (%s negotiated it), below %s's lowest version %s. %s", ok->version,
             ok->column, x->column, mxs_tls_version_name(lo),
             old ? "TLS 1.0 and 1.1 are obsolete (RFC 8996): the receiver should enable TLS 1.2 or 1.3."
                 : "That minimum is stricter than a current sender's (TLS 1.2): the receiver is not behind.");
    return 1;
  }
  if (v && hi && v > hi) {
    set_finding(f, MXS_FAULT_SENDER, "version");
    snprintf(f->text, sizeof f->text,
             "The receiver accepts nothing %s offers: it wants %s (%s negotiated it), above %s's highest version %s. "
             "The sender should allow %s.",
             x->column, ok->version, ok->column, x->column, mxs_tls_version_name(hi), ok->version);
    return 1;
  }
  return 0;
}

static int explain_offer(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, const mxs_cmp_oracle_t *o, int group,
                         mxs_cmp_finding_t *f) {
  const char *name = group ? ok->group : ok->cipher;
  if (!name || (group && (!strncmp(name, "DH-", 3) || !strcmp(name, "RSA-kx")))) return 0; /* no named group */
  if (o->offers(o->arg, x->set, group, name) != 0) return 0;
  int modern = o->offers(o->arg, &mxs_profile_default()->set, group, name) == 1;
  set_finding(f, modern ? MXS_FAULT_SENDER : MXS_FAULT_RECEIVER, group ? "group" : "cipher");
  int tls13 = !group && !strncmp(name, "TLS_", 4);
  const char *list = group ? x->set->groups : tls13 ? x->set->ciphersuites : x->set->ciphers;
  char listed[300];
  if (list)
    snprintf(listed, sizeof listed, "%s \"%.240s\"", group ? "groups" : tls13 ? "ciphersuites" : "cipher list", list);
  else
    snprintf(listed, sizeof listed, "OpenSSL's default %s", group ? "groups" : tls13 ? "ciphersuites" : "cipher list");
  char advice[200];
  if (modern)
    snprintf(advice, sizeof advice, "A current sender (modern) offers %s: add it to %s's settings.", name, x->column);
  else
    snprintf(advice, sizeof advice,
             "A current sender (modern) does not offer it either: the receiver should accept %s.",
             group ? "X25519 or P-256" : "ECDHE with AES-GCM or ChaCha20");
  snprintf(f->text, sizeof f->text,
           "%s agreed on %s %s with the receiver; %s does not offer it (%s), and the receiver accepts nothing %s "
           "offers. %s",
           ok->column, group ? "key exchange group" : "cipher", name, x->column, listed, x->column, advice);
  return 1;
}

void mxs_cmp_explain(const mxs_cmp_cell_t *x, const mxs_cmp_cell_t *ok, const mxs_cmp_oracle_t *o,
                     mxs_cmp_finding_t *f) {
  memset(f, 0, sizeof *f);
  if (explain_client_cert(x, ok, f) || explain_key_exchange(x, ok, f) || explain_version(x, ok, f) ||
      explain_offer(x, ok, o, 0, f) || explain_offer(x, ok, o, 1, f))
    return;
  set_finding(f, MXS_FAULT_UNKNOWN, "unknown");
  snprintf(f->text, sizeof f->text,
           "%s fails (%s) where %s gets %s %s; the settings in which they differ do not explain it: compare the "
           "transcripts (mxscan probe --sender-profile NAME).",
           x->column, mxs_class_name(x->cls), ok->column, ok->version ? ok->version : "through",
           ok->cipher ? ok->cipher : "");
}

void mxs_cmp_explain_all(const mxs_cmp_cell_t *c, size_t n, mxs_cmp_finding_t *f) {
  memset(f, 0, sizeof *f);
  set_finding(f, MXS_FAULT_UNKNOWN, "unknown");
  size_t same = 0, asked = 0, sent = 0;
  for (size_t i = 0; i < n; i++) {
    same += c[i].cls == c[0].cls;
    asked += !c[i].handshake && c[i].cert_requested && c[i].alert >= 0;
    sent += c[i].cert_sent;
  }
  if (n && asked == n) {
    set_finding(f, MXS_FAULT_SENDER, "client certificate");
    if (sent)
      snprintf(f->text, sizeof f->text,
               "The receiver asks for a client certificate and refused every profile, the certificate given with "
               "--client-cert too: present one from a CA the receiver trusts.");
    else
      snprintf(f->text, sizeof f->text,
               "The receiver asks for a client certificate and rejects the handshake without one, and no profile "
               "presents one: give one from a CA the receiver trusts with --client-cert and --client-key.");
  } else if (n && same == n && c[0].cls == MXS_CLASS_OK) {
    snprintf(f->text, sizeof f->text, "Every profile gets ok.");
  } else if (n && same == n) {
    snprintf(f->text, sizeof f->text, "Every profile gets %s: the sender's TLS settings make no difference here.",
             mxs_class_name(c[0].cls));
  } else {
    snprintf(f->text, sizeof f->text,
             "No profile completes a TLS handshake, and they fail in different ways: see each column's class.");
  }
}
