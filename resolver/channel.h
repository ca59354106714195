/* channel.h - one c-ares channel driven by a libuv loop.
 *
 * Internal to resolver/.  c-ares reports the sockets it wants watched
 * through ARES_OPT_SOCK_STATE_CB; the channel keeps one uv_poll_t per socket
 * and one uv_timer_t armed from ares_timeout().  It knows nothing of MX
 * records: the resolver submits queries on mxs_resolver_chan_ares() and is
 * told after every batch of socket or timer processing (after_io), which is
 * where it submits more.
 */
#ifndef MXS_RESOLVER_CHANNEL_H
#define MXS_RESOLVER_CHANNEL_H

#include <ares.h>
#include <stddef.h>
#include <uv.h>

typedef struct mxs_resolver_chan_s mxs_resolver_chan_t;

typedef struct {
  const char *servers; /* see servers.h; NULL = the system's */
  int timeout_ms;      /* first try; c-ares doubles it for later rounds */
  int tries;
  void (*after_io)(void *arg); /* after each ares_process_fd(), never after close */
  void *arg;
} mxs_resolver_chan_opts_t;

/* Returns 0 and sets *out, or UV_EINVAL (bad server list) / UV_ENOMEM with
 * a message in errbuf.  Nothing is left to close on failure. */
int mxs_resolver_chan_new(uv_loop_t *loop, const mxs_resolver_chan_opts_t *opts, mxs_resolver_chan_t **out,
                          char *errbuf, size_t errlen);

/* The channel, for ares_query().  Borrowed. */
ares_channel mxs_resolver_chan_ares(const mxs_resolver_chan_t *ch);

/* Re-arms the timer from ares_timeout(): call after submitting queries
 * outside after_io.  It walks every outstanding query, so once per batch. */
void mxs_resolver_chan_arm(mxs_resolver_chan_t *ch);

/* Destroys the channel now (every outstanding query's callback runs with
 * ARES_EDESTRUCTION, inside this call), closes the handles, frees CH from
 * the last close callback and then calls done(arg). */
void mxs_resolver_chan_close(mxs_resolver_chan_t *ch, void (*done)(void *arg), void *arg);

#endif
