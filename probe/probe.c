/* probe.c - the SMTP/STARTTLS state machine of one connection. */
#include "probe/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe/smtp.h"

#define BANNER_MAX    512
#define QUIT_GRACE_MS 1000

typedef enum {
  ST_CONNECT,
  ST_BANNER,
  ST_EHLO,
  ST_HELO,
  ST_STARTTLS,
  ST_HANDSHAKE,
  ST_EHLO2,
  ST_CLOSING,
} state_t;

typedef struct probe_s {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req;
  const mxs_probe_env_t *env;
  char ip[INET6_ADDRSTRLEN];
  int port;
  char *sni;
  int legacy;
  const mxs_tls_dane_t *dane; /* borrowed; NULL: no DANE */
  state_t st;
  int finished; /* the outcome is set and the callback has run */
  int quitting; /* QUIT is being written: hold it for our FIN (finish) */
  int open_handles;
  mxs_smtp_reader_t *rd;
  mxs_tls_t *tls;
  mxs_probe_result_t *res;
  mxs_probe_result_t *done;  /* the outcome, handed over once closed */
  uint64_t t_start, t_stage; /* ms, uv_hrtime based */
  char ehlo_detail[160];     /* the rejected EHLO reply, for the HELO fallback */
  /* With a trace hook only: server bytes that are not (yet) part of a
   * complete reply, so a transcript that ends on them shows them. */
  char raw[120];
  size_t rawlen;
  int rawmore; /* more came than raw holds */
  mxs_probe_cb cb;
  void *cb_arg;
} probe_t;

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static void trace(const probe_t *p, char dir, const char *fmt, ...) {
  if (!p->env->trace) return;
  char text[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  p->env->trace(p->env->trace_arg, p->ip, dir, text);
}

/* One line of the handshake description (mxs_tls_describe). */
static void trace_line(void *arg, const char *text) { trace(arg, 'T', "%s", text); }

static void raw_keep(probe_t *p, const char *data, size_t len) {
  if (!p->env->trace) return;
  size_t n = len < sizeof p->raw - p->rawlen ? len : sizeof p->raw - p->rawlen;
  memcpy(p->raw + p->rawlen, data, n);
  p->rawlen += n;
  p->rawmore |= n < len;
}

/* Shows the kept bytes, escaped: "HTTP/1.1 400 Bad Request\r\n...". */
static void trace_raw(probe_t *p) {
  char text[sizeof p->raw * 4 + 8];
  size_t n = 0;
  for (size_t i = 0; i < p->rawlen; i++) {
    unsigned char c = (unsigned char)p->raw[i];
    if (c == '\r' || c == '\n')
      n += (size_t)snprintf(text + n, sizeof text - n, "\\%c", c == '\r' ? 'r' : 'n');
    else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
      n += (size_t)snprintf(text + n, sizeof text - n, "\\x%02x", c);
    else
      text[n++] = (char)c;
  }
  text[n] = '\0';
  trace(p, '*', "the server sent, not read as a reply: \"%s\"%s", text, p->rawmore ? "..." : "");
}

/* ---- result ------------------------------------------------------------ */

void mxs_probe_result_free(mxs_probe_result_t *r) {
  if (!r) return;
  free(r->detail);
  free(r->banner);
  for (size_t i = 0; i < r->nehlo; i++) free(r->ehlo[i]);
  free(r->ehlo);
  mxs_cert_free(r->cert);
  free(r->sni);
  free(r->dane);
  free(r);
}

/* Records how long the stage that just ended took and starts the next. */
static void stage_done(probe_t *p, int *slot) {
  uint64_t t = now_ms();
  *slot = (int)(t - p->t_stage);
  p->t_stage = t;
}

/* ---- closing ----------------------------------------------------------- */

static void on_close(uv_handle_t *h) {
  probe_t *p = h->data;
  if (--p->open_handles > 0) return;
  /* Report only now that the socket is closed: the caller may connect to
   * the same address next (a retry, the legacy diagnosis), and the per-IP
   * limit must hold at the server, not just in our bookkeeping. */
  if (p->done) p->cb(p->cb_arg, p->done);
  mxs_smtp_reader_free(p->rd);
  mxs_tls_free(p->tls);
  free(p->sni);
  free(p);
}

static void close_handles(probe_t *p) {
  if (!uv_is_closing((uv_handle_t *)&p->timer)) uv_close((uv_handle_t *)&p->timer, on_close);
  if (!uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  close_handles(req->data);
}

static void on_grace_timeout(uv_timer_t *t) { close_handles(t->data); }

/* Sets the outcome once, hands the result over and closes.  GRACEFUL lets
 * queued writes (QUIT) reach the peer before the socket closes. */
static void finish(probe_t *p, mxs_class_t cls, const char *stage, int graceful, const char *fmt, ...) {
  if (p->finished) return;
  p->finished = 1;
  mxs_probe_result_t *r = p->res;
  r->cls = cls;
  r->stage = stage;
  va_list ap;
  va_start(ap, fmt);
  char text[320];
  vsnprintf(text, sizeof text, fmt, ap);
  r->detail = strdup(text);
  va_end(ap);
  r->timings.total = (int)(now_ms() - p->t_start);
  /* No class here: a failed handshake is refined by the legacy retry and
   * certificate classes are decided per MX name, so the transcript only
   * says where and why the dialogue ended. */
  if (p->rawlen) trace_raw(p);
  trace(p, '*', "end at stage %s: %s", stage, r->detail && r->detail[0] ? r->detail : "dialogue complete");
  p->res = NULL;
  p->done = r;
  /* The SSL object is the biggest thing a probe holds: drop it now. */
  mxs_tls_free(p->tls);
  p->tls = NULL;
  p->st = ST_CLOSING;
  uv_read_stop((uv_stream_t *)&p->tcp);
  uv_os_fd_t fd;
  if (graceful && uv_stream_get_write_queue_size((uv_stream_t *)&p->tcp) == 0 &&
      uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0 && shutdown(fd, SHUT_WR) == 0) {
    /* Everything went out (QUIT is held back by MSG_MORE, see send_bytes):
     * the FIN rides in QUIT's segment, one packet less for both sides. */
    close_handles(p);
    return;
  }
  if (graceful && uv_shutdown(&p->shutdown_req, (uv_stream_t *)&p->tcp, on_shutdown) == 0) {
    p->shutdown_req.data = p;
    uv_timer_start(&p->timer, on_grace_timeout, QUIT_GRACE_MS, 0);
    return;
  }
  close_handles(p);
}

/* ---- writing ----------------------------------------------------------- */

typedef struct {
  uv_write_t req;
  size_t len;
  char data[];
} wreq_t;

static void on_write(uv_write_t *req, int status) {
  probe_t *p = req->handle->data;
  free(req);
  if (status < 0 && status != UV_ECANCELED && !p->finished) {
    /* A failed write means the peer is gone; reading will tell the same
     * story with the right stage, but do not rely on it. */
    on_read((uv_stream_t *)&p->tcp, status, NULL);
  }
}

/* Writes DATA: straight to the socket when nothing is queued before it
 * (almost always: one small command or flight at a time), and only what
 * the kernel did not take is copied into a queued write request. */
static int send_bytes(probe_t *p, const void *data, size_t len) {
  uv_stream_t *st = (uv_stream_t *)&p->tcp;
  uv_os_fd_t fd;
  if (uv_stream_get_write_queue_size(st) == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n;
    if (p->quitting && uv_fileno((uv_handle_t *)st, &fd) == 0) {
      /* QUIT, the last thing we send: MSG_MORE keeps it until finish()
       * shuts the socket down a moment later, so QUIT and FIN share a
       * segment. */
      ssize_t w;
      do w = send(fd, data, len, MSG_MORE | MSG_NOSIGNAL);
      while (w < 0 && errno == EINTR);
      n = w >= 0 ? (int)w : errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN : -errno;
    } else {
      n = uv_try_write(st, &b, 1);
    }
    if (n == (int)len) return 0;
    if (n > 0) {
      data = (const char *)data + n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      return n;
    }
  }
  wreq_t *w = malloc(sizeof *w + len);
  if (!w) return UV_ENOMEM;
  memcpy(w->data, data, len);
  w->len = len;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, st, &b, 1, on_write);
  if (rc < 0) free(w);
  return rc;
}

/* Sends whatever ciphertext the TLS engine produced. */
static int flush_tls(probe_t *p) {
  char buf[4096]; /* a flight fits; larger ones go out in pieces, in order */
  size_t n;
  while ((n = mxs_tls_take(p->tls, buf, sizeof buf)) > 0) {
    int rc = send_bytes(p, buf, n);
    if (rc < 0) return rc;
  }
  return 0;
}

/* Sends an SMTP command, in clear or through TLS depending on the state. */
static void send_cmd(probe_t *p, const char *fmt, ...) {
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || n > (int)sizeof line - 3) n = (int)sizeof line - 3;
  memcpy(line + n, "\r\n", 3);
  trace(p, 'C', "%.*s", n, line);
  int rc = p->tls ? (mxs_tls_write(p->tls, line, (size_t)n + 2) == 0 ? flush_tls(p) : UV_EPROTO)
                  : send_bytes(p, line, (size_t)n + 2);
  if (rc < 0) on_read((uv_stream_t *)&p->tcp, rc, NULL);
}

