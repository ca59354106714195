/* scan.c - one run: wiring, input, DNS, status, signals, outputs, shutdown.
 * The per-address work (targets, limits, records) is in fanout.c. */
#include "scanner/scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/file_source.h"
#include "scanner/loopcheck.h"
#include "scanner/scan_int.h"

/* ---- resolution -------------------------------------------------------- */

static void dns_link(mxs_scan_t *s, domain_t *d) {
  d->in_dns = 1;
  d->dns_next = s->dns_head;
  if (s->dns_head) s->dns_head->dns_prev = d;
  s->dns_head = d;
}

static void dns_unlink(mxs_scan_t *s, domain_t *d) {
  if (d->dns_prev)
    d->dns_prev->dns_next = d->dns_next;
  else
    s->dns_head = d->dns_next;
  if (d->dns_next) d->dns_next->dns_prev = d->dns_prev;
  d->in_dns = 0;
}

static void on_resolved(void *arg, const mxs_domain_answer_t *a) {
  domain_t *d = arg;
  mxs_scan_t *s = d->scan;
  dns_unlink(s, d);
  if (d->dns_abandoned) { /* abandoned at a deadline: already recorded */
    if (d->finished) free(d);
    return;
  }
  d->dns_ms = a->dns_ms;
  s->domains_resolved++;
  /* the DNS hold (taken when the domain was read) keeps it until every job is queued */
  if (!scan_dane_hold(s, d, a)) scan_queue_mx(s, d, a);
  scan_pump_probes(s);
  scan_domain_release(d);
}

void scan_queue_mx(mxs_scan_t *s, domain_t *d, const mxs_domain_answer_t *a) {
  if (a->status != MXS_CLASS_OK) {
    scan_emit_dns_record(s, d, NULL, 0, a->status, a->detail);
  } else {
    for (size_t i = 0; i < a->nmx; i++) {
      const mxs_mx_host_t *mx = &a->mx[i];
      if (mx->status == MXS_CLASS_EXCLUDED && scan_exclude_job(s, d, mx, a->implicit_mx, NULL)) continue;
      if (mx->status != MXS_CLASS_OK || mx->naddrs == 0) {
        scan_emit_dns_record(s, d, mx, a->implicit_mx,
                             mx->status == MXS_CLASS_OK ? MXS_CLASS_MX_NO_ADDRESS : mx->status, mx->detail);
        continue;
      }
      for (size_t k = 0; k < mx->naddrs; k++)
        if (scan_add_job(s, d, mx, a->implicit_mx, mx->addrs[k]) < 0) {
          char why[300];
          snprintf(why, sizeof why, "out of memory queueing %s", mx->addrs[k]);
          fprintf(s->err, "mxscan: %s: %s\n", d->name, why);
        }
    }
  }
}

/* What the domain publishes is known: its records may be written. */
static void on_policy(void *arg, mxs_policy_result_t *res) {
  domain_t *d = arg;
  d->policy = res;
  scan_domain_release(d);
}

/* ---- input ------------------------------------------------------------- */

static void on_bad_line(void *arg, const char *name, unsigned long lineno, const char *line, const char *why) {
  mxs_scan_t *s = arg;
  s->stats->lines_rejected++;
  fprintf(s->err, "mxscan: %s:%lu: invalid domain '%s': %s (skipped)\n", name, lineno, line, why);
}

static void on_repeat(void *arg, const char *name, unsigned long lineno, const char *domain) {
  mxs_scan_t *s = arg;
  mxs_input_print_repeat(s->err, name, lineno, domain, ++s->stats->lines_duplicate);
}

/* An exporter over its high-water mark pauses intake: records wait in
 * memory at most one window's worth, never the whole list. */
static int exporters_busy(const mxs_scan_t *s) {
  for (size_t i = 0; i < s->nout; i++)
    if (mxs_exporter_busy(s->out[i])) return 1;
  return 0;
}

