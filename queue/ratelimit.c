/* ratelimit.c - token buckets and exponential backoff with jitter. */
#include "queue/ratelimit.h"

static void refill(mxs_bucket_t *b, uint64_t now_ms) {
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
    if (b->tokens > b->burst) b->tokens = b->burst;
  }
  b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
}

void mxs_bucket_init(mxs_bucket_t *b, double rate, double burst, uint64_t now_ms) {
  b->rate = rate;
  b->burst = burst < 1 ? 1 : burst;
  b->tokens = b->burst; /* a fresh limiter may start at once */
  b->last_ms = now_ms;
}

int mxs_bucket_take(mxs_bucket_t *b, uint64_t now_ms) {
  if (b->rate <= 0) return 1;
  refill(b, now_ms);
  if (b->tokens < 1.0) return 0;
  b->tokens -= 1.0;
  return 1;
}

uint64_t mxs_bucket_wait_ms(mxs_bucket_t *b, uint64_t now_ms) {
  if (b->rate <= 0) return 0;
  refill(b, now_ms);
  if (b->tokens >= 1.0) return 0;
  double ms = (1.0 - b->tokens) * 1000.0 / b->rate;
  return (uint64_t)ms + 1; /* round up: waking early just re-arms */
}

void mxs_bucket_set_rate(mxs_bucket_t *b, double rate, uint64_t now_ms) {
  refill(b, now_ms);
  b->rate = rate;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

uint64_t mxs_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t *seed) {
  uint64_t d = base_ms;
  for (unsigned i = 1; i < attempt && d < cap_ms; i++) d *= 2;
  if (d > cap_ms) d = cap_ms;
  /* jitter in [0.5, 1.5): spreads retries of many probes that failed
   * together (one provider's 421 storm) instead of synchronising them */
  double j = 0.5 + (double)(xorshift(seed) >> 11) / (double)(1ULL << 53);
  return (uint64_t)((double)d * j);
}
