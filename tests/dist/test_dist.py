#!/usr/bin/python3
"""test_dist.py - distributed runs against a real redis-server.

    test_dist.py workers|rate|sni --mxscan PATH --fakemx PATH --redis-server PATH [--keep]

workers: the fixture fleet with every reply delayed (fakemx --delay-ms) is
scanned once on one machine (the reference), then enqueued and scanned by
three workers with --claim-idle 2; one is SIGKILLed while it holds jobs.
The others take its jobs over.  Then: no job is left pending; `collect`
and the run's entries in the results stream hold exactly the reference's
(domain, mx, ip, class) set, each (domain, mx, ip) once; the run's class
counters equal the reference's; and no site got more connections from the
workers than from the single scan (fakemx's per-site counts: probe once per
address across workers), but for one extra at most on a site the killed
worker was talking to when it died.

rate: twelve MX hosts of one provider on their own addresses, 24 domains,
three workers with --provider-rate 2: fakemx's accept times show that the
three together never start more than the shared bucket allows (burst 2,
then 2/s), where three local limiters alone would allow 6/s.

sni: shared hosting (fakemx's SNI mode: addresses choosing a leaf per
customer name, one serving a single certificate to every name, a wildcard
pool), scanned once on one machine, then by three workers: the collected
records equal the single scan's, and fakemx's counters show each (address,
server name) asked once across the workers, the same connections per
address as the single scan.  Then three workers with --probe-per-name:
every (address, MX name) exactly once in total.

Exit 0 passed, 1 failed, 77 skipped.
"""
import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "exporters"))
sys.path.insert(0, os.path.join(HERE, "..", "scale"))
try:
    import msgpack
    import redis
    import test_redis as rt  # tests/exporters: RedisServer, Fleet, check, SCAN_TIMEOUTS
    import harness  # tests/scale: a fleet of given rows, fakemx's connection log
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
        rt.FLEETS.append(self)
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


def victim_sites(pid, port):
    """The sites process PID has a connection to (or is connecting to) now."""
    p = subprocess.run(["ss", "-tnpH"], stdout=subprocess.PIPE, universal_newlines=True)
    out = set()
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) >= 6 and "pid=%d," % pid in line and f[4].rsplit(":", 1)[-1] == port:
            out.add(f[4].rsplit(":", 1)[0])
    return out


def sites_opened(log, t0, t1):
    """Sites fakemx accepted a connection to between Unix times T0 and T1
    (its log has UTC seconds of the day, to the ms)."""
    a, b = t0 % 86400 - 0.05, t1 % 86400 + 0.05
    conns = harness.Fleet.connections(type("L", (), {"log_path": log})())
    return {ip for ip, cs in conns.items() for _id, o, _c in cs if a <= o <= b}


