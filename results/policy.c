/* policy.c - what a domain's policy makes of a probe's class.
 *
 * The policy classes sit in the class table where a sender meets them
 * (classify.h): a policy that cannot be fetched or does not parse, and an
 * MX that an enforce policy does not list, before the connection; a
 * certificate that is not valid under WebPKI, under enforce, after the
 * handshake.  So the record's class stays "the first failure a sender
 * meets": a DNS failure before a policy failure, a policy failure before a
 * timeout.
 */
#include <stdio.h>

#include "results/policy.h"

#include "results/dane.h"

const char *mxs_sts_mode_name(mxs_sts_mode_t m) {
  switch (m) {
  case MXS_STS_ENFORCE: return "enforce";
  case MXS_STS_TESTING: return "testing";
  case MXS_STS_NONE: return "none";
  default: return NULL;
  }
}

int mxs_policy_view_empty(const mxs_policy_view_t *p) {
  return !p || (!p->sts && !p->ntlsrpt_rua && !p->tlsrpt_error && !p->dane);
}

/* Certificate problems that make a chain invalid under WebPKI (RFC 8461
 * section 4.2: trusted, in date, naming the MX host), weak keys included:
 * no browser-grade verifier accepts those either. */
static int webpki_failed(mxs_class_set_t cert_errors) { return cert_errors != 0; }

static void sts_apply(const mxs_policy_view_t *p, mxs_class_t *cls, mxs_class_set_t cert_errors, const char **detail,
                      char *buf, size_t buflen) {
  const mxs_sts_view_t *s = p ? p->sts : NULL;
  if (!s) return;
  mxs_class_t want = MXS_CLASS_OK;
  if (s->fetch_error) {
    want = MXS_CLASS_STS_POLICY_FETCH_ERROR;
    snprintf(buf, buflen, "MTA-STS policy not fetched: %s", s->fetch_error);
  } else if (s->invalid) {
    want = MXS_CLASS_STS_POLICY_INVALID;
    snprintf(buf, buflen, "MTA-STS: %s", s->invalid);
  } else if (s->mode == MXS_STS_ENFORCE && s->mx_match == 0) {
    want = MXS_CLASS_STS_POLICY_INVALID;
    snprintf(buf, buflen, "MTA-STS enforce: the policy lists no mx pattern matching this MX host");
  } else if (s->mode == MXS_STS_ENFORCE && webpki_failed(cert_errors) && !mxs_dane_applies(p->dane)) {
    /* RFC 8461 section 2: where DANE applies, a sender that implements
     * both authenticates with DANE, not WebPKI */
    want = MXS_CLASS_STS_WEBPKI_INVALID;
    snprintf(buf, buflen, "MTA-STS enforce: certificate not valid under WebPKI: %s", *detail ? *detail : "");
  }
  /* the first in contract order: a DNS failure, say, still comes first */
  if (want == MXS_CLASS_OK || (int)*cls < (int)want) return;
  *cls = want;
  *detail = buf;
}

void mxs_policy_apply(const mxs_policy_view_t *p, mxs_class_t *cls, mxs_class_set_t cert_errors, const char **detail,
                      char *buf, size_t buflen) {
  sts_apply(p, cls, cert_errors, detail, buf, buflen);
  /* after MTA-STS: the DANE checks write BUF only when they change the class */
  if (p && p->dane) mxs_dane_apply(p->dane, cls, detail, buf, buflen);
}
