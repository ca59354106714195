/* cmd_collect.c - `mxscan collect` and `mxscan status`: a run read back
 * from Redis.
 *
 * collect pages through P:results (XRANGE ... COUNT) keeping the entries of
 * the run, and writes one record per (domain, MX, address), the latest:
 * a job taken over from a worker that died after storing its records but
 * before acknowledging it is scanned twice, and the later record wins.
 * status reads the job group (XINFO GROUPS: lag = queued, pending = in
 * flight), the run's metadata and its class counters.
 */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "dist/source.h"
#include "queue/table.h"
#include "redis/redis_sync.h"
#include "report/report.h"
#include "results/encoders.h"

#define PAGE "5000"

typedef struct {
  char *data;
  size_t len;
} rec_t;

typedef struct {
  rec_t *v;
  size_t n, cap;
  mxs_table_t idx; /* "domain|mx|ip" -> index + 1 */
} coll_t;

static const msgpack_object *map_get(const msgpack_object *m, const char *key) {
  if (m->type != MSGPACK_OBJECT_MAP) return NULL;
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object_kv *kv = &m->via.map.ptr[i];
    if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
        !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
      return &kv->val;
  }
  return NULL;
}

static void put_str(char *out, size_t len, const msgpack_object *o) {
  if (o && o->type == MSGPACK_OBJECT_STR)
    snprintf(out, len, "%.*s", (int)o->via.str.size, o->via.str.ptr);
  else
    snprintf(out, len, "-");
}

/* The record's identity: domain, MX and address. */
static int record_key(const char *data, size_t len, char *out, size_t outlen) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  int ok = msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS;
  if (ok) {
    char d[300], mx[300], ip[80];
    put_str(d, sizeof d, map_get(&u.data, "domain"));
    put_str(mx, sizeof mx, map_get(&u.data, "mx"));
    put_str(ip, sizeof ip, map_get(&u.data, "ip"));
    snprintf(out, outlen, "%s|%s|%s", d, mx, ip);
  }
  msgpack_unpacked_destroy(&u);
  return ok ? 0 : -1;
}

static int keep(coll_t *c, const char *data, size_t len) {
  char key[700];
  if (record_key(data, len, key, sizeof key) < 0) return 0; /* not a record: skipped */
  char *copy = malloc(len);
  if (!copy) return -1;
  memcpy(copy, data, len);
  size_t at = (size_t)(uintptr_t)mxs_table_get(&c->idx, key);
  if (at) { /* a later record for the same probe replaces the earlier one */
    free(c->v[at - 1].data);
    c->v[at - 1] = (rec_t){copy, len};
    return 0;
  }
  if (c->n == c->cap) {
    size_t n = c->cap ? c->cap * 2 : 1024;
    rec_t *v = realloc(c->v, n * sizeof *v);
    if (!v) return free(copy), -1;
    c->v = v;
    c->cap = n;
  }
  c->v[c->n++] = (rec_t){copy, len};
  return mxs_table_put(&c->idx, key, (void *)(uintptr_t)c->n);
}

/* One XRANGE page: keeps the run's records, sets NEXT to continue after
 * the last entry ("" at the end). */
static int page(redisContext *rc, const char *stream, const char *run, char *next, size_t nlen, coll_t *c,
                uint64_t *seen, char *err, size_t errlen) {
  const char *av[] = {"XRANGE", stream, next, "+", "COUNT", PAGE};
  redisReply *r = mxs_redis_sync_cmd(rc, 6, av, NULL, err, errlen);
  if (!r) return -1;
  int rcode = 0;
  next[0] = '\0';
  if (r->type == REDIS_REPLY_ARRAY) *seen += r->elements;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && rcode == 0; i++) {
    const redisReply *e = r->element[i], *f = e->element[1];
    snprintf(next, nlen, "(%s", e->element[0]->str); /* exclusive start for the next page */
    const redisReply *rr = NULL, *rn = NULL;
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
      if (!strcmp(f->element[j]->str, "run")) rn = f->element[j + 1];
      if (!strcmp(f->element[j]->str, "r")) rr = f->element[j + 1];
    }
    if (rn && rr && !strcmp(rn->str, run)) rcode = keep(c, rr->str, rr->len);
  }
  if (rcode < 0) snprintf(err, errlen, "out of memory");
  freeReplyObject(r);
  return rcode;
}

/* A msgpack object as JSON (the contract's records hold maps, arrays,
 * strings, integers and booleans). */
