/* test_udpdrops.c - the drop counters of DNS servers' sockets (udpdrops.c).
 *
 * First on /proc/net/udp text as Linux 6.1 prints it (which lines are the
 * server's: its address or, for loopback, the wildcard; unconnected only;
 * lines that do not read), then against the kernel itself: a socket with
 * a small buffer, never read, gets more datagrams than it holds, and the
 * reader must count exactly those its kernel threw away.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolver/udpdrops.h"

static const char HEADER[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode ref pointer drops\n";

static mxs_udp_endpoint_t v4(const char *ip, uint16_t port) {
  mxs_udp_endpoint_t e = {.family = AF_INET, .port = port};
  assert_int_equal(inet_pton(AF_INET, ip, e.addr), 1);
  return e;
}

static mxs_udp_endpoint_t v6(const char *ip, uint16_t port) {
  mxs_udp_endpoint_t e = {.family = AF_INET6, .port = port};
  assert_int_equal(inet_pton(AF_INET6, ip, e.addr), 1);
  return e;
}

/* A /proc/net/udp line for ADDR (the kernel's hex of the in-memory word)
 * port PORT, state ST, DROPS. */
static void line4(char *buf, size_t len, const char *ip, unsigned port, unsigned st, unsigned long long drops) {
  struct in_addr a;
  assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
  snprintf(buf + strlen(buf), len - strlen(buf),
           "  %u: %08X:%04X 00000000:0000 %02X 00000000:00000000 00:00000000 00000000     0        0 4242 2 "
           "0000000000000000 %llu\n",
           (unsigned)strlen(buf) % 100, a.s_addr, port, st, drops);
}

static void test_v4_lines(void **state) {
  (void)state;
  char text[4096] = "";
  strcat(text, HEADER);
  line4(text, sizeof text, "127.0.0.1", 5353, 7, 12);  /* the server */
  line4(text, sizeof text, "127.0.0.1", 40000, 1, 99); /* a client socket (connected): not a server */
  line4(text, sizeof text, "127.0.0.2", 5353, 7, 5);   /* another address, same port */
  line4(text, sizeof text, "0.0.0.0", 53, 7, 30);      /* a wildcard on 53 */
  strcat(text, "  9: garbage line\n  10: 0100007F:14E9 00000000:0000 07 x x x x x x x notanumber\n");
  uint64_t d = 0;
  mxs_udp_endpoint_t e = v4("127.0.0.1", 5353);
  assert_int_equal(mxs_udp_drops_parse(text, 0, &e, 1, &d), 1);
  assert_int_equal(d, 12);
  /* a loopback server on 53 is the wildcard's too */
  d = 0;
  e = v4("127.0.0.53", 53);
  assert_int_equal(mxs_udp_drops_parse(text, 0, &e, 1, &d), 1);
  assert_int_equal(d, 30);
  /* two loopback servers on 53 share the wildcard socket: counted once */
  d = 0;
  mxs_udp_endpoint_t two[2] = {v4("127.0.0.1", 53), v4("127.0.0.53", 53)};
  assert_int_equal(mxs_udp_drops_parse(text, 0, two, 2, &d), 1);
  assert_int_equal(d, 30);
  /* a server elsewhere is never a local wildcard's */
  d = 0;
  e = v4("192.0.2.53", 53);
  assert_int_equal(mxs_udp_drops_parse(text, 0, &e, 1, &d), 0);
  assert_int_equal(d, 0);
  /* nothing on that port */
  e = v4("127.0.0.1", 5354);
  assert_int_equal(mxs_udp_drops_parse(text, 0, &e, 1, &d), 0);
  /* the header alone, or nothing */
  assert_int_equal(mxs_udp_drops_parse(HEADER, 0, &e, 1, &d), 0);
  assert_int_equal(mxs_udp_drops_parse("", 0, &e, 1, &d), 0);
}

static void test_v6_lines(void **state) {
  (void)state;
  /* ::1 port 53 and :: port 5353, as the kernel prints them (words of the
   * in-memory address: ::1 is 00000000000000000000000001000000 on little
   * endian; built from the bytes here so the test holds on either) */
  struct in6_addr lo = IN6ADDR_LOOPBACK_INIT;
  uint32_t w[4];
  memcpy(w, &lo, 16);
  char text[2048];
  snprintf(text, sizeof text,
           "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
           "tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
           "  1: %08X%08X%08X%08X:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 "
           "00000000     0        0 1 2 0000000000000000 7\n"
           "  2: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 "
           "00:00000000 00000000     0        0 1 2 0000000000000000 3\n",
           w[0], w[1], w[2], w[3]);
  uint64_t d = 0;
  mxs_udp_endpoint_t e = v6("::1", 53);
  assert_int_equal(mxs_udp_drops_parse(text, 1, &e, 1, &d), 1);
  assert_int_equal(d, 7);
  /* a loopback IPv4 server on a dual-stack wildcard socket */
  d = 0;
  e = v4("127.0.0.1", 5353);
  assert_int_equal(mxs_udp_drops_parse(text, 1, &e, 1, &d), 1);
  assert_int_equal(d, 3);
  /* IPv6 text read as IPv4 matches nothing */
  d = 0;
  assert_int_equal(mxs_udp_drops_parse(text, 0, &e, 1, &d), 0);
}

/* The kernel's own count: a bound socket with the smallest buffer, never
 * read, is sent 200 datagrams; those it could not queue are dropped. */
static void test_kernel_counts(void **state) {
  (void)state;
  int srv = socket(AF_INET, SOCK_DGRAM, 0), cli = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(srv >= 0 && cli >= 0);
  int small = 1; /* the kernel raises it to its minimum */
  assert_int_equal(setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(srv, (struct sockaddr *)&sa, &sl), 0);
  mxs_udp_endpoint_t e = v4("127.0.0.1", ntohs(sa.sin_port));
  uint64_t before = 0, after = 0;
  assert_int_equal(mxs_udp_drops_read(&e, 1, &before), 1);
  assert_int_equal(before, 0);
  char msg[64] = "a query";
  for (int i = 0; i < 200; i++)
    assert_int_equal(sendto(cli, msg, sizeof msg, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)sizeof msg);
  int queued = 0;
  while (recv(srv, msg, sizeof msg, MSG_DONTWAIT) > 0) queued++;
  assert_int_equal(mxs_udp_drops_read(&e, 1, &after), 1);
  assert_true(queued > 0 && queued < 200);
  assert_int_equal(after, (uint64_t)(200 - queued));
  close(srv);
  close(cli);
  /* gone: not found */
  after = 0;
  assert_int_equal(mxs_udp_drops_read(&e, 1, &after), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v4_lines),
      cmocka_unit_test(test_v6_lines),
      cmocka_unit_test(test_kernel_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
