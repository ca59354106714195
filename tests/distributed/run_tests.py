#!/usr/bin/python3
"""run_tests.py - distributed runs against a real redis-server.

    run_tests.py workers --mxscan PATH --fakemx PATH --redis-server PATH [--keep]

workers: the fixture fleet with every reply delayed (fakemx --delay-ms) is
scanned once on one machine (the reference), then enqueued and scanned by
three workers with --claim-idle 2; one is SIGKILLed while it holds jobs.
The others take its jobs over.  Then: no job is left pending, `collect`
holds exactly the reference's (domain, mx, ip, class) set, one record each,
and no site got more connections from the workers than from the single
scan (fakemx's per-site counts).  Exit 0 passed, 1 failed, 77 skipped.
"""
import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "redis"))
try:
    import msgpack
    import redis
    import run_tests as rt  # tests/redis: RedisServer, Fleet, check, SCAN_TIMEOUTS
except ImportError as e:
    print("SKIP: %s (apt-get install python3-redis python3-msgpack)" % e)
    sys.exit(77)

check, Failed = rt.check, rt.Failed
OPTS = ["--retries", "0", "--no-diag"]  # one connection per probe: counts compare exactly


class Fleet(rt.Fleet):
    """The fixture fleet, with extra fakemx serve arguments (e.g. --delay-ms)."""

    def __init__(self, fakemx, tmp, serve_args=()):
        import atexit
        self.dir = os.path.join(tmp, "fleet")
        atexit.register(self.down)
        up = subprocess.run([os.path.join(rt.FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "300",
                             self.dir, "--"] + list(serve_args), stdout=subprocess.PIPE, universal_newlines=True)
        check(up.returncode == 0, "fleet-up failed")
        self.env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
        self.domains = os.path.join(tmp, "domains.txt")
        with open(self.domains, "w") as fp:
            fp.write("\n".join(rt.fleet.domains(rt.fleet.load())) + "\n")


def records(path):
    with open(path, "rb") as fp:
        return list(msgpack.Unpacker(fp, raw=False))


def key(rec):
    return (rec["domain"], rec.get("mx"), rec.get("ip"), rec["class"])


def site_counts(fl):
    """fakemx's connections per site so far."""
    os.kill(int(fl.env["FAKEMX_PID"]), signal.SIGUSR1)
    time.sleep(0.5)
    out = {}
    with open(os.path.join(fl.dir, "fakemx.stats")) as fp:
        for line in fp:
            f = line.split()
            if f and f[0] == "site":
                out[f[1]] = int(f[f.index("connections") + 1])
    return out


def scan_args(fl):
    e = fl.env
    return ["--dns", e["DNS"], "--port", e["SMTP_PORT"], "--ca-file", e["CA"], "-q"] + rt.SCAN_TIMEOUTS + OPTS


def t_workers(a, tmp):
    srv = rt.RedisServer(a.redis_server, tmp)
    srv.start()
    fl = Fleet(a.fakemx, tmp, serve_args=["--delay-ms", "150"])
    url = srv.url("/0?prefix=dist")
    ref = os.path.join(tmp, "ref.msgpack")
    p = subprocess.run([a.mxscan, "scan"] + scan_args(fl) + ["--format", "msgpack", "-o", ref, fl.domains],
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode in (0, 3), "reference scan exit %d:\n%s" % (p.returncode, p.stderr))
    before = site_counts(fl)

    p = subprocess.run([a.mxscan, "enqueue", "--redis", url, fl.domains], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    check(p.returncode == 0, "enqueue exit %d:\n%s" % (p.returncode, p.stderr))
    run = p.stdout.strip()
    r = srv.client()
    ndom = len(rt.fleet.domains(rt.fleet.load()))
    check(r.xlen("dist:jobs:" + run) == ndom, "jobs stream holds %d, want %d" % (r.xlen("dist:jobs:" + run), ndom))

    cmd = [a.mxscan, "worker", "--redis", url, "--run", run, "--claim-idle", "2", "--concurrency", "20"] + scan_args(fl)
    logs = [open(os.path.join(tmp, "worker%d.log" % i), "w") for i in range(3)]
    ws = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=logs[i]) for i in range(3)]
    # SIGKILL the first worker seen holding jobs (pending under its name).
    victim, deadline = None, time.time() + 30
    while victim is None and time.time() < deadline:
        for c in r.xinfo_consumers("dist:jobs:" + run, "mxscan"):
            name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
            for w in ws:
                if c["pending"] > 0 and w.poll() is None and name.split("-")[-2] == str(w.pid):
                    victim = (w, name)
        time.sleep(0.02)
    check(victim, "no worker was seen holding a job")
    victim[0].send_signal(signal.SIGKILL)
    victim[0].wait()
    held = r.xpending_range("dist:jobs:" + run, "mxscan", "-", "+", 10000, consumername=victim[1])
    held_domains = set()
    for h in held:
        for _id, f in r.xrange("dist:jobs:" + run, h["message_id"], h["message_id"]):
            held_domains.add(f[b"d"].decode())
    for w in ws:
        if w is victim[0]:
            continue
        rc = w.wait(90)
        check(rc in (0, 3), "worker exit %d (see %s)" % (rc, tmp))
    pend = r.xpending("dist:jobs:" + run, "mxscan")
    check(pend["pending"] == 0, "%d job(s) still pending" % pend["pending"])

    out = os.path.join(tmp, "collected.msgpack")
    p = subprocess.run([a.mxscan, "collect", "--redis", url, "--run", run, "-o", out, "--format", "msgpack"],
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    check(p.returncode == 0, "collect exit %d:\n%s" % (p.returncode, p.stderr))
    got = collections.Counter(key(x) for x in records(out))
    want = collections.Counter(key(x) for x in records(ref))
    dup = [k for k, n in got.items() if n > 1]
    check(not dup, "collected records not unique: %s" % dup[:5])
    check(set(got) == set(want), "collected != single-machine scan:\n missing %s\n extra %s"
          % (sorted(set(want) - set(got))[:8], sorted(set(got) - set(want))[:8]))

    after = site_counts(fl)
    ref_recs = records(ref)
    domains_of = collections.defaultdict(set)
    for x in ref_recs:
        if x.get("ip"):
            domains_of[x["ip"]].add(x["domain"])
    extra = {ip for ip in after if after.get(ip, 0) - before.get(ip, 0) > before.get(ip, 0)}
    # A job taken over from the killed worker is scanned again, so its sites
    # may see a second probe; any other site must be probed as often as by
    # the single scan.  Sites that several domains share could be probed by
    # two workers: probe-once across workers is not implemented yet, so
    # those are reported, not failed.
    shared = {ip for ip in extra if len(domains_of[ip]) > 1}
    bad = {ip for ip in extra - shared if not domains_of[ip] & held_domains}
    check(not bad, "sites probed more often than by one machine, not the killed worker's: %s" % sorted(bad))
    print("killed worker held %d job(s); their sites probed again: %d; shared sites probed twice "
          "(no cross-worker probe-once yet): %s" % (len(held), len(extra - shared), sorted(shared) or "none"))
    st = subprocess.run([a.mxscan, "status", "--redis", url, "--run", run], stdout=subprocess.PIPE,
                        universal_newlines=True, timeout=30)
    check(st.returncode == 0 and "in flight 0" in st.stdout and "queued    0" in st.stdout, "status:\n" + st.stdout)
    print(st.stdout)
    print("workers: %d records collected = the single-machine scan's set, run %s" % (len(got), run))


TESTS = {"workers": t_workers}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not a.redis_server or not os.access(a.redis_server, os.X_OK):
        print("SKIP: redis-server not found")
        return 77
    tmp = tempfile.mkdtemp(prefix="mxscan-dist-%s-" % a.test)
    try:
        TESTS[a.test](a, tmp)
    except (Failed, subprocess.TimeoutExpired, redis.RedisError) as e:
        print("FAIL %s: %s (files in %s)" % (a.test, e, tmp), file=sys.stderr)
        return 1
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS %s" % a.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
