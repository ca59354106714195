/* loopcheck.h - the end of every event loop mxscan runs.
 *
 * uv_loop_close() fails (UV_EBUSY) while a handle is still open: a timer,
 * a socket or a poll handle that some path forgot to close, and that the
 * process exit would otherwise hide.  Every scan, probe thread and
 * `mxscan probe` closes its loop through here: a loop that is not empty
 * is reported on stderr with the handles left, and in sanitizer builds
 * (MXS_STRICT_LOOPS, set by -DMXS_SANITIZE=ON) the process aborts, so the
 * test suite's sanitizer pass fails on it.
 */
#ifndef MXS_LOOPCHECK_H
#define MXS_LOOPCHECK_H

#include <stdio.h>
#include <uv.h>

/* Closes LOOP (WHO names it in the message, e.g. "scan").  0, or the
 * error of uv_loop_close() after the report to ERR (aborts first when
 * built with MXS_STRICT_LOOPS). */
int mxs_loop_close(uv_loop_t *loop, const char *who, FILE *err);

#endif
