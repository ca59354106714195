/* egress.c - the watch for a blocked outbound port 25 (egress.h). */
#include "scanner/egress.h"

#include <stdio.h>

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 16777619u;
  return h;
}

void mxs_egress_note(mxs_egress_t *e, const char *provider, int connected) {
  if (connected) {
    e->connected++;
    return;
  }
  e->failed++;
  if (e->connected || e->nproviders == MXS_EGRESS_PROVIDERS || !provider) return;
  uint32_t h = fnv1a(provider);
  for (size_t i = 0; i < e->nproviders; i++)
    if (e->providers[i] == h) return;
  e->providers[e->nproviders++] = h;
}

int mxs_egress_blocked(const mxs_egress_t *e, int final) {
  if (e->connected) return 0;
  if (final) return e->failed >= MXS_EGRESS_END_MIN && e->nproviders >= MXS_EGRESS_END_PROV;
  return e->failed >= MXS_EGRESS_RUN_MIN && e->nproviders >= MXS_EGRESS_PROVIDERS;
}

void mxs_egress_message(const mxs_egress_t *e, int port, char *out, size_t outlen) {
  snprintf(out, outlen,
           "not one of %llu connection(s) to port %d reached a server, at %s%zu different providers: outbound port "
           "%d from this machine is probably blocked (cloud providers block port 25 by default; ask them to lift "
           "it, or scan from a machine that sends mail). The tcp-* records then describe this machine's network, "
           "not the domains",
           (unsigned long long)e->failed, port, e->nproviders == MXS_EGRESS_PROVIDERS ? "least " : "", e->nproviders,
           port);
}
