#!/usr/bin/python3
"""test_metrics.py - `--metrics FILE` on real fleet scans, checked by promtool.

1. A scan of the fixture fleet with --metrics and --status-interval 1: the
   file is read while the run goes on (every distinct version is kept) and
   at the end; each passes `promtool check metrics`; mid-run it says the run
   is in progress and its counts never exceed the final ones; at the end the
   class counts are the scan's --summary, the start and duration are the
   summary's, the last success is the end of this run, and no temporary
   file is left beside it.
2. A second run that does not complete (--max-runtime 1: exit 1) keeps the
   first run's last success, and says in_progress 0.
3. An unwritable --metrics path stops the scan before it starts (exit 2).
4. With redis-server: a worker of a distributed run writes the same file
   (promtool-valid, every domain counted, a last success).

    test_metrics.py --mxscan PATH --fakemx PATH [--promtool PATH] [--redis-server PATH] [--keep]

Exit 0 passed, 1 failed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

TIMEOUTS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3", "--handshake-timeout", "3",
            "--dns-timeout", "1", "--dns-tries", "2", "--retry-delay", "0.2"]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL " + what)
    return cond


def parse(text):
    """{(name, frozenset(labels)): value} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        check(m, "a sample line: %r" % line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def by_class(samples, name):
    return {dict(k[1])["class"]: int(v) for k, v in samples.items() if k[0] == name and v}


def promtool(a, text, where):
    p = subprocess.run([a.promtool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0 and not p.stdout.strip(), "%s: promtool check metrics: %s" % (where, p.stdout.decode()))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def t_scan(a, tmp, env, domains):
    prom = os.path.join(tmp, "textfile", "mxscan.prom")
    os.makedirs(os.path.dirname(prom))
    summary = os.path.join(tmp, "summary.json")
    cmd = [a.mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"]] + TIMEOUTS + \
        ["-q", "-o", os.path.join(tmp, "out.jsonl"), "--summary", summary, "--metrics", prom,
         "--status-interval", "1", domains]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    versions = []
    while p.poll() is None:
        try:
            text = open(prom).read()
        except FileNotFoundError:
            text = None
        if text and (not versions or versions[-1] != text):
            versions.append(text)
        time.sleep(0.1)
    err = p.stderr.read().decode()
    check(p.returncode == 0, "fleet scan exit %s: %s" % (p.returncode, err))
    final = open(prom).read()
    # the sample line, not the HELP text ("1 while the run goes on"): the
    # final file can be read while the process is still exiting
    mid = [v for v in versions if re.search(r"^mxscan_run_in_progress 1$", v, re.M)]
    check(len(mid) >= 2, "at least two files written mid-run (got %d)" % len(mid))
    end = parse(final)
    s = json.load(open(summary))
    for i, text in enumerate(mid):
        promtool(a, text, "mid-run file %d" % i)
        m = parse(text)
        for name in ("mxscan_records_total", "mxscan_domains"):
            got, fin = by_class(m, name), by_class(end, name)
            check(all(got[c] <= fin.get(c, 0) for c in got), "mid-run %s %r exceeds the end %r" % (name, got, fin))
        check(("mxscan_probes_in_flight", frozenset()) in m, "mid-run: probes in flight")
        check(("mxscan_last_success_timestamp_seconds", frozenset()) not in m, "mid-run: no success yet")
    check(any(parse(t).get(("mxscan_probes_in_flight", frozenset()), 0) > 0 for t in mid),
          "some mid-run file shows probes in flight")
    promtool(a, final, "final file")
    check(end.get(("mxscan_run_in_progress", frozenset())) == 0, "the end: not in progress")
    check(by_class(end, "mxscan_records_total") == s["probes"]["classes"], "records by class = the summary's")
    check(by_class(end, "mxscan_domains") == s["domains"]["classes"], "domains by class = the summary's")
    classes = json.loads(subprocess.run([a.mxscan, "classes", "--json"], stdout=subprocess.PIPE, check=True).stdout)
    check(len([k for k in end if k[0] == "mxscan_records_total"]) == len(classes), "every class has a series")
    start = end.get(("mxscan_run_start_timestamp_seconds", frozenset()), 0)
    dur = end.get(("mxscan_run_duration_seconds", frozenset()), -1)
    last = end.get(("mxscan_last_success_timestamp_seconds", frozenset()), 0)
    check(rfc3339(start) == s["started_at"], "run start = the summary's started_at")
    check(dur == s["elapsed_s"], "duration %s = the summary's elapsed_s %s" % (dur, s["elapsed_s"]))
    check(rfc3339(last) == s["finished_at"], "last success = the end of this run")
    check(end.get(("mxscan_verify_cache_lookups_total", frozenset())) == s["verify_cache"]["lookups"],
          "verify cache lookups = the summary's")
    nfail = sum(v for c, v in s["domains"]["classes"].items() if c != "ok")
    prov = {dict(k[1])["provider"]: v for k, v in end.items() if k[0] == "mxscan_provider_failing_domains"}
    check(len(prov) == 10, "the top 10 providers only (got %d)" % len(prov))
    check(end.get(("mxscan_providers_failing", frozenset()), 0) > 10, "more providers fail than are listed")
    check(0 < sum(prov.values()) <= nfail, "provider counts within the failing domains")
    check(os.listdir(os.path.dirname(prom)) == ["mxscan.prom"], "no temporary file left: %r" %
          os.listdir(os.path.dirname(prom)))
    check(oct(os.stat(prom).st_mode & 0o777) == "0o644", "readable by the collector")

    # a run that does not complete keeps that success time
    p = subprocess.run(cmd[:-1] + ["--max-runtime", "1", domains], stderr=subprocess.PIPE, timeout=120)
    check(p.returncode == 1, "a --max-runtime 1 run exits 1 (got %d)" % p.returncode)
    again = open(prom).read()
    promtool(a, again, "file of the failed run")
    e2 = parse(again)
    check(e2.get(("mxscan_last_success_timestamp_seconds", frozenset())) == last,
          "the failed run keeps the last success of the one before")
    check(e2.get(("mxscan_run_start_timestamp_seconds", frozenset()), 0) >= start, "the failed run's own start")
    check(e2.get(("mxscan_run_in_progress", frozenset())) == 0, "the failed run ended")
    check(e2.get(("mxscan_unfinished_records_total", frozenset()), 0) > 0, "unfinished records counted")

    p = subprocess.run(cmd[:-1] + ["--metrics", os.path.join(tmp, "nodir", "m.prom"), domains],
                       stderr=subprocess.PIPE, timeout=60)
    check(p.returncode == 2 and b"nodir/m.prom" in p.stderr, "an unwritable --metrics: exit 2 naming it (%d, %s)" %
          (p.returncode, p.stderr.decode().strip()))


def t_worker(a, tmp, env, domains):
    sys.path.insert(0, os.path.join(HERE, "..", "exporters"))
    try:
        import test_redis as rt
    except ImportError as e:
        print("worker check skipped: %s" % e)
        return
    srv = rt.RedisServer(a.redis_server, tmp)
    srv.start()
    try:
        p = subprocess.run([a.mxscan, "enqueue", "--redis", srv.url(), domains], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        run = p.stdout.decode().strip()
        if not check(p.returncode == 0 and run, "enqueue: %s" % p.stderr.decode()):
            return
        prom = os.path.join(tmp, "worker.prom")
        p = subprocess.run([a.mxscan, "worker", "--redis", srv.url(), "--run", run, "-q", "--dns", env["DNS"],
                            "--port", env["SMTP_PORT"], "--ca-file", env["CA"]] + TIMEOUTS +
                           ["--metrics", prom, "--status-interval", "1"], stderr=subprocess.PIPE, timeout=120)
        check(p.returncode in (0, 3), "worker exit %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
        text = open(prom).read()
        promtool(a, text, "worker's file")
        m = parse(text)
        n = len(fleet.domains(fleet.load()))
        check(sum(by_class(m, "mxscan_domains").values()) == n, "the worker counted every domain")
        check(("mxscan_last_success_timestamp_seconds", frozenset()) in m, "the worker's run succeeded")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.access(a.promtool, os.X_OK):
        print("FAIL: promtool not found (apt-get install prometheus; scripts/install-deps)")
        return 1
    tmp = tempfile.mkdtemp(prefix="mxscan-metrics-")
    fdir = os.path.join(tmp, "fleet")
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", a.fakemx, "--lifetime", "300", fdir],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if up.returncode != 0:
        print("FAIL: fleet-up")
        return 1
    env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    domains = os.path.join(tmp, "domains.txt")
    with open(domains, "w") as fp:
        fp.write("\n".join(fleet.domains(fleet.load())) + "\n")
    try:
        t_scan(a, tmp, env, domains)
        if os.access(a.redis_server, os.X_OK):
            t_worker(a, tmp, env, domains)
        else:
            print("worker check skipped: no redis-server")
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), fdir])
    if FAILURES or a.keep:
        print("files in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES) if FAILURES else "test_metrics: all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