def check_stream(r, run, ref):
    """The run's entries in the results stream: each (domain, mx, ip) once,
    the reference's set, and the class counters the reference's counts."""
    ids = collections.Counter()
    got = set()
    for _id, f in r.xrange("dist:results"):
        if f.get(b"run", b"").decode() != run:
            continue
        rec = msgpack.unpackb(f[b"r"], raw=False)
        ids[key(rec)[:3]] += 1
        got.add(key(rec))
    dup = sorted(k for k, n in ids.items() if n > 1)
    check(not dup, "stream holds %d (domain, mx, ip) more than once: %s" % (len(dup), dup[:5]))
    want = set(key(x) for x in ref)
    check(got == want, "stream != single-machine scan:\n missing %s\n extra %s"
          % (sorted(want - got)[:8], sorted(got - want)[:8]))
    classes = {k.decode(): int(v) for k, v in r.hgetall("dist:run:%s:classes" % run).items()}
    ref_classes = dict(collections.Counter(x["class"] for x in ref))
    check(classes == ref_classes, "class counters %s != reference %s" % (classes, ref_classes))


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

    # the list twice, the second time in upper case: each domain is one job
    twice = os.path.join(tmp, "domains-twice.txt")
    names = [n.strip() for n in open(fl.domains) if n.strip() and not n.startswith("#")]
    with open(twice, "w") as fp:
        fp.write("".join(n + "\n" for n in names) + "".join(n.upper() + "\n" for n in names))
    p = subprocess.run([a.mxscan, "enqueue", "--redis", url, twice], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    check(p.returncode == 0, "enqueue exit %d:\n%s" % (p.returncode, p.stderr))
    check("%d repeating a domain (skipped)" % len(names) in p.stderr, "enqueue stderr: %s" % p.stderr[-300:])
    run = p.stdout.strip()
    r = srv.client()
    ndom = len(rt.fleet.domains(rt.fleet.load()))
    check(r.xlen("dist:jobs:" + run) == ndom, "jobs stream holds %d, want %d" % (r.xlen("dist:jobs:" + run), ndom))

    cmd = [a.mxscan, "worker", "--redis", url, "--run", run, "--claim-idle", "2", "--concurrency", "20"] + scan_args(fl)
    first_id = harness.Fleet.last_conn_id(type("L", (), {"log_path": os.path.join(fl.dir, "fakemx.log"),
                                                         "connections": harness.Fleet.connections})())
    logs = [open(os.path.join(tmp, "worker%d.log" % i), "w") for i in range(3)]
    ws = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=logs[i]) for i in range(3)]
    # SIGKILL the first worker seen holding jobs (pending under its name)
    # once the workers have finished a good part of their probes: its jobs
    # then include addresses it probed already, which the workers taking
    # them over must not probe again.
    log = os.path.join(fl.dir, "fakemx.log")
    victim, deadline = None, time.time() + 30
    while time.time() < deadline and sum(1 for cs in harness.Fleet.connections(
            type("L", (), {"log_path": log})(), first_id).values() for c in cs if c[2] is not None) < 15:
        time.sleep(0.05)
    while victim is None and time.time() < deadline:
        for c in r.xinfo_consumers("dist:jobs:" + run, "mxscan"):
            name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
            for w in ws:
                if c["pending"] > 0 and w.poll() is None and name.split("-")[-2] == str(w.pid):
                    victim = (w, name)
        time.sleep(0.02)
    check(victim, "no worker was seen holding a job")
    # The sites the victim is talking to as it dies: its probes of them are
    # lost, and the worker that takes an address over probes it again.
    t_snap = time.time()
    cut = victim_sites(victim[0].pid, fl.env["SMTP_PORT"])
    victim[0].send_signal(signal.SIGKILL)
    t_kill = time.time()
    victim[0].wait()
    held = r.xpending_range("dist:jobs:" + run, "mxscan", "-", "+", 10000, consumername=victim[1])
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

    check_stream(r, run, records(ref))
    after = site_counts(fl)
    late = sites_opened(log, t_snap, t_kill)  # between the snapshot and the kill
    print("victim's connections at the kill: %d, opened meanwhile: %d" % (len(cut), len(late - cut)))
    cut |= late
    ref_n = {ip: before[ip] for ip in before}  # the single scan was fakemx's first client
    more = {ip: after.get(ip, 0) - 2 * ref_n.get(ip, 0) for ip in after}
    # Probe once across workers: every site gets from the three workers as
    # many connections as from the single scan.  The one exception: a probe
    # the killed worker had in flight is lost with it.
    bad = {ip: n for ip, n in more.items() if n > (1 if ip in cut else 0)}
    check(not bad, "sites probed more often by the workers than by one machine (probe-once across workers "
          "broken): %s" % sorted(bad.items()))
    less = {ip: n for ip, n in more.items() if n < 0}
    check(not less, "sites probed less often by the workers than by one machine: %s" % sorted(less.items()))
    print("killed worker held %d job(s); sites it was talking to: %d, probed again: %d; no other site probed "
          "twice" % (len(held), len(cut), sum(1 for ip in cut if more.get(ip, 0) > 0)))
    st = subprocess.run([a.mxscan, "status", "--redis", url, "--run", run], stdout=subprocess.PIPE,
                        universal_newlines=True, timeout=30)
    check(st.returncode == 0 and "in flight 0" in st.stdout and "queued    0" in st.stdout, "status:\n" + st.stdout)
    print(st.stdout)
    print("workers: %d records collected = the single-machine scan's set, run %s" % (len(got), run))


