/* redis_uv.c - hiredis 0.14 async context driven by a uv_poll_t and a timer.
 *
 * Three hiredis facts shape this file:
 *  - the context is freed inside hiredis (failed connect, read/write error,
 *    redisAsyncFree) and the only notice is the ev.cleanup hook, called
 *    before the fd is closed: the hook drops our pointer and closes the poll
 *    handle while the fd is still valid (the fd may be reused at once);
 *  - onConnect runs inside redisAsyncHandleWrite without REDIS_IN_CALLBACK,
 *    so freeing the context from it would be a use after free: we only note
 *    it and tell the owner after hiredis has returned;
 *  - reply callbacks run with REDIS_IN_CALLBACK, so redisAsyncFree from them
 *    is deferred by hiredis until the callback returns: safe.
 */
#include "redis/redis_uv.h"

#include <errno.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mxs_ruv_s {
  redisAsyncContext *ac; /* NULL once hiredis has freed it */
  uv_poll_t poll;
  uv_timer_t timer; /* connect timeout, then command timeout */
  int events;       /* UV_READABLE | UV_WRITABLE wanted by hiredis */
  int open_handles;
  int connected;      /* onConnect(REDIS_OK) seen */
  int tell_connected; /* ...and the owner not told yet */
  int killing;        /* redisAsyncFree requested */
  int tcp;            /* keepalive applies (a unix socket would fail it) */
  int connect_timeout_ms, command_timeout_ms;
  const mxs_ruv_cbs_t *cbs;
  void *arg;
  char why[256];
};

static void set_why(mxs_ruv_t *c, const char *why) {
  if (!c->why[0]) snprintf(c->why, sizeof c->why, "%s", why);
}

/* Frees the context (pending callbacks get NULL); the cleanup hook follows
 * at once, or when the reply callback we are in returns. */
static void kill_conn(mxs_ruv_t *c, const char *why) {
  set_why(c, why);
  if (!c->ac || c->killing) return;
  c->killing = 1;
  redisAsyncFree(c->ac);
}

static void on_handle_closed(uv_handle_t *h) {
  mxs_ruv_t *c = h->data;
  if (--c->open_handles > 0) return;
  set_why(c, "connection closed");
  c->cbs->down(c->arg, c->why);
  free(c);
}

/* ---- hiredis event hooks ------------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events);

static void ev_update(mxs_ruv_t *c) {
  if (!c->ac) return;
  if (c->events)
    uv_poll_start(&c->poll, c->events, on_poll);
  else
    uv_poll_stop(&c->poll);
}

static void ev_add_read(void *p) {
  mxs_ruv_t *c = p;
  c->events |= UV_READABLE;
  ev_update(c);
}

static void ev_del_read(void *p) {
  mxs_ruv_t *c = p;
  c->events &= ~UV_READABLE;
  ev_update(c);
}

static void ev_add_write(void *p) {
  mxs_ruv_t *c = p;
  c->events |= UV_WRITABLE;
  ev_update(c);
}

static void ev_del_write(void *p) {
  mxs_ruv_t *c = p;
  c->events &= ~UV_WRITABLE;
  ev_update(c);
}

/* hiredis is about to free the context and close its fd. */
static void ev_cleanup(void *p) {
  mxs_ruv_t *c = p;
  if (c->ac && c->ac->err && c->ac->errstr) set_why(c, c->ac->errstr);
  c->ac = NULL;
  uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  mxs_ruv_t *c = ac->data;
  if (status == REDIS_OK) c->connected = c->tell_connected = 1;
}

/* ---- timers ------------------------------------------------------------ */

static void on_timer(uv_timer_t *h) {
  mxs_ruv_t *c = h->data;
  char why[96];
  if (!c->ac) return;
  if (!c->connected) {
    snprintf(why, sizeof why, "connect timed out after %d ms", c->connect_timeout_ms);
    kill_conn(c, why);
  } else if (c->ac->replies.head) {
    snprintf(why, sizeof why, "no reply for %d ms", c->command_timeout_ms);
    kill_conn(c, why);
  }
}

/* While commands are pending, a reply must come within the command timeout;
 * each reply restarts the clock, so a long pipeline is not cut short. */
static void arm_command_timer(mxs_ruv_t *c) {
  if (c->ac && c->ac->replies.head)
    uv_timer_start(&c->timer, on_timer, (uint64_t)c->command_timeout_ms, 0);
  else
    uv_timer_stop(&c->timer);
}

/* ---- I/O --------------------------------------------------------------- */

