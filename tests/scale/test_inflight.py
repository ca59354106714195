#!/usr/bin/python3
"""test_inflight.py - thousands of probes in flight lose no record.

N domains (default 4000), each with its own MX host mxI.scale.test on its
own address 127.2.x.y, all served by one fakemx wildcard site (one listener
for every loopback address, full STARTTLS with a *.scale.test certificate)
and an unbound zone with N MX + N A records.  mxscan scans them with
--concurrency C (default 3000) and no rate or provider limits; the test
checks:

  * exit status 0, every line one JSON object;
  * exactly one record per domain, for the right MX and address, none
    twice, none for anything else; every record ok (the class counts are
    printed either way);
  * the --summary counts agree: N domains, N probes;
  * fakemx saw one connection per address (plus retries, if any), no
    address with two connections at once, and a peak of many connections
    open at once (the probes really were in flight together; fakemx waits
    --delay-ms before every reply so that each probe lasts about a second);
  * the scan took less than --max-seconds (60).

    test_inflight.py --mxscan PATH --fakemx PATH [-n N] [--concurrency C]
                     [--max-seconds S] [--min-peak P] [--delay-ms D] [--keep]

MXS_SANITIZE=1 in the environment (the ASan+UBSan build) defaults to a
smaller run (N 2500, concurrency 2000): the sanitizers make both sides
several times slower.
"""
import argparse
import collections
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import harness
from harness import row


def address(i):
    """The address of domain I (0-based): 127.2.x.y, y in 1..250."""
    return "127.2.%d.%d" % (i // 250, i % 250 + 1)


def main():
    sanitized = os.environ.get("MXS_SANITIZE", "") not in ("", "0", "OFF", "off")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("-n", type=int, default=2500 if sanitized else 4000)
    ap.add_argument("--concurrency", type=int, default=2000 if sanitized else 3000)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--min-peak", type=int, default=None,
                    help="fakemx must see at least this many connections at once (default: concurrency / 2)")
    ap.add_argument("--delay-ms", type=int, default=200,
                    help="fakemx waits this long before every reply (default 200)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("extra", nargs="*", help="more mxscan options (after --)")
    a = ap.parse_args()
    n, conc = a.n, a.concurrency
    # Both processes raise their descriptor limit to the hard one; fakemx
    # needs one per connection, mxscan one per probe plus a reserve.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and conc > hard - 256:
        print("descriptor hard limit %d: concurrency %d -> %d" % (hard, conc, max(hard - 256, 64)))
        conc = max(hard - 256, 64)
    min_peak = a.min_peak if a.min_peak is not None else min(conc, n) // 2
    ck = harness.Checker("inflight")
    t_begin = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="mxscan-inflight-")
    rows = [row("d%d.test" % i, "mx%d.scale.test" % i, address(i)) for i in range(n)]
    print("%d domains, concurrency %d%s" % (n, conc, " (sanitizer build)" if sanitized else ""), flush=True)
    try:
        with harness.Fleet(a.fakemx, tmp, sites=["any:ok:chain:*.scale.test"], zone_rows=rows,
                           # Every reply waits --delay-ms, as across the internet: a probe
                           # then holds its connection for about a second, so the peak
                           # measures how many probes mxscan keeps in flight, not how fast
                           # two processes on one loopback finish a handshake (a fakemx
                           # answering at once saw peaks of 600-2000 for the same scan).
                           fakemx_args=["--max-per-ip", "1", "--delay-ms", str(a.delay_ms)],
                           quiet=True) as fl:
            print("fleet up in %.1fs (fakemx port %d, dns %s)" % (time.monotonic() - t_begin, fl.port, fl.dns),
                  flush=True)
            inp = harness.write_domains(os.path.join(tmp, "domains.txt"), [r.domain for r in rows])
            summary = os.path.join(tmp, "summary.json")
            s0 = fl.stats()
            res = harness.run(a.mxscan, fl, inp, ["--concurrency", str(conc), "--rate", "0", "--provider-rate", "0",
                                                  "--per-provider", "100000", "--retry-delay", "0.5", "-q",
                                                  # mxscan's own DNS defaults (the harness' 1 s x 2 is
                                                  # for small fleets): unbound shares 2 cores with a
                                                  # few thousand handshakes
                                                  "--dns-timeout", "2", "--dns-tries", "3",
                                                  "--summary", summary] + a.extra, timeout=a.max_seconds + 60)
            s1 = fl.stats()
            classes = collections.Counter(r.get("class") for r in res.records)
            attempts = collections.Counter(r.get("attempts") for r in res.records)
            print("scan: exit %d in %.1fs, %d records, classes %s, attempts %s" %
                  (res.rc, res.elapsed, len(res.records), dict(classes), dict(attempts)), flush=True)
            print("fakemx: %d connections, peak %d open at once, %d violations" %
                  (s1["connections"] - s0["connections"], s1["peak_active"], s1["violations"] - s0["violations"]))
            if res.err.strip():
                print("mxscan stderr: %s" % res.err.strip()[-2000:])
            ck.eq("mxscan", "exit status", res.rc, 0)
            got = harness.check_records(ck, "records", res, rows, classes={})
            missing = sum(1 for r in rows if len(got.get((r.domain, r.mx, r.ip), [])) == 0)
            dup = sum(1 for v in got.values() if len(v) > 1)
            ck.check(missing == 0 and dup == 0, "records", "%d domain(s) without a record, %d with more than one" %
                     (missing, dup))
            ck.check(classes.get("ok", 0) == n, "records", "%d of %d records ok: %s" % (classes.get("ok", 0), n,
                                                                                        dict(classes)))
            try:
                with open(summary) as fp:
                    sm = json.load(fp)
                for part in ("domains", "probes"):
                    ck.eq("summary", part + ".total", sm[part]["total"], n)
                    ck.eq("summary", part + ".classes.ok", sm[part]["classes"].get("ok"), n)
                ck.eq("summary", "interrupted", sm.get("interrupted"), False)
            except (OSError, ValueError, KeyError, TypeError) as e:
                ck.fail("summary", "unreadable: %s" % e)
            conns = s1["connections"] - s0["connections"]
            retried = sum((r.get("attempts") or 1) - 1 for r in res.records)
            ck.eq("fakemx", "connections", conns, n + retried)
            ck.eq("fakemx", "sites", len(s1["site"]), n)
            ck.eq("fakemx", "violations (two connections at once to one address)",
                  s1["violations"] - s0["violations"], 0)
            ck.check(s1["peak_active"] >= min_peak, "fakemx",
                     "at most %d connections open at once, want >= %d: the probes were not in flight together" %
                     (s1["peak_active"], min_peak))
            ck.check(res.elapsed < a.max_seconds, "duration", "the scan took %.1fs, want < %.0fs" %
                     (res.elapsed, a.max_seconds))
        fl.check_stopped(ck)  # after the with: stopped now
    except Exception as e:
        import traceback
        traceback.print_exc()
        ck.fail("fixture", "%s: %s" % (type(e).__name__, e))
    harness.check_sanitizers(ck)
    for f in ck.failures[:50]:
        print("FAIL", f)
    if len(ck.failures) > 50:
        print("... and %d more" % (len(ck.failures) - 50))
    print("%d failure(s) in %.1fs" % (len(ck.failures), time.monotonic() - t_begin))
    if ck.failures or a.keep:
        print("work directory kept: %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