/* Says goodbye; the caller finishes gracefully right after. */
static void send_quit(probe_t *p) {
  p->quitting = 1;
  send_cmd(p, "QUIT");
}

/* ---- timers ------------------------------------------------------------ */

static void on_timeout(uv_timer_t *t) {
  probe_t *p = t->data;
  double secs;
  switch (p->st) {
  case ST_CONNECT:
    finish(p, MXS_CLASS_TCP_TIMEOUT, "connect", 0, "no answer to SYN within %.1f s",
           p->env->connect_timeout_ms / 1000.0);
    return;
  case ST_BANNER:
    secs = p->env->banner_timeout_ms / 1000.0;
    if (mxs_smtp_reader_buffered(p->rd))
      finish(p, MXS_CLASS_SMTP_BANNER_TIMEOUT, "banner", 0, "incomplete greeting after %.1f s", secs);
    else
      finish(p, MXS_CLASS_SMTP_BANNER_TIMEOUT, "banner", 0, "no greeting within %.1f s", secs);
    return;
  case ST_EHLO:
  case ST_HELO:
  case ST_STARTTLS:
    finish(p, MXS_CLASS_SMTP_TIMEOUT, p->st == ST_STARTTLS ? "starttls" : "ehlo", 0, "no reply to %s within %.1f s",
           p->st == ST_STARTTLS ? "STARTTLS"
           : p->st == ST_HELO   ? "HELO"
                                : "EHLO",
           p->env->command_timeout_ms / 1000.0);
    return;
  case ST_HANDSHAKE:
    finish(p, MXS_CLASS_TLS_TIMEOUT, "tls", 0, "TLS handshake stalled for %.1f s",
           p->env->handshake_timeout_ms / 1000.0);
    return;
  case ST_EHLO2:
    finish(p, MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls", 0, "no reply to EHLO after TLS within %.1f s",
           p->env->command_timeout_ms / 1000.0);
    return;
  case ST_CLOSING: return;
  }
}

