/* tlsa_cache.c - each MX host's TLSA records, once per run (tlsa_cache.h). */
#include "resolver/tlsa_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mxs_tlsa_waiter_s {
  mxs_tlsa_waiter_t *next;
  mxs_tlsa_cb cb;
  void *arg;
};

void mxs_tlsa_cache_init(mxs_tlsa_cache_t *c, mxs_resolver_t *resolver, int port) {
  memset(c, 0, sizeof *c);
  c->resolver = resolver;
  snprintf(c->qprefix, sizeof c->qprefix, "_%d._tcp.", port > 0 && port < 65536 ? port : 25);
  mxs_resolver_cache_init(&c->by_name);
}

const mxs_tlsa_entry_t *mxs_tlsa_find(const mxs_tlsa_cache_t *c, const char *host) {
  const mxs_tlsa_entry_t *e = mxs_resolver_cache_get(&c->by_name, host);
  return e && e->done ? e : NULL;
}

static void wake(mxs_tlsa_entry_t *e) {
  mxs_tlsa_waiter_t *w = e->waiters;
  e->waiters = NULL;
  while (w) {
    mxs_tlsa_waiter_t *next = w->next;
    w->cb(w->arg, e);
    free(w);
    w = next;
  }
}

/* Keeps the records in one block: the array, the data, then the
 * presentation form of each ("U S M hex", RFC 6698 2.2). */
static void keep_records(mxs_tlsa_entry_t *e, const mxs_rr_answer_t *a) {
  size_t bytes = 0;
  for (size_t i = 0; i < a->n; i++) bytes += (a->lens[i] - 3) * 3 + 16;
  mxs_dane_rr_t *rr = malloc(a->n * (sizeof *rr + sizeof(char *)) + bytes + 1);
  if (!rr) {
    e->status = MXS_RR_FAILED;
    e->secure = 0;
    snprintf(e->error, sizeof e->error, "out of memory");
    return;
  }
  const char **text = (const char **)(rr + a->n);
  unsigned char *data = (unsigned char *)(text + a->n);
  for (size_t i = 0; i < a->n; i++) {
    const unsigned char *p = (const unsigned char *)a->items[i];
    size_t len = a->lens[i] - 3; /* the resolver gives at least the 3 fixed octets */
    memcpy(data, p + 3, len);
    rr[i] = (mxs_dane_rr_t){.usage = p[0], .selector = p[1], .mtype = p[2], .data = data, .len = len};
    data += len;
    e->usable += mxs_dane_rr_usable(p[0], p[1], p[2], len);
  }
  char *t = (char *)data;
  for (size_t i = 0; i < a->n; i++) {
    text[i] = t;
    t += sprintf(t, "%u %u %u ", rr[i].usage, rr[i].selector, rr[i].mtype);
    for (size_t k = 0; k < rr[i].len; k++) t += sprintf(t, "%02x", rr[i].data[k]);
    t++; /* past the NUL */
  }
  e->rrset.rr = rr;
  e->rrset.n = a->n;
  e->text = text;
}

static void on_tlsa(void *arg, const mxs_rr_answer_t *a) {
  mxs_tlsa_entry_t *e = arg;
  e->status = a->status;
  e->secure = a->secure;
  if (a->status == MXS_RR_FAILED) snprintf(e->error, sizeof e->error, "%s", a->detail);
  if (a->status == MXS_RR_OK) keep_records(e, a);
  e->done = 1;
  wake(e);
}

int mxs_tlsa_lookup(mxs_tlsa_cache_t *c, const char *host, mxs_tlsa_cb cb, void *arg) {
  mxs_tlsa_entry_t *e = mxs_resolver_cache_get(&c->by_name, host);
  if (e && e->done) return UV_EINVAL; /* known: the caller finds it */
  mxs_tlsa_waiter_t *w = calloc(1, sizeof *w);
  if (!w) return UV_ENOMEM;
  *w = (mxs_tlsa_waiter_t){.cb = cb, .arg = arg};
  if (e) { /* in flight: wait for it */
    w->next = e->waiters;
    e->waiters = w;
    return 0;
  }
  if (!(e = calloc(1, sizeof *e)) || !(e->name = strdup(host)) || mxs_resolver_cache_put(&c->by_name, e->name, e) < 0) {
    if (e) free(e->name);
    free(e);
    free(w);
    return UV_ENOMEM;
  }
  e->rrset.base = e->name;
  e->next = c->all;
  c->all = e;
  char qname[300];
  snprintf(qname, sizeof qname, "%s%s", c->qprefix, host);
  /* the entry is the callback's argument: it lives as long as the cache,
   * so an answer that never comes (the resolver closed) leaks nothing */
  int rc = mxs_resolver_query(c->resolver, qname, MXS_RR_TLSA, on_tlsa, e);
  if (rc < 0) { /* a name too long for a TLSA owner, say: known as failed */
    e->done = 1;
    e->status = MXS_RR_FAILED;
    snprintf(e->error, sizeof e->error, "cannot ask: %s", uv_strerror(rc));
    free(w);
    return rc;
  }
  e->waiters = w;
  c->lookups++;
  return 0;
}

void mxs_tlsa_flush(mxs_tlsa_cache_t *c) {
  /* collected first: a callback may start lookups, which add entries */
  mxs_tlsa_waiter_t *list = NULL;
  for (mxs_tlsa_entry_t *e = c->all; e; e = e->next) {
    if (e->done) continue;
    while (e->waiters) {
      mxs_tlsa_waiter_t *w = e->waiters;
      e->waiters = w->next;
      w->next = list;
      list = w;
    }
  }
  while (list) {
    mxs_tlsa_waiter_t *w = list;
    list = w->next;
    w->cb(w->arg, NULL);
    free(w);
  }
}

void mxs_tlsa_cache_free(mxs_tlsa_cache_t *c) {
  mxs_resolver_cache_free(&c->by_name, NULL);
  while (c->all) {
    mxs_tlsa_entry_t *e = c->all;
    c->all = e->next;
    for (mxs_tlsa_waiter_t *w = e->waiters, *next; w; w = next) {
      next = w->next;
      free(w);
    }
    free((void *)e->rrset.rr);
    free(e->name);
    free(e);
  }
}
