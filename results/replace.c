/* replace.c - a file replaced whole (replace.h). */
#include "results/replace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mxs_replace_open(mxs_replace_t *r, const char *template_) {
  r->fp = NULL;
  if (!(r->tmp = strdup(template_))) return -ENOMEM;
  int fd = mkstemp(r->tmp), rc = 0;
  /* mkstemp makes it 0600: readable by the collector, the web server */
  if (fd < 0 || fchmod(fd, 0644) != 0 || !(r->fp = fdopen(fd, "w"))) rc = -errno;
  if (rc < 0) {
    if (fd >= 0) close(fd), unlink(r->tmp);
    free(r->tmp);
    r->tmp = NULL;
  }
  return rc;
}

int mxs_replace_commit(mxs_replace_t *r, const char *path) {
  int rc = 0;
  /* on disk before the name points at it: a crash leaves one file whole */
  if (fflush(r->fp) != 0 || ferror(r->fp) || fsync(fileno(r->fp)) != 0) rc = errno ? -errno : -EIO;
  if (fclose(r->fp) != 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(r->tmp, path) != 0) rc = -errno;
  if (rc < 0) unlink(r->tmp);
  free(r->tmp);
  *r = (mxs_replace_t){NULL, NULL};
  return rc;
}

void mxs_replace_abort(mxs_replace_t *r) {
  if (r->fp) fclose(r->fp);
  if (r->tmp) unlink(r->tmp);
  free(r->tmp);
  *r = (mxs_replace_t){NULL, NULL};
}
