/* redis_int.h - state shared by the Redis exporter's files (redis.c: queue,
 * connection, close; redis_setup.c: open, probe, metadata, spill file).
 * Not a public interface. */
#ifndef MXS_REDIS_INT_H
#define MXS_REDIS_INT_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "exporters/exporter.h"
#include "redis/redis_conf.h"
#include "redis/redis_uv.h"
#include "results/encoders.h"

/* One record waiting for its acknowledgement.  data holds the domain hash
 * key, the hash field ("mx|ip", "mx|-" or "-") and the msgpack map. */
typedef struct entry_s {
  struct entry_s *next;
  uint64_t seq;
  const char *cls; /* static class name */
  uint32_t keylen, fieldlen, mplen;
  char data[];
} entry_t;

/* An after_stored() caller: cb(arg) once every record with seq < upto is
 * acknowledged (or in the flushed spill file). */
typedef struct waiter_s {
  struct waiter_s *next;
  uint64_t upto;
  void (*cb)(void *arg);
  void *arg;
} waiter_t;

typedef struct {
  mxs_exporter_t *x;
  uv_loop_t *loop;
  mxs_redis_conf_t conf;
  mxs_ruv_opts_t ropts;
  char run_id[48];
  char sha[48]; /* of the batch script */
  char k_stream[160], k_classes[200], k_seqs[400], k_meta[400], k_runs[160], k_domain[160];
  char k_seen[400]; /* distributed runs: (domain, mx, ip) already stored */
  char started_at[24];
  char started_unix[24];
  char maxlen_s[24];
  char *args; /* the command line, passwords masked (owned) */
  mxs_msgpack_encoder_t mp;

  /* the queue, oldest first; unsent points into it */
  entry_t *head, **tail, *unsent;
  size_t held, inflight;
  uint64_t next_seq, stored, dups; /* dups: resends the script skipped */
  int busy;
  waiter_t *waiters, **wtail; /* after_stored, in call order (so upto ascends) */

  /* the connection */
  mxs_ruv_t *conn;
  int ready;     /* setup replies in: records may go */
  int init_left; /* setup replies still expected */
  int poisoned;  /* an error reply: ignore the rest, reconnect */
  int backoff_ms;
  int down;            /* an outage is going on */
  uint64_t down_since; /* uv_now() when it began */
  unsigned outages;
  uv_timer_t t_retry, t_down, t_close;
  uv_prepare_t prep;

  /* spill */
  int spilling;
  FILE *spill;
  int spill_failed;
  char spill_path[800];
  char spill_reason[128];
  uint64_t spill_first_seq, spilled, lost;

  /* does Redis keep what it acknowledged (redis_check.c) */
  int no_aof;     /* CONFIG GET appendonly said no */
  char save[128]; /* CONFIG GET save: the RDB snapshot points, "" for none */
  int verify_sent, verify_done;
  unsigned char *bits; /* the :seqs bitmap as read back at close (owned) */
  size_t nbits;        /* its bytes */
  uint64_t missing;    /* acknowledged records Redis no longer holds */
  uint64_t recovered;  /* ... of them written from the mirror to a spill file */
  char recover_path[800];

  /* close */
  int closing, finishing, final_sent, final_done, handles;
  mxs_exporter_closed_cb close_cb;
  void *close_arg;

  /* scratch for one batch's arguments */
  const char *argv[11 + 5 * MXS_REDIS_MAX_BATCH];
  size_t argvlen[11 + 5 * MXS_REDIS_MAX_BATCH];
  char seqbuf[MXS_REDIS_MAX_BATCH][24];
  char numkeys[16];
} rs_t;

/* "mxscan: redis URL: ..." on stderr. */
void mxs_rs_log(const rs_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* redis_setup.c */

/* Fills S from its conf: run id, key names, command line; checks Redis is
 * reachable and usable (blocking, bounded by the connect and command
 * timeouts) and loads the script.  0 or -errno with a message in ERR. */
int mxs_rs_setup(rs_t *s, char *err, size_t errlen);

/* Queues the run's setup commands on a new connection (AUTH, SELECT,
 * SCRIPT LOAD, the run's start metadata); returns how many replies to
 * expect, or -1 when the connection refused them. */
int mxs_rs_send_init(rs_t *s, uintptr_t tag);

/* Queues the run's final metadata; 0 or -1. */
int mxs_rs_send_final(rs_t *s, uintptr_t tag);

/* Appends one msgpack record to the spill file, opened (and announced on
 * stderr) with the first; 0 or -errno (the failure is printed once). */
int mxs_rs_spill_write(rs_t *s, const void *data, size_t len);

/* redis_check.c */

/* At open, on the blocking context: reads appendonly and save (where the
 * ACL allows CONFIG) and warns when a restart would lose acknowledged
 * records. */
void mxs_rs_check_persistence(rs_t *s, void *redis_context);

/* At close, every record acknowledged: queues GET of the :seqs bitmap
 * (reply tag TAG); 0 or -1. */
int mxs_rs_send_verify(rs_t *s, uintptr_t tag);

/* Its reply (NULL: the key is gone).  Counts the acknowledged records
 * whose bit is clear into s->missing, writes those the mirror still names
 * to a spill file (s->recovered) and says so on stderr. */
void mxs_rs_verify_reply(rs_t *s, const char *bits, size_t len);

#endif
