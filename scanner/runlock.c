/* runlock.c - the exclusive lock on OUTPUT.lock (runlock.h). */
#include "scanner/runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

/* 1 when FD is still the file at PATH: the run that held the lock before
 * may have removed the file between our open and our flock, and a lock on
 * a removed file would let the next run lock a new one beside ours. */
static int still_there(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int mxs_runlock_take(mxs_runlock_t *l, const char *output, char *err, size_t errlen) {
  l->fd = -1;
  l->path = NULL;
  struct stat st;
  if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) return 0; /* /dev/null, a FIFO: nothing to truncate */
  size_t n = strlen(output) + sizeof ".lock";
  char *path = malloc(n);
  if (!path) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(path, n, "%s.lock", output);
  for (int tries = 0;; tries++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      snprintf(err, errlen, "cannot make the lock file %s: %s", path, strerror(errno));
      free(path);
      return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      char holder[160];
      read_holder(fd, holder, sizeof holder);
      close(fd);
      if (e != EWOULDBLOCK)
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
      else
        snprintf(err, errlen,
                 "%s is being written by another mxscan run%s (it holds %s): not starting, so as not to "
                 "truncate its output; wait for it to end, or give this run another -o",
                 output, holder, path);
      free(path);
      return e == EWOULDBLOCK ? MXS_RUNLOCK_BUSY : -1;
    }
    if (still_there(fd, path)) {
      l->fd = fd;
      break;
    }
    close(fd); /* the holder removed it as we opened it: take the new one */
    if (tries == 100) {
      snprintf(err, errlen, "cannot lock %s: it keeps being replaced", path);
      free(path);
      return -1;
    }
  }
  l->path = path;
  char line[96], when[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int len = snprintf(line, sizeof line, "pid %ld since %s\n", (long)getpid(), when);
  /* Who holds it is for the message above only: a failed write loses nothing. */
  if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, line, (size_t)len, 0) != len) {
  }
  return 0;
}

void mxs_runlock_release(mxs_runlock_t *l) {
  if (l->fd < 0) return;
  /* Removed while still held, so no run can lock it in between; one that
   * opened it just before finds it gone once it has the lock (still_there). */
  unlink(l->path);
  close(l->fd);
  free(l->path);
  l->fd = -1;
  l->path = NULL;
}
