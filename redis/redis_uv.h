/* redis_uv.h - one hiredis 0.14 async connection on a libuv loop.
 *
 * Replaces hiredis' own adapters/libuv.h, which ignores poll errors (a
 * refused connect then hangs for ever: libuv reports EPOLLERR as UV_EBADF
 * with no events), uses uv_poll_init instead of uv_poll_init_socket, and has
 * no timeouts.  This one has a connect timeout and a command timeout (no
 * reply for that long while commands are pending: the server is gone or
 * stuck), and always ends with exactly one `down` callback saying why.
 *
 * hiredis frees its context by itself after a failed connect or a
 * disconnect; the adapter learns it from the cleanup hook and never touches
 * the context after that.  Callers never see the redisAsyncContext.
 *
 * Lifecycle: mxs_ruv_connect -> connected -> reply... -> down (always, once,
 * asynchronously, after every pending command got its reply or a NULL).  The
 * object frees itself right after `down` returns.
 */
#ifndef MXS_REDIS_UV_H
#define MXS_REDIS_UV_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mxs_ruv_s mxs_ruv_t;

typedef struct {
  /* The connection is established; commands may be sent. */
  void (*connected)(void *arg);
  /* The reply to the command sent with TAG; NULL when the connection went
   * down before it arrived (the command may or may not have run).  Runs
   * inside hiredis: may send commands or call mxs_ruv_close, nothing else
   * that re-enters this connection.  REPLY is freed after the return. */
  void (*reply)(void *arg, redisReply *reply, uintptr_t tag);
  /* The connection is gone (connect failed or timed out, the server closed
   * it, a command timed out, a socket error, or mxs_ruv_close).  WHY is a
   * message without secrets.  Last call for this connection. */
  void (*down)(void *arg, const char *why);
} mxs_ruv_cbs_t;

typedef struct {
  const char *host; /* TCP host, or NULL when path is set */
  int port;
  const char *path; /* unix socket path, or NULL */
  int connect_timeout_ms;
  int command_timeout_ms;
} mxs_ruv_opts_t;

/* Starts connecting.  O and CBS are borrowed (CBS must outlive the
 * connection), ARG is passed to every callback.  Returns 0, or a negative
 * errno with a message in ERR when the attempt failed at once (bad address,
 * no such socket file); then no callback ever runs. */
int mxs_ruv_connect(uv_loop_t *loop, const mxs_ruv_opts_t *o, const mxs_ruv_cbs_t *cbs, void *arg, mxs_ruv_t **out,
                    char *err, size_t errlen);

/* Queues one command (the arguments are copied).  Returns 0, or -ENOTCONN
 * when the connection is going down (no reply callback will run for it). */
int mxs_ruv_command(mxs_ruv_t *c, uintptr_t tag, int argc, const char **argv, const size_t *argvlen);

/* Bytes queued for the server and not yet written. */
size_t mxs_ruv_pending_bytes(const mxs_ruv_t *c);

/* Drops the connection at once: pending commands get a NULL reply, then
 * `down` runs with WHY (copied).  Safe to call more than once. */
void mxs_ruv_close(mxs_ruv_t *c, const char *why);

#endif