/* The socket keeps the loop alive only while a reply is awaited or bytes
 * wait to be written: an idle connection (hiredis always polls for reading)
 * must not keep a finished scan running. */
static void update_ref(mxs_ruv_t *c) {
  if (!c->ac) return;
  if (c->ac->replies.head || sdslen(c->ac->c.obuf) > 0)
    uv_ref((uv_handle_t *)&c->poll);
  else
    uv_unref((uv_handle_t *)&c->poll);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  mxs_ruv_t *c = h->data;
  if (!c->ac) return;
  if (status < 0) {
    /* EPOLLERR (a refused connect, a reset) arrives as UV_EBADF with no
     * events, and libuv has stopped the handle: let hiredis look at the
     * socket so the message names the real error. */
    if (!c->connected)
      redisAsyncHandleWrite(c->ac);
    else
      redisAsyncHandleRead(c->ac);
    if (c->ac) kill_conn(c, uv_strerror(status));
    return;
  }
  if (events & UV_READABLE) redisAsyncHandleRead(c->ac);
  if (c->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(c->ac);
  if (c->ac && c->tell_connected) {
    c->tell_connected = 0;
    /* Notices a silent peer when idle.  TCP only: on a unix socket the
     * TCP_KEEPIDLE call fails and hiredis marks the context failed. */
    if (c->tcp) redisEnableKeepAlive(&c->ac->c);
    arm_command_timer(c);
    c->cbs->connected(c->arg);
  }
  update_ref(c);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  mxs_ruv_t *c = ac->data;
  if (reply && !c->killing) arm_command_timer(c);
  c->cbs->reply(c->arg, reply, (uintptr_t)priv);
}

int mxs_ruv_command(mxs_ruv_t *c, uintptr_t tag, int argc, const char **argv, const size_t *argvlen) {
  if (!c->ac || c->killing) return -ENOTCONN;
  int idle = c->ac->replies.head == NULL;
  if (redisAsyncCommandArgv(c->ac, on_reply, (void *)tag, argc, argv, argvlen) != REDIS_OK) return -ENOTCONN;
  if (idle && c->connected) arm_command_timer(c);
  update_ref(c);
  return 0;
}

size_t mxs_ruv_pending_bytes(const mxs_ruv_t *c) { return c->ac ? sdslen(c->ac->c.obuf) : 0; }

void mxs_ruv_close(mxs_ruv_t *c, const char *why) { kill_conn(c, why); }

/* ---- connect ----------------------------------------------------------- */

static int attach(mxs_ruv_t *c, uv_loop_t *loop, redisAsyncContext *ac) {
  int rc = uv_poll_init_socket(loop, &c->poll, ac->c.fd);
  if (rc < 0) return rc;
  uv_timer_init(loop, &c->timer);
  uv_unref((uv_handle_t *)&c->timer); /* the poll handle holds the loop when needed */
  c->poll.data = c->timer.data = c;
  c->open_handles = 2;
  c->ac = ac;
  ac->data = c;
  ac->ev.data = c;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  /* Connect completion shows as the first writable event. */
  redisAsyncSetConnectCallback(ac, on_connect);
  uv_timer_start(&c->timer, on_timer, (uint64_t)c->connect_timeout_ms, 0);
  update_ref(c);
  return 0;
}

int mxs_ruv_connect(uv_loop_t *loop, const mxs_ruv_opts_t *o, const mxs_ruv_cbs_t *cbs, void *arg, mxs_ruv_t **out,
                    char *err, size_t errlen) {
  mxs_ruv_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->cbs = cbs;
  c->arg = arg;
  c->connect_timeout_ms = o->connect_timeout_ms;
  c->command_timeout_ms = o->command_timeout_ms;
  c->tcp = o->path == NULL;
  redisAsyncContext *ac = o->path ? redisAsyncConnectUnix(o->path) : redisAsyncConnect(o->host, o->port);
  int rc = -ENOMEM;
  if (ac && ac->err) {
    snprintf(err, errlen, "%s", ac->errstr);
    rc = -ECONNREFUSED;
  } else if (ac && (rc = attach(c, loop, ac)) < 0) {
    snprintf(err, errlen, "cannot watch the socket: %s", uv_strerror(rc));
  } else if (ac) {
    *out = c;
    return 0;
  } else {
    snprintf(err, errlen, "out of memory");
  }
  if (ac) redisAsyncFree(ac); /* no hooks attached yet: nothing calls back */
  free(c);
  return rc;
}
