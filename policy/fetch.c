/* fetch.c - MTA-STS policy files over HTTPS with libcurl's multi-socket API
 * on libuv (the shape of curl's docs/examples/multi-uv.c).
 *
 * Lifecycle of a request: queued in the scheduler (mxs_fetch_policy only
 * queues and arms a zero timer, so a callback never runs inside it), then
 * an easy handle in the multi handle, then finished from
 * curl_multi_info_read() after a socket or timer event: the callback runs,
 * the easy handle is removed and freed, the next request may start.
 */
#include "policy/fetch.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/sched.h"
#include "results/policy.h"

typedef struct req_s {
  mxs_sched_item_t item; /* first: the scheduler hands items back */
  mxs_fetch_t *f;
  struct req_s *prev, *next; /* every live request */
  CURL *easy;                /* NULL while queued */
  struct curl_slist *resolve;
  mxs_fetch_cb cb;
  void *arg;
  char *body; /* owned, NUL-ended, at most MXS_STS_MAX_POLICY + 1 bytes */
  size_t cap; /* body's size */
  size_t len;
  int too_big;
  char errbuf[CURL_ERROR_SIZE];
  char host[256];
  char addr[64];
} req_t;

struct mxs_fetch_s {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t curl_timer;  /* CURLMOPT_TIMERFUNCTION's */
  uv_timer_t sched_timer; /* when the scheduler may start more */
  mxs_sched_t sched;
  mxs_fetch_opts_t o;
  char *ca_file;
  req_t *live;
  size_t pending;
  int handles; /* open uv handles: the timers and one poll per socket */
  int closing;
};

/* One socket curl wants watched. */
typedef struct {
  uv_poll_t poll;
  curl_socket_t fd;
  mxs_fetch_t *f;
} sock_t;

static void pump(mxs_fetch_t *f);

/* Every handle's data is the fetcher; a poll handle is the first member of
 * its sock_t, so freeing it frees the socket's context.  The last one to
 * close after mxs_fetch_close frees the fetcher. */
static void handle_closed(uv_handle_t *h) {
  mxs_fetch_t *f = h->data;
  if (h->type == UV_POLL) free(h);
  if (--f->handles == 0 && f->closing) {
    mxs_sched_free(&f->sched);
    free(f->ca_file);
    free(f);
  }
}

/* ---- results ------------------------------------------------------------ */

static void req_unlink(req_t *q) {
  mxs_fetch_t *f = q->f;
  if (q->prev)
    q->prev->next = q->next;
  else
    f->live = q->next;
  if (q->next) q->next->prev = q->prev;
  f->pending--;
}

/* Takes the easy handle out of the multi handle (curl closes its sockets,
 * calling the socket function with CURL_POLL_REMOVE) and frees Q. */
static void req_free(req_t *q) {
  if (q->easy) {
    curl_multi_remove_handle(q->f->multi, q->easy);
    curl_easy_cleanup(q->easy);
  }
  curl_slist_free_all(q->resolve);
  free(q->body);
  free(q);
}

