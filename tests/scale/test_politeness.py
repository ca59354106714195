#!/usr/bin/python3
"""test_politeness.py - mxscan's politeness and run control, end to end.

Each case starts its own fakemx + unbound (harness.py) with a scenario
table made here, scans it with the real mxscan and checks the records and
what fakemx saw (its per-address, per-group and total counters, and the
times in its connection log):

  per-ip     --per-ip 1 is never exceeded although many domains and MX names
             share an address (--probe-per-name, high --concurrency, no rate
             limits): fakemx --max-per-ip 1 counts 0 violations; every
             record is there (with 1, 2 and 4 probe threads); each (name,
             address) probed once, or each address once without
             --probe-per-name; --per-ip-interval
             spaces the connections; a negative control (--per-ip 4) shows
             that fakemx does see overlapping connections.
  provider   --per-provider 3: at most 3 connections open at once across the
             12 addresses of mxN.bigprovider.test (fakemx --group peak), and
             3 reached; --per-provider 12 goes higher (control);
             --provider-rate and --rate spread the connection starts.
  retry      421 at the banner is retried with backoff: busy-once -> ok with
             attempts 2, busy-twice -> ok attempts 3, always busy ->
             smtp-rejected 421 attempts 3; the gaps between the connections
             are at least the jittered backoff (--retry-delay 0.3: >= 0.15 s,
             then >= 0.3 s); --retries 0 -> smtp-rejected 421 attempts 1;
             other transient outcomes (banner timeout, tls-died) are retried,
             a 554 is not.
  deadline   --max-runtime 2 over slow sites ends in 2-3.5 s with exit 1;
             every domain has its records, the unfinished ones (running,
             queued, waiting for DNS, waiting for a retry) say
             "unfinished": true, finished ones do not.  Also a deadline that
             finds only domains waiting for DNS.
  signals    SIGTERM mid-run: exit 1 once the probes in flight end (well
             before their timeouts would allow more work), every domain
             read has records, queued/DNS ones unfinished, valid JSON Lines;
             SIGINT twice: stops at once, valid JSON Lines; SIGTERM while
             only DNS lookups are pending.

    test_politeness.py --mxscan PATH --fakemx PATH CASE... [--keep]

Exit status 0 when every check passed.
"""
import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import row

UNLIMITED = ["--rate", "0", "--provider-rate", "0"]


class Fleet(harness.Fleet):
    """harness.Fleet that also checks fakemx's exit status at the end."""

    def __init__(self, ck, *args, **kw):
        super().__init__(*args, **kw)
        self.ck = ck

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.check_stopped(self.ck)


def records_of(res, domain):
    return [r for r in res.records if r.get("domain") == domain]


def one(ck, where, res, domain):
    recs = records_of(res, domain)
    if len(recs) != 1:
        ck.fail(where, "%d records for %s, want 1: %s" % (len(recs), domain, [r.get("class") for r in recs]))
        return {}
    return recs[0]


# --- per-ip -----------------------------------------------------------------------


