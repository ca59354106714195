/* channel.c - the c-ares channel on the libuv loop (see channel.h). */
#include "resolver/channel.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/servers.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Bursts of answers to hundreds of outstanding queries arrive together;
 * the default ~200 KiB buffer drops some and turns them into timeouts. */
enum { UDP_RCVBUF = 1 << 20 };

/* A socket c-ares asked us to watch. */
typedef struct poll_s {
  uv_poll_t handle;
  mxs_resolver_chan_t *ch;
  ares_socket_t fd;
  int events; /* what c-ares last asked for */
  struct poll_s *next;
} poll_t;

struct mxs_resolver_chan_s {
  uv_loop_t *loop;
  ares_channel channel;
  uv_timer_t timer;
  poll_t *polls; /* live handles only: a closing one is already unlinked */
  int closing;
  int open_handles; /* handles not yet through their close callback */
  void (*after_io)(void *arg);
  void *arg;
  void (*done)(void *arg);
  void *done_arg;
};

static void handle_closed(mxs_resolver_chan_t *ch) {
  if (--ch->open_handles > 0 || !ch->closing) return;
  void (*done)(void *) = ch->done;
  void *done_arg = ch->done_arg;
  free(ch);
  ares_library_cleanup();
  if (done) done(done_arg);
}

static void poll_close_cb(uv_handle_t *h) {
  poll_t *p = container_of((uv_poll_t *)h, poll_t, handle);
  mxs_resolver_chan_t *ch = p->ch;
  free(p);
  handle_closed(ch);
}

static void timer_close_cb(uv_handle_t *h) { handle_closed(h->data); }

static poll_t **find_poll(mxs_resolver_chan_t *ch, ares_socket_t fd) {
  poll_t **pp = &ch->polls;
  while (*pp && (*pp)->fd != fd) pp = &(*pp)->next;
  return pp;
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  poll_t *p = container_of(h, poll_t, handle);
  mxs_resolver_chan_t *ch = p->ch;
  ares_socket_t fd = p->fd, rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
  if (status < 0) {
    /* libuv stopped the handle on POLLERR: let c-ares read the socket error
     * (e.g. ECONNREFUSED) so it closes the socket and moves on. */
    rfd = wfd = fd;
  } else {
    if (events & UV_READABLE) rfd = fd;
    if (events & UV_WRITABLE) wfd = fd;
  }
  /* P may be unlinked and closed by sock_state_cb inside this call (its
   * memory lives until the close callback, later). */
  ares_process_fd(ch->channel, rfd, wfd);
  /* If c-ares kept the socket (the error was already consumed, e.g. by a
   * failed send), it will not tell us again: re-arm, or every later query
   * on this socket would go unread and time out. */
  if (status < 0 && *find_poll(ch, fd) == p) uv_poll_start(&p->handle, p->events, poll_cb);
  ch->after_io(ch->arg);
  mxs_resolver_chan_arm(ch);
}

/* c-ares opens, re-targets and closes its sockets through here.  On (0,0)
 * the fd is about to be closed and may be reused by the very next socket(),
 * so the handle leaves the table now, not in its close callback. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable) {
  mxs_resolver_chan_t *ch = data;
  poll_t **pp = find_poll(ch, fd);
  poll_t *p = *pp;
  if (!readable && !writable) {
    if (p) {
      *pp = p->next;
      uv_close((uv_handle_t *)&p->handle, poll_close_cb);
    }
    return;
  }
  if (p == NULL) {
    if (ch->closing || (p = calloc(1, sizeof(*p))) == NULL) return;
    if (uv_poll_init_socket(ch->loop, &p->handle, fd) != 0) {
      free(p); /* unwatched: c-ares will time its queries out */
      return;
    }
    p->ch = ch;
    p->fd = fd;
    p->next = ch->polls;
    ch->polls = p;
    ch->open_handles++;
  }
  p->events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(&p->handle, p->events, poll_cb);
}

