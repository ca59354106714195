/* fuzz_config.c - libFuzzer harness for the config file and option values.
 *
 * The first byte picks what the rest is:
 *   even: an INI config file, read by mxs_config_load_file from a memfd
 *         (inih and our handler: sections, keys, every value kind);
 *   odd:  one option value: the second byte picks the option among those
 *         `mxscan scan --help` lists (so the harness follows the table),
 *         the rest is the value given to mxs_config_set, as a flag's
 *         argument is;
 *   and, for inputs starting with 0xff: two command lines (arguments
 *         separated by a NUL, the lines by two) through mxs_config_parse,
 *         --config left out (it would read files of this machine): the
 *         second parses the same after the first as alone.
 * Checks: a value accepted is within the bounds the table promises.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "fuzz_util.h"

static char **names;
static size_t nnames;

/* The long options of `mxscan scan --help`, once. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&text, &len);
  if (!fp) abort();
  mxs_config_usage(fp);
  fclose(fp);
  for (char *p = text; (p = strstr(p, "--")) != NULL;) {
    p += 2;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (n == 0 || (n == 6 && !strncmp(p, "config", n))) continue;
    int dup = 0;
    for (size_t i = 0; i < nnames; i++) dup |= strlen(names[i]) == n && !strncmp(names[i], p, n);
    if (dup) continue;
    names = realloc(names, (nnames + 1) * sizeof *names);
    names[nnames++] = strndup(p, n);
  }
  free(text);
  if (nnames < 20) abort(); /* the help text changed shape */
  return 0;
}

static void check_bounds(const mxs_config_t *c) {
  if (c->port < 1 || c->port > 65535 || c->concurrency < 1 || c->threads < 1 || c->per_ip < 1) abort();
  if (c->connect_timeout_ms <= 0 || c->banner_timeout_ms <= 0 || c->command_timeout_ms <= 0 ||
      c->handshake_timeout_ms <= 0 || c->dns_timeout_ms <= 0 || c->dns_tries < 1)
    abort();
  if (c->rate < 0 || c->provider_rate < 0 || c->fail_on_ratio < 0 || c->fail_on_ratio > 1) abort();
  if (c->retries < 0 || c->retry_delay_ms < 0 || c->per_ip_interval_ms < 0 || c->max_runtime_ms < 0) abort();
  if (strcmp(c->format, "jsonl") && strcmp(c->format, "msgpack")) abort();
}

/* Splits BUF (LEN bytes, NUL-terminated) into argv at NUL bytes, up to a
 * double NUL; --config left out.  Returns where the next list starts. */
static char *split_args(char *buf, char *end, char **argv, int *argc) {
  char *p = buf;
  argv[0] = "scan";
  *argc = 1;
  for (; p < end && *p && *argc < 31; p += strlen(p) + 1)
    if (!strstr(p, "config")) argv[(*argc)++] = p;
  argv[*argc] = NULL;
  return p < end && !*p ? p + 1 : end;
}

typedef struct {
  int rc, port, quiet;
  const char *input;
} parsed_t;

static parsed_t parse(int argc, char **argv) {
  mxs_config_t c;
  mxs_config_defaults(&c);
  parsed_t r = {mxs_config_parse(&c, argc, argv, fuzz_devnull()), 0, 0, NULL};
  if (r.rc == 0) check_bounds(&c);
  r.port = c.port;
  r.quiet = c.quiet;
  r.input = c.input;
  mxs_config_free(&c);
  return r;
}

/* Command line A, then B (after a double NUL): B parses the same whether
 * or not A was parsed before it (and A's strings are gone), as when one
 * command parses another's options in the same process. */
static void command_lines(const uint8_t *data, size_t len) {
  char *buf = fuzz_strndup(data, len), *end = buf + len;
  char *a[32], *b[32];
  int na, nb;
  char *rest = split_args(buf, end, a, &na);
  split_args(rest, end, b, &nb);
  char *b_copy[32];
  memcpy(b_copy, b, sizeof b); /* getopt permutes argv */
  parsed_t fresh = parse(nb, b_copy);
  parse(na, a);
  memset(buf, 'W', (size_t)(rest - buf)); /* A's strings are gone */
  parsed_t after = parse(nb, b);
  if (fresh.rc != after.rc || (fresh.rc == 0 && (fresh.port != after.port || fresh.quiet != after.quiet))) abort();
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len < 2) return 0;
  mxs_config_t c;
  mxs_config_defaults(&c);
  int rc;
  if (data[0] == 0xff) {
    command_lines(data + 1, len - 1);
    rc = -1;
  } else if (data[0] % 2 == 0) {
    int fd = fuzz_memfd(data + 1, len - 1);
    char path[64];
    fuzz_fd_path(fd, path, sizeof path);
    rc = mxs_config_load_file(&c, path, fuzz_devnull());
    close(fd);
  } else {
    char *value = fuzz_strndup(data + 2, len - 2);
    rc = mxs_config_set(&c, names[data[1] % nnames], value, fuzz_devnull());
    /* a string option borrows VALUE: check before freeing it */
    if (rc == 0) check_bounds(&c);
    free(value);
    rc = -1;
  }
  if (rc == 0) check_bounds(&c);
  mxs_config_free(&c);
  return 0;
}
