/* workers.c - the probe thread pool. */
#include "scanner/workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/loopcheck.h"

typedef enum { MSG_START, MSG_CANCEL, MSG_STOP } msg_kind_t;

typedef struct msg_s {
  struct msg_s *next;
  msg_kind_t kind;
  /* MSG_START */
  char ip[64];
  int port;
  char *sni;
  int legacy;
  const mxs_tls_dane_t *dane; /* borrowed: immutable for the run, read by the worker */
  mxs_probe_cb cb;
  void *arg;
  mxs_probe_result_t *res; /* filled on the worker, handed to cb on main */
  /* while running on the worker: the live list, for cancel */
  mxs_probe_t *probe;
  void *owner; /* the worker_t running it */
  struct msg_s *live_prev, *live_next;
  char why[128]; /* MSG_CANCEL */
} msg_t;

/* A queue one side fills and the other drains; the async wakes the drainer. */
typedef struct {
  uv_mutex_t lock;
  msg_t *head, **tail;
  uv_async_t async;
} mailbox_t;

typedef struct {
  mxs_workers_t *pool;
  uv_thread_t thread;
  uv_loop_t loop;
  mailbox_t inbox;
  mxs_probe_env_t env;
  msg_t *live; /* probes running on this worker */
  char read_buf[MXS_PROBE_READ_BUF];
} worker_t;

struct mxs_workers_s {
  uv_loop_t *main;
  mailbox_t outbox;
  int n;
  worker_t *w;
};

static void mailbox_push(mailbox_t *mb, msg_t *m) {
  m->next = NULL;
  uv_mutex_lock(&mb->lock);
  *mb->tail = m;
  mb->tail = &m->next;
  uv_mutex_unlock(&mb->lock);
  uv_async_send(&mb->async);
}

static msg_t *mailbox_take_all(mailbox_t *mb) {
  uv_mutex_lock(&mb->lock);
  msg_t *all = mb->head;
  mb->head = NULL;
  mb->tail = &mb->head;
  uv_mutex_unlock(&mb->lock);
  return all;
}

static int mailbox_init(mailbox_t *mb, uv_loop_t *loop, uv_async_cb cb, void *data) {
  mb->head = NULL;
  mb->tail = &mb->head;
  int rc = uv_mutex_init(&mb->lock);
  if (rc < 0) return rc;
  rc = uv_async_init(loop, &mb->async, cb);
  if (rc < 0) {
    uv_mutex_destroy(&mb->lock);
    return rc;
  }
  mb->async.data = data;
  return 0;
}

/* ---- worker side ------------------------------------------------------- */

static void live_remove(worker_t *w, msg_t *m) {
  if (m->live_prev)
    m->live_prev->live_next = m->live_next;
  else
    w->live = m->live_next;
  if (m->live_next) m->live_next->live_prev = m->live_prev;
  m->live_prev = m->live_next = NULL;
}

static void on_worker_probe_done(void *arg, mxs_probe_result_t *res) {
  msg_t *m = arg;
  worker_t *w = m->owner;
  live_remove(w, m);
  m->res = res;
  m->probe = NULL;
  mailbox_push(&w->pool->outbox, m);
}

static void start_on_worker(worker_t *w, msg_t *m) {
  m->owner = w;
  m->live_prev = NULL;
  m->live_next = w->live;
  if (w->live) w->live->live_prev = m;
  w->live = m;
  int rc =
      mxs_probe_start_dane(&w->env, m->ip, m->port, m->sni, m->legacy, m->dane, on_worker_probe_done, m, &m->probe);
  if (rc < 0) { /* only ENOMEM or a bad address: report it like a failed connect */
    live_remove(w, m);
    mxs_probe_result_t *r = calloc(1, sizeof *r);
    if (r) {
      r->cls = MXS_CLASS_TCP_UNREACHABLE;
      r->stage = "connect";
      r->local_error = rc == UV_ENOMEM;
      if (asprintf(&r->detail, "cannot start the connection: %s", uv_strerror(rc)) < 0) r->detail = NULL;
      r->timings = (mxs_timings_t){-1, -1, -1, -1, -1, -1, 0};
    }
    m->res = r;
    mailbox_push(&w->pool->outbox, m);
  }
}

static void on_inbox(uv_async_t *h) {
  worker_t *w = h->data;
  msg_t *m = mailbox_take_all(&w->inbox);
  while (m) {
    msg_t *next = m->next;
    switch (m->kind) {
    case MSG_START: start_on_worker(w, m); break;
    case MSG_CANCEL:
      for (msg_t *l = w->live; l; l = l->live_next)
        if (l->probe) mxs_probe_cancel(l->probe, m->why);
      free(m);
      break;
    case MSG_STOP:
      /* No probe runs any more (the scan is over): let the loop end. */
      uv_close((uv_handle_t *)&w->inbox.async, NULL);
      free(m);
      break;
    }
    m = next;
  }
}