/* text/plain, in any case, with or without parameters (RFC 8461 3.3). */
static int is_text_plain(const char *ct) {
  if (!ct) return 0;
  while (*ct == ' ' || *ct == '\t') ct++;
  if (strncasecmp(ct, "text/plain", 10) != 0) return 0;
  char c = ct[10];
  return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Why the finished transfer gave no policy, into WHY; NULL when it did. */
static const char *outcome(req_t *q, CURLcode rc, char *why, size_t wl) {
  long status = 0;
  curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
  if (q->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    snprintf(why, wl, "larger than %zu bytes", MXS_STS_MAX_POLICY);
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(why, wl, "timeout after %g s", q->f->o.timeout_ms / 1000.0);
  } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CERTPROBLEM ||
             rc == CURLE_SSL_CACERT_BADFILE) {
    snprintf(why, wl, "TLS: %s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc));
  } else if (rc == CURLE_COULDNT_CONNECT) {
    long os_errno = 0; /* curl's own text carries the milliseconds it took */
    curl_easy_getinfo(q->easy, CURLINFO_OS_ERRNO, &os_errno);
    snprintf(why, wl, "connect to %s port %d: %s", q->addr, q->f->o.port,
             os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
  } else if (rc != CURLE_OK) {
    snprintf(why, wl, "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc));
  } else if (status >= 300 && status < 400) {
    char *to = NULL;
    curl_easy_getinfo(q->easy, CURLINFO_REDIRECT_URL, &to);
    snprintf(why, wl, "redirect (HTTP %ld) to %.200s not followed", status, to ? to : "(no Location)");
  } else if (status != 200) {
    snprintf(why, wl, "HTTP %ld", status);
  } else {
    char *ct = NULL;
    curl_easy_getinfo(q->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (!is_text_plain(ct)) {
      snprintf(why, wl, "content type '%.100s' is not text/plain", ct ? ct : "");
    } else {
      return NULL;
    }
  }
  return why;
}

static void finish(req_t *q, CURLcode rc) {
  mxs_fetch_t *f = q->f;
  char why[400];
  mxs_fetch_result_t r = {outcome(q, rc, why, sizeof why), NULL, 0, 0};
  if (!r.error) {
    r.body = q->body ? q->body : "";
    r.len = q->len;
  }
  req_unlink(q);
  mxs_sched_done(&f->sched, &q->item, 1, uv_now(f->loop));
  q->cb(q->arg, &r);
  req_free(q);
}

static void check_multi_info(mxs_fetch_t *f) {
  CURLMsg *msg;
  int left;
  while (!f->closing && (msg = curl_multi_info_read(f->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    req_t *q = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
    finish(q, msg->data.result);
  }
  if (!f->closing) pump(f);
}

/* ---- curl on the loop --------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = (sock_t *)h;
  mxs_fetch_t *f = s->f;
  int flags = status < 0 ? CURL_CSELECT_ERR : 0;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(f->multi, s->fd, flags, &running);
  check_multi_info(f);
}

static void on_curl_timer(uv_timer_t *t) {
  mxs_fetch_t *f = t->data;
  int running;
  curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(f);
}

/* CURLMOPT_TIMERFUNCTION: never call back into curl from here, only arm. */
static int curl_timer_fn(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  mxs_fetch_t *f = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&f->curl_timer);
  else
    uv_timer_start(&f->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch what curl asks for.  On REMOVE curl is
 * about to close the descriptor: stop and close the poll handle now, so a
 * descriptor number reused by the next socket never meets a stale one. */
static int curl_socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  mxs_fetch_t *f = userp;
  sock_t *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, handle_closed);
      curl_multi_assign(f->multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    if (!(s = calloc(1, sizeof *s))) return -1;
    if (uv_poll_init_socket(f->loop, &s->poll, fd) < 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->f = f;
    s->poll.data = f;
    f->handles++;
    curl_multi_assign(f->multi, fd, s);
  }
  int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

/* ---- requests ----------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  req_t *q = arg;
  size_t n = size * nmemb;
  if (q->len + n > MXS_STS_MAX_POLICY) { /* no Content-Length to refuse it by */
    q->too_big = 1;
    return 0; /* aborts the transfer */
  }
  if (q->len + n + 1 > q->cap) { /* most policies are a few hundred bytes: grow, do not reserve 64 KiB */
    size_t cap = q->cap ? q->cap : 1024;
    while (cap < q->len + n + 1) cap *= 2;
    if (cap > MXS_STS_MAX_POLICY + 1) cap = MXS_STS_MAX_POLICY + 1;
    char *b = realloc(q->body, cap);
    if (!b) return 0; /* aborts the transfer: reported as a write error */
    q->body = b;
    q->cap = cap;
  }
  memcpy(q->body + q->len, data, n);
  q->len += n;
  q->body[q->len] = '\0';
  return n;
}

static int start(mxs_fetch_t *f, req_t *q) {
  char url[400], pin[400];
  if (f->o.port == 443)
    snprintf(url, sizeof url, "https://%s/.well-known/mta-sts.txt", q->host);
  else
    snprintf(url, sizeof url, "https://%s:%d/.well-known/mta-sts.txt", q->host, f->o.port);
  /* connect to the address the run's resolver found, keeping the name for
   * SNI, the Host header and the certificate check; "+": the entry ages out
   * of the multi handle's DNS cache like a looked-up one, instead of staying
   * for the run (one per publishing domain) */
  snprintf(pin, sizeof pin, strchr(q->addr, ':') ? "+%s:%d:[%s]" : "+%s:%d:%s", q->host, f->o.port, q->addr);
  if (!(q->resolve = curl_slist_append(NULL, pin)) || !(q->easy = curl_easy_init())) return -1;
  CURL *e = q->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_RESOLVE, q->resolve);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* RFC 8461 3.3: no redirects */
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  /* The trust store is one file: --ca-file (instead of the system store,
   * as for SMTP) or curl's bundle (Debian: the system store as one file).
   * No CA path: curl reuses a store it parsed for the next handle only
   * without one (CURLOPT_CA_CACHE_TIMEOUT), and parsing the system's ~140
   * roots again costs ~18 ms of CPU per fetch. */
  if (f->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, f->ca_file);
  curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  /* one request per host for the run: no session to resume, nothing for
   * HTTP/2 to multiplex */
  curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)f->o.timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MXS_STS_MAX_POLICY);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, q);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* every policy host is another name: an idle connection would only hold
   * a descriptor */
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "mxscan (MTA-STS policy check)");
  return curl_multi_add_handle(f->multi, e) == CURLM_OK ? 0 : -1;
}

static void on_sched_timer(uv_timer_t *t) { pump(t->data); }

