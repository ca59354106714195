/* cmd_profiles.c - `mxscan profiles [--json]`: the sender profile table
 * (results/profiles.c) with exactly the OpenSSL calls each one makes. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_probe.h"
#include "cli/commands.h"
#include "results/encoders.h"
#include "results/profiles.h"

#define EXIT_USAGE 2

/* What every profile shares: probe/tls.c sets it on each context. */
static const char base_text[] =
    "Every profile also sets: SSL_MODE_RELEASE_BUFFERS, no session cache, SSL_OP_NO_COMPRESSION | "
    "SSL_OP_NO_TICKET, peer verification that collects every certificate problem without aborting the "
    "handshake, and the MX name as SNI. These are settings of the OpenSSL mxscan runs on; a profile named after "
    "an MTA makes the calls that MTA makes by default, it does not make mxscan that MTA or its TLS library. "
    "--tls-min-version, --tls-max-version, --ciphers, --ciphersuites, --groups, --sigalgs, --seclevel and "
    "--client-cert/--client-key change a profile's values; the records then say NAME+custom.";

static void print_line(void *arg, const char *text) { fprintf(arg, "    %s\n", text); }

static void count_line(void *arg, const char *text) {
  (void)text;
  ++*(size_t *)arg;
}

static void json_line(void *arg, const char *text) {
  mxs_encoder_t *e = arg;
  e->str(e, text);
}

static void print_text(FILE *fp) {
  fprintf(fp, "Sender profiles (--sender-profile NAME for scan and probe; probe --compare-profiles tries them all):\n");
  for (size_t i = 0; i < mxs_profile_count(); i++) {
    const mxs_profile_t *p = mxs_profile_at(i);
    fprintf(fp, "\n%s%s\n", p->name, p == mxs_profile_default() ? " (the default)" : "");
    mxs_print_wrapped(fp, 2, p->summary);
    fprintf(fp, "  OpenSSL calls, in this order:\n");
    mxs_tls_settings_describe(&p->set, print_line, fp);
    char origin[1200];
    snprintf(origin, sizeof origin, "Where from: %s", p->origin);
    mxs_print_wrapped(fp, 2, origin);
  }
  fputc('\n', fp);
  mxs_print_wrapped(fp, 0, base_text);
}

static void json_versions(mxs_encoder_t *e, const char *key, int v) {
  e->key(e, key);
  if (v)
    e->str(e, mxs_tls_version_name(v));
  else
    e->str(e, "");
}

static void print_json(FILE *fp) {
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->array(e, mxs_profile_count());
  for (size_t i = 0; i < mxs_profile_count(); i++) {
    const mxs_profile_t *p = mxs_profile_at(i);
    const mxs_tls_settings_t *s = &p->set;
    e->map(e, 7);
    mxs_enc_kv_str(e, "name", p->name);
    e->key(e, "default");
    e->boolean(e, p == mxs_profile_default());
    mxs_enc_kv_str(e, "summary", p->summary);
    mxs_enc_kv_str(e, "origin", p->origin);
    e->key(e, "settings"); /* "" and -1: left as OpenSSL has it */
    e->map(e, 9);
    json_versions(e, "min_version", s->min_version);
    json_versions(e, "max_version", s->max_version);
    mxs_enc_kv_int(e, "seclevel", s->seclevel);
    mxs_enc_kv_str(e, "ciphers", s->ciphers);
    mxs_enc_kv_str(e, "ciphersuites", s->ciphersuites);
    mxs_enc_kv_str(e, "groups", s->groups);
    mxs_enc_kv_str(e, "sigalgs", s->sigalgs);
    e->key(e, "legacy_renegotiation");
    e->boolean(e, (s->options & MXS_TLSOPT_LEGACY_RENEGOTIATION) != 0);
    e->key(e, "bug_workarounds");
    e->boolean(e, (s->options & MXS_TLSOPT_BUG_WORKAROUNDS) != 0);
    e->end(e);
    size_t n = 0;
    mxs_tls_settings_describe(s, count_line, &n);
    e->key(e, "openssl");
    e->array(e, n);
    mxs_tls_settings_describe(s, json_line, e);
    e->end(e);
    e->end(e);
  }
  e->end(e);
  mxs_json_put_raw(&j, "\n", 1);
  if (!j.oom) fwrite(j.buf, 1, j.len, fp);
  mxs_json_encoder_free(&j);
}

int mxs_cmd_profiles(int argc, char **argv) {
  int json = argc > 1 && !strcmp(argv[1], "--json");
  if (argc > 2 || (argc > 1 && !json)) {
    fprintf(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr,
            "usage: mxscan profiles [--json]   the sender profiles and the OpenSSL settings each makes\n");
    return argc > 1 && !strcmp(argv[1], "--help") ? 0 : EXIT_USAGE;
  }
  if (json)
    print_json(stdout);
  else
    print_text(stdout);
  return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
