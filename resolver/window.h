/* window.h - how many queries the resolver may have outstanding now.
 *
 * Internal to resolver/.  A DNS server's UDP socket holds only so many
 * queries: a default unbound on Linux (rmem_default 208 KiB) about 256.
 * What arrives beyond that is dropped in its kernel and comes back to us as
 * timeouts, which blame the names.  So:
 *
 *   - the window starts at 32 and grows by one per answer (it doubles per
 *     round trip) up to its ceiling, the resolver's max_inflight; after an
 *     outage, when every held query goes again, it starts over;
 *   - a silence never shrinks it: on a real list most timeouts are names
 *     whose servers are slow or dead, which says nothing of our server;
 *   - when the server runs on this machine its socket's drop counter is
 *     read every 250 ms (udpdrops.h).  Drops are certain: the window halves
 *     (not below 8) and so does the ceiling; after each quiet period the
 *     ceiling grows by one again, back up to max_inflight.
 *
 * The counts it keeps (drops seen, the lowest ceiling) are for the run's
 * report: an operator whose resolver drops queries is told so.
 */
#ifndef MXS_RESOLVER_WINDOW_H
#define MXS_RESOLVER_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "resolver/udpdrops.h"

enum { MXS_WINDOW_MAX_SERVERS = 8 };

/* Embedded in the resolver; fields are the module's. */
typedef struct {
  size_t size;         /* queries allowed outstanding now */
  size_t ceiling;      /* size grows up to this */
  size_t max;          /* the resolver's max_inflight: the ceiling's own ceiling */
  size_t lowest;       /* the lowest ceiling drops made */
  int watching;        /* some server's socket was found: the timer runs */
  uint64_t drops;      /* counted since the start */
  uint64_t drops_last; /* the counters' sum at the last reading */
  uv_timer_t timer;
  mxs_udp_endpoint_t eps[MXS_WINDOW_MAX_SERVERS];
  size_t neps;
} mxs_dns_window_t;

/* Initialises W for at most MAX outstanding (a timer on LOOP, closed by
 * window_close), watching the drop counters of the N servers EPS (the
 * first MXS_WINDOW_MAX_SERVERS) when any is on this machine. */
void mxs_dns_window_init(mxs_dns_window_t *w, uv_loop_t *loop, size_t max, const mxs_udp_endpoint_t *eps, size_t n);

static inline size_t mxs_dns_window_size(const mxs_dns_window_t *w) { return w->size; }

/* A query was answered (any rcode). */
void mxs_dns_window_answered(mxs_dns_window_t *w);

/* After an outage: every held query goes again, paced like a start. */
void mxs_dns_window_restart(mxs_dns_window_t *w);

/* The server's drops since the start; 0 and *KNOWN = 0 when its socket is
 * not on this machine. *LOWEST: the lowest ceiling the drops made (the
 * max when none). */
uint64_t mxs_dns_window_drops(const mxs_dns_window_t *w, int *known, size_t *lowest);

/* Closes the timer; CB(handle) runs when it is closed. */
void mxs_dns_window_close(mxs_dns_window_t *w, uv_close_cb cb);

#endif
