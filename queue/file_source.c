/* file_source.c - the streaming input reader behind the source interface. */
#include "queue/file_source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fs_next(mxs_source_t *src, char *out, size_t outlen, uint64_t *token) {
  unsigned long lineno = 0;
  int rc = mxs_input_next(src->state, out, outlen, &lineno);
  if (rc == 1) {
    *token = lineno;
    return MXS_SOURCE_DOMAIN;
  }
  return rc == 0 ? MXS_SOURCE_EOF : rc;
}

/* A file needs no acknowledgement: --resume reads the output instead. */
static void fs_done(mxs_source_t *src, uint64_t token) {
  (void)src;
  (void)token;
}

static int fs_progress(const mxs_source_t *src, double *fraction) { return mxs_input_progress(src->state, fraction); }

static void fs_close(mxs_source_t *src, void (*cb)(void *arg), void *arg) {
  mxs_input_free(src->state);
  free(src);
  if (cb) cb(arg);
}

static const mxs_source_ops_t file_ops = {"file", fs_next, fs_done, fs_progress, fs_close};

int mxs_file_source_open(const char *path, mxs_input_error_cb err_cb, mxs_input_repeat_cb repeat_cb, void *arg,
                         mxs_source_t **out, char *err, size_t errlen) {
  FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!fp) {
    int e = errno;
    snprintf(err, errlen, "cannot open input '%s': %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) { /* fopen takes it; the first read fails */
    if (fp != stdin) fclose(fp);
    snprintf(err, errlen, "cannot read input '%s': it is a directory", path);
    return -EISDIR;
  }
  mxs_source_t *src = calloc(1, sizeof *src);
  mxs_input_t *in = src ? mxs_input_new(fp, path, err_cb, arg) : NULL;
  if (!in) {
    if (fp != stdin) fclose(fp);
    free(src);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (repeat_cb) mxs_input_skip_repeats(in, repeat_cb, arg);
  src->ops = &file_ops;
  src->state = in;
  *out = src;
  return 0;
}