def t_rate(a, tmp):
    # As tests/scale/test_politeness.py's provider case: 12 MX hosts of
    # bigprovider.test (its registrable domain: .test is not in the public
    # suffix list), each on its own address, 24 domains.
    rows = [harness.row("bp%02d.test" % d, "mx%d.bigprovider.test" % (d % 12 + 1), "127.0.9.%d" % (d % 12 + 1),
                        "ok", "chain") for d in range(24)]
    srv = rt.RedisServer(a.redis_server, tmp)
    srv.start()
    url = srv.url("/0?prefix=dist")
    with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), rows, fakemx_args=["--delay-ms", "20"]) as fl:
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), sorted({x.domain for x in rows}))
        p = subprocess.run([a.mxscan, "enqueue", "--redis", url, inp], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        check(p.returncode == 0, "enqueue exit %d:\n%s" % (p.returncode, p.stderr))
        run = p.stdout.strip()
        common = harness.mxscan_cmd(a.mxscan, fl, "-")[2:-1]  # --dns ... without "scan" and the input
        cmd = [a.mxscan, "worker", "--redis", url, "--run", run, "-q", "--provider-rate", "2", "--rate", "0",
               "--per-provider", "100", "--concurrency", "50"] + common + OPTS
        logs = [open(os.path.join(tmp, "rate%d.log" % i), "w") for i in range(3)]
        t0 = time.time()
        ws = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=logs[i]) for i in range(3)]
        for w in ws:
            check(w.wait(60) in (0, 3), "worker exit %d (see %s)" % (w.returncode, tmp))
        took = time.time() - t0
        starts = sorted(o for cs in fl.connections().values() for _id, o, _c in cs)
    check(len(starts) == 12, "%d connections to the provider, want 12 (one per address)" % len(starts))
    # A bucket of burst 2 refilled at 2/s: any run of k starts spans at least
    # (k - 2) / 2 s.  50 ms of slack for Redis' clock against fakemx's.
    worst = max(((j - i + 1) - 2 - 2 * (starts[j] - starts[i] + 0.05), i, j)
                for i in range(len(starts)) for j in range(i, len(starts)))
    check(worst[0] <= 0, "%d starts within %.2fs: more than the shared 2/s (burst 2) allows"
          % (worst[2] - worst[1] + 1, starts[worst[2]] - starts[worst[1]]))
    span = starts[-1] - starts[0]
    print("rate: 3 workers, --provider-rate 2: 12 starts over %.2fs (>= 5 s shared; 3 local limiters alone "
          "would allow ~1.7 s); workers took %.1fs" % (span, took))


