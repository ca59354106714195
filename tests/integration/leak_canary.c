/* leak_canary.c - leaks one block on purpose, for test_leaks.py: the leak
 * checker of the build at hand (LSan in the ASan build, valgrind memcheck
 * in the others) must report it, or a clean run of mxscan proves nothing.
 * Exit status 0; the checker's own status says whether it saw the leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *volatile kept;

int main(void) {
  kept = malloc(4096);
  if (!kept) return 1;
  memset(kept, 'x', 4096);
  kept = NULL; /* the only pointer to it is gone: definitely lost */
  puts("leaked 4096 bytes");
  return 0;
}
