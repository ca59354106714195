/* redis_check.c - does Redis still hold what it acknowledged?
 *
 * Exactly once rests on Redis keeping what it acknowledged (redis.c).  A
 * Redis without persistence that restarts mid-run comes back empty: the
 * records acknowledged before are gone, the exporter resends only what was
 * not acknowledged, and without a check the run would end "complete" with
 * `records` far below `produced`.  So:
 *
 *   - at open, CONFIG GET appendonly and save (where the ACL allows CONFIG):
 *     a warning when a restart would lose acknowledged records;
 *   - at close, once every record is acknowledged, the run's :seqs bitmap is
 *     read back: every record of the run (before the spill file's first, if
 *     it spilled) has its bit set once stored, so a clear bit is a record
 *     Redis acknowledged and lost.  They are counted, said on stderr, the
 *     run is marked `incomplete` (exit 1), and those the mirror (the -o FILE
 *     written beside, in the same order) still holds are copied from it,
 *     byte for byte, to the spill file: appended to SPILL_DIR/P-spill-ID.msgpack
 *     after any records spilled before (a msgpack FILE), or to the same name
 *     with .jsonl (a JSON Lines FILE).
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/redis_int.h"
#include "results/reader.h"

/* CONFIG GET NAME: the value, or NULL (not allowed, renamed, old server). */
static redisReply *config_get(redisContext *rc, const char *name, const char **value) {
  const char *av[] = {"CONFIG", "GET", name};
  redisReply *r = redisCommandArgv(rc, 3, av, NULL);
  *value = NULL;
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
    *value = r->element[1]->str;
  return r;
}

void mxs_rs_check_persistence(rs_t *s, void *redis_context) {
  redisContext *rc = redis_context;
  const char *aof, *save;
  redisReply *ra = config_get(rc, "appendonly", &aof);
  redisReply *rs = aof ? config_get(rc, "save", &save) : NULL;
  if (aof && rs && save && strcmp(aof, "no") == 0) {
    s->no_aof = 1;
    snprintf(s->save, sizeof s->save, "%s", save);
    if (save[0])
      mxs_rs_log(s,
                 "warning: appendonly is no (RDB snapshots only: save %s): a restart loses what Redis acknowledged "
                 "since its last snapshot; mxscan checks at the end of the run (appendonly yes makes a restart safe)",
                 save);
    else
      mxs_rs_log(s,
                 "warning: this Redis has no persistence (appendonly no, no save points): a restart loses every "
                 "record it acknowledged; mxscan checks at the end of the run (appendonly yes makes a restart safe)");
  }
  if (ra) freeReplyObject(ra);
  if (rs) freeReplyObject(rs);
}

int mxs_rs_send_verify(rs_t *s, uintptr_t tag) {
  const char *av[] = {"GET", s->k_seqs};
  return mxs_ruv_command(s->conn, tag, 2, av, NULL) < 0 ? -1 : 0;
}

/* Bit SEQ as SETBIT numbers them: the most significant bit of byte 0 first. */
static int bit_set(const rs_t *s, uint64_t seq) {
  uint64_t byte = seq / 8;
  return byte < s->nbits && (s->bits[byte] >> (7 - seq % 8) & 1);
}

/* Copies the missing records the mirror holds, byte for byte, to OUT.
 * Returns how many. */
static uint64_t copy_missing(rs_t *s, uint64_t upto, FILE *raw, FILE *out) {
  mxs_reader_t *rd = NULL;
  char err[256];
  if (mxs_reader_open(s->x->mirror, &rd, err, sizeof err) < 0) {
    mxs_rs_log(s, "cannot read %s back: %s", s->x->mirror, err);
    return 0;
  }
  mxs_read_record_t rec;
  uint64_t copied = 0, seq = 0, start = 0;
  char buf[1 << 16];
  while (seq < upto && mxs_reader_next(rd, &rec) == 1) {
    uint64_t end = mxs_reader_good_offset(rd);
    if (start >= s->x->mirror_offset) { /* a record of this run: its seq is its rank */
      if (!bit_set(s, seq) && fseeko(raw, (off_t)start, SEEK_SET) == 0) {
        int ok = 1;
        for (uint64_t left = end - start; ok && left > 0;) {
          size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
          ok = fread(buf, 1, n, raw) == n && fwrite(buf, 1, n, out) == n;
          left -= n;
        }
        copied += ok;
      }
      seq++;
    }
    start = end;
  }
  mxs_reader_close(rd);
  return copied;
}

/* The file the lost records go to: the spill file itself for a msgpack
 * mirror (appended to), its .jsonl sibling for a JSON Lines one. */
static FILE *open_recovery(rs_t *s, int jsonl) {
  if (!jsonl && s->spill) {
    snprintf(s->recover_path, sizeof s->recover_path, "%s", s->spill_path);
    return s->spill;
  }
  snprintf(s->recover_path, sizeof s->recover_path, "%s/%s-spill-%s%s%s.%s", s->conf.spill_dir, s->conf.prefix,
           s->run_id, s->conf.worker[0] ? "-" : "", s->conf.worker, jsonl ? "jsonl" : "msgpack");
  FILE *fp = fopen(s->recover_path, "ab");
  if (!fp) mxs_rs_log(s, "cannot open %s: %s", s->recover_path, strerror(errno));
  return fp;
}

static void recover(rs_t *s, uint64_t upto) {
  FILE *raw = fopen(s->x->mirror, "rb");
  if (!raw) {
    mxs_rs_log(s, "cannot read %s back: %s", s->x->mirror, strerror(errno));
    return;
  }
  int jsonl = fgetc(raw) == '{';
  FILE *out = open_recovery(s, jsonl);
  if (out) {
    s->recovered = copy_missing(s, upto, raw, out);
    int bad = fflush(out) != 0;
    if (out != s->spill && fclose(out) != 0) bad = 1;
    if (bad) {
      mxs_rs_log(s, "writing %s: %s", s->recover_path, strerror(errno));
      s->recovered = 0;
    }
  }
  fclose(raw);
}

void mxs_rs_verify_reply(rs_t *s, const char *bits, size_t len) {
  s->verify_done = 1;
  free(s->bits);
  s->bits = NULL;
  s->nbits = 0;
  if (bits && len && (s->bits = malloc(len))) {
    memcpy(s->bits, bits, len);
    s->nbits = len;
  }
  /* What Redis must hold: every record, or those before the spill file's. */
  uint64_t upto = s->spilling ? s->spill_first_seq : s->next_seq;
  for (uint64_t seq = 0; seq < upto; seq++) s->missing += !bit_set(s, seq);
  if (!s->missing) return;
  const char *why = s->no_aof ? (s->save[0] ? " (appendonly no: it restarted and lost what its last snapshot missed)"
                                            : " (it has no persistence and restarted)")
                              : "";
  if (s->x->mirror) recover(s, upto);
  if (s->recovered)
    mxs_rs_log(s,
               "run %s: Redis no longer holds %llu of the %llu record(s) it acknowledged%s: %llu written to %s from "
               "%s%s; the run is marked incomplete",
               s->run_id, (unsigned long long)s->missing, (unsigned long long)upto, why,
               (unsigned long long)s->recovered, s->recover_path, s->x->mirror,
               s->recovered < s->missing ? ", the others are LOST" : "");
  else
    mxs_rs_log(s,
               "run %s: Redis no longer holds %llu of the %llu record(s) it acknowledged%s: they are LOST%s; the run "
               "is marked incomplete",
               s->run_id, (unsigned long long)s->missing, (unsigned long long)upto, why,
               s->x->mirror ? "" : " (give -o FILE too, and they are written to the spill file from it)");
}
