/* fuzz_util.h - what the libFuzzer harnesses share (header-only: each
 * harness is one translation unit plus the rooms it tests).
 *
 * Inputs that the code under test reads from a file or a descriptor are
 * handed over in a memfd, so the real reading code runs (buffering, short
 * reads, EOF) and nothing touches the disk.
 */
#ifndef MXS_FUZZ_UTIL_H
#define MXS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A descriptor at offset 0 whose file holds DATA; the caller closes it. */
static inline int fuzz_memfd(const uint8_t *data, size_t len) {
  int fd = memfd_create("fuzz", MFD_CLOEXEC);
  if (fd < 0) abort();
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, data + off, len - off);
    if (n <= 0) abort();
    off += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) abort();
  return fd;
}

/* "/proc/self/fd/N": a path for code that opens files by name. */
static inline void fuzz_fd_path(int fd, char *buf, size_t len) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

/* A NUL-terminated copy of DATA (the caller frees it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t len) {
  char *s = malloc(len + 1);
  if (!s) abort();
  memcpy(s, data, len);
  s[len] = '\0';
  return s;
}

/* Where the code under test writes its messages: nowhere, but through a
 * real FILE so every fprintf runs. */
static inline FILE *fuzz_devnull(void) {
  static FILE *fp;
  if (!fp && !(fp = fopen("/dev/null", "w"))) abort();
  return fp;
}

#endif
