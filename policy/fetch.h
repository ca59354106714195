/* fetch.h - MTA-STS policy files over HTTPS: libcurl's multi-socket API on
 * the libuv loop.
 *
 * One curl multi handle per fetcher, driven the way curl's multi-uv.c
 * example does it: CURLMOPT_SOCKETFUNCTION keeps one uv_poll_t per socket
 * curl wants watched, CURLMOPT_TIMERFUNCTION one uv_timer_t; each fetch is
 * one easy handle.  Fetches wait in a queue/sched.h scheduler for a slot:
 * at most `concurrency` at once, at most `per_host` at once to one address.
 *
 * A fetch is RFC 8461 section 3.3's: https://HOST[:port]/.well-known/
 * mta-sts.txt, connected to the address the caller resolved (so the
 * resolver of the run, not the system's, finds the policy host), the
 * certificate verified against the trust store (or ca_file) and HOST, no
 * redirect followed, HTTP 200 with a text/plain media type, at most
 * MXS_STS_MAX_POLICY bytes, the whole of it within timeout_ms.
 */
#ifndef MXS_POLICY_FETCH_H
#define MXS_POLICY_FETCH_H

#include <stddef.h>
#include <uv.h>

typedef struct mxs_fetch_s mxs_fetch_t;

typedef struct {
  int concurrency;     /* fetches at once, >= 1 */
  int per_host;        /* fetches at once to one address, >= 1 */
  int timeout_ms;      /* the whole fetch, connect to last byte */
  int port;            /* HTTPS port of policy hosts: 443 (another one for tests) */
  const char *ca_file; /* PEM roots instead of the system store, or NULL (borrowed) */
} mxs_fetch_opts_t;

/* The outcome of one fetch, borrowed for the callback.  error == NULL: the
 * body is the policy text (len bytes, NUL-ended for convenience); else
 * error says why there is none ("HTTP 404", "redirect (HTTP 301) to ...
 * not followed", "content type 'text/html' is not text/plain", "larger than
 * 65536 bytes", "timeout after 10 s", "TLS: SSL certificate problem: ...",
 * "connect: ...").  cancelled: the fetcher was stopped first. */
typedef struct {
  const char *error;
  const char *body;
  size_t len;
  int cancelled;
} mxs_fetch_result_t;

typedef void (*mxs_fetch_cb)(void *arg, const mxs_fetch_result_t *r);

/* Creates a fetcher on LOOP.  0 and *out, or a negative error with a
 * message in err. */
int mxs_fetch_new(uv_loop_t *loop, const mxs_fetch_opts_t *opts, mxs_fetch_t **out, char *err, size_t errlen);

/* Queues the fetch of HOST's policy from address ADDR (both copied).  CB
 * runs once, never inside this call.  0 or UV_ENOMEM / UV_EINVAL. */
int mxs_fetch_policy(mxs_fetch_t *f, const char *host, const char *addr, mxs_fetch_cb cb, void *arg);

/* Every fetch queued or running ends now: its callback runs inside this
 * call with cancelled set.  The fetcher stays usable. */
void mxs_fetch_cancel_all(mxs_fetch_t *f);

/* Fetches queued or running. */
size_t mxs_fetch_pending(const mxs_fetch_t *f);

/* Cancels what is left (callbacks not called), closes every handle and frees
 * F from the last close callback.  NULL is fine. */
void mxs_fetch_close(mxs_fetch_t *f);

#endif
