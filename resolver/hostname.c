/* hostname.c - the host-name check of MX targets (see hostname.h). */
#include "resolver/hostname.h"

#include <stdio.h>
#include <string.h>

enum { MAX_NAME = 253, MAX_LABEL = 63 };

static int is_host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int mxs_resolver_hostname_check(const char *name, char *why, size_t len) {
  size_t n = strlen(name), label = 0;
  if (n == 0 || n > MAX_NAME) {
    snprintf(why, len, n ? "%zu characters (at most %d)" : "an empty name", n, MAX_NAME);
    return -1;
  }
  for (size_t i = 0; i <= n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == '.' || c == '\0') {
      if (label == 0) {
        snprintf(why, len, "an empty label");
        return -1;
      }
      if (label > MAX_LABEL) {
        snprintf(why, len, "a label of %zu characters (at most %d)", label, MAX_LABEL);
        return -1;
      }
      label = 0;
      continue;
    }
    if (!is_host_char(c)) {
      /* c-ares escapes what is not printable as \DDD: show the byte. */
      if (c > ' ' && c < 0x7f)
        snprintf(why, len, "the character '%c'", c);
      else
        snprintf(why, len, "the byte 0x%02x", c);
      return -1;
    }
    label++;
  }
  return 0;
}
