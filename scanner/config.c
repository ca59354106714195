/* config.c - the defaults of a run's settings and what they own. */
#include "scanner/config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

void mxs_config_defaults(mxs_config_t *c) {
  *c = (mxs_config_t){
      .input = "-",
      .port = 25,
      .format = "jsonl",
      .output = "-",
      .concurrency = 1000,
      .per_ip = 1,
      .legacy_retry = 1,
      .connect_timeout_ms = 10000,
      .banner_timeout_ms = 15000,
      .command_timeout_ms = 15000,
      .handshake_timeout_ms = 15000,
      .dns_timeout_ms = 2000,
      .dns_tries = 3,
      /* Polite by default: a large provider sees at most 20 of our
       * connections at once and 10 new ones a second. */
      .rate = 200,
      .per_provider = 20,
      .provider_rate = 10,
      .retries = 2,
      .verify_cache = 8192,
      .retry_delay_ms = 2000,
      .threads = (int)uv_available_parallelism(),
      .status_interval_ms = 60000,
      .claim_idle_ms = 60000,
      .tls = {.seclevel = -1}, /* not given: the profile's */
      .metrics_providers = 10,
      /* Long enough for a resolver restart or a failover, short enough that
       * a cron run with a dead resolver ends the same hour. */
      .dns_down_limit_ms = 300000,
      .policy = 1,
      .sts_timeout_ms = 10000,
      .sts_concurrency = 64,
      .sts_per_host = 2,
      .sts_port = 443,
      /* nightly runs fetch about a sixth of the cached policies each */
      .policy_refresh_ms = 3 * 86400 * 1000,
  };
}

int mxs_config_tls_settings(const mxs_config_t *c, const mxs_profile_t **profile, mxs_tls_settings_t *out) {
  const mxs_profile_t *p = c->sender_profile ? mxs_profile_find(c->sender_profile) : mxs_profile_default();
  if (!p) return -1;
  *profile = p;
  return mxs_tls_settings_merge(&p->set, &c->tls, out);
}

/* This host's fully qualified name for EHLO, as MTAs send it. */
const char *mxs_config_default_ehlo_name(char *buf, size_t len) {
  if (gethostname(buf, len) != 0 || !buf[0]) return "localhost.localdomain";
  buf[len - 1] = '\0';
  if (strchr(buf, '.')) return buf;
  struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;
  if (getaddrinfo(buf, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname && strchr(ai->ai_canonname, '.'))
    snprintf(buf, len, "%s", ai->ai_canonname);
  if (ai) freeaddrinfo(ai);
  return buf;
}

void mxs_config_free(mxs_config_t *c) {
  mxs_exclude_free(c->excluded);
  c->excluded = NULL;
  for (size_t i = 0; i < c->nowned; i++) free(c->owned[i]);
  free(c->owned);
  c->owned = NULL;
  c->nowned = 0;
}