def case_per_ip(a, ck, tmp):
    # Two shared addresses: 127.0.8.1 behind 8 MX names, 127.0.8.2 behind 4;
    # 24 domains, each with 2-3 MX names on them, several domains per name.
    hub = ["mx%d.hub.test" % i for i in range(1, 9)]
    second = ["mx%d.second.test" % i for i in range(1, 5)]
    rows = []
    for d in range(24):
        dom = "pd%02d.test" % d
        names = [hub[d % 8], hub[(d + 3) % 8]] + ([second[(d // 2) % 4]] if d % 2 else [])
        for k, n in enumerate(names):
            ip = "127.0.8.1" if n in hub else "127.0.8.2"
            rows.append(row(dom, n, ip, "ok", "chain", pref=10 * (k + 1)))
    domains = sorted({r.domain for r in rows})
    # 30 ms before every reply: a probe lasts ~0.2 s, so probes that were
    # allowed to overlap would overlap at the server.
    with Fleet(ck, a.fakemx, tmp, rows, fakemx_args=["--max-per-ip", "1", "--delay-ms", "30"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), domains)
        base = ["--concurrency", "2000", "--per-provider", "1000"] + UNLIMITED

        s0 = fl.stats()
        res = harness.run(a.mxscan, fl, inp, base + ["--probe-per-name", "--per-ip", "1"])
        s1 = fl.stats()
        print("per-ip 1, probe-per-name: exit %d in %.2fs, %d records" % (res.rc, res.elapsed, len(res.records)))
        w = "per-ip 1 --probe-per-name"
        ck.eq(w, "exit status", res.rc, 0)
        harness.check_records(ck, w, res, rows)
        ck.eq(w, "fakemx violations", s1["violations"] - s0["violations"], 0)
        for ip, names in (("127.0.8.1", hub), ("127.0.8.2", second)):
            ck.eq(w, "connections to %s (one per MX name)" % ip,
                  s1["site"][ip]["connections"] - s0["site"][ip]["connections"], len(names))
            ck.eq(w, "peak open connections at %s" % ip, s1["site"][ip]["peak"], 1)
        for r in res.records:
            if r.get("attempts") != 1:
                ck.fail(w, "%s %s: attempts %r, want 1" % (r.get("domain"), r.get("mx"), r.get("attempts")))
                break

        # The limits live on the main loop whatever the number of probe
        # threads: one loop, and more threads than cores.
        for threads in ("1", "4"):
            w = "per-ip 1 --probe-per-name --threads " + threads
            sa = fl.stats()
            res = harness.run(a.mxscan, fl, inp, base + ["--probe-per-name", "--per-ip", "1", "--threads", threads])
            sb = fl.stats()
            print("%s: exit %d in %.2fs" % (w, res.rc, res.elapsed))
            ck.eq(w, "exit status", res.rc, 0)
            harness.check_records(ck, w, res, rows)
            ck.eq(w, "fakemx violations", sb["violations"] - sa["violations"], 0)
            ck.eq(w, "connections to 127.0.8.1", sb["site"]["127.0.8.1"]["connections"] -
                  sa["site"]["127.0.8.1"]["connections"], len(hub))
        s1 = fl.stats()

        # Without --probe-per-name: each address once, its result fanned out.
        res = harness.run(a.mxscan, fl, inp, base)
        s2 = fl.stats()
        print("per-ip 1, probe once per address: exit %d in %.2fs" % (res.rc, res.elapsed))
        w = "per-ip 1"
        ck.eq(w, "exit status", res.rc, 0)
        harness.check_records(ck, w, res, rows)
        ck.eq(w, "fakemx violations", s2["violations"] - s1["violations"], 0)
        for ip in ("127.0.8.1", "127.0.8.2"):
            ck.eq(w, "connections to %s" % ip, s2["site"][ip]["connections"] - s1["site"][ip]["connections"], 1)

        # --per-ip-interval 0.4: consecutive connections to one address start
        # at least 0.4 s apart (without it they start ~0.12 s apart here,
        # one probe after the other).  fakemx stamps each connection when
        # its accept thread gets to it, which a loaded CI machine delays by
        # tens of ms: 0.1 s of slack, still far from 0.12.
        last = fl.last_conn_id()
        res = harness.run(a.mxscan, fl, inp, base + ["--probe-per-name", "--per-ip-interval", "0.4"])
        print("per-ip-interval 0.4: exit %d in %.2fs" % (res.rc, res.elapsed))
        w = "per-ip-interval 0.4"
        ck.eq(w, "exit status", res.rc, 0)
        harness.check_records(ck, w, res, rows)
        conns = fl.connections(last)
        ck.eq(w, "connections to 127.0.8.1", len(conns.get("127.0.8.1", [])), len(hub))
        for ip, cs in conns.items():
            gaps = [b[1] - a_[1] for a_, b in zip(cs, cs[1:])]
            if gaps and min(gaps) < 0.4 - 0.1:
                ck.fail(w, "%s: connections started %.3fs apart, want >= 0.4s (gaps %s)" %
                        (ip, min(gaps), ["%.3f" % g for g in gaps]))

        # Negative control: allowed to overlap, the probes do overlap, and
        # fakemx notices.  (Shows the checks above can fail.)
        s3 = fl.stats()
        res = harness.run(a.mxscan, fl, inp, base + ["--probe-per-name", "--per-ip", "4"])
        s4 = fl.stats()
        print("control --per-ip 4: exit %d in %.2fs, %d violations, peak %d" %
              (res.rc, res.elapsed, s4["violations"] - s3["violations"], s4["site"]["127.0.8.1"]["peak"]))
        ck.check(s4["violations"] - s3["violations"] > 0 and s4["site"]["127.0.8.1"]["peak"] >= 2,
                 "control --per-ip 4", "fakemx saw no overlapping connections: the per-IP check is blind")
        ck.check(s4["site"]["127.0.8.1"]["peak"] <= 4, "control --per-ip 4",
                 "peak %d connections at once to 127.0.8.1, over --per-ip 4" % s4["site"]["127.0.8.1"]["peak"])


# --- per-provider -----------------------------------------------------------------


def case_provider(a, ck, tmp):
    # 12 MX hosts of one provider (registrable domain bigprovider.test: .test
    # is not in the public suffix list, so its default rule applies), each on
    # its own address; plus one host of another provider.
    rows = []
    for d in range(24):
        dom = "bp%02d.test" % d
        i = d % 12 + 1
        rows.append(row(dom, "mx%d.bigprovider.test" % i, "127.0.9.%d" % i, "ok", "chain"))
        if d % 3 == 0:
            rows.append(row(dom, "mx.small.test", "127.0.9.20", "ok", "chain", pref=20))
    domains = sorted({r.domain for r in rows})
    group = "big"
    with Fleet(ck, a.fakemx, tmp, rows, fakemx_args=["--max-per-ip", "1", "--delay-ms", "40",
                                                         "--group", "%s:127.0.9.1-12" % group]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), domains)

        s0 = fl.stats()
        res = harness.run(a.mxscan, fl, inp, ["--per-provider", "3", "--concurrency", "500"] + UNLIMITED)
        s1 = fl.stats()
        peak = s1["group"][group]["peak"]
        print("per-provider 3: exit %d in %.2fs, group peak %d" % (res.rc, res.elapsed, peak))
        w = "per-provider 3"
        ck.eq(w, "exit status", res.rc, 0)
        harness.check_records(ck, w, res, rows)
        ck.eq(w, "connections to the provider",
              s1["group"][group]["connections"] - s0["group"][group]["connections"], 12)
        ck.check(peak <= 3, w, "fakemx saw %d connections open at once to bigprovider.test's addresses" % peak)
        ck.check(peak >= 2, w, "peak %d: the limit of 3 was never used, the test shows nothing" % peak)
        ck.eq(w, "fakemx violations", s1["violations"] - s0["violations"], 0)

        # Control: with room for all 12, more than 3 are open at once.
        res = harness.run(a.mxscan, fl, inp, ["--per-provider", "12", "--concurrency", "500"] + UNLIMITED)
        s2 = fl.stats()
        print("control per-provider 12: exit %d, group peak %d" % (res.rc, s2["group"][group]["peak"]))
        ck.check(s2["group"][group]["peak"] > 3, "control per-provider 12",
                 "group peak %d: fakemx's group counter does not see parallel connections" %
                 s2["group"][group]["peak"])

        # Rates pace: a bucket saves one token, so R tokens/s start 12
        # connections over at least 11 / R s, and no second (as fakemx's log
        # counts it, ms resolution) ever holds more than R of them; without
        # a rate they take ~0.1 s.
        for w, extra, of_provider in (("provider-rate 4", ["--provider-rate", "4", "--rate", "0"], True),
                                      ("rate 4", ["--rate", "4", "--provider-rate", "0"], False)):
            last = fl.last_conn_id()
            res = harness.run(a.mxscan, fl, inp, ["--per-provider", "100", "--concurrency", "500"] + extra)
            conns = fl.connections(last)
            starts = sorted(c[1] for ip, cs in conns.items() if ip != "127.0.9.20" for c in cs)
            counted = starts if of_provider else sorted(c[1] for cs in conns.values() for c in cs)
            span = starts[-1] - starts[0] if len(starts) > 1 else 0
            peak = max_in_window(counted, 1.0)
            print("%s: exit %d in %.2fs, 12 starts over %.2fs, at most %d in one second" %
                  (w, res.rc, res.elapsed, span, peak))
            ck.eq(w, "exit status", res.rc, 0)
            harness.check_records(ck, w, res, rows)
            ck.eq(w, "connections to the provider", len(starts), 12)
            ck.check(span >= 11 / 4.0 * 0.98, w, "12 connections started within %.2fs, want >= 2.7s at 4/s" % span)
            ck.check(peak <= 4, w, "%d connections within one second, want at most 4" % peak)

    # A pool of 40 addresses under one provider, each with mail waiting:
    # --provider-rate 10 allows 10 new connections in any one second, not
    # a second's worth saved up on top (19 were seen with burst = rate).
    pool = [row("pool%02d.test" % i, "mx%d.pool.test" % i, "127.0.11.%d" % (i + 1), "ok", "chain") for i in range(40)]
    with Fleet(ck, a.fakemx, os.path.join(tmp, "pool"), pool, fakemx_args=["--max-per-ip", "1"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "pool.txt"), [r.domain for r in pool])
        last = fl.last_conn_id()
        res = harness.run(a.mxscan, fl, inp, ["--provider-rate", "10", "--rate", "0", "--per-provider", "40"])
        starts = sorted(c[1] for cs in fl.connections(last).values() for c in cs)
        peak = max_in_window(starts, 1.0)
        w = "pool of 40, provider-rate 10"
        print("%s: exit %d in %.2fs, %d connections, at most %d in one second" %
              (w, res.rc, res.elapsed, len(starts), peak))
        ck.eq(w, "exit status", res.rc, 0)
        harness.check_records(ck, w, res, pool)
        ck.eq(w, "connections", len(starts), 40)
        ck.check(peak <= 10, w, "%d connections within one second, want at most 10" % peak)


def max_in_window(times, width):
    """The most of TIMES (sorted seconds) within any closed window of WIDTH."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- retry ----------------------------------------------------------------------------


def case_retry(a, ck, tmp):
    sites = {
        "retry-once.test": ("127.0.10.1", "busy-once", "chain"),
        "retry-twice.test": ("127.0.10.2", "busy-twice", "chain"),
        "busy-always.test": ("127.0.10.3", "busy", "-"),
        "no-retry.test": ("127.0.10.4", "busy-once", "chain"),
        "banner-timeout.test": ("127.0.10.5", "silent", "-"),
        "rejected-554.test": ("127.0.10.6", "banner-554", "-"),
        "tls-died.test": ("127.0.10.7", "tls-close", "-"),
    }
    rows = [row(d, "mx." + d, ip, mode, cert) for d, (ip, mode, cert) in sites.items()]
    with Fleet(ck, a.fakemx, tmp, rows, fakemx_args=["--max-per-ip", "1"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), [d for d in sites if d != "no-retry.test"])
        s0 = fl.stats()
        res = harness.run(a.mxscan, fl, inp, ["--retries", "2", "--retry-delay", "0.3", "--banner-timeout", "0.5",
                                              "--connect-timeout", "2", "--command-timeout", "2",
                                              "--handshake-timeout", "2"])
        s1 = fl.stats()
        print("retries 2, retry-delay 0.3: exit %d in %.2fs" % (res.rc, res.elapsed))
        w = "retries 2"
        ck.eq(w, "exit status", res.rc, 0)
        for b in res.bad_lines:
            ck.fail(w, b)
        ck.eq(w, "fakemx violations", s1["violations"] - s0["violations"], 0)
        conns = fl.connections()

        def conn_count(dom):
            ip = sites[dom][0]
            return s1["site"][ip]["connections"] - s0["site"][ip]["connections"]

        want = {
            # domain: (class, smtp_code or None, attempts, fakemx connections)
            "retry-once.test": ("ok", None, 2, 2),
            "retry-twice.test": ("ok", None, 3, 3),
            "busy-always.test": ("smtp-rejected", 421, 3, 3),
            "banner-timeout.test": ("smtp-banner-timeout", None, 3, 3),
            "rejected-554.test": ("smtp-rejected", 554, 1, 1),
            "tls-died.test": ("tls-died", None, 3, None),
        }
        for dom, (cls, code, attempts, nconn) in want.items():
            r = one(ck, w, res, dom)
            if not r:
                continue
            wd = "%s %s" % (w, dom)
            ck.eq(wd, "class", r.get("class"), cls)
            if code:
                ck.eq(wd, "smtp_code", r.get("smtp_code"), code)
            ck.eq(wd, "attempts", r.get("attempts"), attempts)
            if nconn is not None:
                ck.eq(wd, "fakemx connections", conn_count(dom), nconn)
            elif conn_count(dom) < attempts:
                ck.fail(wd, "fakemx saw %d connections for %d attempts" % (conn_count(dom), attempts))
            if r.get("unfinished"):
                ck.fail(wd, "marked unfinished in a run that completed")

        # Backoff: retry k waits retry_delay * 2^(k-1) * jitter, jitter in
        # [0.5, 1.5), counted from the end of the previous connection.
        for dom in ("retry-once.test", "retry-twice.test", "busy-always.test"):
            cs = conns.get(sites[dom][0], [])
            gaps = []
            for k in range(1, len(cs)):
                prev_closed, opened = cs[k - 1][2], cs[k][1]
                if prev_closed is None:
                    ck.fail("backoff %s" % dom, "connection %d never closed" % k)
                    continue
                gap = opened - prev_closed
                gaps.append(gap)
                lo, hi = 0.3 * 2 ** (k - 1) * 0.5, 0.3 * 2 ** (k - 1) * 1.5
                ck.check(gap >= lo - 0.03, "backoff %s" % dom,
                         "retry %d came %.3fs after the previous connection closed, want >= %.2fs" % (k, gap, lo))
                ck.check(gap <= hi + 0.5, "backoff %s" % dom,
                         "retry %d came %.3fs after the previous connection closed, want <= %.2fs" % (k, gap, hi))
            print("  %s: %d connections, gaps %s" % (dom, len(cs), " ".join("%.3fs" % g for g in gaps)))

        # --retries 0: the 421 is the answer.
        inp0 = harness.write_domains(os.path.join(tmp, "no-retry.txt"), ["no-retry.test"])
        res = harness.run(a.mxscan, fl, inp0, ["--retries", "0", "--retry-delay", "0.3"])
        s2 = fl.stats()
        print("retries 0: exit %d in %.2fs" % (res.rc, res.elapsed))
        w = "retries 0"
        ck.eq(w, "exit status", res.rc, 0)
        r = one(ck, w, res, "no-retry.test")
        if r:
            ck.eq(w, "class", r.get("class"), "smtp-rejected")
            ck.eq(w, "stage", r.get("stage"), "banner")
            ck.eq(w, "smtp_code", r.get("smtp_code"), 421)
            ck.eq(w, "attempts", r.get("attempts"), 1)
        ck.eq(w, "fakemx connections", s2["site"]["127.0.10.4"]["connections"] -
              s1["site"]["127.0.10.4"]["connections"], 1)


# --- deadline and signals -------------------------------------------------------------


def stop_fleet_rows():
    """Slow sites for the run-control cases, and the class of each record
    when the run ends early (None: any class)."""
    rows = []
    # one silent address behind six names (--probe-per-name: one runs, five
    # wait for the per-IP slot), another silent address, a fast ok site, two
    # domains whose DNS never answers, and an always-busy site whose retry
    # waits long.
    for i in range(1, 7):
        rows.append(row("slow%d.test" % i, "s%d.slow.test" % i, "127.0.11.1", "silent", cls=None, stage=None))
    rows.append(row("slow-other.test", "mx.slow-other.test", "127.0.11.2", "silent", cls=None, stage=None))
    rows.append(row("fast.test", "mx.fast.test", "127.0.11.3", "ok", "chain"))
    rows.append(row("busy.test", "mx.busy.test", "127.0.11.4", "busy", cls="smtp-rejected", stage="banner"))
    for d in ("stuck1.test", "stuck2.test"):
        rows.append(row(d, dns="timeout", cls="dns-timeout", stage="dns"))
    return rows


def check_unfinished(ck, w, res, rows, finished, classes=None):
    """Every row has its record; FINISHED domains are not marked unfinished,
    the others are."""
    harness.check_records(ck, w, res, rows, classes)
    for r in res.records:
        dom = r.get("domain")
        if dom in finished:
            ck.check(not r.get("unfinished"), w, "%s finished (%s) but is marked unfinished" % (dom, r.get("class")))
        else:
            ck.check(r.get("unfinished") is True, w, "%s: %s record (%s) lacks \"unfinished\": true" %
                     (dom, r.get("class"), r.get("detail")))


def case_deadline(a, ck, tmp):
    rows = stop_fleet_rows()
    domains = sorted({r.domain for r in rows})
    with Fleet(ck, a.fakemx, tmp, rows, fakemx_args=["--max-per-ip", "1"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), domains)
        res = harness.run(a.mxscan, fl, inp, ["--max-runtime", "2", "--probe-per-name", "--banner-timeout", "30",
                                              "--dns-timeout", "5", "--retries", "2", "--retry-delay", "20"]
                          + UNLIMITED, timeout=40)
        print("max-runtime 2: exit %d in %.2fs, %d records" % (res.rc, res.elapsed, len(res.records)))
        w = "max-runtime 2"
        ck.eq(w, "exit status", res.rc, 1)
        ck.check(1.9 <= res.elapsed <= 3.5, w, "the run took %.2fs, want 2-3.5s" % res.elapsed)
        ck.check("max-runtime" in res.err, w, "stderr does not mention --max-runtime: %r" % res.err[-300:])
        check_unfinished(ck, w, res, rows, finished={"fast.test"})
        for r in res.records:
            if r.get("domain", "").startswith("stuck"):
                ck.eq(w + " " + r["domain"], "class", r.get("class"), "dns-timeout")

        # The deadline finds nothing but DNS lookups in flight.
        rows2 = [r for r in rows if r.domain in ("fast.test", "stuck1.test", "stuck2.test")]
        inp2 = harness.write_domains(os.path.join(tmp, "dns-only.txt"), [r.domain for r in rows2])
        res = harness.run(a.mxscan, fl, inp2, ["--max-runtime", "1", "--dns-timeout", "5"], timeout=40)
        print("max-runtime 1, only DNS pending: exit %d in %.2fs, %d records" %
              (res.rc, res.elapsed, len(res.records)))
        w = "max-runtime 1 (only DNS pending)"
        ck.eq(w, "exit status", res.rc, 1)
        ck.check(res.elapsed <= 2.5, w, "the run took %.2fs, want ~1s" % res.elapsed)
        check_unfinished(ck, w, res, rows2, finished={"fast.test"})


def run_with_signals(a, fl, inp, extra, sigs, timeout=40):
    """Starts a scan, sends each (delay_s, signal) of SIGS (delays from the
    start), waits for the end.  Returns (Result, [seconds after each signal
    at which the process ended])."""
    cmd = harness.mxscan_cmd(a.mxscan, fl, inp, extra)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    box = {}

    def reader(name, f):
        box[name] = f.read()

    ths = [threading.Thread(target=reader, args=(k, f)) for k, f in (("out", p.stdout), ("err", p.stderr))]
    for t in ths:
        t.start()
    sent = []
    for delay, sig in sigs:
        while time.monotonic() - t0 < delay and p.poll() is None:
            time.sleep(0.01)
        if p.poll() is not None:
            break
        p.send_signal(sig)
        sent.append(time.monotonic())
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    end = time.monotonic()
    for t in ths:
        t.join()
    out, err = box.get("out", b""), box.get("err", b"")
    return harness.Result(p.returncode, out, err.decode(errors="replace"), end - t0, cmd), [end - s for s in sent]


def case_signals(a, ck, tmp):
    rows = stop_fleet_rows()
    domains = sorted({r.domain for r in rows})
    with Fleet(ck, a.fakemx, tmp, rows, fakemx_args=["--max-per-ip", "1"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), domains)
        common = ["--probe-per-name", "--dns-timeout", "5", "--retries", "2", "--retry-delay", "20"] + UNLIMITED

        # SIGTERM at 1 s: the two silent probes in flight end at their 3 s
        # banner timeout, the rest is recorded unfinished.
        res, after = run_with_signals(a, fl, inp, common + ["--banner-timeout", "3"], [(1.0, signal.SIGTERM)])
        w = "SIGTERM"
        print("SIGTERM at 1s: exit %d in %.2fs (%.2fs after the signal), %d records" %
              (res.rc, res.elapsed, after[0] if after else -1, len(res.records)))
        ck.eq(w, "exit status", res.rc, 1)
        ck.check(after and after[0] <= 3.5, w, "exited %.2fs after the signal, want <= 3.5s (in-flight "
                 "probes end by 3s)" % (after[0] if after else -1))
        # The probes in flight end on their own (smtp-banner-timeout, not
        # retried): slow-other.test and one of the six names of 127.0.11.1
        # (which one is the scheduler's choice); the rest is unfinished.
        ran = sorted(r.get("domain") for r in res.records
                     if r.get("ip") == "127.0.11.1" and r.get("class") == "smtp-banner-timeout")
        ck.check(len(ran) == 1, w, "%d of the six probes of 127.0.11.1 ran to their timeout, want 1: %s" %
                 (len(ran), ran))
        finished = {"fast.test", "slow-other.test"} | set(ran[:1])
        classes = {(r.domain, r.mx, r.ip): "smtp-banner-timeout" for r in rows if r.domain in finished - {"fast.test"}}
        check_unfinished(ck, w, res, rows, finished, classes)
        ck.check("interrupted" in res.err.lower() or "terminated" in res.err.lower(), w,
                 "stderr does not say the run was interrupted: %r" % res.err[-300:])

        # SIGINT twice: the second stops at once, whatever is in flight.
        res, after = run_with_signals(a, fl, inp, common + ["--banner-timeout", "30"],
                                      [(1.0, signal.SIGINT), (1.5, signal.SIGINT)])
        w = "SIGINT twice"
        print("SIGINT at 1s and 1.5s: exit %d in %.2fs (%.2fs after the second), %d records" %
              (res.rc, res.elapsed, after[-1] if after else -1, len(res.records)))
        ck.eq(w, "exit status", res.rc, 1)
        ck.check(len(after) == 2 and after[1] <= 1.0, w, "exited %.2fs after the second signal, want <= 1s" %
                 (after[-1] if after else -1))
        for b in res.bad_lines:
            ck.fail(w, b)
        # what was written is whole records: no domain twice for one key
        for k, recs in harness.by_key(res.records).items():
            ck.check(len(recs) == 1, w, "%d records for %s" % (len(recs), k))

        # SIGTERM while only DNS lookups are pending.
        rows2 = [r for r in rows if r.domain in ("fast.test", "stuck1.test", "stuck2.test")]
        inp2 = harness.write_domains(os.path.join(tmp, "dns-only.txt"), [r.domain for r in rows2])
        res, after = run_with_signals(a, fl, inp2, ["--dns-timeout", "5"], [(1.0, signal.SIGTERM)])
        w = "SIGTERM (only DNS pending)"
        print("SIGTERM with only DNS pending: exit %d in %.2fs, %d records" % (res.rc, res.elapsed, len(res.records)))
        ck.eq(w, "exit status", res.rc, 1)
        ck.check(after and after[0] <= 1.0, w, "exited %.2fs after the signal, want <= 1s" %
                 (after[0] if after else -1))
        check_unfinished(ck, w, res, rows2, finished={"fast.test"})


CASES = collections.OrderedDict([
    ("per-ip", case_per_ip),
    ("provider", case_provider),
    ("retry", case_retry),
    ("deadline", case_deadline),
    ("signals", case_signals),
])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("cases", nargs="+", choices=list(CASES))
    a = ap.parse_args()
    t_begin = time.monotonic()
    failures = []
    for name in a.cases:
        ck = harness.Checker(name)
        tmp = tempfile.mkdtemp(prefix="mxscan-%s-" % name)
        t0 = time.monotonic()
        print("== %s" % name, flush=True)
        try:
            CASES[name](a, ck, tmp)
        except Exception as e:  # a broken fixture is a failure, with its logs kept
            import traceback
            traceback.print_exc()
            ck.fail(name, "%s: %s" % (type(e).__name__, e))
        harness.check_sanitizers(ck)
        print("== %s: %d failure(s) in %.1fs" % (name, len(ck.failures), time.monotonic() - t0), flush=True)
        failures += ["%s: %s" % (name, f) for f in ck.failures]
        if ck.failures or a.keep:
            print("work directory kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in failures[:50]:
        print("FAIL", f)
    if len(failures) > 50:
        print("... and %d more" % (len(failures) - 50))
    print("%d failure(s) in %.1fs" % (len(failures), time.monotonic() - t_begin))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