static void on_pump_idle(uv_idle_t *h) {
  mxs_scan_t *s = h->data;
  while (!s->input_eof && !s->stopping && s->domains_active < s->high_water && !exporters_busy(s) &&
         !scan_dns_paused(s)) {
    char name[256];
    uint64_t token = 0;
    int rc = s->source->ops->next(s->source, name, sizeof name, &token);
    if (rc == MXS_SOURCE_AGAIN) break; /* the source wakes us */
    if (rc != MXS_SOURCE_DOMAIN) {
      if (rc < 0) { /* what is left of the list is not scanned: the run did not complete */
        snprintf(s->stats->input_error, sizeof s->stats->input_error, "reading %s: %s", s->cfg->input, strerror(-rc));
        fprintf(s->err, "mxscan: %s\n", s->stats->input_error);
      }
      s->input_eof = 1;
      break;
    }
    if (s->cfg->resume && mxs_resume_has(&s->resume, name)) {
      s->skipped++;
      s->source->ops->done(s->source, token);
      continue;
    }
    domain_t *d = calloc(1, sizeof *d);
    if (!d) break;
    d->scan = s;
    d->token = token;
    snprintf(d->name, sizeof d->name, "%.253s", name);
    s->domains_active++;
    s->domains_read++;
    if (scan_exclude_domain(s, d)) continue; /* recorded, never resolved */
    dns_link(s, d);
    d->outstanding = 1; /* the DNS hold: released once on_resolved has queued every job */
    if (mxs_resolver_resolve(s->resolver, d->name, on_resolved, d) < 0) {
      s->domains_active--;
      dns_unlink(s, d);
      free(d);
      s->input_eof = 1;
      fprintf(s->err, "mxscan: cannot queue DNS lookups: out of memory\n");
      break;
    }
    /* Neither answers inside its call, so the order is free.  A domain
     * whose policy lookup cannot be queued is recorded without it. */
    if (s->policy && mxs_policy_lookup(s->policy, d->name, on_policy, d) == 0)
      d->outstanding++; /* the policy hold: its records need what the domain publishes */
  }
  uv_idle_stop(h);
  scan_maybe_finish(s);
}

void scan_pump_input(mxs_scan_t *s) {
  if (!s->input_eof && !s->stopping && !s->closed) uv_idle_start(&s->pump_idle, on_pump_idle);
}

/* ---- lifecycle --------------------------------------------------------- */

/* The run is ending: domains still waiting for DNS get their record now
 * (dns-timeout, unfinished), so no domain that was read goes unrecorded. */
static void abandon_dns(mxs_scan_t *s, const char *why) {
  for (domain_t *d = s->dns_head; d; d = d->dns_next) {
    if (d->dns_abandoned) continue;
    d->dns_abandoned = 1; /* its DNS hold is released here, not by on_resolved */
    scan_emit_dns_record(s, d, NULL, 0, MXS_CLASS_DNS_TIMEOUT, why);
    scan_domain_release(d);
  }
}

/* --policy-cache: the policies earlier runs fetched.  A line that does not
 * read costs only a fetch, so it is a warning naming the file and line;
 * a file that cannot be read at all, or is not a policy cache (never
 * overwritten), stops the run before it starts. */
static int load_policy_cache(mxs_scan_t *s, char *err, size_t errlen) {
  mxs_sts_cache_load_t info;
  if (mxs_sts_cache_load(s->cfg->policy_cache, (int64_t)time(NULL), &s->sts_cache, &info, err, errlen) < 0) return -1;
  if (info.bad_line)
    fprintf(s->err, "mxscan: warning: policy cache %s:%zu: %s; %zu line(s) skipped, their policies are fetched again\n",
            s->cfg->policy_cache, info.bad_line, info.bad_why, info.skipped);
  return 0;
}

/* Writes the cache back, with what this run fetched; an interrupted run's
 * fetches are kept too.  A failure loses only the fetches saved: a
 * warning, not an error of the run. */
static void save_policy_cache(mxs_scan_t *s) {
  char msg[512];
  if (s->sts_cache && mxs_sts_cache_save(s->sts_cache, s->cfg->policy_cache, msg, sizeof msg) < 0)
    fprintf(s->err, "mxscan: warning: %s (the next run fetches every policy again)\n", msg);
}

/* Stops taking work.  DEADLINE also cuts the probes that are running. */
static void stop_run(mxs_scan_t *s, int deadline, const char *why) {
  s->stopping = 1;
  /* While we walk the lists below, finishing the last domain must not
   * tear the run down under our feet: scan_maybe_finish waits until the end. */
  s->in_stop = 1;
  s->deadline |= deadline;
  s->stats->interrupted = 1;
  uv_timer_stop(&s->sched_timer);
  abandon_dns(s, why);
  scan_dane_stop(s); /* domains waiting for TLSA answers: their jobs, to abandon next */
  scan_abandon_queued(s, why);
  mxs_policy_stop(s->policy); /* lookups in flight end now: their domains are recorded unfinished */
  const mxs_scan_hooks_t *h = s->source ? s->source->hooks : NULL;
  if (h && h->stop) h->stop(h->arg); /* claims and permits still waiting */
  if (deadline && s->workers) mxs_workers_cancel_all(s->workers, why);
  if (deadline) mxs_table_each(&s->targets, scan_cancel_running, (void *)why); /* this loop's share */
  s->in_stop = 0;
  scan_maybe_finish(s);
}

