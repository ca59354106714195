/* test_maillog.c - the mail log parser on the lines real MTAs write.
 *
 * Every log line here was written by Postfix 3.7.11 or Exim 4.96 (Debian
 * 12) as a sending client against failing test servers (the harness of
 * tests/cli/maillog_fixture.py, run in tests/cli/test_maillog.py), copied
 * as they were; the syslog and longer-id variants change only the prefix
 * or the id, as NOTES of that harness describe.  A few lines are damaged
 * on purpose to show they are counted, not fatal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/maillog.h"

typedef struct {
  char got[2048]; /* "domain/mta/deferred " per failure */
} seen_t;

static void on_failure(void *arg, const mxs_ml_failure_t *f) {
  seen_t *s = arg;
  size_t n = strlen(s->got);
  snprintf(s->got + n, sizeof s->got - n, "%s/%s/%s ", f->domain, f->mta, f->deferred ? "deferred" : "clear");
}

/* Feeds LINES (NULL-ended) to a new parser; returns the kinds as a string
 * of letters (o other, M match, x malformed) and the failures in S. */
static const char *feed(const char *const *lines, seen_t *s) {
  static char kinds[256];
  mxs_maillog_t *p = mxs_maillog_new();
  assert_non_null(p);
  memset(s, 0, sizeof *s);
  size_t i = 0;
  for (; lines[i]; i++) {
    mxs_ml_kind_t k = mxs_maillog_line(p, lines[i], strlen(lines[i]), on_failure, s);
    kinds[i] = k == MXS_ML_MATCH ? 'M' : k == MXS_ML_MALFORMED ? 'x' : 'o';
  }
  kinds[i] = '\0';
  mxs_maillog_free(p);
  return kinds;
}

#define PF "Dec 02 00:14:23 client postfix/smtp"

/* smtp_tls_security_level = may: the first attempt is deferred, a later one
 * (the message older than minimal_backoff_time) goes out in the clear. */
static void postfix_may_fallback(void **state) {
  (void)state;
  const char *lines[] = {
      PF "[300]: SSL_connect error to 127.0.66.2[127.0.66.2]:2611: lost connection",
      PF
      "[300]: ECAE7A76760: to=<user-tlsclose@tlsclose.test>, relay=127.0.66.2[127.0.66.2]:2611, delay=0.28, "
      "delays=0.08/0.19/0.01/0, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)",
      PF
      "[318]: ECAE7A76760: to=<user-notls@notls.test>, relay=127.0.66.1[127.0.66.1]:2611, delay=0.31, "
      "delays=0.08/0.18/0/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as NOTLS0003)",
      PF "[304]: SSL_connect error to 127.0.66.5[127.0.66.5]:2611: -1",
      PF
      "[304]: warning: TLS library problem: error:0A00042E:SSL routines::tlsv1 alert protocol "
      "version:../ssl/record/rec_layer_s3.c:1601:SSL alert number 70:",
      PF "[304]: ECAE7A76760: Cannot start TLS: handshake failure",
      PF
      "[304]: ECAE7A76760: to=<user-tls13only@tls13only.test>, relay=127.0.66.5[127.0.66.5]:2611, delay=6.1, "
      "delays=6/0/0.01/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as TLS13ONLY0003)",
      /* the same process's next delivery, another message: nothing to say */
      PF
      "[304]: 6E3A9A765A6: to=<user-good@good.test>, relay=127.0.66.7[127.0.66.7]:2611, delay=0.15, "
      "delays=0.01/0.04/0.04/0.06, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as GOOD0013)",
      NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "oMooooMo");
  assert_string_equal(s.got, "tlsclose.test/postfix/deferred tls13only.test/postfix/clear ");
}

/* encrypt, verify: the reasons, and the same reasons "suspended" for the
 * next message by postfix/error; long queue ids and a syslog_name. */