static void arm(probe_t *p, state_t st, int timeout_ms) {
  p->st = st;
  uv_timer_start(&p->timer, on_timeout, (uint64_t)timeout_ms, 0);
}

/* ---- SMTP replies ------------------------------------------------------ */

static char *dup_line(int code, const char *text, size_t max) {
  char buf[BANNER_MAX + 8];
  snprintf(buf, sizeof buf, "%d%s%s", code, *text ? " " : "", text);
  buf[max < sizeof buf ? max : sizeof buf - 1] = '\0';
  return strdup(buf);
}

static void keep_ehlo(probe_t *p, const mxs_smtp_reply_t *rep) {
  mxs_probe_result_t *r = p->res;
  r->has_ehlo = 1;
  size_t n = rep->nlines > 1 ? rep->nlines - 1 : 0;
  r->ehlo = n ? calloc(n, sizeof *r->ehlo) : NULL;
  for (size_t i = 0; r->ehlo && i < n; i++)
    if ((r->ehlo[r->nehlo] = strdup(rep->lines[i + 1]))) r->nehlo++;
}

static void start_handshake(probe_t *p, size_t leftover) {
  stage_done(p, &p->res->timings.starttls);
  if (leftover) {
    /* Bytes after "220" in the same read came before our ClientHello: the
     * peer (or a man in the middle) injected plaintext; never feed them to
     * TLS (CVE-2011-0411 class of bugs). */
    finish(p, MXS_CLASS_TLS_PROTOCOL_ERROR, "tls", 0,
           "%zu bytes of plaintext after the 220 reply to STARTTLS (command injection)", leftover);
    return;
  }
  p->tls = mxs_tls_new_dane(p->env->tls, p->sni, p->legacy, p->dane);
  if (!p->tls) {
    finish(p, MXS_CLASS_TLS_PROTOCOL_ERROR, "tls", 0, "out of memory creating the TLS session");
    return;
  }
  arm(p, ST_HANDSHAKE, p->env->handshake_timeout_ms);
  trace(p, 'T', "starting TLS handshake: SNI %s, %s", *p->sni ? p->sni : "(none)",
        mxs_tls_ctx_label(p->env->tls, p->legacy));
  mxs_tls_handshake(p->tls); /* produces the ClientHello */
  if (flush_tls(p) < 0) finish(p, MXS_CLASS_TLS_DIED, "tls", 0, "could not send the ClientHello");
}

