/* test_sched.c - the connection scheduler on a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "queue/sched.h"

typedef struct {
  mxs_sched_item_t it; /* first member: the item is the test object */
  int id;
  char ip[16];
} job_t;

static mxs_sched_opts_t opts(int conc, int per_ip, int interval, int per_prov, double rate, double prate) {
  return (mxs_sched_opts_t){conc, per_ip, interval, per_prov, rate, prate, 10000};
}

static void per_ip_limit_holds(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(100, 1, 0, 100, 0, 0);
  mxs_sched_init(&s, &o, 0);
  job_t j[10];
  for (int i = 0; i < 10; i++) { /* 10 probes, 2 addresses */
    j[i].id = i;
    snprintf(j[i].ip, sizeof j[i].ip, "10.0.0.%d", i % 2);
    assert_int_equal(mxs_sched_push(&s, &j[i].it, j[i].ip, "example.net", 0), 0);
  }
  uint64_t wake;
  job_t *a = (job_t *)mxs_sched_pop(&s, 0, &wake);
  job_t *b = (job_t *)mxs_sched_pop(&s, 0, &wake);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_not_equal(a->ip, b->ip);
  assert_null(mxs_sched_pop(&s, 0, &wake)); /* both addresses busy */
  assert_int_equal(wake, UINT64_MAX);       /* only a completion can help */
  mxs_sched_done(&s, &a->it, 1, 5);
  job_t *c = (job_t *)mxs_sched_pop(&s, 5, &wake);
  assert_non_null(c);
  assert_string_equal(c->ip, a->ip);
  assert_int_equal(c->id, 2); /* FIFO within the provider */
  mxs_sched_free(&s);
}

static void providers_round_robin(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(100, 1, 0, 2, 0, 0);
  mxs_sched_init(&s, &o, 0);
  job_t big[50], small[2];
  for (int i = 0; i < 50; i++) {
    snprintf(big[i].ip, sizeof big[i].ip, "10.1.0.%d", i);
    mxs_sched_push(&s, &big[i].it, big[i].ip, "outlook.com", 0);
  }
  for (int i = 0; i < 2; i++) {
    snprintf(small[i].ip, sizeof small[i].ip, "10.2.0.%d", i);
    mxs_sched_push(&s, &small[i].it, small[i].ip, "small.example", 0);
  }
  uint64_t wake;
  int n_big = 0, n_small = 0;
  job_t *x;
  while ((x = (job_t *)mxs_sched_pop(&s, 0, &wake))) (x >= big && x < big + 50) ? n_big++ : n_small++;
  /* per_provider = 2: the big provider gets 2, and the small one is not starved */
  assert_int_equal(n_big, 2);
  assert_int_equal(n_small, 2);
  assert_int_equal(s.active, 4);
  mxs_sched_free(&s);
}

static void interval_and_rates(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(100, 5, 1000, 100, 0, 0); /* 1 s between starts to one address */
  mxs_sched_init(&s, &o, 0);
  job_t j[3];
  for (int i = 0; i < 3; i++) mxs_sched_push(&s, &j[i].it, "10.0.0.1", "p", 0);
  uint64_t wake;
  assert_non_null(mxs_sched_pop(&s, 0, &wake));
  assert_null(mxs_sched_pop(&s, 10, &wake));
  assert_int_equal(wake, 990);
  assert_non_null(mxs_sched_pop(&s, 1000, &wake));
  mxs_sched_free(&s);

  o = opts(100, 100, 0, 100, 2.0, 0); /* 2 new probes/s overall, paced */
  mxs_sched_init(&s, &o, 0);
  job_t k[10];
  for (int i = 0; i < 10; i++) {
    snprintf(k[i].ip, sizeof k[i].ip, "10.0.1.%d", i);
    mxs_sched_push(&s, &k[i].it, k[i].ip, "p", 0);
  }
  int started = 0;
  for (uint64_t t = 0; t <= 2000; t += 10) /* poll for 2 simulated seconds */
    while (mxs_sched_pop(&s, t, &wake)) started++;
  assert_int_equal(started, 4); /* one at once, then one per 1/(0.99 * 2) s: 0, 510, 1020, 1520 ms */
  mxs_sched_free(&s);
}

/* No one-second window ever holds more than --provider-rate starts of one
 * provider, even polled every millisecond with work always waiting, and a
 * provider whose last probe ended does not come back with a fresh token. */