static void timer_cb(uv_timer_t *t) {
  mxs_resolver_chan_t *ch = t->data;
  /* No fds: c-ares only expires timed-out tries (and retries them). */
  ares_process_fd(ch->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  ch->after_io(ch->arg);
  mxs_resolver_chan_arm(ch);
}

void mxs_resolver_chan_arm(mxs_resolver_chan_t *ch) {
  struct timeval tv, *tvp;
  if (ch->closing) return;
  tvp = ares_timeout(ch->channel, NULL, &tv);
  if (tvp == NULL) {
    uv_timer_stop(&ch->timer);
    return;
  }
  /* ares_timeout() rounds down to whole milliseconds, so under 1 ms left
   * reads as 0: never arm below 1 ms, or the loop spins until the deadline
   * actually passes. */
  uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
  if (ms == 0) ms = 1;
  uv_timer_start(&ch->timer, timer_cb, ms, 0);
}

ares_channel mxs_resolver_chan_ares(const mxs_resolver_chan_t *ch) { return ch->channel; }

static int fail_msg(char *errbuf, size_t errlen, int rc, const char *what, int st) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s: %s", what, ares_strerror(st));
  return rc;
}

/* The channel itself: options, then the server list checked by servers.c. */
static int init_ares(mxs_resolver_chan_t *ch, const mxs_resolver_chan_opts_t *o, char *errbuf, size_t errlen) {
  struct ares_options ao;
  memset(&ao, 0, sizeof(ao));
  /* NOCHECKRESP: a SERVFAIL/REFUSED answer ends the query as such instead
   * of being retried elsewhere and reported as a generic failure.
   * NOSEARCH: no search domains (we only use ares_query anyway). */
  ao.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
  ao.timeout = o->timeout_ms;
  ao.tries = o->tries;
  ao.sock_state_cb = sock_state_cb;
  ao.sock_state_cb_data = ch;
  ao.socket_receive_buffer_size = UDP_RCVBUF;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF;
  int st = ares_init_options(&ch->channel, &ao, mask);
  if (st != ARES_SUCCESS) return fail_msg(errbuf, errlen, st == ARES_ENOMEM ? UV_ENOMEM : UV_EINVAL, "c-ares init", st);
  if (o->servers == NULL) return 0;
  char *csv = NULL;
  int rc = mxs_resolver_servers_csv(o->servers, &csv, errbuf, errlen);
  if (rc == 0) {
    st = ares_set_servers_ports_csv(ch->channel, csv);
    free(csv);
    if (st == ARES_SUCCESS) return 0;
    rc = fail_msg(errbuf, errlen, st == ARES_ENOMEM ? UV_ENOMEM : UV_EINVAL, "DNS server list", st);
  }
  ares_destroy(ch->channel);
  return rc;
}

int mxs_resolver_chan_new(uv_loop_t *loop, const mxs_resolver_chan_opts_t *opts, mxs_resolver_chan_t **out,
                          char *errbuf, size_t errlen) {
  int st = ares_library_init(ARES_LIB_INIT_ALL);
  if (st != ARES_SUCCESS) return fail_msg(errbuf, errlen, UV_ENOMEM, "c-ares init", st);
  mxs_resolver_chan_t *ch = calloc(1, sizeof(*ch));
  int rc = ch ? init_ares(ch, opts, errbuf, errlen) : UV_ENOMEM;
  if (rc < 0) {
    free(ch);
    ares_library_cleanup();
    return rc;
  }
  ch->loop = loop;
  ch->after_io = opts->after_io;
  ch->arg = opts->arg;
  /* The timer last: nothing after it can fail, so a failed new never has
   * a handle to close asynchronously. */
  uv_timer_init(loop, &ch->timer);
  ch->timer.data = ch;
  ch->open_handles = 1;
  *out = ch;
  return 0;
}

void mxs_resolver_chan_close(mxs_resolver_chan_t *ch, void (*done)(void *arg), void *arg) {
  ch->closing = 1;
  ch->done = done;
  ch->done_arg = arg;
  /* Ends every query with ARES_EDESTRUCTION and closes every socket, which
   * reaches sock_state_cb(fd, 0, 0) and closes its handle. */
  ares_destroy(ch->channel);
  ch->channel = NULL;
  while (ch->polls) { /* in case a socket was not reported closed */
    poll_t *p = ch->polls;
    ch->polls = p->next;
    uv_close((uv_handle_t *)&p->handle, poll_close_cb);
  }
  uv_close((uv_handle_t *)&ch->timer, timer_close_cb);
}