static void postfix_required_levels(void **state) {
  (void)state;
  const char *lines[] = {
      PF
      "[30]: 7497AA758C7: to=<user-notls@notls.test>, relay=127.0.66.1[127.0.66.1]:2611, delay=0.23, "
      "delays=0.05/0.13/0.05/0, dsn=4.7.4, status=deferred (TLS is required, but was not offered by host "
      "127.0.66.1[127.0.66.1])",
      PF
      "[31]: 7497AA758C7: to=<user-starttls454@starttls454.test>, relay=127.0.66.6[127.0.66.6]:2611, delay=0.2, "
      "delays=0.05/0.1/0.05/0, dsn=4.7.0, status=deferred (TLS is required, but host 127.0.66.6[127.0.66.6] "
      "refused to start TLS: 454 4.7.0 TLS not available due to local problem)",
      "Dec 02 00:14:24 client postfix/error[424]: 6E3A9A765A6: to=<user-tlsgarbage@tlsgarbage.test>, relay=none, "
      "delay=0.04, delays=0.01/0.01/0/0.03, dsn=4.7.5, status=deferred (delivery temporarily suspended: Cannot start "
      "TLS: handshake failure)",
      PF "[32]: certificate verification failed for 127.0.66.4[127.0.66.4]:2611: self-signed certificate",
      PF
      "[32]: Untrusted TLS connection established to 127.0.66.4[127.0.66.4]:2611: TLSv1.3 with cipher "
      "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
      "server-digest SHA256",
      PF
      "[32]: 7497AA758C7: to=<user-selfsigned@selfsigned.test>, relay=127.0.66.4[127.0.66.4]:2611, delay=0.3, "
      "delays=0.05/0.1/0.1/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
      "Dec 02 00:14:26 client postfix-out/smtp[32767]: 4jfJCj6KcFz1bgy6: to=<user-notls@notls.test>, "
      "relay=127.0.66.1[127.0.66.1]:2611, delay=0.23, delays=0.05/0.13/0.05/0, dsn=4.7.4, status=deferred (TLS is "
      "required, but was not offered by host 127.0.66.1[127.0.66.1])",
      /* not TLS: a 421 banner */
      PF
      "[33]: 7497AA758C7: to=<user-banner421@banner421.test>, relay=127.0.66.8[127.0.66.8]:2611, delay=0.33, "
      "delays=0.08/0.25/0/0, dsn=4.3.2, status=deferred (host 127.0.66.8[127.0.66.8] refused to talk to me: 421 "
      "4.3.2 mx.banner421.test Service not available, closing transmission channel)",
      NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "MMMooMMo");
  assert_string_equal(s.got,
                      "notls.test/postfix/deferred starttls454.test/postfix/deferred tlsgarbage.test/postfix/deferred "
                      "selfsigned.test/postfix/deferred notls.test/postfix/deferred ");
}

/* A session that dies after the handshake reads like a plaintext one; only
 * the "TLS connection established" line of the same process (loglevel 1)
 * tells them apart. */
static void postfix_session_after_handshake(void **state) {
  (void)state;
  const char *lines[] = {
      PF
      "[300]: Trusted TLS connection established to 127.0.66.10[127.0.66.10]:2611: TLSv1.3 with cipher "
      "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
      "server-digest SHA256",
      PF
      "[300]: ECAE7A76760: to=<user-tlsdrop@tlsdrop.test>, relay=127.0.66.10[127.0.66.10]:2611, delay=0.19, "
      "delays=0.08/0.04/0.06/0, dsn=4.4.2, status=deferred (lost connection with 127.0.66.10[127.0.66.10] while "
      "performing the EHLO handshake)",
      /* the later attempt at may: the fallback note, then delivered in the clear */
      PF
      "[318]: Trusted TLS connection established to 127.0.66.10[127.0.66.10]:2611: TLSv1.3 with cipher "
      "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
      "server-digest SHA256",
      PF "[318]: ECAE7A76760: lost connection with 127.0.66.10[127.0.66.10] while performing the EHLO handshake",
      PF
      "[318]: ECAE7A76760: to=<user-tlsdrop@tlsdrop.test>, relay=127.0.66.10[127.0.66.10]:2611, delay=6.1, "
      "delays=6/0/0.01/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as TLSDROP0003)",
      /* a TLS session that worked ends its news; a later plaintext loss is no TLS failure */
      PF "[353]: Trusted TLS connection established to 127.0.66.7[127.0.66.7]:2611: TLSv1.3 with cipher X",
      PF
      "[353]: ECAE7A76760: to=<user-good@good.test>, relay=127.0.66.7[127.0.66.7]:2611, delay=0.42, "
      "delays=0.08/0.23/0.07/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as GOOD0008)",
      PF
      "[353]: 6E3A9A765A6: to=<u@plain.test>, relay=127.0.66.7[127.0.66.7]:2611, delay=1, delays=1/0/0/0, "
      "dsn=4.4.2, status=deferred (lost connection with 127.0.66.7[127.0.66.7] while performing the EHLO "
      "handshake)",
      NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "oMooMooo");
  assert_string_equal(s.got, "tlsdrop.test/postfix/deferred tlsdrop.test/postfix/clear ");
}

