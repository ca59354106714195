/* test_window.c - the resolver's slot window (window.c) on a real loop.
 *
 * The server is a UDP socket of the test's own on 127.0.0.1 with the
 * smallest receive buffer, never read unless the test says so: the test
 * overruns it, the kernel counts the drops, and the window must see them at
 * its next look (every 250 ms) and narrow; quiet looks let the ceiling
 * creep back.  Without a socket here there is nothing to watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolver/window.h"

typedef struct {
  uv_loop_t loop;
  int srv, cli;
  struct sockaddr_in sa;
  mxs_udp_endpoint_t ep;
  mxs_dns_window_t w;
  int closed;
} env_t;

static int setup(void **state) {
  env_t *e = test_calloc(1, sizeof *e);
  assert_int_equal(uv_loop_init(&e->loop), 0);
  e->srv = socket(AF_INET, SOCK_DGRAM, 0);
  e->cli = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(e->srv >= 0 && e->cli >= 0);
  int small = 1; /* the kernel raises it to its minimum: a few datagrams */
  assert_int_equal(setsockopt(e->srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  e->sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof e->sa;
  assert_int_equal(bind(e->srv, (struct sockaddr *)&e->sa, sizeof e->sa), 0);
  assert_int_equal(getsockname(e->srv, (struct sockaddr *)&e->sa, &sl), 0);
  e->ep = (mxs_udp_endpoint_t){.family = AF_INET, .port = ntohs(e->sa.sin_port)};
  memcpy(e->ep.addr, &e->sa.sin_addr, 4);
  *state = e;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  env_t *e = h->loop->data;
  e->closed = 1;
}

static int teardown(void **state) {
  env_t *e = *state;
  e->loop.data = e;
  mxs_dns_window_close(&e->w, on_closed);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  close(e->srv);
  close(e->cli);
  test_free(e);
  return 0;
}

/* Sends N datagrams to the server; returns how many it dropped (it queued
 * the rest, read and thrown away here). */
static int overrun(env_t *e, int n) {
  char msg[64] = "a query";
  for (int i = 0; i < n; i++)
    assert_int_equal(sendto(e->cli, msg, sizeof msg, 0, (struct sockaddr *)&e->sa, sizeof e->sa), (ssize_t)sizeof msg);
  int queued = 0;
  while (recv(e->srv, msg, sizeof msg, MSG_DONTWAIT) > 0) queued++;
  assert_true(queued < n);
  return n - queued;
}

static void stop_cb(uv_timer_t *t) { uv_stop(t->loop); }

/* Runs the loop MS milliseconds (the window's timer is unref'd: a timer
 * of the test's keeps the loop going). */
static void run_for(env_t *e, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&e->loop, &t);
  uv_timer_start(&t, stop_cb, ms, 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void answer(mxs_dns_window_t *w, int n) {
  for (int i = 0; i < n; i++) mxs_dns_window_answered(w);
}

static void test_slow_start_without_a_server_here(void **state) {
  env_t *e = *state;
  mxs_udp_endpoint_t elsewhere = {.family = AF_INET, .addr = {192, 0, 2, 53}, .port = 53};
  mxs_dns_window_init(&e->w, &e->loop, 512, &elsewhere, 1);
  int known = -1;
  size_t lowest = 0;
  assert_int_equal(mxs_dns_window_drops(&e->w, &known, &lowest), 0);
  assert_int_equal(known, 0);
  assert_int_equal(lowest, 512);
  assert_int_equal(mxs_dns_window_size(&e->w), 32);
  answer(&e->w, 100);
  assert_int_equal(mxs_dns_window_size(&e->w), 132);
  answer(&e->w, 1000);
  assert_int_equal(mxs_dns_window_size(&e->w), 512); /* never above max */
  mxs_dns_window_restart(&e->w);
  assert_int_equal(mxs_dns_window_size(&e->w), 32);
  /* the server's socket overrun changes nothing: it is not watched */
  overrun(e, 50);
  run_for(e, 600);
  assert_int_equal(mxs_dns_window_drops(&e->w, &known, NULL), 0);
}

static void test_small_max(void **state) {
  env_t *e = *state;
  mxs_dns_window_init(&e->w, &e->loop, 4, NULL, 0);
  assert_int_equal(mxs_dns_window_size(&e->w), 4);
  answer(&e->w, 10);
  assert_int_equal(mxs_dns_window_size(&e->w), 4);
}

static void test_drops_narrow_then_creep_back(void **state) {
  env_t *e = *state;
  mxs_dns_window_init(&e->w, &e->loop, 512, &e->ep, 1);
  int known = 0;
  assert_int_equal(mxs_dns_window_drops(&e->w, &known, NULL), 0);
  assert_int_equal(known, 1);
  answer(&e->w, 1000);
  assert_int_equal(mxs_dns_window_size(&e->w), 512);
  int dropped = overrun(e, 200);
  run_for(e, 300); /* one look */
  size_t lowest = 0;
  assert_int_equal(mxs_dns_window_drops(&e->w, &known, &lowest), (uint64_t)dropped);
  assert_int_equal(mxs_dns_window_size(&e->w), 256);
  assert_int_equal(lowest, 256);
  /* quiet looks: the ceiling creeps back by one each, the size follows
   * only with answers */
  run_for(e, 1100);
  assert_int_equal(mxs_dns_window_size(&e->w), 256);
  answer(&e->w, 100);
  size_t size = mxs_dns_window_size(&e->w);
  assert_true(size >= 259 && size <= 262);
  /* more drops, again and again: halved each look, never below 8 */
  uint64_t total = (uint64_t)dropped;
  for (int i = 0; i < 7; i++) {
    total += (uint64_t)overrun(e, 100);
    run_for(e, 300);
  }
  assert_int_equal(mxs_dns_window_drops(&e->w, NULL, &lowest), total);
  assert_int_equal(mxs_dns_window_size(&e->w), 8);
  assert_int_equal(lowest, 8);
  /* an outage's restart never widens it */
  mxs_dns_window_restart(&e->w);
  assert_int_equal(mxs_dns_window_size(&e->w), 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_slow_start_without_a_server_here, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drops_narrow_then_creep_back, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