static void worker_main(void *arg) {
  worker_t *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* ---- main side --------------------------------------------------------- */

static void on_outbox(uv_async_t *h) {
  mxs_workers_t *pool = h->data;
  msg_t *m = mailbox_take_all(&pool->outbox);
  while (m) {
    msg_t *next = m->next;
    mxs_probe_result_t *res = m->res;
    mxs_probe_cb cb = m->cb;
    void *arg = m->arg;
    free(m->sni);
    free(m);
    if (res) cb(arg, res);
    m = next;
  }
}

static int worker_init(mxs_workers_t *pool, worker_t *w, const mxs_probe_env_t *env) {
  w->pool = pool;
  int rc = uv_loop_init(&w->loop);
  if (rc < 0) return rc;
  w->env = *env;
  w->env.loop = &w->loop;
  w->env.read_buf = w->read_buf;
  w->env.trace = NULL; /* transcripts are single-threaded (mxscan probe) */
  rc = mailbox_init(&w->inbox, &w->loop, on_inbox, w);
  if (rc < 0) {
    uv_loop_close(&w->loop);
    return rc;
  }
  rc = uv_thread_create(&w->thread, worker_main, w);
  if (rc < 0) {
    uv_close((uv_handle_t *)&w->inbox.async, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    uv_mutex_destroy(&w->inbox.lock);
  }
  return rc;
}

static void stop_worker(worker_t *w) {
  msg_t *m = calloc(1, sizeof *m);
  if (m) {
    m->kind = MSG_STOP;
    mailbox_push(&w->inbox, m);
  }
  uv_thread_join(&w->thread);
  mxs_loop_close(&w->loop, "probe thread", stderr);
  uv_mutex_destroy(&w->inbox.lock);
}

int mxs_workers_new(uv_loop_t *main, int n, const mxs_probe_env_t *env, mxs_workers_t **out) {
  mxs_workers_t *pool = calloc(1, sizeof *pool);
  worker_t *ws = calloc((size_t)n, sizeof *ws);
  if (!pool || !ws) {
    free(pool);
    free(ws);
    return UV_ENOMEM;
  }
  pool->main = main;
  pool->w = ws;
  int rc = mailbox_init(&pool->outbox, main, on_outbox, pool);
  if (rc < 0) {
    free(pool);
    free(ws);
    return rc;
  }
  for (int i = 0; rc == 0 && i < n; i++) {
    rc = worker_init(pool, &ws[i], env);
    if (rc == 0) pool->n++;
  }
  if (rc < 0) {
    mxs_workers_close(pool);
    return rc;
  }
  *out = pool;
  return 0;
}

unsigned mxs_workers_shard(const char *ip, unsigned shards) {
  uint32_t h = 2166136261u;
  for (const char *c = ip; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
  return shards ? h % shards : 0;
}

static worker_t *owner_of(mxs_workers_t *pool, const char *ip) {
  return &pool->w[mxs_workers_shard(ip, (unsigned)pool->n)];
}

int mxs_workers_start(mxs_workers_t *pool, const char *ip, int port, const char *sni, int legacy, mxs_probe_cb cb,
                      void *arg) {
  return mxs_workers_start_dane(pool, ip, port, sni, legacy, NULL, cb, arg);
}

int mxs_workers_start_dane(mxs_workers_t *pool, const char *ip, int port, const char *sni, int legacy,
                           const mxs_tls_dane_t *dane, mxs_probe_cb cb, void *arg) {
  msg_t *m = calloc(1, sizeof *m);
  if (!m || !(m->sni = strdup(sni ? sni : ""))) {
    free(m);
    return UV_ENOMEM;
  }
  m->kind = MSG_START;
  snprintf(m->ip, sizeof m->ip, "%s", ip);
  m->port = port;
  m->legacy = legacy;
  m->dane = dane;
  m->cb = cb;
  m->arg = arg;
  mailbox_push(&owner_of(pool, ip)->inbox, m);
  return 0;
}

void mxs_workers_cancel_all(mxs_workers_t *pool, const char *why) {
  for (int i = 0; i < pool->n; i++) {
    msg_t *m = calloc(1, sizeof *m);
    if (!m) continue;
    m->kind = MSG_CANCEL;
    snprintf(m->why, sizeof m->why, "%s", why);
    mailbox_push(&pool->w[i].inbox, m);
  }
}

static void on_pool_closed(uv_handle_t *h) {
  mxs_workers_t *pool = h->data;
  free(pool->w);
  free(pool);
}

void mxs_workers_close(mxs_workers_t *pool) {
  for (int i = 0; i < pool->n; i++) stop_worker(&pool->w[i]);
  on_outbox(&pool->outbox.async); /* results that raced the stop */
  uv_mutex_destroy(&pool->outbox.lock);
  uv_close((uv_handle_t *)&pool->outbox.async, on_pool_closed);
}