def sni_scenario():
    """Rows and fakemx --site specs: addresses whose minimum does not depend
    on which worker meets which name first (the default certificate covers
    one name of the address, or every name, as at the pool), so a single
    scan's connections are the workers' exactly.  Not here: two names the
    default covers but the address's first certificate does not, met by
    two workers: a worker knows the certificates of the address's probe and
    of its own name probes, not another worker's, so both names get a
    connection where one scan makes one (each (address, name) still
    once)."""
    rows, specs, names, own = [], [], collections.defaultdict(set), set()

    def add(ip, domain, mx, covered=False):
        # two domains per MX name (a customer's domains share its MX), so
        # that different workers meet the same name
        for d in (domain.replace(".test", "a.test"), domain.replace(".test", "b.test")):
            rows.append(harness.row(d, mx=mx, ip=ip, mode="ok", cert="chain", san="n"))
        names[ip].add(mx)
        if not covered:  # the default certificate does not cover it: asked under its own name
            own.add((ip, mx))

    for k in (1, 2):  # customers with a leaf of their own, and on the server's own name
        ip = "127.0.82.%d" % k
        specs.append("%s:ok:chain:host%d.shared.test:mx.d%dc*.test" % (ip, k, k))
        for n in range(12):
            add(ip, "d%dc%d.test" % (k, n), "mx.d%dc%d.test" % (k, n))
        for n in range(6):
            add(ip, "d%dh%d.test" % (k, n), "host%d.shared.test" % k, covered=True)
    ip = "127.0.82.3"  # leaves of their own, and names that get the default
    specs.append("%s:ok:chain:host3.shared.test:mx.d3c*.test" % ip)
    for n in range(8):
        add(ip, "d3c%d.test" % n, "mx.d3c%d.test" % n)
        add(ip, "d3n%d.test" % n, "mail.d3n%d.test" % n)
    ip = "127.0.82.4"  # ignores SNI: one certificate that names none of them
    specs.append("%s:ok:chain:plain.hosting.test" % ip)
    for n in range(10):
        add(ip, "d4x%d.test" % n, "mail.d4x%d.test" % n)
    for ip in ("127.0.82.5", "127.0.82.6"):  # a wildcard pool
        specs.append("%s:ok:chain:*.pool.test" % ip)
        for n in range(15):
            add(ip, "dp%d.test" % n, "mx%d.pool.test" % n, covered=True)
    return rows, specs, names, own


def sni_counts(fl, before=None):
    """fakemx's connections per site and ClientHellos per (site, name), less BEFORE's."""
    st = fl.stats()
    out = {("site", ip): v["connections"] for ip, v in st["site"].items()}
    out.update({("sni",) + k: v["hellos"] for k, v in st["sni"].items()})
    if before:
        out = {k: v - before.get(k, 0) for k, v in out.items()}
    return {k: v for k, v in out.items() if v}


