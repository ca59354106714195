/* test_runlock.c - the lock on -o FILE: taken, refused while held (the
 * kernel's flock, which also refuses a second open file in this process),
 * removed at the end, skipped for what is not a regular file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scanner/runlock.h"

static char dir[64], out[128], lock[160];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/test_runlock.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(out, sizeof out, "%s/results.jsonl", dir);
  snprintf(lock, sizeof lock, "%s.lock", out);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(lock);
  unlink(out);
  rmdir(dir);
  return 0;
}

static void held_refused_released(void **state) {
  (void)state;
  char err[512], want[64];
  mxs_runlock_t a = MXS_RUNLOCK_INIT, b = MXS_RUNLOCK_INIT;
  assert_int_equal(mxs_runlock_take(&a, out, err, sizeof err), 0);
  assert_true(a.fd >= 0);
  /* the holder wrote who it is */
  FILE *fp = fopen(lock, "r");
  assert_non_null(fp);
  char line[128] = "";
  assert_non_null(fgets(line, sizeof line, fp));
  fclose(fp);
  snprintf(want, sizeof want, "pid %ld since ", (long)getpid());
  assert_memory_equal(line, want, strlen(want));
  /* a second run is refused, and told who holds it */
  assert_int_equal(mxs_runlock_take(&b, out, err, sizeof err), MXS_RUNLOCK_BUSY);
  assert_int_equal(b.fd, -1);
  assert_non_null(strstr(err, "another mxscan run (pid "));
  assert_non_null(strstr(err, lock));
  /* someone else's flock refuses it too (a run on another build) */
  mxs_runlock_release(&a);
  assert_int_equal(access(lock, F_OK), -1); /* removed at the end */
  int fd = open(lock, O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(mxs_runlock_take(&b, out, err, sizeof err), MXS_RUNLOCK_BUSY);
  close(fd); /* a holder that died: its file stays, holding nothing */
  assert_int_equal(mxs_runlock_take(&b, out, err, sizeof err), 0);
  mxs_runlock_release(&b);
  mxs_runlock_release(&b); /* twice is nothing */
}

static void not_a_regular_file(void **state) {
  (void)state;
  char err[512];
  mxs_runlock_t a = MXS_RUNLOCK_INIT;
  assert_int_equal(mxs_runlock_take(&a, "/dev/null", err, sizeof err), 0);
  assert_int_equal(a.fd, -1);
  assert_int_equal(access("/dev/null.lock", F_OK), -1);
  mxs_runlock_release(&a);
  /* a directory that cannot hold the lock file: -1, and why */
  char missing[160];
  snprintf(missing, sizeof missing, "%s/no/such/dir/out.jsonl", dir);
  assert_int_equal(mxs_runlock_take(&a, missing, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot make the lock file"));
  assert_int_equal(a.fd, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(held_refused_released, setup, teardown),
      cmocka_unit_test_setup_teardown(not_a_regular_file, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
