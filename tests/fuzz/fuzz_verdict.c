/* fuzz_verdict.c - libFuzzer harness for the verdict codec.
 *
 * A distributed run's workers read each other's verdicts from Redis
 * (probe/verdict_codec.c): bytes another machine, or whoever can write
 * to that Redis, put there.  The input is such a value.  When it decodes,
 * the verdict must render a record for two MX names (the encoders walk
 * every field), pack again, and decode from its own bytes into a verdict
 * that packs to the very same bytes; mxs_verdict_free then releases it
 * (ASan/LSan check that nothing is left or freed twice).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "results/encoders.h"
#include "probe/verdict_codec.h"

static void render(const mxs_verdict_t *v, const char *mx) {
  mxs_record_t r;
  mxs_timings_t tm;
  char detail[512];
  mxs_verdict_record(v, mx, &r, &tm, detail, sizeof detail);
  r.domain = "fuzz.test";
  r.mx = mx;
  r.ip = "192.0.2.1";
  r.port = 25;
  if ((unsigned)r.cls >= MXS_CLASS_COUNT || !r.detail) abort();
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  mxs_record_encode(&r, &j.base);
  /* the contract's fields are always there (a stage the codec does not
   * know, or nil, becomes the class's own stage) */
  static const char *const keys[] = {"\"domain\":", "\"class\":", "\"stage\":\"", "\"detail\":", "\"tlsrpt\":"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (!j.oom && !memmem(j.buf, j.len, keys[k], strlen(keys[k]))) abort();
  mxs_json_encoder_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  mxs_verdict_t v;
  if (mxs_verdict_unpack(&v, (const char *)data, len) != 0) {
    static const mxs_verdict_t zero;
    if (memcmp(&v, &zero, sizeof v) != 0) abort(); /* left zeroed on failure */
    return 0;
  }
  render(&v, "mx1.fuzz.test");
  render(&v, "other.example");
  msgpack_sbuffer a, b;
  msgpack_sbuffer_init(&a);
  msgpack_sbuffer_init(&b);
  if (mxs_verdict_pack(&v, &a) != 0) abort();
  mxs_verdict_t w;
  if (mxs_verdict_unpack(&w, a.data, a.size) != 0) abort();
  if (mxs_verdict_pack(&w, &b) != 0 || a.size != b.size || memcmp(a.data, b.data, a.size) != 0) abort();
  msgpack_sbuffer_destroy(&a);
  msgpack_sbuffer_destroy(&b);
  mxs_verdict_free(&w);
  mxs_verdict_free(&v);
  return 0;
}
