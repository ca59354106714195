/* runlock.h - one run at a time per output file.
 *
 * A nightly run from cron that has not finished when the next one starts
 * must not have its output truncated under it (or read half-written by a
 * --resume): each run writing -o FILE holds an exclusive flock(2) on
 * FILE.lock for its whole life and removes the file at the end.  The lock
 * is the kernel's, so it goes with the process however it ends (SIGKILL, a
 * crash): a lock file left behind then holds nothing and the next run
 * takes it.  A run that locks a file just removed by the run before it
 * (opened before the removal, locked after) sees that it is no longer the
 * one at the path, and opens that one instead.
 */
#ifndef MXS_RUNLOCK_H
#define MXS_RUNLOCK_H

#include <stddef.h>

typedef struct {
  int fd;     /* -1: no lock held */
  char *path; /* FILE.lock, owned while held */
} mxs_runlock_t;

#define MXS_RUNLOCK_INIT \
  { -1, NULL }

/* Takes the lock of OUTPUT (FILE.lock beside it) without waiting and
 * writes this process's id and start time into it.  0; MXS_RUNLOCK_BUSY
 * when another run holds it (ERR names that run by the process id and start
 * time it wrote); -1 when the lock file cannot be made or locked (ERR says
 * why: the caller may go on without it).  An OUTPUT that is not a regular
 * file (/dev/null, a FIFO) needs no lock: 0 with none held. */
#define MXS_RUNLOCK_BUSY (-2)
int mxs_runlock_take(mxs_runlock_t *l, const char *output, char *err, size_t errlen);

/* Removes the lock file and lets go (nothing when none is held). */
void mxs_runlock_release(mxs_runlock_t *l);

#endif
