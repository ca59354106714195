/* ratelimit.h - token buckets and the retry schedule, on an explicit clock.
 *
 * Pure arithmetic: every function takes "now" in milliseconds, so unit
 * tests drive them with a simulated clock and the scan with uv_now().
 */
#ifndef MXS_RATELIMIT_H
#define MXS_RATELIMIT_H

#include <stdint.h>

/* A token bucket: RATE tokens per second, at most BURST saved up.  A rate
 * of 0 means unlimited. */
typedef struct {
  double rate;
  double burst;
  double tokens;
  uint64_t last_ms;
} mxs_bucket_t;

void mxs_bucket_init(mxs_bucket_t *b, double rate, double burst, uint64_t now_ms);
/* Takes one token if there is one: 1, else 0. */
int mxs_bucket_take(mxs_bucket_t *b, uint64_t now_ms);
/* Milliseconds until a token will be there (0 = now). */
uint64_t mxs_bucket_wait_ms(mxs_bucket_t *b, uint64_t now_ms);
/* Changes the rate, keeping the tokens saved so far. */
void mxs_bucket_set_rate(mxs_bucket_t *b, double rate, uint64_t now_ms);

/* The delay before retry number ATTEMPT (1 = the first retry): BASE_MS *
 * 2^(ATTEMPT-1), capped at CAP_MS, times a jitter factor in [0.5, 1.5)
 * drawn from *SEED (xorshift; the caller owns the state, no globals). */
uint64_t mxs_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t *seed);

#endif
