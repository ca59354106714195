/* runlock.c - the exclusive lock on OUTPUT.lock (runlock.h). */
#include "scanner/runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What the holder wrote ("pid 1234 since 2026-12-02T01:00:00Z"), or "". */
static void read_holder(int fd, char *out, size_t outlen) {
  char buf[128];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  out[0] = '\0';
  if (n <= 0) return;
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  snprintf(out, outlen, " (%s)", buf);
}

int mxs_runlock_take(mxs_runlock_t *l, const char *output, char *err, size_t errlen) {
  char path[4096];
  l->fd = -1;
  if (snprintf(path, sizeof path, "%s.lock", output) >= (int)sizeof path) {
    snprintf(err, errlen, "%s: the path is too long", output);
    return -1;
  }
  struct stat st;
  if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) return 0; /* /dev/null, a FIFO: nothing to truncate */
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "cannot make the lock file %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char holder[160];
    read_holder(fd, holder, sizeof holder);
    close(fd);
    if (e != EWOULDBLOCK) {
      snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
      return -1;
    }
    snprintf(err, errlen,
             "%s is being written by another mxscan run%s (it holds %s): not starting, so as not to "
             "truncate its output; wait for it to end, or give this run another -o",
             output, holder, path);
    return MXS_RUNLOCK_BUSY;
  }
  char line[96], when[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int n = snprintf(line, sizeof line, "pid %ld since %s\n", (long)getpid(), when);
  /* Who holds it is for the message above only: a failed write loses nothing. */
  if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
  }
  l->fd = fd;
  return 0;
}

void mxs_runlock_release(mxs_runlock_t *l) {
  if (l->fd < 0) return;
  close(l->fd); /* the lock goes with the descriptor */
  l->fd = -1;
}
