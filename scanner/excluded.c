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
  char detail[512];
  snprintf(detail, sizeof detail, "not resolved: on the exclude list (%s:%lu: %s)", s->cfg->exclude, hit.line,
           hit.entry);
  d->outstanding = 1;
  scan_emit_dns_record(s, d, NULL, 0, MXS_CLASS_EXCLUDED, detail);
  scan_domain_release(d);
  return 1;
}

int scan_exclude_job(mxs_scan_t *s, domain_t *d, const mxs_mx_host_t *mx, int implicit, const char *ip) {
  const mxs_exclude_t *x = s->cfg->excluded;
  mxs_exclude_hit_t hit;
  const char *what;
  if (mxs_exclude_name(x, mx->host, &hit))
    what = mx->host; /* an MX host under an excluded name: not looked up (IP NULL), never probed */
  else if (ip && mxs_exclude_addr(x, ip, &hit))
    what = ip;
  else
    return 0;
  char detail[768];
  snprintf(detail, sizeof detail, "not %s: %s is on the exclude list (%s:%lu: %s)", ip ? "probed" : "resolved", what,
           s->cfg->exclude, hit.line, hit.entry);
  job_t *j = scan_emit_dns_record(s, d, mx, implicit, MXS_CLASS_EXCLUDED, detail);
  if (j && ip && !(j->ip = strdup(ip)))
    fprintf(s->err, "mxscan: %s: out of memory: the record of %s lacks it\n", d->name, ip);
  return 1;
}