def dist_run(a, srv, fl, tmp, tag, inp, extra):
    """enqueue INP, three workers to the end, collect: (records, run)."""
    url = srv.url("/0?prefix=dist")
    p = subprocess.run([a.mxscan, "enqueue", "--redis", url, inp], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    check(p.returncode == 0, "enqueue exit %d:\n%s" % (p.returncode, p.stderr))
    run = p.stdout.strip()
    common = harness.mxscan_cmd(a.mxscan, fl, "-")[2:-1]
    # few probes in flight per worker: each takes few jobs at a time
    cmd = [a.mxscan, "worker", "--redis", url, "--run", run, "-q", "--concurrency", "4"] + common + SNI_OPTS + extra
    logs = [open(os.path.join(tmp, "%s%d.log" % (tag, i)), "w") for i in range(3)]
    ws = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=logs[i]) for i in range(3)]
    for w in ws:
        check(w.wait(120) in (0, 3), "%s: worker exit %d (see %s)" % (tag, w.returncode, tmp))
    out = os.path.join(tmp, tag + ".msgpack")
    p = subprocess.run([a.mxscan, "collect", "--redis", url, "--run", run, "-o", out, "--format", "msgpack"],
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    check(p.returncode == 0, "collect exit %d:\n%s" % (p.returncode, p.stderr))
    for lg in logs:
        lg.close()
    # the workers shared the list: two of them at least stored records
    per_worker = collections.Counter(f.get(b"worker") for _id, f in srv.client().xrange("dist:results")
                                     if f.get(b"run", b"").decode() == run)
    check(len(per_worker) >= 2, "%s: records from %d worker(s): %s" % (tag, len(per_worker), dict(per_worker)))
    return records(out), run, per_worker


SNI_OPTS = OPTS + ["--rate", "0", "--provider-rate", "0"]


def t_sni(a, tmp):
    rows, specs, names, own = sni_scenario()
    srv = rt.RedisServer(a.redis_server, tmp)
    srv.start()
    with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), rows, sites=specs, quiet=True,
                       fakemx_args=["--delay-ms", "20"]) as fl:
        # shuffled: the two domains of a name far apart, in other workers' reads
        domains = sorted({x.domain for x in rows})
        random.Random(7).shuffle(domains)
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), domains)
        ref = os.path.join(tmp, "ref.msgpack")
        p = subprocess.run(harness.mxscan_cmd(a.mxscan, fl, inp, SNI_OPTS + ["-q", "--format", "msgpack", "-o", ref]),
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        check(p.returncode in (0, 3), "reference scan exit %d:\n%s" % (p.returncode, p.stderr))
        single = sni_counts(fl)
        ref = records(ref)
        check(len(ref) == len(rows), "reference: %d records, want %d" % (len(ref), len(rows)))
        # the single scan asked each (address, name) once at most
        again = sorted(k for k, v in single.items() if k[0] == "sni" and v != 1)
        check(not again, "the single scan asked these (address, name) more than once: %s" % again)

        got, run, per_worker = dist_run(a, srv, fl, tmp, "sni", inp, [])
        workers = sni_counts(fl, single)
        keyset = collections.Counter((x["domain"], x.get("mx"), x.get("ip"), x["class"], x.get("sni")) for x in got)
        want = collections.Counter((x["domain"], x.get("mx"), x.get("ip"), x["class"], x.get("sni")) for x in ref)
        # sni may differ for a name its address's first certificate covers
        # (whichever worker probed first chose the name): compare without it
        # there, with it where the name was asked under its own name
        strip = lambda c: collections.Counter(k[:4] for k in c.elements())  # noqa: E731
        check(strip(keyset) == strip(want), "workers' records != the single scan's:\n missing %s\n extra %s" % (
            sorted(set(strip(want)) - set(strip(keyset)))[:8], sorted(set(strip(keyset)) - set(strip(want)))[:8]))
        own = [k for k in keyset if k[2] in ("127.0.82.1", "127.0.82.2", "127.0.82.3", "127.0.82.4") and
               not k[1].startswith("host") and k[4] != k[1]]
        check(not own, "records of names asked under another name's SNI by the workers: %s" % own[:5])
        # the same connections per address; the same ClientHellos per
        # (address, name) for every name asked under its own; a covered
        # name is asked at most once (which one comes first varies)
        diff = sorted((k, workers.get(k), single.get(k)) for k in set(workers) | set(single)
                      if (k[0] == "site" or k[1:] in own) and workers.get(k) != single.get(k))
        check(not diff, "fakemx counts of the three workers != the single scan's (key, workers, single): %s" % diff)
        again = sorted(k for k, v in workers.items() if k[0] == "sni" and v != 1)
        check(not again, "the workers asked these (address, name) more than once: %s" % again)
        total = sum(v for k, v in workers.items() if k[0] == "site")
        print("sni: %d records (per worker %s), 3 workers made %d connections = the single scan's, each "
              "(address, name) once" % (len(got), sorted(per_worker.values()), total))

        # --probe-per-name across workers: every (address, MX name) once in total
        before = sni_counts(fl)
        got, run, _ = dist_run(a, srv, fl, tmp, "ppn", inp, ["--probe-per-name"])
        ppn = sni_counts(fl, before)
        want = {("site", ip): len(ns) for ip, ns in names.items()}
        want.update({("sni", ip, n): 1 for ip, ns in names.items() for n in ns})
        check(ppn == want, "--probe-per-name, 3 workers: fakemx counts != one per (address, name):\n extra %s\n "
              "missing %s" % (sorted((k, v) for k, v in ppn.items() if want.get(k) != v),
                              sorted((k, v) for k, v in want.items() if ppn.get(k) != v)))
        bad = [(x["domain"], x.get("mx"), x.get("sni")) for x in got if x.get("sni") != x.get("mx")]
        check(not bad, "--probe-per-name: records under another name's SNI: %s" % bad[:5])
        check(len(got) == len(rows), "--probe-per-name: %d records, want %d" % (len(got), len(rows)))
        print("probe-per-name: 3 workers, %d connections for %d (address, name)" % (
            sum(v for k, v in ppn.items() if k[0] == "site"), len(want) - len(names)))


TESTS = {"workers": t_workers, "rate": t_rate, "sni": t_sni}


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
    for f in rt.FLEETS:  # before the directory with their pid files goes
        f.down()
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS %s" % a.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