void scan_stop(mxs_scan_t *s, int deadline, const char *why) { stop_run(s, deadline, why); }

static void on_deadline(uv_timer_t *h) {
  mxs_scan_t *s = h->data;
  fprintf(s->err, "mxscan: --max-runtime reached: recording %zu unfinished domain(s)\n", s->domains_active);
  stop_run(s, 1, "not finished: --max-runtime reached");
}

void scan_maybe_finish(mxs_scan_t *s) {
  if (s->closed || s->in_stop || s->domains_active > 0 || s->acks_pending > 0 || !(s->input_eof || s->stopping)) return;
  s->closed = 1;
  if (s->tty && !s->cfg->quiet) fprintf(s->err, "\r\033[K"); /* the table follows on a clean line */
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->flush_timer, NULL);
  uv_close((uv_handle_t *)&s->pump_idle, NULL);
  uv_close((uv_handle_t *)&s->sched_timer, NULL);
  uv_close((uv_handle_t *)&s->deadline_timer, NULL);
  uv_close((uv_handle_t *)&s->out_timer, NULL);
  scan_dns_close(s);
  mxs_resolver_close(s->resolver, NULL, NULL);
  s->resolver = NULL;
  if (s->policy) {
    s->stats->policy_checked = 1;
    mxs_policy_stats(s->policy, &s->stats->policy);
  }
  mxs_policy_close(s->policy); /* after the resolver: no DNS answer can reach it now */
  s->policy = NULL;
  save_policy_cache(s);
  if (s->workers) mxs_workers_close(s->workers);
  s->workers = NULL;
  /* c-ares will not call back any more: free what it still pointed to */
  while (s->dns_head) {
    domain_t *d = s->dns_head;
    dns_unlink(s, d);
    free(d);
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  mxs_scan_t *s = h->data;
  if (s->stopping) { /* second signal: stop now, keep what is written */
    fprintf(s->err, "mxscan: %s again: stopping at once\n", strsignal(signum));
    uv_stop(&s->loop);
    return;
  }
  fprintf(s->err,
          "mxscan: %s: finishing the probes in flight, recording the rest as unfinished (again to stop at once)\n",
          strsignal(signum));
  stop_run(s, 0, "not finished: the run was interrupted");
}

