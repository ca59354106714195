/* probe.h - one SMTP/STARTTLS connection as a state machine on libuv.
 *
 * CONNECT -> BANNER -> EHLO (-> HELO) -> STARTTLS -> HANDSHAKE -> EHLO-after-TLS
 * -> QUIT -> DONE.  One timer, re-armed per stage; one finish() that sets the
 * outcome exactly once, hands the result to the callback and closes the
 * handles.  The probe knows the address and the SNI name, never the domain:
 * its result is shared by every (domain, MX name) behind the address.
 */
#ifndef MXS_PROBE_H
#define MXS_PROBE_H

#include <stddef.h>
#include <uv.h>

#include "results/classify.h"
#include "results/record.h"
#include "probe/cert.h"
#include "probe/tls.h"

typedef struct {
  uv_loop_t *loop;
  mxs_tls_ctx_t *tls;    /* borrowed; outlives every probe */
  const char *ehlo_name; /* borrowed */
  int connect_timeout_ms;
  int banner_timeout_ms;
  int command_timeout_ms;
  int handshake_timeout_ms;
  /* Optional transcript (mxs_probe's view for `mxscan probe`): called for
   * every line sent ('C') and received ('S'), the TLS handshake summary
   * ('T') and connection events ('*').  TEXT is borrowed for the call. */
  void (*trace)(void *arg, const char *ip, char dir, const char *text);
  void *trace_arg;
  /* MXS_PROBE_READ_BUF bytes that every probe of this loop reads into:
   * on_read consumes what arrived before it returns, so one buffer per loop
   * does, instead of one per probe in flight.  Owned by the loop's owner. */
  char *read_buf;
  /* Bind each probe's socket to this address of the family it connects
   * to before connecting (--source-address); NULL: the system's choice.
   * Borrowed. */
  const char *source4, *source6;
} mxs_probe_env_t;

#define MXS_PROBE_READ_BUF (64 * 1024)

typedef struct {
  /* Outcome of the SMTP/TLS dialogue.  MXS_CLASS_OK means TLS came up and
   * the EHLO after it was answered; certificate classes are decided by the
   * caller per MX name from `cert` and `chain_errors`. */
  mxs_class_t cls;
  const char *stage; /* static */
  char *detail;      /* owned: why the dialogue ended, "" when it completed; NULL only when out of memory */
  int smtp_code;
  char *banner; /* owned; NULL when no greeting line was read */
  char **ehlo;  /* owned extension lines of the EHLO before TLS */
  size_t nehlo;
  int has_ehlo;
  int tls_done; /* handshake completed */
  char tls_version[16];
  char cipher[64];
  char group[32];
  mxs_cert_t *cert;             /* owned; NULL when no leaf was seen */
  mxs_class_set_t chain_errors; /* verification + leaf-only problems */
  char verify_text[96];
  /* When the handshake failed: the codes the class is refined from (its
   * text went into detail).  Not the whole mxs_tls_failure_t: a run keeps
   * one result per address, and most never need 200 bytes of text. */
  struct {
    int ssl_reason, alert_received, server_hello;
    int cert_requested, cert_sent; /* the server asked for a client certificate; we had one */
  } tls_fail;
  int tls_peer_closed; /* the peer closed or reset during the handshake */
  mxs_timings_t timings;
  int attempts;
  int local_error;             /* our side lacked a resource (EMFILE, no free port): not the peer's doing */
  int unfinished;              /* cut short by mxs_probe_cancel (run deadline), not by the peer */
  char *sni;                   /* owned; the server name the probe sent, NULL: none */
  mxs_tls_dane_result_t *dane; /* owned: the DANE match of a probe started with TLSA
                                * records whose handshake completed; NULL otherwise
                                * (a run keeps one result per address, most without DANE) */
} mxs_probe_result_t;

typedef struct probe_s mxs_probe_t;

void mxs_probe_result_free(mxs_probe_result_t *r);

/* Takes ownership of RESULT.  Never called from inside mxs_probe_start. */
typedef void (*mxs_probe_cb)(void *arg, mxs_probe_result_t *result);

/* Starts a probe of IP:PORT (textual address) with SNI (copied).  LEGACY
 * (the TLS context's variant, probe/tls.h) 0 runs the whole dialogue with
 * the probe's profile; 1.. runs that diagnostic retry, which stops right
 * after the handshake (unless the server asked for a client certificate:
 * whether it takes ours shows only after the EHLO that follows).  Returns
 * 0, or a negative UV error when nothing could be started (ENOMEM); a
 * connect that fails at once is reported through CB like any other. */
int mxs_probe_start(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy, mxs_probe_cb cb,
                    void *arg);

/* The same, and *HANDLE (when non-NULL) identifies the probe until its
 * callback runs, for mxs_probe_cancel. */
int mxs_probe_start_h(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy,
                      mxs_probe_cb cb, void *arg, mxs_probe_t **handle);

/* The same, matching DANE (borrowed TLSA records of the name SNI, kept
 * unchanged until the callback has run; NULL: none) in the same handshake:
 * the result's `dane`. */
int mxs_probe_start_dane(const mxs_probe_env_t *env, const char *ip, int port, const char *sni, int legacy,
                         const mxs_tls_dane_t *dane, mxs_probe_cb cb, void *arg, mxs_probe_t **handle);

/* Checks at start that ADDR (textual) can be a probe's source address:
 * a socket binds to it.  0, or a negative UV error with a message in ERR
 * ("not an address of this host" for EADDRNOTAVAIL). */
int mxs_probe_check_source(const char *addr, char *err, size_t errlen);

/* Ends the probe now as if the current stage had timed out, marked
 * `unfinished` with WHY as the detail.  The callback still runs, later.
 * No-op once the probe has finished. */
void mxs_probe_cancel(mxs_probe_t *p, const char *why);

#endif