/* Starts what the limits allow; arms the timer for what they hold back. */
static void pump(mxs_fetch_t *f) {
  uint64_t wake;
  mxs_sched_item_t *it;
  while (!f->closing && (it = mxs_sched_pop(&f->sched, uv_now(f->loop), &wake))) {
    req_t *q = (req_t *)it;
    if (start(f, q) < 0) {
      snprintf(q->errbuf, sizeof q->errbuf, "cannot start the fetch: out of memory");
      if (q->easy) curl_easy_cleanup(q->easy);
      q->easy = NULL;
      req_unlink(q);
      mxs_sched_done(&f->sched, &q->item, 1, uv_now(f->loop));
      mxs_fetch_result_t r = {q->errbuf, NULL, 0, 0};
      q->cb(q->arg, &r);
      req_free(q);
    }
  }
  if (!f->closing && wake != UINT64_MAX) uv_timer_start(&f->sched_timer, on_sched_timer, wake, 0);
}

int mxs_fetch_policy(mxs_fetch_t *f, const char *host, const char *addr, mxs_fetch_cb cb, void *arg) {
  if (!f || !cb || !host || !addr || strlen(host) >= sizeof((req_t *)0)->host ||
      strlen(addr) >= sizeof((req_t *)0)->addr || f->closing)
    return UV_EINVAL;
  req_t *q = calloc(1, sizeof *q);
  if (!q) return UV_ENOMEM;
  q->f = f;
  q->cb = cb;
  q->arg = arg;
  snprintf(q->host, sizeof q->host, "%s", host);
  snprintf(q->addr, sizeof q->addr, "%s", addr);
  if (mxs_sched_push(&f->sched, &q->item, q->addr, q->addr, uv_now(f->loop)) < 0) {
    free(q);
    return UV_ENOMEM;
  }
  q->next = f->live;
  if (f->live) f->live->prev = q;
  f->live = q;
  f->pending++;
  uv_timer_start(&f->sched_timer, on_sched_timer, 0, 0); /* start it from the loop, not here */
  return 0;
}

size_t mxs_fetch_pending(const mxs_fetch_t *f) { return f ? f->pending : 0; }

/* Ends every request; with NOTIFY their callbacks run (cancelled). */
static void end_all(mxs_fetch_t *f, int notify) {
  mxs_sched_drain(&f->sched); /* the queued ones are on f->live too */
  while (f->live) {
    req_t *q = f->live;
    req_unlink(q);
    if (q->easy) mxs_sched_done(&f->sched, &q->item, 1, uv_now(f->loop));
    if (notify) {
      mxs_fetch_result_t r = {"cancelled: the run is ending", NULL, 0, 1};
      q->cb(q->arg, &r);
    }
    req_free(q);
  }
}

void mxs_fetch_cancel_all(mxs_fetch_t *f) {
  if (f && !f->closing) end_all(f, 1);
}

int mxs_fetch_new(uv_loop_t *loop, const mxs_fetch_opts_t *opts, mxs_fetch_t **out, char *err, size_t errlen) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "cannot initialise libcurl");
    return UV_EINVAL;
  }
  mxs_fetch_t *f = calloc(1, sizeof *f);
  if (!f || !(f->multi = curl_multi_init()) || (opts->ca_file && !(f->ca_file = strdup(opts->ca_file)))) {
    if (f && f->multi) curl_multi_cleanup(f->multi);
    if (f) free(f->ca_file);
    free(f);
    curl_global_cleanup();
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  f->loop = loop;
  f->o = *opts;
  f->o.ca_file = f->ca_file;
  curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_fn);
  curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
  curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, curl_timer_fn);
  curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
  uv_timer_init(loop, &f->curl_timer);
  uv_timer_init(loop, &f->sched_timer);
  f->curl_timer.data = f->sched_timer.data = f;
  f->handles = 2;
  /* The scheduler's provider is the address too: every policy host is
   * another name (one fetch per domain), but thousands of them may share
   * one hosting address, and the scheduler walks its providers on every
   * pop, so a provider per name would cost a walk of the whole queue per
   * socket event.  One per address keeps the walk to the addresses that
   * have fetches waiting, served round-robin. */
  mxs_sched_opts_t so = {opts->concurrency, opts->per_host, 0, opts->per_host, 0, 0, 60000};
  mxs_sched_init(&f->sched, &so, uv_now(loop));
  *out = f;
  return 0;
}

void mxs_fetch_close(mxs_fetch_t *f) {
  if (!f || f->closing) return;
  end_all(f, 0);
  f->closing = 1;
  curl_multi_cleanup(f->multi); /* after every easy handle is removed */
  f->multi = NULL;
  curl_global_cleanup();
  uv_close((uv_handle_t *)&f->curl_timer, handle_closed);
  uv_close((uv_handle_t *)&f->sched_timer, handle_closed);
}