static void provider_rate_is_a_ceiling(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(1000, 1, 0, 1000, 0, 10.0);
  mxs_sched_init(&s, &o, 0);
  enum { N = 40 };
  job_t k[N];
  uint64_t at[N], wake;
  for (int i = 0; i < N; i++) { /* a pool of 40 addresses behind one provider */
    snprintf(k[i].ip, sizeof k[i].ip, "10.0.2.%d", i);
    mxs_sched_push(&s, &k[i].it, k[i].ip, "pool", 0);
  }
  int n = 0;
  for (uint64_t t = 0; n < N && t < 10000; t++) {
    mxs_sched_item_t *it;
    while ((it = mxs_sched_pop(&s, t, &wake))) {
      at[n++] = t;
      mxs_sched_done(&s, it, 1, t); /* done at once: only the rate limits */
    }
  }
  assert_int_equal(n, N);
  for (int i = 0; i + 10 < N; i++) assert_true(at[i + 10] - at[i] > 1000); /* 11 starts span more than 1 s */

  /* the provider's only probe ends, another comes 20 ms later: it waits */
  job_t a, b;
  snprintf(a.ip, sizeof a.ip, "10.0.3.1");
  snprintf(b.ip, sizeof b.ip, "10.0.3.2");
  uint64_t t0 = 20000;
  mxs_sched_push(&s, &a.it, a.ip, "solo", t0);
  mxs_sched_item_t *it = mxs_sched_pop(&s, t0, &wake);
  assert_non_null(it);
  mxs_sched_done(&s, it, 1, t0 + 10);
  mxs_sched_push(&s, &b.it, b.ip, "solo", t0 + 20);
  assert_null(mxs_sched_pop(&s, t0 + 20, &wake));
  assert_non_null(mxs_sched_pop(&s, t0 + 102, &wake));
  mxs_sched_free(&s);
}

static void penalty_halves_and_recovers(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(100, 1, 0, 8, 0, 0);
  mxs_sched_init(&s, &o, 0);
  job_t j[40];
  for (int i = 0; i < 40; i++) {
    snprintf(j[i].ip, sizeof j[i].ip, "10.3.0.%d", i);
    mxs_sched_push(&s, &j[i].it, j[i].ip, "busy.example", 0);
  }
  uint64_t wake;
  job_t *first = (job_t *)mxs_sched_pop(&s, 0, &wake);
  mxs_sched_penalize(&s, &first->it, 0); /* 421 */
  mxs_sched_penalize(&s, &first->it, 0); /* and again: 1/4 */
  assert_true(mxs_sched_provider_factor(&first->it) == 0.25);
  mxs_sched_done(&s, &first->it, 0, 0);
  int n = 0;
  while (mxs_sched_pop(&s, 1, &wake)) n++;
  assert_int_equal(n, 2); /* 8 * 1/4 */
  /* a success after the calm period doubles the allowance back */
  job_t *probe = &j[1];
  mxs_sched_done(&s, &probe->it, 1, 20000);
  assert_true(mxs_sched_provider_factor(&j[2].it) == 0.5);
  mxs_sched_free(&s);
}

static void backoff_not_before_and_drain(void **state) {
  (void)state;
  mxs_sched_t s;
  mxs_sched_opts_t o = opts(10, 1, 0, 10, 0, 0);
  mxs_sched_init(&s, &o, 0);
  job_t a, b;
  mxs_sched_push(&s, &a.it, "10.0.0.1", "p", 500); /* a retry, waiting */
  mxs_sched_push(&s, &b.it, "10.0.0.2", "q", 0);
  uint64_t wake;
  assert_ptr_equal(mxs_sched_pop(&s, 0, &wake), &b.it);
  assert_null(mxs_sched_pop(&s, 0, &wake));
  assert_int_equal(wake, 500);
  mxs_sched_item_t *rest = mxs_sched_drain(&s);
  assert_ptr_equal(rest, &a.it);
  assert_null(rest->next);
  assert_int_equal(s.queued, 0);
  mxs_sched_done(&s, &b.it, 1, 1);
  mxs_sched_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(per_ip_limit_holds),          cmocka_unit_test(providers_round_robin),
      cmocka_unit_test(interval_and_rates),          cmocka_unit_test(provider_rate_is_a_ceiling),
      cmocka_unit_test(penalty_halves_and_recovers), cmocka_unit_test(backoff_not_before_and_drain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