/* The prefixes syslog writes, the recipients as Postfix quotes them, and
 * the same message's next delivery request to another domain. */
static void postfix_prefixes_and_recipients(void **state) {
  (void)state;
  const char *reason =
      ", relay=mx[192.0.2.1]:25, delay=1, delays=1/0/0/0, dsn=4.7.5, status=deferred (Cannot start "
      "TLS: handshake failure)";
  char a[512], b[512], c[512], d[512];
  snprintf(a, sizeof a, "Dec  2 00:14:37 mail postfix/smtp[2797]: 7497AA758C7: to=<Joe@Example.COM.>%s", reason);
  snprintf(b, sizeof b,
           "2026-12-02T00:14:37.123456+00:00 mail postfix/smtp[2797]: 7497AA758C7: to=<\"a b@c\"@b.test>, "
           "orig_to=<x@alias.test>%s",
           reason);
  snprintf(c, sizeof c, "2026-12-02T00:14:37Z mail postfix/lmtp[1]: 7497AA758C8: to=<u@xn--bcher-kva.test>%s", reason);
  snprintf(d, sizeof d, "Dec  2 00:14:37 mail postfix/smtp[2797]: 7497AA758C7: to=<u@[192.0.2.9]>%s", reason);
  const char *lines[] = {a, b, c, d, NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "MMMx");
  assert_string_equal(s.got,
                      "example.com/postfix/deferred b.test/postfix/deferred xn--bcher-kva.test/postfix/deferred ");

  /* an MX host failed TLS, the next one took the mail: counted; then the
   * same message to another domain, by the same process: not */
  const char *more[] = {
      PF "[9]: 11111111111: TLS is required, but was not offered by host mx1.x.test[192.0.2.1]",
      PF
      "[9]: 11111111111: to=<u@x.test>, relay=mx2.x.test[192.0.2.2]:25, delay=1, delays=1/0/0/0, dsn=2.0.0, "
      "status=sent (250 ok)",
      PF
      "[9]: 11111111111: to=<v@x.test>, relay=mx2.x.test[192.0.2.2]:25, delay=1, delays=1/0/0/0, dsn=2.0.0, "
      "status=sent (250 ok)",
      PF
      "[9]: 11111111111: to=<u@y.test>, relay=mx.y.test[192.0.2.3]:25, delay=1, delays=1/0/0/0, dsn=2.0.0, "
      "status=sent (250 ok)",
      /* the sender's own TLS setup failed: no fault of the recipient's */
      PF
      "[9]: 22222222222: to=<u@z.test>, relay=none, delay=1, delays=1/0/0/0, dsn=4.7.5, status=deferred (TLS is "
      "required, but our TLS engine is unavailable)",
      NULL};
  assert_string_equal(feed(more, &s), "oMMoo");
  assert_string_equal(s.got, "x.test/postfix/clear x.test/postfix/clear ");
}

#define EX "2026-12-02 00:14:22 "

