/* excluded.c - the --exclude list at the points where a scan reaches out:
 * before a domain is resolved (no DNS query), when an MX host's name is
 * excluded (the resolver's skip_host: no address lookup) and before an MX
 * address becomes a probe (no connection).  What it matched is recorded,
 * class `excluded`, with the entry and its line in the detail, so every
 * domain read still has its record and the operator sees why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/scan.h"
#include "scanner/scan_int.h"

int scan_exclude_domain(mxs_scan_t *s, domain_t *d) {
  mxs_exclude_hit_t hit;
  if (!mxs_exclude_name(s->cfg->excluded, d->name, &hit)) return 0;
  char why[640], detail[700];
  snprintf(detail, sizeof detail, "not resolved: %s", mxs_exclude_why(why, sizeof why, NULL, s->cfg->exclude, &hit));
  d->outstanding = 1;
  scan_emit_dns_record(s, d, NULL, 0, MXS_CLASS_EXCLUDED, detail);
  scan_domain_release(d);
  return 1;
}

int scan_exclude_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip) {
  const mxs_exclude_t *x = s->cfg->excluded;
  mxs_exclude_hit_t hit;
  /* an MX host under an excluded name was not looked up (the resolver's
   * skip_host): it comes here without an address */
  const char *what = ip ? ip : mx->host;
  if (!(ip ? mxs_exclude_addr(x, ip, &hit) : mxs_exclude_name(x, mx->host, &hit))) return 0;
  char why[640], detail[700];
  snprintf(detail, sizeof detail, "not %s: %s", ip ? "probed" : "resolved",
           mxs_exclude_why(why, sizeof why, what, s->cfg->exclude, &hit));
  job_t *j = scan_emit_dns_record(s, d, mx, implicit, MXS_CLASS_EXCLUDED, detail);
  if (j && ip && !(j->ip = strdup(ip)))
    fprintf(s->err, "mxscan: %s: out of memory: the record of %s lacks it\n", d->name, ip);
  return 1;
}
