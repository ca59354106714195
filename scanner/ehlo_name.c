/* ehlo_name.c - the EHLO argument checked against RFC 5321's grammar. */
#include "scanner/ehlo_name.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define MAX_DOMAIN 253 /* RFC 1035 2.3.4, in text form without the root dot */
#define MAX_LABEL  63

static int is_let_dig(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (the tag is case-insensitive). */
static int check_literal(const char *s, size_t n, const char **why) {
  char inner[64];
  unsigned char bin[16];
  if (n < 3 || s[n - 1] != ']') return *why = "an address literal is [192.0.2.1] or [IPv6:2001:db8::1]", -1;
  if (n - 2 >= sizeof inner) return *why = "not an IPv4 or IPv6 address between the brackets", -1;
  memcpy(inner, s + 1, n - 2);
  inner[n - 2] = '\0';
  if (!strncasecmp(inner, "IPv6:", 5)) {
    if (inet_pton(AF_INET6, inner + 5, bin) == 1) return 0;
    return *why = "not an IPv6 address after [IPv6:", -1;
  }
  if (inet_pton(AF_INET, inner, bin) == 1) return 0;
  return *why = strchr(inner, ':') ? "an IPv6 address literal is written [IPv6:2001:db8::1]"
                                   : "not an IPv4 address between the brackets ([192.0.2.1])",
         -1;
}

int mxs_ehlo_name_check(const char *name, const char **why) {
  const char *w = NULL;
  size_t n = name ? strlen(name) : 0;
  if (n == 0) return *why = "empty name", -1;
  if (name[0] == '[') return check_literal(name, n, why);
  if (n > MAX_DOMAIN) return *why = "name longer than 253 bytes", -1;
  for (size_t i = 0, start = 0; i <= n && !w; i++) {
    if (i < n && name[i] != '.') {
      if (!is_let_dig(name[i]) && name[i] != '-')
        w = name[i] == '_' ? "'_' is not allowed in a host name (letters, digits and '-' only)"
                           : "invalid character (letters, digits, '-' and '.' only; an address is written [192.0.2.1])";
      continue;
    }
    size_t len = i - start;
    if (len == 0)
      w = i == n ? "trailing dot (write the name without it)" : start == 0 ? "leading dot" : "empty label (\"..\")";
    else if (len > MAX_LABEL)
      w = "label longer than 63 bytes";
    else if (!is_let_dig(name[start]) || !is_let_dig(name[i - 1]))
      w = "label starts or ends with '-'";
    start = i + 1;
  }
  if (w) return *why = w, -1;
  return 0;
}

int mxs_ehlo_name_is_fqdn(const char *name) { return name[0] == '[' || strchr(name, '.') != NULL; }
