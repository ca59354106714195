/* test_dane.c - policy.dane in a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/policy.h"
#include "results/record.h"
#include "results/encoders.h"

static const char *json(mxs_json_encoder_t *j, const mxs_record_t *r) {
  mxs_json_encoder_reset(j);
  mxs_record_encode(r, &j->base);
  return j->buf;
}

static void encoded(void **state) {
  (void)state;
  mxs_dane_view_t d = {.looked_up = 1, .secure = 1, .tlsa_count = 2, .usable = 1, .match = 1, .matched = "3 1 1"};
  mxs_policy_view_t p = {.dane = &d};
  mxs_record_t r = {.domain = "a.test", .cls = MXS_CLASS_OK, .stage = "done", .detail = "", .policy = &p};
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  assert_non_null(strstr(json(&j, &r),
                         ",\"policy\":{\"dane\":{\"secure\":true,\"tlsa_count\":2,\"usable\":true,"
                         "\"match\":true,\"matched\":\"3 1 1\"}}}"));
  /* insecure: not looked up, so only `secure` */
  d = (mxs_dane_view_t){.match = -1};
  assert_non_null(strstr(json(&j, &r), ",\"policy\":{\"dane\":{\"secure\":false}}}"));
  /* a failed lookup */
  d = (mxs_dane_view_t){.looked_up = 1, .match = -1, .error = "SERVFAIL"};
  assert_non_null(strstr(json(&j, &r),
                         "\"dane\":{\"secure\":false,\"tlsa_count\":0,\"usable\":false,"
                         "\"error\":\"SERVFAIL\"}"));
  /* beside MTA-STS: sts, dane, then TLS-RPT */
  const char *const rua[] = {"mailto:r@a.test"};
  mxs_sts_view_t s = {.txt_id = "1", .mx_match = -1, .fetch_error = "HTTP 404"};
  p = (mxs_policy_view_t){.sts = &s, .tlsrpt_rua = rua, .ntlsrpt_rua = 1, .dane = &d};
  d = (mxs_dane_view_t){.looked_up = 1, .secure = 1, .match = -1};
  assert_non_null(strstr(json(&j, &r),
                         "\"policy\":{\"sts\":{\"txt_id\":\"1\",\"fetch_error\":\"HTTP 404\"},"
                         "\"dane\":{\"secure\":true,\"tlsa_count\":0,\"usable\":false},"
                         "\"tlsrpt_rua\":[\"mailto:r@a.test\"]}}"));
  /* no dane, nothing else: no policy key */
  p = (mxs_policy_view_t){0};
  assert_null(strstr(json(&j, &r), "policy"));
  mxs_json_encoder_free(&j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encoded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
