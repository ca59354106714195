/* window.c - the resolver's slot window (see window.h for the rules). */
#include "resolver/window.h"

enum { START = 32, FLOOR = 8, WATCH_MS = 250 };

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static void on_watch(uv_timer_t *t) {
  mxs_dns_window_t *w = t->data;
  uint64_t now = 0;
  if (mxs_udp_drops_read(w->eps, w->neps, &now) == 0) return; /* the server is gone (a restart?): wait */
  /* a counter that went back is a new socket (the server restarted): its
   * count is all new */
  uint64_t fresh = now >= w->drops_last ? now - w->drops_last : now;
  w->drops_last = now;
  if (fresh == 0) {
    if (w->ceiling < w->max) w->ceiling++;
    return;
  }
  w->drops += fresh;
  size_t half = min_sz(w->size, w->ceiling) / 2;
  w->ceiling = half > FLOOR ? half : FLOOR;
  if (w->ceiling > w->max) w->ceiling = w->max;
  w->size = min_sz(w->size, w->ceiling);
  if (w->ceiling < w->lowest) w->lowest = w->ceiling;
}

void mxs_dns_window_init(mxs_dns_window_t *w, uv_loop_t *loop, size_t max, const mxs_udp_endpoint_t *eps, size_t n) {
  *w = (mxs_dns_window_t){.max = max, .ceiling = max, .lowest = max, .size = min_sz(max, START)};
  uv_timer_init(loop, &w->timer);
  w->timer.data = w;
  w->neps = min_sz(n, MXS_WINDOW_MAX_SERVERS);
  for (size_t i = 0; i < w->neps; i++) w->eps[i] = eps[i];
  uint64_t base = 0;
  if (w->neps == 0 || mxs_udp_drops_read(w->eps, w->neps, &base) == 0) return;
  w->watching = 1;
  w->drops_last = base;
  uv_timer_start(&w->timer, on_watch, WATCH_MS, WATCH_MS);
  uv_unref((uv_handle_t *)&w->timer); /* a watch, not work: it keeps no loop alive */
}

void mxs_dns_window_answered(mxs_dns_window_t *w) {
  if (w->size < w->ceiling) w->size++;
}

void mxs_dns_window_restart(mxs_dns_window_t *w) { w->size = min_sz(w->size, min_sz(START, w->ceiling)); }

uint64_t mxs_dns_window_drops(const mxs_dns_window_t *w, int *known, size_t *lowest) {
  if (known) *known = w->watching;
  if (lowest) *lowest = w->lowest;
  return w->drops;
}

void mxs_dns_window_close(mxs_dns_window_t *w, uv_close_cb cb) { uv_close((uv_handle_t *)&w->timer, cb); }