/* Exim's defaults: a failed handshake, then in the clear at once. */
static void exim_try(void **state) {
  (void)state;
  const char *lines[] = {
      EX "1xYXzK-0008Eg-0Z <= sender@sender.test U=root P=local S=674 id=A.exim-try.31564@client.test",
      EX "exim user lost privilege for using -C option",
      EX
      "1xYXzK-0008Eg-0Z TLS session: (gnutls_handshake): The TLS connection was non-properly terminated.: "
      "delivering unencrypted to H=127.0.66.2 [127.0.66.2] (not in hosts_require_tls)",
      EX
      "1xYXzK-0008Eg-0Z => user-notls@notls.test R=loopback_servers T=remote_smtp H=127.0.66.1 [127.0.66.1] "
      "C=\"250 2.0.0 Ok: queued as NOTLS0001\"",
      EX
      "1xYXzK-0008Eg-0Z => user-tlsclose@tlsclose.test R=loopback_servers T=remote_smtp H=127.0.66.2 "
      "[127.0.66.2] C=\"250 2.0.0 Ok: queued as TLSCLOSE0001\"",
      /* an error inside TLS, then in the clear */
      EX
      "1xYXzK-0008Eg-0Z H=127.0.66.10 [127.0.66.10] TLS error on connection (recv): The TLS connection was "
      "non-properly terminated.",
      EX
      "1xYXzK-0008Eg-0Z TLS session: error on first read: delivering unencrypted to H=127.0.66.10 [127.0.66.10] "
      "(not in hosts_require_tls)",
      EX
      "1xYXzK-0008Eg-0Z => user-tlsdrop@tlsdrop.test R=loopback_servers T=remote_smtp H=127.0.66.10 "
      "[127.0.66.10] C=\"250 2.0.0 Ok: queued as TLSDROP0001\"",
      /* a harmless close after the mail went over TLS */
      EX
      "1xYXzK-0008Eg-0Z H=127.0.66.11 [127.0.66.11] TLS error on connection (recv): The TLS connection was "
      "non-properly terminated.",
      EX
      "1xYXzK-0008Eg-0Z => user-noclosenotify@noclosenotify.test R=loopback_servers T=remote_smtp H=127.0.66.11 "
      "[127.0.66.11] X=TLS1.3:ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=yes C=\"250 2.0.0 Ok: "
      "queued as NOCLOSENOTIFY0003\"",
      EX
      "1xYXzK-0008Eg-0Z => user-selfsigned@selfsigned.test R=loopback_servers T=remote_smtp H=127.0.66.4 "
      "[127.0.66.4] X=TLS1.3:ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no C=\"250 2.0.0 Ok: "
      "queued as SELFSIGNED0002\"",
      NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "ooooMooMooo");
  assert_string_equal(s.got, "tlsclose.test/exim/clear tlsdrop.test/exim/clear ");
}

/* hosts_require_tls, tls_verify_hosts: deferrals by errno and reason. */
static void exim_require_verify(void **state) {
  (void)state;
  const char *lines[] = {
      EX
      "1xYXzK-0008Ef-0Z H=127.0.66.1 [127.0.66.1]: a TLS session is required, but the server did not offer TLS "
      "support",
      EX
      "1xYXzK-0008Ef-0Z == user-notls@notls.test R=loopback_servers T=remote_smtp defer (-38) H=127.0.66.1 "
      "[127.0.66.1]: a TLS session is required, but the server did not offer TLS support",
      EX
      "1xYXzK-0008Ef-0Z == user-tlsgarbage@tlsgarbage.test R=loopback_servers T=remote_smtp defer (-37) "
      "H=127.0.66.3 [127.0.66.3]: TLS session: (gnutls_handshake): An unexpected TLS packet was received.",
      EX
      "1xYXzK-0008Eh-0Z == user-selfsigned@selfsigned.test R=loopback_servers T=remote_smtp defer (-37) "
      "H=127.0.66.4 [127.0.66.4]: TLS session: (certificate verification failed): certificate invalid",
      EX
      "1xYXzK-0008Ef-0Z == user-banner421@banner421.test R=loopback_servers T=remote_smtp defer (0) H=127.0.66.8 "
      "[127.0.66.8]: SMTP error from remote mail server after initial connection: 421 4.3.2 mx.banner421.test "
      "Service not available, closing transmission channel",
      EX
      "1xYXzK-0008Fv-1P == user-notls@notls.test R=loopback_servers T=remote_smtp defer (-54): retry time not "
      "reached for any host for 'notls.test'",
      /* through syslog, with a 4.97 message id; and a bounce */
      "Dec  2 00:14:22 mail exim[4242]: 1xYXzK-00000008Eh-0Zab == u@Mixed.Test R=dnslookup T=remote_smtp defer (-37) "
      "H=mx.mixed.test [192.0.2.7]: TLS session: (SSL_connect): error:0A000410:SSL routines::sslv3 alert handshake "
      "failure",
      EX
      "[123] 1xYXzK-0008Ef-0Z ** u@bounced.test R=dnslookup T=remote_smtp H=mx.bounced.test [192.0.2.8]: a TLS "
      "session is required, but an attempt to start TLS failed",
      NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "oMMMooMM");
  assert_string_equal(s.got,
                      "notls.test/exim/deferred tlsgarbage.test/exim/deferred selfsigned.test/exim/deferred "
                      "mixed.test/exim/deferred bounced.test/exim/deferred ");
}