static void to_json(mxs_json_encoder_t *j, const msgpack_object *o) {
  char num[32];
  switch (o->type) {
  case MSGPACK_OBJECT_MAP:
    mxs_json_put_raw(j, "{", 1);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      if (i) mxs_json_put_raw(j, ",", 1);
      to_json(j, &o->via.map.ptr[i].key);
      mxs_json_put_raw(j, ":", 1);
      to_json(j, &o->via.map.ptr[i].val);
    }
    mxs_json_put_raw(j, "}", 1);
    return;
  case MSGPACK_OBJECT_ARRAY:
    mxs_json_put_raw(j, "[", 1);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      if (i) mxs_json_put_raw(j, ",", 1);
      to_json(j, &o->via.array.ptr[i]);
    }
    mxs_json_put_raw(j, "]", 1);
    return;
  case MSGPACK_OBJECT_STR: {
    /* not strndup: the bytes have no NUL after them, and strict string
     * checks (ASan) read on to one */
    char *s = malloc(o->via.str.size + 1);
    if (s) {
      memcpy(s, o->via.str.ptr, o->via.str.size);
      s[o->via.str.size] = '\0';
    }
    mxs_json_put_string(j, s ? s : "");
    free(s);
    return;
  }
  case MSGPACK_OBJECT_BOOLEAN: mxs_json_put_raw(j, o->via.boolean ? "true" : "false", o->via.boolean ? 4 : 5); return;
  case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(num, sizeof num, "%llu", (unsigned long long)o->via.u64); break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(num, sizeof num, "%lld", (long long)o->via.i64); break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: snprintf(num, sizeof num, "%.17g", o->via.f64); break;
  default: snprintf(num, sizeof num, "null"); break;
  }
  mxs_json_put_raw(j, num, strlen(num));
}

static int write_out(const coll_t *c, FILE *fp, int jsonl) {
  mxs_json_encoder_t j;
  mxs_json_encoder_init(&j);
  for (size_t i = 0; i < c->n; i++) {
    if (!jsonl) {
      fwrite(c->v[i].data, 1, c->v[i].len, fp);
      continue;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, c->v[i].data, c->v[i].len, NULL) == MSGPACK_UNPACK_SUCCESS) {
      mxs_json_encoder_reset(&j);
      to_json(&j, &u.data);
      mxs_json_put_raw(&j, "\n", 1);
      fwrite(j.buf, 1, j.len, fp);
    }
    msgpack_unpacked_destroy(&u);
  }
  mxs_json_encoder_free(&j);
  return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

static void free_coll(coll_t *c) {
  for (size_t i = 0; i < c->n; i++) free(c->v[i].data);
  free(c->v);
  mxs_table_free(&c->idx);
}

/* The options both commands share, parsed by the one option table; 0 or
 * the exit status. */
static int dist_args(mxs_config_t *cfg, int argc, char **argv, const char *usage, redisContext **rc,
                     mxs_redis_conf_t *conf) {
  mxs_config_defaults(cfg);
  int r = mxs_config_parse(cfg, argc, argv, stderr);
  if (r > 0) {
    puts(usage);
    return -1;
  }
  char err[512];
  if (r < 0 || !cfg->redis_url) {
    if (r == 0) fprintf(stderr, "mxscan %s: --redis URL is required\n", argv[0]);
    return 2;
  }
  if (mxs_redis_sync_open(cfg->redis_url, cfg->redis_prefix, conf, rc, err, sizeof err) < 0) {
    fprintf(stderr, "mxscan: %s\n", err);
    return 2;
  }
  return 0;
}

int mxs_cmd_collect(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_redis_conf_t conf;
  redisContext *rc = NULL;
  int st = dist_args(&cfg, argc, argv,
                     "usage: mxscan collect --redis URL --run ID [-o FILE] [--format msgpack|jsonl]\n\n"
                     "Writes the run's records, one per (domain, MX, address), the latest.",
                     &rc, &conf);
  if (st == 0 && !cfg.redis_run) {
    fprintf(stderr, "mxscan collect: --run ID is required\n");
    st = 2;
  }
  if (st != 0) {
    if (rc) redisFree(rc);
    mxs_config_free(&cfg);
    return st < 0 ? 0 : st;
  }
  coll_t c = {0};
  mxs_table_init(&c.idx);
  char stream[200], next[64] = "-", err[512];
  snprintf(stream, sizeof stream, "%s:results", conf.prefix);
  int bad = 0;
  /* A long run takes minutes to page through: on a terminal, say how far */
  mxs_progress_t prog;
  mxs_progress_init(&prog, stderr);
  long long total = -1;
  uint64_t seen = 0;
  if (prog.on) {
    const char *xl[] = {"XLEN", stream};
    redisReply *r = mxs_redis_sync_cmd(rc, 2, xl, NULL, err, sizeof err);
    if (r && r->type == REDIS_REPLY_INTEGER) total = r->integer;
    if (r) freeReplyObject(r);
  }
  do {
    if (total > 0)
      mxs_progress_show(&prog, "mxscan: collect: %llu of %lld stream entries read (%.0f%%), %zu records of run %.64s",
                        (unsigned long long)seen, total, 100.0 * (double)seen / (double)total, c.n, cfg.redis_run);
    else
      mxs_progress_show(&prog, "mxscan: collect: %llu stream entries read, %zu records of run %.64s",
                        (unsigned long long)seen, c.n, cfg.redis_run);
    bad = page(rc, stream, cfg.redis_run, next, sizeof next, &c, &seen, err, sizeof err) < 0;
  } while (!bad && next[0]);
  mxs_progress_end(&prog);
  FILE *fp = NULL;
  if (!bad && !(fp = strcmp(cfg.output, "-") ? fopen(cfg.output, "wb") : stdout))
    snprintf(err, sizeof err, "cannot write %s: %s", cfg.output, strerror(errno)), bad = 1;
  if (!bad && write_out(&c, fp, !strcmp(cfg.format, "jsonl")) < 0)
    snprintf(err, sizeof err, "writing %s: %s", cfg.output, strerror(errno)), bad = 1;
  if (fp && fp != stdout) fclose(fp);
  if (bad)
    fprintf(stderr, "mxscan: redis %s: %s\n", conf.display, err);
  else
    fprintf(stderr, "mxscan: run %s: %zu record(s) to %s\n", cfg.redis_run, c.n, cfg.output);
  free_coll(&c);
  redisFree(rc);
  mxs_config_free(&cfg);
  return bad ? 1 : 0;
}