static void on_banner(probe_t *p, const mxs_smtp_reply_t *rep, char *summary) {
  p->res->banner = dup_line(rep->code, rep->lines[0], BANNER_MAX);
  stage_done(p, &p->res->timings.banner);
  if (rep->code / 100 != 2) {
    send_quit(p);
    finish(p, MXS_CLASS_SMTP_REJECTED, "banner", 1, "greeting: %s", summary);
    return;
  }
  arm(p, ST_EHLO, p->env->command_timeout_ms);
  send_cmd(p, "EHLO %s", p->env->ehlo_name);
}

static void on_ehlo(probe_t *p, const mxs_smtp_reply_t *rep, char *summary) {
  if (rep->code / 100 == 5) { /* as MTAs do: fall back to HELO */
    snprintf(p->ehlo_detail, sizeof p->ehlo_detail, "%.150s", summary);
    arm(p, ST_HELO, p->env->command_timeout_ms);
    send_cmd(p, "HELO %s", p->env->ehlo_name);
    return;
  }
  stage_done(p, &p->res->timings.ehlo);
  if (rep->code / 100 != 2) {
    send_quit(p);
    finish(p, MXS_CLASS_SMTP_REJECTED, "ehlo", 1, "EHLO: %s", summary);
    return;
  }
  keep_ehlo(p, rep);
  if (!mxs_smtp_ehlo_has(rep, "STARTTLS")) {
    send_quit(p);
    finish(p, MXS_CLASS_STARTTLS_NOT_OFFERED, "ehlo", 1, "EHLO does not advertise STARTTLS");
    return;
  }
  arm(p, ST_STARTTLS, p->env->command_timeout_ms);
  send_cmd(p, "STARTTLS");
}

static void on_helo(probe_t *p, const mxs_smtp_reply_t *rep, char *summary) {
  stage_done(p, &p->res->timings.ehlo);
  send_quit(p);
  if (rep->code / 100 == 2)
    finish(p, MXS_CLASS_STARTTLS_NOT_OFFERED, "ehlo", 1, "EHLO rejected (%s), HELO accepted: no ESMTP, no STARTTLS",
           p->ehlo_detail);
  else
    finish(p, MXS_CLASS_SMTP_REJECTED, "ehlo", 1, "EHLO: %s; HELO: %s", p->ehlo_detail, summary);
}

