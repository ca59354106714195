/* url.c - a distributed run's Redis URL. */
#include "dist/url.h"

#include <stdio.h>
#include <string.h>

int mxs_dist_url(const char *url, const char *run, const char *worker, char *out, size_t len) {
  char sep = strchr(url, '?') ? '&' : '?';
  int n = worker ? snprintf(out, len, "%s%crun=%s&worker=%s", url, sep, run, worker)
                 : snprintf(out, len, "%s%crun=%s", url, sep, run);
  return n > 0 && (size_t)n < len ? 0 : -1;
}