static long long field_ll(const redisReply *map, const char *name) {
  for (size_t i = 0; map && map->type == REDIS_REPLY_ARRAY && i + 1 < map->elements; i += 2)
    if (map->element[i]->type == REDIS_REPLY_STRING && !strcmp(map->element[i]->str, name)) {
      const redisReply *v = map->element[i + 1];
      return v->type == REDIS_REPLY_INTEGER ? v->integer : v->type == REDIS_REPLY_STRING ? atoll(v->str) : -1;
    }
  return -1;
}

static const char *field_s(const redisReply *map, const char *name) {
  for (size_t i = 0; map && map->type == REDIS_REPLY_ARRAY && i + 1 < map->elements; i += 2)
    if (!strcmp(map->element[i]->str, name) && map->element[i + 1]->type == REDIS_REPLY_STRING)
      return map->element[i + 1]->str;
  return "";
}

/* queued / in flight / done from the job group, then the class counts. */
static void print_status(redisContext *rc, const char *prefix, const char *run) {
  char key[300], err[300];
  snprintf(key, sizeof key, "%s:run:%s", prefix, run);
  const char *hm[] = {"HGETALL", key};
  redisReply *meta = mxs_redis_sync_cmd(rc, 2, hm, NULL, err, sizeof err);
  printf("run       %s\nstatus    %s\n", run, meta ? field_s(meta, "status") : "?");
  snprintf(key, sizeof key, "%s:jobs:%s", prefix, run);
  const char *xi[] = {"XINFO", "GROUPS", key};
  redisReply *g = redisCommandArgv(rc, 3, xi, NULL);
  for (size_t i = 0; g && g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
    if (strcmp(field_s(g->element[i], "name"), MXS_JOBS_GROUP)) continue;
    long long jobs = meta ? field_ll(meta, "jobs") : -1, lag = field_ll(g->element[i], "lag"),
              pending = field_ll(g->element[i], "pending");
    printf("jobs      %lld\nqueued    %lld\nin flight %lld\ndone      %lld\nworkers   %lld\n", jobs, lag, pending,
           jobs >= 0 && lag >= 0 ? jobs - lag - pending : -1, field_ll(g->element[i], "consumers"));
  }
  if (g) freeReplyObject(g);
  if (meta) freeReplyObject(meta);
  snprintf(key, sizeof key, "%s:run:%s:classes", prefix, run);
  const char *hc[] = {"HGETALL", key};
  redisReply *cl = mxs_redis_sync_cmd(rc, 2, hc, NULL, err, sizeof err);
  long long total = 0;
  for (size_t i = 0; cl && cl->type == REDIS_REPLY_ARRAY && i + 1 < cl->elements; i += 2)
    total += atoll(cl->element[i + 1]->str);
  printf("records   %lld\n", total);
  for (size_t i = 0; cl && cl->type == REDIS_REPLY_ARRAY && i + 1 < cl->elements; i += 2)
    printf("  %-26s %s\n", cl->element[i]->str, cl->element[i + 1]->str);
  if (cl) freeReplyObject(cl);
}

int mxs_cmd_status(int argc, char **argv) {
  mxs_config_t cfg;
  mxs_redis_conf_t conf;
  redisContext *rc = NULL;
  int st = dist_args(&cfg, argc, argv,
                     "usage: mxscan status --redis URL [--run ID]\n\n"
                     "Progress of run ID (default: the latest): jobs queued, in flight, done; records per class.",
                     &rc, &conf);
  if (st != 0) {
    if (rc) redisFree(rc);
    mxs_config_free(&cfg);
    return st < 0 ? 0 : st;
  }
  char runs[200], run[64] = "", err[300];
  snprintf(runs, sizeof runs, "%s:runs", conf.prefix);
  if (cfg.redis_run) snprintf(run, sizeof run, "%s", cfg.redis_run);
  const char *zr[] = {"ZREVRANGE", runs, "0", "0"};
  redisReply *r = run[0] ? NULL : mxs_redis_sync_cmd(rc, 4, zr, NULL, err, sizeof err);
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) snprintf(run, sizeof run, "%s", r->element[0]->str);
  if (r) freeReplyObject(r);
  if (run[0])
    print_status(rc, conf.prefix, run);
  else
    fprintf(stderr, "mxscan status: no run in %s\n", runs);
  redisFree(rc);
  mxs_config_free(&cfg);
  return run[0] ? 0 : 1;
}