static void on_ehlo2(probe_t *p, const mxs_smtp_reply_t *rep, char *summary) {
  if (rep->code / 100 != 2) {
    send_quit(p);
    finish(p, MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls", 1, "EHLO after TLS: %s", summary);
    return;
  }
  send_quit(p);
  finish(p, MXS_CLASS_OK, "done", 1, "%s", "");
}

/* Handles one complete reply; LEFTOVER is what followed it in the buffer. */
static void on_reply(probe_t *p, const mxs_smtp_reply_t *rep, size_t leftover) {
  char summary[256];
  mxs_smtp_reply_summary(rep, summary, sizeof summary);
  for (size_t i = 0; i < rep->nlines; i++)
    trace(p, 'S', "%d%c%s", rep->code, i + 1 < rep->nlines ? '-' : ' ', rep->lines[i]);
  p->res->smtp_code = rep->code;
  switch (p->st) {
  case ST_BANNER: on_banner(p, rep, summary); break;
  case ST_EHLO: on_ehlo(p, rep, summary); break;
  case ST_HELO: on_helo(p, rep, summary); break;
  case ST_STARTTLS:
    if (rep->code == 220) {
      start_handshake(p, leftover);
    } else {
      send_quit(p);
      finish(p, MXS_CLASS_STARTTLS_REJECTED, "starttls", 1, "STARTTLS: %s", summary);
    }
    break;
  case ST_EHLO2: on_ehlo2(p, rep, summary); break;
  default: break;
  }
}

static const char *smtp_stage_name(state_t st) {
  return st == ST_BANNER ? "banner" : st == ST_STARTTLS ? "starttls" : "ehlo";
}

/* Feeds SMTP bytes (clear text, or decrypted after TLS) to the reader. */
static void feed_smtp(probe_t *p, const char *data, size_t len) {
  while (len > 0 && !p->finished) {
    size_t used = 0;
    const mxs_smtp_reply_t *rep = NULL;
    mxs_smtp_status_t s = mxs_smtp_reader_feed(p->rd, data, len, &used, &rep);
    if (s == MXS_SMTP_REPLY)
      p->rawlen = p->rawmore = 0;
    else
      raw_keep(p, data, s < 0 ? len : used); /* an error: the whole read, not just up to the bad byte */
    data += used;
    len -= used;
    if (s == MXS_SMTP_NEED_MORE) return;
    if (s < 0) {
      if (p->st == ST_EHLO2)
        finish(p, MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls", 0, "reply to EHLO after TLS: %s", mxs_smtp_strerror(s));
      else
        finish(p, MXS_CLASS_SMTP_PROTOCOL_ERROR, smtp_stage_name(p->st), 0, "%s", mxs_smtp_strerror(s));
      return;
    }
    state_t before = p->st;
    if (before == ST_STARTTLS) raw_keep(p, data, len); /* came with the reply: shown if judged an injection */
    on_reply(p, rep, len);
    if (before == ST_STARTTLS) return; /* leftover bytes were judged already */
  }
}

/* ---- TLS --------------------------------------------------------------- */

static void handshake_done(probe_t *p) {
  mxs_probe_result_t *r = p->res;
  stage_done(p, &r->timings.handshake);
  r->tls_done = 1;
  snprintf(r->tls_version, sizeof r->tls_version, "%s", mxs_tls_version(p->tls));
  snprintf(r->cipher, sizeof r->cipher, "%s", mxs_tls_cipher(p->tls));
  mxs_tls_group(p->tls, r->group, sizeof r->group);
  r->tls_fail.cert_requested = mxs_tls_cert_requested(p->tls); /* and whether ours went: for a comparison */
  r->tls_fail.cert_sent = mxs_tls_cert_sent(p->tls);
  trace(p, 'T', "handshake done: %s, cipher %s, group %s", r->tls_version, r->cipher, r->group);
  if (r->tls_fail.cert_requested)
    trace(p, 'T', "the server asked for a client certificate: %s",
          r->tls_fail.cert_sent ? "ours was sent" : "we have none to send");
  if (p->env->trace) mxs_tls_describe(p->tls, (int64_t)time(NULL), trace_line, p);
  X509 *leaf = mxs_tls_leaf(p->tls);
  if (leaf) {
    r->cert = mxs_cert_new(leaf, mxs_tls_chain_len(p->tls), (int64_t)time(NULL), mxs_tls_sha256(p->env->tls));
    r->chain_errors = mxs_tls_cert_errors(p->tls) | (r->cert ? mxs_cert_leaf_problems(r->cert) : 0);
    snprintf(r->verify_text, sizeof r->verify_text, "%s", mxs_tls_verify_text(p->tls));
  }
  if (p->dane && (r->dane = malloc(sizeof *r->dane))) /* out of memory: no DANE verdict, as without records */
    mxs_tls_dane_result(p->tls, r->dane);
  if (p->legacy && !mxs_tls_cert_requested(p->tls)) {
    flush_tls(p); /* our Finished: the server sees a completed handshake */
    finish(p, MXS_CLASS_OK, "done", 1, "legacy handshake succeeded");
    return;
  }
  mxs_smtp_reader_reset(p->rd);
  arm(p, ST_EHLO2, p->env->command_timeout_ms);
  send_cmd(p, "EHLO %s", p->env->ehlo_name);
}

/* Copies why the handshake failed into the result. */
static void keep_failure(probe_t *p, int peer_closed) {
  mxs_probe_result_t *r = p->res;
  const mxs_tls_failure_t *f = mxs_tls_failure(p->tls);
  r->tls_fail.ssl_reason = f->ssl_reason;
  r->tls_fail.alert_received = f->alert_received;
  r->tls_fail.server_hello = f->server_hello;
  r->tls_fail.cert_requested = mxs_tls_cert_requested(p->tls);
  r->tls_fail.cert_sent = mxs_tls_cert_sent(p->tls);
  r->tls_peer_closed = peer_closed;
}

/* TLS 1.3: the client's handshake is complete before the server has judged
 * its certificate, so a server that wants one and does not like ours (or
 * our having none) says so with an alert after it.  That is the handshake
 * failing, not the EHLO after it: the class says TLS, with the alert. */
static int client_cert_rejected(probe_t *p) {
  const mxs_tls_failure_t *f = mxs_tls_failure(p->tls);
  if (!mxs_tls_cert_requested(p->tls) || f->alert_received < 0) return 0;
  mxs_probe_result_t *r = p->res;
  keep_failure(p, 0);
  r->tls_done = 0; /* the server did not complete it: nothing negotiated */
  mxs_cert_free(r->cert);
  r->cert = NULL;
  r->chain_errors = 0;
  r->verify_text[0] = '\0';
  finish(p, MXS_CLASS_TLS_ALERT, "tls", 0, "the server asked for a client certificate and rejected %s: %s",
         r->tls_fail.cert_sent ? "ours" : "the handshake without one", f->text);
  return 1;
}

static void handshake_failed(probe_t *p, int peer_closed) {
  mxs_probe_result_t *r = p->res;
  const mxs_tls_failure_t *f = mxs_tls_failure(p->tls);
  keep_failure(p, peer_closed);
  stage_done(p, &r->timings.handshake);
  /* Preliminary class: scan.c refines it with the legacy retry. */
  if (r->tls_fail.cert_requested && f->alert_received >= 0)
    finish(p, MXS_CLASS_TLS_ALERT, "tls", 0, "the server asked for a client certificate and rejected %s: %s",
           r->tls_fail.cert_sent ? "ours" : "the handshake without one", f->text);
  else if (peer_closed && !r->tls_fail.ssl_reason)
    finish(p, MXS_CLASS_TLS_DIED, "tls", 0, "connection died while negotiating STARTTLS%s",
           r->tls_fail.server_hello ? " (after the ServerHello)" : " (no ServerHello)");
  else
    finish(p, MXS_CLASS_TLS_ALERT, "tls", 0, "%s", f->text);
}

static void drive_handshake(probe_t *p) {
  int rc = mxs_tls_handshake(p->tls);
  /* Done: our Finished goes out together with the EHLO that follows it,
   * one segment instead of two (handshake_done flushes). */
  if (rc != 1 && flush_tls(p) < 0 && rc >= 0) rc = -1;
  if (rc == 1)
    handshake_done(p);
  else if (rc < 0)
    handshake_failed(p, 0);
}

/* Bytes read while TLS is on: into the engine, then drive it. */
static void feed_tls(probe_t *p, const char *data, size_t len) {
  if (mxs_tls_feed(p->tls, data, len) < 0) {
    finish(p, MXS_CLASS_TLS_PROTOCOL_ERROR, "tls", 0, "out of memory buffering TLS input");
    return;
  }
  if (p->st == ST_HANDSHAKE) {
    drive_handshake(p);
    if (p->finished || p->st == ST_HANDSHAKE) return;
  }
  char plain[4096];
  int n = 0;
  while (!p->finished && p->tls && (n = mxs_tls_read(p->tls, plain, sizeof plain)) > 0) feed_smtp(p, plain, (size_t)n);
  if (!p->finished && p->tls && n < 0 && !client_cert_rejected(p))
    finish(p, MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls", 0, "TLS session closed after the handshake");
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  probe_t *p = h->data;
  *buf = uv_buf_init(p->env->read_buf, MXS_PROBE_READ_BUF);
}

/* The peer closed (EOF) or the connection broke (ERR < 0). */
static void on_eof(probe_t *p, int err) {
  const char *why = err == UV_EOF ? "connection closed by the server" : uv_strerror(err);
  switch (p->st) {
  case ST_BANNER:
  case ST_EHLO:
  case ST_HELO:
  case ST_STARTTLS:
    finish(p, MXS_CLASS_SMTP_CLOSED, smtp_stage_name(p->st), 0, "%s %s", why,
           p->st == ST_BANNER     ? "before the greeting"
           : p->st == ST_STARTTLS ? "after STARTTLS"
                                  : "after EHLO");
    return;
  case ST_HANDSHAKE: handshake_failed(p, 1); return;
  case ST_EHLO2: finish(p, MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls", 0, "%s after the TLS handshake", why); return;
  default: return;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  probe_t *p = s->data;
  if (p->finished) return;
  if (nread < 0) {
    on_eof(p, (int)nread);
    return;
  }
  if (nread == 0) return;
  if (p->tls)
    feed_tls(p, buf->base, (size_t)nread);
  else
    feed_smtp(p, buf->base, (size_t)nread);
}

/* ---- connecting -------------------------------------------------------- */

/* Errors that say nothing about the peer: the scan throttles and retries. */
static int is_local_errno(int err) {
  return err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOBUFS || err == UV_ENOMEM || err == UV_EAGAIN ||
         err == UV_EADDRNOTAVAIL;
}

static void on_connect(uv_connect_t *req, int status) {
  probe_t *p = req->data;
  if (p->finished || status == UV_ECANCELED) return;
  if (status == UV_ECONNRESET) {
    /* A SYN is refused with ECONNREFUSED; a reset is only possible once the
     * handshake completed: the server accepted and dropped us before libuv
     * saw the connect finish (a reset at once).  That is a close before the
     * greeting, not a connect failure. */
    stage_done(p, &p->res->timings.connect);
    trace(p, '*', "connected to %s port %d%s", p->ip, p->port, p->legacy ? " (legacy diagnostic retry)" : "");
    p->st = ST_BANNER;
    on_eof(p, status);
    return;
  }
  if (status < 0) {
    p->res->local_error = is_local_errno(status);
    finish(p, mxs_class_from_connect_error(status), "connect", 0, "%s", uv_strerror(status));
    return;
  }
  stage_done(p, &p->res->timings.connect);
  trace(p, '*', "connected to %s port %d%s", p->ip, p->port, p->legacy ? " (legacy diagnostic retry)" : "");
  arm(p, ST_BANNER, p->env->banner_timeout_ms);
  int rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
  if (rc < 0) finish(p, MXS_CLASS_TCP_UNREACHABLE, "connect", 0, "%s", uv_strerror(rc));
}

/* A connect that fails before any I/O is still reported from the loop,
 * never from inside mxs_probe_start. */
static void on_immediate_failure(uv_timer_t *t) {
  probe_t *p = t->data;
  int err = p->res->smtp_code; /* stashed uv error, see start */
  p->res->smtp_code = 0;
  p->res->local_error = is_local_errno(err);
  finish(p, mxs_class_from_connect_error(err), "connect", 0, "%s", uv_strerror(err));
}

static int parse_addr(const char *ip, int port, struct sockaddr_storage *ss) {
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0) return 0;
  return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss);
}

/* A socket of SRC's family bound to SRC, port left to connect().  With
 * IP_BIND_ADDRESS_NO_PORT the kernel picks the port when connecting, per
 * destination, instead of reserving one per socket at bind time: bound
 * sockets would otherwise share one pool of ~28,000 ports whatever their
 * destinations.  A descriptor, or a negative UV error. */
static int bound_socket(const char *src) {
  struct sockaddr_storage ss;
  if (parse_addr(src, 0, &ss) < 0) return UV_EINVAL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
#ifdef IP_BIND_ADDRESS_NO_PORT
  int one = 1;
  (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); /* Linux 4.2+; else plain bind */
#endif
  socklen_t len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (const struct sockaddr *)&ss, len) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

int mxs_probe_check_source(const char *addr, char *err, size_t errlen) {
  int fd = bound_socket(addr);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  snprintf(err, errlen, "cannot bind to %s: %s", addr,
           fd == UV_EADDRNOTAVAIL ? "not an address of this host" : uv_strerror(fd));
  return fd;
}

/* The socket bound to the source address of DST's family, if one is set,
 * opened into the probe's handle before connecting. */
static int bind_source(probe_t *p, int family) {
  const char *src = family == AF_INET ? p->env->source4 : p->env->source6;
  if (!src) return 0;
  int fd = bound_socket(src);
  if (fd < 0) return fd;
  int rc = uv_tcp_open(&p->tcp, fd);
  if (rc < 0) close(fd);
  return rc;
}

/* The source address could not be bound (it went away, or descriptors ran
 * out): reported from the loop as a connect failure that says so. */
static void on_bind_failure(uv_timer_t *t) {
  probe_t *p = t->data;
  int err = p->res->smtp_code; /* stashed uv error, see start */
  p->res->smtp_code = 0;
  /* Out of descriptors is a shortage to wait out; an address that is not
   * ours any more is not, and retrying it would never end. */
  p->res->local_error = is_local_errno(err) && err != UV_EADDRNOTAVAIL;
  finish(p, MXS_CLASS_TCP_UNREACHABLE, "connect", 0, "cannot bind the source address %s: %s",
         strchr(p->ip, ':') ? p->env->source6 : p->env->source4, uv_strerror(err));
}

static probe_t *probe_new(const mxs_probe_env_t *env, const char *ip, int port, const char *sni) {
  probe_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->res = calloc(1, sizeof *p->res);
  p->rd = mxs_smtp_reader_new();
  p->sni = strdup(sni ? sni : "");
  if (p->res && sni && *sni && !(p->res->sni = strdup(sni))) {
    free(p->res);
    p->res = NULL;
  }
  if (!p->res || !p->rd || !p->sni) {
    free(p->res);
    mxs_smtp_reader_free(p->rd);
    free(p->sni);
    free(p);
    return NULL;
  }
  p->env = env;
  snprintf(p->ip, sizeof p->ip, "%s", ip);
  p->port = port;
  p->res->timings = (mxs_timings_t){-1, -1, -1, -1, -1, -1, -1};
  p->res->attempts = 1;
  return p;
}

int mxs_probe_start(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy, mxs_probe_cb cb,
                    void *arg) {
  return mxs_probe_start_h(env, ip, port, sni, legacy, cb, arg, NULL);
}

void mxs_probe_cancel(mxs_probe_t *p, const char *why) {
  if (p->finished) return;
  static const struct {
    mxs_class_t cls;
    const char *stage;
  } by_state[] = {
      [ST_CONNECT] = {MXS_CLASS_TCP_TIMEOUT, "connect"},
      [ST_BANNER] = {MXS_CLASS_SMTP_BANNER_TIMEOUT, "banner"},
      [ST_EHLO] = {MXS_CLASS_SMTP_TIMEOUT, "ehlo"},
      [ST_HELO] = {MXS_CLASS_SMTP_TIMEOUT, "ehlo"},
      [ST_STARTTLS] = {MXS_CLASS_SMTP_TIMEOUT, "starttls"},
      [ST_HANDSHAKE] = {MXS_CLASS_TLS_TIMEOUT, "tls"},
      [ST_EHLO2] = {MXS_CLASS_POST_TLS_EHLO_FAILED, "post-tls"},
      [ST_CLOSING] = {MXS_CLASS_TCP_TIMEOUT, "connect"},
  };
  p->res->unfinished = 1;
  finish(p, by_state[p->st].cls, by_state[p->st].stage, 0, "%s", why);
}

int mxs_probe_start_h(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy,
                      mxs_probe_cb cb, void *arg, mxs_probe_t **handle) {
  return mxs_probe_start_dane(env, ip, port, sni, legacy, NULL, cb, arg, handle);
}

int mxs_probe_start_dane(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy,
                         const mxs_tls_dane_t *dane, mxs_probe_cb cb, void *arg, mxs_probe_t **handle) {
  struct sockaddr_storage ss;
  int rc = parse_addr(ip, port, &ss);
  if (rc < 0) return rc;
  probe_t *p = probe_new(env, ip, port, sni);
  if (!p) return UV_ENOMEM;
  p->legacy = legacy;
  p->dane = dane;
  p->cb = cb;
  p->cb_arg = arg;
  uv_tcp_init(env->loop, &p->tcp);
  uv_timer_init(env->loop, &p->timer);
  p->tcp.data = p->timer.data = p->connect_req.data = p;
  p->open_handles = 2;
  p->t_start = p->t_stage = now_ms();
  if (handle) *handle = p;
  if ((rc = bind_source(p, ss.ss_family)) < 0) {
    p->res->smtp_code = rc;
    uv_timer_start(&p->timer, on_bind_failure, 0, 0);
    return 0;
  }
  /* Without NODELAY the EHLO after the handshake waits ~40 ms for a
   * delayed ACK. */
  uv_tcp_nodelay(&p->tcp, 1);
  rc = uv_tcp_connect(&p->connect_req, &p->tcp, (const struct sockaddr *)&ss, on_connect);
  if (rc < 0) {
    p->res->smtp_code = rc;
    uv_timer_start(&p->timer, on_immediate_failure, 0, 0);
    return 0;
  }
  arm(p, ST_CONNECT, env->connect_timeout_ms);
  return 0;
}