/* "12,345" - counts an operator reads at a glance. */
static const char *grouped(uint64_t n, char *buf, size_t len) {
  char raw[32];
  int k = snprintf(raw, sizeof raw, "%llu", (unsigned long long)n), o = 0;
  for (int i = 0; i < k && (size_t)o + 2 < len; i++) {
    if (i && (k - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = raw[i];
  }
  buf[o] = '\0';
  return buf;
}

/* One line: what was read, resolved and done, the rate, the ETA when the input is a
 * file, what runs, and the three most common failure classes so far. */
static void status_line(mxs_scan_t *s, char *out, size_t len, double per_s) {
  char a[32], r[32], b[32], c[32], eta[48] = "";
  double frac, elapsed = (double)(uv_now(&s->loop) - s->stats->started_ms) / 1000.0;
  if (!s->input_eof && s->source->ops->progress && s->source->ops->progress(s->source, &frac) == 0 && frac > 0.001) {
    int left = (int)(elapsed / frac - elapsed);
    snprintf(eta, sizeof eta, ", %.0f%% read, ETA %d:%02d:%02d", frac * 100, left / 3600, left / 60 % 60, left % 60);
  }
  int n = snprintf(out, len, "%s read, %s resolved, %s done (%.0f/s), %zu probing, %zu queued, %s records%s",
                   grouped(s->domains_read, a, sizeof a), grouped(s->domains_resolved, r, sizeof r),
                   grouped(s->stats->ndomains, b, sizeof b), per_s, s->sched.active, s->sched.queued,
                   grouped(s->stats->nprobes, c, sizeof c), eta);
  mxs_class_set_t shown = MXS_CLASS_BIT(MXS_CLASS_OK);
  for (int k = 0; k < 3 && n > 0 && (size_t)n < len; k++) {
    int best = -1;
    for (int i = 0; i < MXS_CLASS_COUNT; i++)
      if (!(shown & MXS_CLASS_BIT(i)) && s->stats->probes[i] &&
          (best < 0 || s->stats->probes[i] > s->stats->probes[best]))
        best = i;
    if (best < 0) break;
    shown |= MXS_CLASS_BIT(best);
    n += snprintf(out + n, len - (size_t)n, "%s%s %llu", k ? ", " : "; top: ", mxs_class_name((mxs_class_t)best),
                  (unsigned long long)s->stats->probes[best]);
  }
  if (n > 0 && (size_t)n < len) scan_dns_status(s, out + n, len - (size_t)n);
  n = (int)strlen(out);
  if ((size_t)n < len) scan_throttle_status(s, out + n, len - (size_t)n);
}

/* The --metrics file: mid-run (RUNNING) or at the end. */
static void write_metrics(mxs_scan_t *s, int running, int success) {
  mxs_metrics_sample_t m = {.stats = s->stats,
                            .now = (double)time(NULL),
                            .in_flight = running ? s->sched.active : 0,
                            .queued = running ? s->sched.queued : 0,
                            .domains_read = s->domains_read,
                            .verify_lookups = s->stats->verify_lookups,
                            .verify_hits = s->stats->verify_hits,
                            .running = running,
                            .success = success};
  if (running && s->tls) mxs_tls_ctx_cache_stats(s->tls, &m.verify_lookups, &m.verify_hits);
  char err[600];
  if (mxs_metrics_write(s->metrics, &m, err, sizeof err) < 0) fprintf(s->err, "mxscan: %s\n", err);
}

static void on_flush_timer(uv_timer_t *h) {
  mxs_scan_t *s = h->data;
  for (size_t i = 0; i < s->nout; i++) mxs_exporter_flush(s->out[i]);
  uint64_t now = uv_now(&s->loop);
  if (s->metrics && now - s->last_metrics_ms >= (uint64_t)s->cfg->status_interval_ms) {
    s->last_metrics_ms = now;
    write_metrics(s, 1, 0);
  }
  if (s->cfg->quiet) return;
  if (!s->tty && now - s->last_status_ms < (uint64_t)s->cfg->status_interval_ms) return;
  double secs = (double)(now - s->last_status_ms) / 1000.0;
  double per_s = secs > 0 ? (double)(s->stats->ndomains - s->last_status_done) / secs : 0;
  s->last_status_ms = now;
  s->last_status_done = s->stats->ndomains;
  char line[512];
  status_line(s, line, sizeof line, per_s);
  /* On a terminal the line is redrawn in place; in a log (cron) each
   * status is a plain line with no control characters. */
  if (s->tty)
    fprintf(s->err, "\r\033[K%.*s", 200, line);
  else
    fprintf(s->err, "mxscan: status: %s\n", line);
  fflush(s->err);
}

static void on_exporter_wake(void *arg) { scan_pump_input(arg); }
static void on_source_wake(void *arg) { scan_pump_input(arg); }

static int add_exporter(mxs_scan_t *s, const char *name, const char *target, unsigned flags, char *err, size_t errlen) {
  if (s->nout == MXS_MAX_EXPORTERS) {
    snprintf(err, errlen, "too many outputs");
    return -1;
  }
  mxs_exporter_t *x;
  if (mxs_exporter_open_ex(name, &s->loop, target, flags, &x, err, errlen) < 0) return -1;
  x->wake = on_exporter_wake;
  x->wake_arg = s;
  s->out[s->nout++] = x;
  return 0;
}

/* The Redis URL with the --redis-* options appended to its query string
 * (a later key wins, so the flags override the URL's own). */
static int redis_target(const mxs_config_t *c, char *out, size_t len) {
  int n = snprintf(out, len, "%s", c->redis_url);
  char sep = strchr(c->redis_url, '?') ? '&' : '?';
  if (n < (int)len && c->redis_prefix)
    n += snprintf(out + n, len - (size_t)n, "%cprefix=%s", sep, c->redis_prefix), sep = '&';
  if (n < (int)len && c->redis_maxlen > 0)
    n += snprintf(out + n, len - (size_t)n, "%cmaxlen=%.0f", sep, c->redis_maxlen), sep = '&';
  if (n < (int)len && c->redis_down_limit_ms > 0)
    n += snprintf(out + n, len - (size_t)n, "%cdown_limit=%.3f", sep, c->redis_down_limit_ms / 1000.0), sep = '&';
  if (n < (int)len && c->redis_spill_dir) {
    n += snprintf(out + n, len - (size_t)n, "%cspill_dir=", sep);
    for (const unsigned char *p = (const unsigned char *)c->redis_spill_dir; *p && n + 4 < (int)len; p++)
      n += isalnum(*p) || strchr("/._-", *p) ? snprintf(out + n, len - (size_t)n, "%c", *p)
                                             : snprintf(out + n, len - (size_t)n, "%%%02X", *p);
  }
  return n < (int)len ? 0 : -1;
}

/* The file output (jsonl/msgpack) unless only Redis was asked for, and
 * Redis when --redis is given. */
static int open_exporters(mxs_scan_t *s, char *err, size_t errlen) {
  const mxs_config_t *c = s->cfg;
  unsigned file_flags = 0;
  int to_file = (!c->redis_url || c->output_given) && strcmp(c->output, "-") != 0;
  /* Before --resume reads the file and before the exporter truncates it. */
  int locked = to_file ? mxs_runlock_take(&s->runlock, c->output, err, errlen) : 0;
  if (locked == MXS_RUNLOCK_BUSY) {
    s->lock_busy = 1;
    return -1;
  }
  if (locked < 0) /* a read-only directory: the run worked before the lock existed */
    fprintf(s->err, "mxscan: warning: %s; nothing stops another run from writing %s at the same time\n", err,
            c->output);
  if (c->resume) {
    /* Only a file can be resumed: it is read back to know what is done. */
    if (!c->output_given || !strcmp(c->output, "-")) {
      snprintf(err, errlen, "--resume needs the output file of the run to continue (-o FILE)");
      return -1;
    }
    if (mxs_resume_prepare(c->output, c->format, &s->resume, s->stats, s->err) < 0) {
      snprintf(err, errlen, "cannot resume from %s", c->output);
      return -1;
    }
    file_flags = MXS_EXPORTER_APPEND;
  }
  if ((!c->redis_url || c->output_given) && add_exporter(s, c->format, c->output, file_flags, err, errlen) < 0)
    return -1;
  struct stat st;
  if (c->output_given && strcmp(c->output, "-") != 0 && stat(c->output, &st) == 0) s->out_base = (uint64_t)st.st_size;
  if (c->redis_url) {
    char url[2048];
    if (redis_target(c, url, sizeof url) < 0) {
      snprintf(err, errlen, "--redis: the URL with its options is too long");
      return -1;
    }
    if (add_exporter(s, "redis", url, 0, err, errlen) < 0) return -1;
  }
  return 0;
}

/* The resolver's skip_host: an MX host under an excluded name is not even
 * looked up (excluded.c records it). */
static int skip_excluded(void *arg, const char *name) { return mxs_exclude_name(arg, name, NULL); }

mxs_resolver_opts_t mxs_scan_resolver_opts(const mxs_config_t *c) {
  return (mxs_resolver_opts_t){.servers = c->dns,
                               .timeout_ms = c->dns_timeout_ms,
                               .tries = c->dns_tries,
                               .ipv6 = c->ipv6,
                               .dnssec = c->dnssec,
                               .skip_host = c->excluded ? skip_excluded : NULL,
                               .skip_arg = c->excluded};
}

mxs_probe_env_t mxs_scan_probe_env(const mxs_config_t *c, uv_loop_t *loop, mxs_tls_ctx_t *tls, char *read_buf) {
  return (mxs_probe_env_t){.loop = loop,
                           .tls = tls,
                           .ehlo_name = c->ehlo_name,
                           .connect_timeout_ms = c->connect_timeout_ms,
                           .banner_timeout_ms = c->banner_timeout_ms,
                           .command_timeout_ms = c->command_timeout_ms,
                           .handshake_timeout_ms = c->handshake_timeout_ms,
                           .read_buf = read_buf,
                           .source4 = c->source4[0] ? c->source4 : NULL,
                           .source6 = c->source6[0] ? c->source6 : NULL};
}

/* The TLS contexts: the sender profile's for every probe, and one per
 * diagnostic retry (the legacy profile, or each of --diag-profiles). */
static int setup_tls(mxs_scan_t *s, char *err, size_t errlen) {
  const mxs_config_t *c = s->cfg;
  int custom = mxs_config_tls_settings(c, &s->profile, &s->tls_set);
  if (custom < 0) {
    snprintf(err, errlen, "--sender-profile: '%s' is not a profile (%s)", c->sender_profile, mxs_profile_names());
    return -1;
  }
  s->profile_custom = custom;
  if (c->diag_profiles && mxs_profile_list_parse(c->diag_profiles, s->diag, MXS_DIAG_MAX, &s->ndiag, err, errlen) < 0) {
    char why[256];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "--diag-profiles: %s", why);
    return -1;
  }
  mxs_tls_variant_t diag[MXS_DIAG_MAX] = {{"legacy", 0, &mxs_profile_find("legacy")->set}};
  for (size_t i = 0; i < s->ndiag; i++) diag[i] = (mxs_tls_variant_t){s->diag[i]->name, 0, &s->diag[i]->set};
  mxs_tls_ctx_opts_t o = {
      c->ca_file, (size_t)c->verify_cache, {s->profile->name, custom, &s->tls_set}, diag, s->ndiag ? s->ndiag : 1};
  if (mxs_tls_ctx_new_ex(&o, &s->tls, err, errlen) < 0) return -1;
  s->stats->profile = s->profile->name;
  s->stats->profile_custom = custom;
  s->stats->tls = s->tls_set;
  return 0;
}

static int setup(mxs_scan_t *s, char *err, size_t errlen) {
  const mxs_config_t *c = s->cfg;
  mxs_resolver_opts_t ro = mxs_scan_resolver_opts(c);
  ro.hold_failures = 1; /* a dead resolver pauses the run (faults.c) */
  ro.on_health = scan_dns_on_health;
  ro.health_arg = s;
  scan_dns_init(s);
  if (mxs_resolver_new(&s->loop, &ro, &s->resolver, err, errlen) < 0) return -1;
  if (c->dns && scan_dns_startup_check(s, err, errlen) < 0) return -1;
  if (setup_tls(s, err, errlen) < 0) return -1;
  if (c->policy && c->policy_cache && load_policy_cache(s, err, errlen) < 0) return -1;
  if (c->policy) {
    mxs_policy_opts_t po = {{c->sts_concurrency, c->sts_per_host, c->sts_timeout_ms, c->sts_port, c->ca_file},
                            c->ipv6,
                            c->excluded,
                            c->exclude,
                            s->sts_cache,
                            c->policy_refresh_ms / 1000};
    if (mxs_policy_new(&s->loop, s->resolver, &po, &s->policy, err, errlen) < 0) return -1;
  }
  if (c->require_dane && !c->dnssec) {
    snprintf(err, errlen, "--require-dane needs --dnssec (validating --dns servers): without it no answer is secure");
    return -1;
  }
  /* a level nothing is checked for would leave every domain unknown there */
  if (c->sender_level == MXS_LEVEL_DANE && !c->dnssec) {
    snprintf(err, errlen,
             "--sender-level dane needs --dnssec (validating --dns servers): without it DANE is not checked");
    return -1;
  }
  if (c->sender_level == MXS_LEVEL_MTA_STS && !c->policy) {
    snprintf(err, errlen, "--sender-level mta-sts needs the policy checks that --no-policy turns off");
    return -1;
  }
  if (c->dnssec) { /* DANE: the TLSA records of the DNSSEC-secure MX hosts */
    if (!(s->tlsa = malloc(sizeof *s->tlsa))) return -1;
    mxs_tlsa_cache_init(s->tlsa, s->resolver, c->port);
  }
  int rc = s->make_source ? s->make_source(s->make_arg, &s->loop, &s->source, err, errlen)
                          : mxs_file_source_open(c->input, on_bad_line, c->keep_duplicates ? NULL : on_repeat, s,
                                                 &s->source, err, errlen);
  if (rc < 0) return -1;
  s->source->wake = on_source_wake;
  s->source->wake_arg = s;
  if (c->metrics && mxs_metrics_open(c->metrics, c->metrics_providers, &s->metrics, err, errlen) < 0) return -1;
  if (open_exporters(s, err, errlen) < 0) return -1;
  s->penv = mxs_scan_probe_env(c, &s->loop, s->tls, s->read_buf);
  uv_signal_init(&s->loop, &s->sigint);
  uv_signal_init(&s->loop, &s->sigterm);
  s->sigint.data = s->sigterm.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_timer_init(&s->loop, &s->flush_timer);
  s->flush_timer.data = s;
  uv_timer_start(&s->flush_timer, on_flush_timer, 1000, 1000);
  s->tty = isatty(fileno(s->err));
  s->last_status_ms = s->last_metrics_ms = s->stats->started_ms = uv_now(&s->loop);
  uv_idle_init(&s->loop, &s->pump_idle);
  s->pump_idle.data = s;
  uv_timer_init(&s->loop, &s->sched_timer);
  s->sched_timer.data = s;
  uv_timer_init(&s->loop, &s->deadline_timer);
  s->deadline_timer.data = s;
  uv_timer_init(&s->loop, &s->out_timer);
  s->out_timer.data = s;
  if (c->max_runtime_ms > 0) uv_timer_start(&s->deadline_timer, on_deadline, (uint64_t)c->max_runtime_ms, 0);
  s->psl = psl_builtin();
  mxs_sched_opts_t so = {s->concurrency,   c->per_ip, c->per_ip_interval_ms, c->per_provider, c->rate,
                         c->provider_rate, 60000};
  mxs_sched_init(&s->sched, &so, uv_now(&s->loop));
  if (c->threads > 1) { /* this loop probes too: N loops are N-1 more threads */
    int rc = mxs_workers_new(&s->loop, c->threads - 1, &s->penv, &s->workers);
    if (rc < 0) {
      snprintf(err, errlen, "cannot start %d probe threads: %s", c->threads - 1, uv_strerror(rc));
      return -1;
    }
  }
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

struct close_wait {
  int done, error;
};

static void on_exporter_closed(void *arg, int error) {
  struct close_wait *w = arg;
  w->done = 1;
  w->error = error;
}

/* Closes every exporter and waits for each to drain (a Redis exporter may
 * still be sending). */
static void close_exporters(mxs_scan_t *s) {
  const char *mirror = NULL; /* the -o FILE once it is closed whole */
  for (size_t i = 0; i < s->nout; i++) {
    mxs_exporter_t *x = s->out[i];
    /* Redis after the file: what Redis lost can be written from the file. */
    if (mirror) {
      x->mirror = mirror;
      x->mirror_offset = s->out_base;
    }
    int is_file = i == 0 && s->cfg->output_given && strcmp(s->cfg->output, "-") != 0;
    char target[sizeof x->target];
    snprintf(target, sizeof target, "%s", x->target);
    struct close_wait w = {0, 0};
    mxs_exporter_close(x, on_exporter_closed, &w);
    while (!w.done && uv_run(&s->loop, UV_RUN_ONCE)) {
    }
    if (w.error) {
      /* The records are not all stored: say where (unless said when it
       * happened), and fail the run. */
      if (!(s->out_failed & (1u << i))) fprintf(s->err, "mxscan: writing %s: %s\n", target, strerror(-w.error));
      if (!s->stats->write_errors) s->stats->write_errors = 1;
    } else if (is_file) {
      mirror = s->cfg->output;
    }
  }
  s->nout = 0;
}

static void on_source_closed(void *arg) { *(int *)arg = 1; }

static void teardown(mxs_scan_t *s) {
  close_exporters(s);
  mxs_table_each(&s->targets, scan_free_target, NULL);
  mxs_table_free(&s->targets);
  mxs_resume_free(&s->resume);
  mxs_sched_free(&s->sched);
  if (s->source) {
    int closed = 0;
    s->source->ops->close(s->source, on_source_closed, &closed);
    while (!closed && uv_run(&s->loop, UV_RUN_ONCE)) {
    }
    s->source = NULL;
  }
  if (s->tls) mxs_tls_ctx_cache_stats(s->tls, &s->stats->verify_lookups, &s->stats->verify_hits);
  mxs_tls_ctx_free(s->tls);
  if (s->tlsa) {
    s->stats->dane_checked = 1;
    s->stats->tlsa_lookups = s->tlsa->lookups;
  }
  if (s->tlsa) mxs_tlsa_cache_free(s->tlsa); /* after the resolver and the probes */
  free(s->tlsa);
  s->tlsa = NULL;
}

/* Descriptors open now (inherited ones included), from /proc/self/fd. */
static rlim_t open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  rlim_t n = 0;
  if (!d) return 0;
  while (readdir(d)) n++;
  closedir(d);
  return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

/* Raises the descriptor limit to the hard limit and fits the concurrency
 * under it: one descriptor per probe, plus those already open (a parent may
 * leave us some) and a reserve for the resolver, outputs, Redis and the
 * policy fetches.  Throttling beats failing with EMFILE (and faults.c
 * covers what changes during the run). */
static int fit_concurrency(int wanted, int policy_fetches, FILE *err) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY) return wanted;
  const rlim_t reserve = 64 + (rlim_t)policy_fetches, open = open_fds(); /* and one per policy fetch */
  rlim_t free_fds = rl.rlim_cur > open ? rl.rlim_cur - open : 0;
  rlim_t room = free_fds > reserve * 2 ? free_fds - reserve : free_fds / 2;
  if (room < 1) room = 1;
  if ((rlim_t)wanted > room) {
    fprintf(err, "mxscan: --concurrency %d exceeds the descriptor limit (%llu, %llu already open): using %llu\n",
            wanted, (unsigned long long)rl.rlim_cur, (unsigned long long)open, (unsigned long long)room);
    return (int)room;
  }
  return wanted;
}

