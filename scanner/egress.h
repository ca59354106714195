/* egress.h - is it this machine that cannot reach port 25?
 *
 * The commonest way for a whole night's records to be wrong is a scanning
 * machine whose outbound port 25 is blocked: cloud providers drop it by
 * default, and a corporate firewall may reject it.  Every probe then fails
 * at connect (tcp-timeout when dropped, tcp-refused or tcp-unreachable when
 * rejected) and the records blame every domain.  The records stay what the
 * network did; this watch says, once during the run and again at its end,
 * that not one connection got through to any of many providers, which no
 * real list produces on its own.
 */
#ifndef MXS_EGRESS_H
#define MXS_EGRESS_H

#include <stddef.h>
#include <stdint.h>

#define MXS_EGRESS_PROVIDERS 10 /* distinct providers that must all have failed */
#define MXS_EGRESS_RUN_MIN   50 /* failed connects before the warning during the run */
#define MXS_EGRESS_END_MIN   20 /* ... and at the end of a run too small for that */
#define MXS_EGRESS_END_PROV  5

typedef struct {
  uint64_t connected;                       /* probes whose TCP connection was made */
  uint64_t failed;                          /* probes that failed at connect */
  uint32_t providers[MXS_EGRESS_PROVIDERS]; /* hashes of the first distinct providers among the failures */
  size_t nproviders;
  int warned; /* the during-the-run warning was given */
} mxs_egress_t;

/* Counts one probe's outcome (our own shortages are not outcomes: leave
 * them out) to an MX host of PROVIDER: CONNECTED or failed at connect. */
void mxs_egress_note(mxs_egress_t *e, const char *provider, int connected);

/* 1 when nothing connected and enough failed across enough providers:
 * FINAL selects the end-of-run thresholds. */
int mxs_egress_blocked(const mxs_egress_t *e, int final);

/* The warning for PORT, in OUT. */
void mxs_egress_message(const mxs_egress_t *e, int port, char *out, size_t outlen);

#endif