/* Lines that are no log lines, or failure lines without their parts: counted, never fatal. */
static void malformed_lines(void **state) {
  (void)state;
  const char *lines[] = {
      "", "hello world", "Dec 32 00:00:00 broken", "Dec  2 00:14:22 host", "2026-12-02 00:14:22",
      PF "[1]: 7497AA758C7: to=<u@x.test, relay=mx[192.0.2.1]:25, dsn=4.7.5, status=deferred (Cannot start TLS",
      PF "[1]: 7497AA758C7: to=<u@>, relay=mx[192.0.2.1]:25, dsn=4.7.5, status=deferred (Cannot start TLS: x)",
      PF "[1]: 7497AA758C7: to=<u@bad domain>, relay=mx[192.0.2.1]:25, dsn=4.7.5, status=deferred (Cannot start TLS)",
      /* found by fuzz_maillog: two trailing dots */
      EX "1xYXzK-0008Eh-0Z == u@x.test.. R=r T=t defer (-37) H=h [192.0.2.1]: TLS session: x",
      EX "1xYXzK-0008Ef-0Z == \"unterminated@x.test R=r T=t defer (-37): TLS session: x",
      EX "1xYXzK-0008Ef-0Z TLS session: (x): delivering unencrypted to somewhere (not in hosts_require_tls)",
      /* well-formed lines of other programs are no failures */
      "Dec  2 00:14:22 host kernel: [123.4] eth0: link up",
      "Dec  2 00:14:22 host postfix/qmgr[7]: 7497AA758C7: removed", NULL};
  seen_t s;
  assert_string_equal(feed(lines, &s), "xxxxxxxxxxxoo");
  assert_string_equal(s.got, "");

  /* bytes of any kind, NUL and CR included, and very long lines */
  mxs_maillog_t *p = mxs_maillog_new();
  char nul[] = "Dec  2 00:14:22 host postfix/smtp[1]: A\0B";
  assert_int_equal(mxs_maillog_line(p, nul, sizeof nul - 1, NULL, NULL), MXS_ML_MALFORMED);
  const char crlf[] = PF
      "[5]: 7497AA758C7: to=<u@cr.test>, relay=mx[192.0.2.1]:25, dsn=4.7.5, status=deferred "
      "(Cannot start TLS: handshake failure)\r";
  assert_int_equal(mxs_maillog_line(p, crlf, sizeof crlf - 1, NULL, NULL), MXS_ML_MATCH);
  size_t n = 1 << 16;
  char *big = malloc(n);
  assert_non_null(big);
  memset(big, 'A', n);
  memcpy(big, PF "[5]: ", sizeof PF "[5]: " - 1);
  assert_int_equal(mxs_maillog_line(p, big, n, NULL, NULL), MXS_ML_OTHER);
  for (size_t i = 0; i < 4096; i++) { /* random bytes never crash it */
    for (size_t k = 0; k < 300; k++) big[k] = (char)(rand() & 0xff);
    (void)mxs_maillog_line(p, big, 300, NULL, NULL);
  }
  free(big);
  mxs_maillog_free(p);
}

/* The state is a fixed table: thousands of processes and messages wear
 * out nothing, and a delivery still links to its process's earlier line. */
static void bounded_state(void **state) {
  (void)state;
  mxs_maillog_t *p = mxs_maillog_new();
  char line[512];
  seen_t s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < 20000; i++) {
    snprintf(line, sizeof line, PF "[%d]: %011X: Cannot start TLS: handshake failure", i, i);
    assert_int_equal(mxs_maillog_line(p, line, strlen(line), on_failure, &s), MXS_ML_OTHER);
    snprintf(line, sizeof line, EX "1xYXzK-%06d-0Z H=h [10.0.%d.%d] TLS error on connection (recv): x", i % 1000000,
             i / 256 % 256, i % 256);
    assert_int_equal(mxs_maillog_line(p, line, strlen(line), on_failure, &s), MXS_ML_OTHER);
  }
  snprintf(line, sizeof line,
           PF "[19999]: %011X: to=<u@late.test>, relay=mx[192.0.2.1]:25, dsn=2.0.0, status=sent (ok)", 19999);
  assert_int_equal(mxs_maillog_line(p, line, strlen(line), on_failure, &s), MXS_ML_MATCH);
  assert_string_equal(s.got, "late.test/postfix/clear ");
  mxs_maillog_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(postfix_may_fallback),
      cmocka_unit_test(postfix_required_levels),
      cmocka_unit_test(postfix_session_after_handshake),
      cmocka_unit_test(postfix_prefixes_and_recipients),
      cmocka_unit_test(exim_try),
      cmocka_unit_test(exim_require_verify),
      cmocka_unit_test(malformed_lines),
      cmocka_unit_test(bounded_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
