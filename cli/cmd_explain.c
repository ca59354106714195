/* cmd_explain.c - `mxscan explain [--json] [CLASS...]`: what a result class
 * means, its likely cause and the fix (explain.c), for the class a report
 * or a ticket names.  Without CLASS: every class, in contract order.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd_probe.h"
#include "cli/commands.h"
#include "results/encoders.h"
#include "results/explain.h"

#define EXIT_USAGE 2

static const char explain_usage[] =
    "usage: mxscan explain [--json] [CLASS...]\n"
    "\n"
    "Prints what each result CLASS means, its likely cause and the fix; without\n"
    "CLASS, every class.  --json prints one JSON object per class and line:\n"
    "class, stage, tlsrpt, what, cause, fix.  `mxscan classes` lists the names.\n"
    "\n"
    "Exit status: 0, or 2 for an unknown class or option.\n";

static void print_text(mxs_class_t c, FILE *fp) {
  const mxs_explain_t *e = mxs_explain(c);
  fprintf(fp, "%s (stage %s, TLS-RPT %s)\n", mxs_class_name(c), mxs_class_stage(c), mxs_class_tlsrpt(c));
  fprintf(fp, "What happened:\n");
  mxs_print_wrapped(fp, 2, e->what);
  fprintf(fp, "Likely cause:\n");
  mxs_print_wrapped(fp, 2, e->cause);
  fprintf(fp, "Fix:\n");
  mxs_print_wrapped(fp, 2, e->fix);
}

/* One JSON object and a newline. */
static int print_json(mxs_class_t c, FILE *fp) {
  const mxs_explain_t *x = mxs_explain(c);
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_json_encoder_reset(&j);
  mxs_encoder_t *e = &j.base;
  e->map(e, 6);
  mxs_enc_kv_str(e, "class", mxs_class_name(c));
  mxs_enc_kv_str(e, "stage", mxs_class_stage(c));
  mxs_enc_kv_str(e, "tlsrpt", mxs_class_tlsrpt(c));
  mxs_enc_kv_str(e, "what", x->what);
  mxs_enc_kv_str(e, "cause", x->cause);
  mxs_enc_kv_str(e, "fix", x->fix);
  e->end(e);
  mxs_json_put_raw(&j, "\n", 1);
  int rc = j.oom || fwrite(j.buf, 1, j.len, fp) != j.len ? -1 : 0;
  mxs_json_encoder_free(&j);
  return rc;
}

static int unknown_class(const char *name) {
  fprintf(stderr, "mxscan: explain: unknown class '%s'; the classes are:\n", name);
  for (int i = 0; i < MXS_CLASS_COUNT; i++) fprintf(stderr, "  %s\n", mxs_class_name((mxs_class_t)i));
  return EXIT_USAGE;
}

int mxs_cmd_explain(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int json = 0, c;
  opterr = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      fputs(explain_usage, stdout);
      return 0;
    }
    if (c != 'j') {
      fprintf(stderr, "Try 'mxscan explain --help'.\n");
      return EXIT_USAGE;
    }
    json = 1;
  }
  /* Check every name first: no partial output before a usage error. */
  for (int i = optind; i < argc; i++)
    if (mxs_class_from_name(argv[i]) < 0) return unknown_class(argv[i]);
  int n = optind < argc ? argc - optind : MXS_CLASS_COUNT;
  for (int i = 0; i < n; i++) {
    mxs_class_t cls = optind < argc ? (mxs_class_t)mxs_class_from_name(argv[optind + i]) : (mxs_class_t)i;
    if (json)
      print_json(cls, stdout);
    else {
      if (i) fputc('\n', stdout);
      print_text(cls, stdout);
    }
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("mxscan: writing the output");
    return 1;
  }
  return 0;
}