int mxs_scan_run(const mxs_config_t *cfg, mxs_stats_t *stats, FILE *err) {
  return mxs_scan_run_from(cfg, NULL, NULL, stats, err);
}

int mxs_scan_run_from(const mxs_config_t *cfg, mxs_source_factory_t make_source, void *make_arg, mxs_stats_t *stats,
                      FILE *err) {
  mxs_scan_t *s = calloc(1, sizeof *s);
  if (!s) return 2;
  s->make_source = make_source;
  s->make_arg = make_arg;
  s->cfg = cfg;
  s->stats = stats;
  s->err = err;
  s->concurrency = fit_concurrency(cfg->concurrency, cfg->policy ? cfg->sts_concurrency : 0, err);
  s->high_water = (size_t)s->concurrency * 4 + 64;
  s->seed = uv_hrtime() | 1;
  s->runlock = (mxs_runlock_t)MXS_RUNLOCK_INIT;
  mxs_table_init(&s->targets);
  mxs_table_init(&s->resume.done);
  memset(stats, 0, sizeof *stats);
  stats->started = (int64_t)time(NULL);
  stats->sender_level = cfg->sender_level;
  uv_loop_init(&s->loop);
  char msg[512] = "";
  int rc = 0;
  if (setup(s, msg, sizeof msg) < 0) {
    fprintf(err, "mxscan: %s\n", msg[0] ? msg : "out of memory");
    rc = s->lock_busy ? MXS_SCAN_BUSY : 2;
    if (s->resolver) mxs_resolver_close(s->resolver, NULL, NULL);
    mxs_policy_close(s->policy);
    uv_walk(&s->loop, close_any, NULL);
  } else {
    scan_pump_input(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
  }
  if (!s->closed && rc == 0) {
    /* A second signal: stop at once.  Push out what the exporters hold
     * (every domain written so far is whole) and leave the rest - probe
     * threads, sockets, memory - to the process exit main.c does next. */
    for (size_t i = 0; i < s->nout; i++) mxs_exporter_flush(s->out[i]);
    stats->finished = (int64_t)time(NULL);
    stats->aborted = 1;
    if (s->metrics) write_metrics(s, 0, 0);
    return 1;
  }
  teardown(s);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  mxs_loop_close(&s->loop, "scan", err);
  stats->finished = (int64_t)time(NULL);
  /* said again at the end, with the final count (and first for a short list) */
  if (mxs_egress_blocked(&stats->egress, 1) || stats->egress.warned)
    mxs_egress_message(&stats->egress, cfg->port, stats->egress_blocked, sizeof stats->egress_blocked);
  if (rc == 0 && (stats->interrupted || stats->write_errors || stats->input_error[0])) rc = 1;
  /* success, for cron alerting: the run completed (exit 0, or 3 for what
   * it found); a setup error leaves the file as the last run wrote it */
  if (s->metrics && rc != 2 && rc != MXS_SCAN_BUSY) write_metrics(s, 0, rc == 0);
  mxs_metrics_free(s->metrics);
  mxs_sts_cache_free(s->sts_cache);
  mxs_runlock_release(&s->runlock); /* after the output's last byte */
  free(s);
  return rc;
}
