/* loopcheck.c - closing an event loop, and saying what was left open. */
#include "scanner/loopcheck.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char list[400];
  size_t len;
  int n;
} left_t;

static void note_handle(uv_handle_t *h, void *arg) {
  left_t *l = arg;
  l->n++;
  if (l->len + 40 >= sizeof l->list) return;
  int w = snprintf(l->list + l->len, sizeof l->list - l->len, "%s%s%s", l->n > 1 ? ", " : "",
                   uv_handle_type_name(uv_handle_get_type(h)),
                   uv_is_closing(h)  ? " (closing)"
                   : uv_is_active(h) ? " (active)"
                                     : "");
  if (w > 0) l->len += (size_t)w;
}

int mxs_loop_close(uv_loop_t *loop, const char *who, FILE *err) {
  int rc = uv_loop_close(loop);
  if (rc == 0) return 0;
  left_t l = {"", 0, 0};
  uv_walk(loop, note_handle, &l);
  fprintf(err, "mxscan: internal error: the %s event loop is not empty at exit (%s): %d handle(s) open: %s\n", who,
          uv_strerror(rc), l.n, l.n ? l.list : "none walked (requests pending)");
  fflush(err);
#ifdef MXS_STRICT_LOOPS
  abort();
#endif
  return rc;
}
