#!/usr/bin/python3
"""test_redis.py - the Redis exporter against a real redis-server.

    test_redis.py TEST --mxscan PATH --bench PATH --fakemx PATH --redis-server PATH [--keep]

TEST is one of:
  roundtrip  scan the fixture fleet with --redis and -o FILE --format msgpack;
             every stream entry, domain hash field, class counter and the
             run's metadata must match the file, byte for byte.
  restart    redis_bench writes 120,000 records at a steady rate; Redis (AOF,
             fsync always) is SIGKILLed and restarted twice mid-run, and
             stalled once (DEBUG SLEEP) past the command timeout so that a
             dropped connection's batches still run and their resends must
             be skipped: every record must be in Redis exactly once.
  spill      Redis SIGKILLed for good mid-run (redis_bench, then a fleet
             scan): exit status 1, a spill file, and Redis (restarted from
             its AOF afterwards) plus the spill file hold every record.
  nopersist  Redis without persistence SIGKILLed and restarted empty mid-run
             (a fleet scan with -o FILE msgpack, jsonl, and none): a warning
             at start, the missing records counted at the end, the run
             incomplete, exit 1, and the lost records in the spill file.
  badurl     malformed URLs, wrong port, wrong password: exit 2 with a clear
             message that never shows the password; the password from the
             environment works and is not recorded.

Each test starts its own redis-server on a free port of 127.0.0.1 in a
temporary directory and stops it at exit, whatever happens.  Exit status 0
passed, 1 failed, 77 skipped (no redis-server or python3-redis).
"""
import argparse
import atexit
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import msgpack
    import redis
except ImportError as e:
    print("SKIP: %s (apt-get install python3-redis python3-msgpack)" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

SCAN_TIMEOUTS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3",
                 "--handshake-timeout", "3", "--dns-timeout", "1", "--dns-tries", "2", "--ehlo-name", "scanner.test"]
RUN_ID = re.compile(r"mxscan: redis run (\S+) -> ")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisServer:
    """One redis-server on 127.0.0.1:PORT with its data in DIR."""

    def __init__(self, binary, directory, aof=False, extra=()):
        self.binary, self.dir, self.aof, self.extra = binary, directory, aof, list(extra)
        self.port, self.proc = None, None
        atexit.register(self.stop)

    def start(self):
        for _ in range(5):
            port = self.port or free_port()
            cmd = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", self.dir,
                   "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
            cmd += ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
            self.proc = subprocess.Popen(cmd + self.extra, stdin=subprocess.DEVNULL)
            for _ in range(100):
                try:
                    redis.Redis(port=port, socket_timeout=1).ping()
                    self.port = port
                    return
                except redis.AuthenticationError:  # up, with requirepass
                    self.port = port
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.05)
            self.stop()
            if self.port:  # a fixed port that is taken: give up
                break
        raise Failed("redis-server did not start (see %s/redis.log)" % self.dir)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self, **kw):
        return redis.Redis(port=self.port, **kw)

    def url(self, query=""):
        return "redis://127.0.0.1:%d%s" % (self.port, query)


# --- reading back ---------------------------------------------------------------


def file_records(path):
    """The raw bytes of each msgpack map of a results file, in order."""
    data = open(path, "rb").read()
    u = msgpack.Unpacker(raw=False, max_buffer_size=0)  # 0: no limit (the default 100 MiB is less than a run)
    u.feed(data)
    out, off = [], 0
    for _ in u:
        end = u.tell()
        out.append(data[off:end])
        off = end
    check(off == len(data), "%s: trailing bytes" % path)
    return out


def stream_entries(r, prefix, run):
    """[(seq, msgpack bytes)] of RUN in stream order."""
    out = []
    for _id, f in r.xrange(prefix + ":results", "-", "+"):
        if f[b"run"].decode() == run:
            out.append((int(f[b"seq"]), f[b"r"]))
    return out


def field_of(rec):
    if rec.get("mx") and rec.get("ip"):
        return "%s|%s" % (rec["mx"], rec["ip"])
    if rec.get("mx"):
        return "%s|-" % rec["mx"]
    return "-"


def check_redis_holds(r, prefix, run, recs, seqs=None):
    """Redis holds RECS (file order = sequence numbers) exactly once: stream,
    domain hashes, class counters, the run's metadata."""
    got = stream_entries(r, prefix, run)
    want_seqs = list(range(len(recs))) if seqs is None else sorted(seqs)
    got_seqs = [s for s, _ in got]
    dups = [s for s, n in collections.Counter(got_seqs).items() if n > 1]
    check(not dups, "stream: %d duplicated record(s), e.g. seq %s" % (len(dups), dups[:5]))
    missing = sorted(set(want_seqs) - set(got_seqs))
    check(not missing, "stream: %d record(s) missing, e.g. seq %s" % (len(missing), missing[:5]))
    check(len(got) == len(want_seqs), "stream: %d entries, want %d" % (len(got), len(want_seqs)))
    for s, data in got:
        if data != recs[s]:
            raise Failed("stream: record seq %d differs from the file's" % s)
    decoded = {s: msgpack.unpackb(recs[s], raw=False) for s in want_seqs}
    hashes = collections.defaultdict(dict)
    classes = collections.Counter()
    for s in want_seqs:
        rec = decoded[s]
        hashes[rec["domain"]][field_of(rec).encode()] = recs[s]
        classes[rec["class"]] += 1
    for dom, fields in hashes.items():
        have = r.hgetall("%s:domain:%s" % (prefix, dom))
        check(have == fields, "hash %s:domain:%s: %d field(s), want %d, or values differ"
              % (prefix, dom, len(have), len(fields)))
    have = {k.decode(): int(v) for k, v in r.hgetall("%s:run:%s:classes" % (prefix, run)).items()}
    check(have == dict(classes), "class counters %s, want %s" % (have, dict(classes)))
    meta = {k.decode(): v.decode() for k, v in r.hgetall("%s:run:%s" % (prefix, run)).items()}
    check(int(meta.get("records", 0)) == len(want_seqs), "meta records=%s, want %d" % (meta.get("records"),
                                                                                       len(want_seqs)))
    check(r.zscore(prefix + ":runs", run) is not None, "run %s not in %s:runs" % (run, prefix))
    return meta


def run_id(stderr):
    m = RUN_ID.search(stderr)
    check(m, "no run id on stderr:\n" + stderr)
    return m.group(1)


# --- the fleet ------------------------------------------------------------------


FLEETS = []  # stopped before the temporary directory goes (fleet-down needs its env file)


class Fleet:
    def __init__(self, fakemx, tmp):
        self.dir = os.path.join(tmp, "fleet")
        atexit.register(self.down)
        FLEETS.append(self)
        up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "300", self.dir],
                            stdout=subprocess.PIPE, universal_newlines=True)
        check(up.returncode == 0, "fleet-up failed")
        self.env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
        self.domains = os.path.join(tmp, "domains.txt")
        with open(self.domains, "w") as fp:
            fp.write("\n".join(fleet.domains(fleet.load())) + "\n")

    def down(self):
        if os.path.isdir(self.dir):
            subprocess.run([os.path.join(FIXTURES, "fleet-down"), self.dir])

    def scan_cmd(self, mxscan, redis_url, out):
        e = self.env
        return [mxscan, "scan", "-q", "--dns", e["DNS"], "--port", e["SMTP_PORT"], "--ca-file", e["CA"],
                "--redis", redis_url, "--format", "msgpack", "-o", out] + SCAN_TIMEOUTS + [self.domains]


# --- the tests ------------------------------------------------------------------


def t_roundtrip(a, tmp):
    srv = RedisServer(a.redis_server, tmp)
    srv.start()
    fl = Fleet(a.fakemx, tmp)
    out = os.path.join(tmp, "out.msgpack")
    p = subprocess.run(fl.scan_cmd(a.mxscan, srv.url("/0?prefix=rt"), out), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=180)
    check(p.returncode == 0, "mxscan exit %d:\n%s" % (p.returncode, p.stderr))
    run = run_id(p.stderr)
    recs = file_records(out)
    check(len(recs) >= len(fleet.domains(fleet.load())), "only %d records in the file" % len(recs))
    r = srv.client()
    meta = check_redis_holds(r, "rt", run, recs)
    # Stream order is write order, like the file's.
    check([s for s, _ in stream_entries(r, "rt", run)] == list(range(len(recs))), "stream not in file order")
    check(meta.get("status") == "complete", "meta status %r" % meta.get("status"))
    check(meta.get("produced") == str(len(recs)), "meta produced %r" % meta.get("produced"))
    for k in ("started_at", "finished_at", "version", "host", "args"):
        check(meta.get(k), "meta has no %s" % k)
    check("--redis " + srv.url("/0?prefix=rt") in meta["args"], "meta args %r" % meta["args"])
    check(r.getbit("rt:run:%s:seqs" % run, len(recs) - 1) == 1, "seq bitmap incomplete")
    # `mxscan report --redis` reads the run back and counts as the file does
    rep = [subprocess.run([a.mxscan, "report", "--json"] + src, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
           for src in (["--redis", srv.url("/0"), "--run", run, "--redis-prefix", "rt"], [out])]
    check(all(p.returncode == 0 for p in rep), "report exit %s: %s" % ([p.returncode for p in rep], rep[0].stderr))
    jr, jf = (json.loads(p.stdout) for p in rep)
    for k in ("domains", "probes", "providers", "no_tls_domains", "tls_versions", "ciphers"):
        if k in jr or k in jf:
            check(jr.get(k) == jf.get(k), "report --redis %s differs from the file's" % k)
    check(jr.get("probes"), "report --json has no probe counts: %s" % sorted(jr))
    print("roundtrip: %d records, run %s, stream/hash/counters/meta match the file; report --redis too" %
          (len(recs), run))


def bench(a, url, out, count, rate):
    return subprocess.Popen([a.bench, "--url", url, "--count", str(count), "--rate", str(rate), "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def wait_stream(srv, key, at_least, p, timeout=90):
    """Waits until stream KEY holds AT_LEAST entries while P runs: the kills
    happen at a point of progress, not after a wall-clock delay (the test
    machine may be busy)."""
    r = srv.client(socket_timeout=2)
    t = time.time()
    while time.time() - t < timeout:
        check(p.poll() is None, "the writer ended before %s reached %d entries" % (key, at_least))
        try:
            if r.xlen(key) >= at_least:
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    raise Failed("%s did not reach %d entries in %d s" % (key, at_least, timeout))


def t_restart(a, tmp):
    srv = RedisServer(a.redis_server, tmp, aof=True, extra=["--enable-debug-command", "local"])
    srv.start()
    out = os.path.join(tmp, "bench.msgpack")
    n = 120000  # about 10 s at 12,000 records/s
    p = bench(a, srv.url("?command_timeout=2&down_limit=60"), out, n, 12000)
    for frac in (0.2, 0.5):
        wait_stream(srv, "mxscan:results", int(n * frac), p)
        srv.kill(signal.SIGKILL)  # a crash: what was acknowledged is in the AOF
        time.sleep(1.0)
        srv.start()
    # A stalled server: the exporter gives up on the connection after the
    # command timeout (2 s) while Redis still holds its unread batches.
    wait_stream(srv, "mxscan:results", int(n * 0.7), p)
    srv.client(socket_timeout=10).execute_command("DEBUG", "SLEEP", "3")
    so, se = p.communicate(timeout=120)
    check(p.returncode == 0, "redis_bench exit %d:\n%s%s" % (p.returncode, so, se))
    check(se.count("reconnecting") >= 3 and "no reply for 2000 ms" in se, "outages not reported:\n" + se)
    m = re.search(r"(\d+) resent record\(s\) were already there", se)
    check(m and int(m.group(1)) > 0, "no resend was deduplicated:\n" + se)
    run = run_id(se)
    recs = file_records(out)
    check(len(recs) == n, "%d records in the file, want %d" % (len(recs), n))
    meta = check_redis_holds(srv.client(), "mxscan", run, recs)
    check(meta.get("status") == "complete", "meta status %r" % meta.get("status"))
    print("restart: %d records exactly once across 2 SIGKILL restarts (%s)" % (n, so.strip()))
    for line in se.splitlines():
        print("  " + line)


def spill_path(stderr):
    m = re.search(r"go to (\S+) \(its first record is run \S+ seq (\d+)\)", stderr)
    check(m, "no spill file announced:\n" + stderr)
    return m.group(1), int(m.group(2))


def check_spill(srv, prefix, run, recs, stderr):
    """Redis (restarted from its AOF) + the spill file = every record; the
    spill file's record i is seq first+i."""
    path, first = spill_path(stderr)
    spilled = file_records(path)
    check(first + len(spilled) == len(recs), "spill: first seq %d + %d records != %d" % (first, len(spilled),
                                                                                         len(recs)))
    for i, data in enumerate(spilled):
        if data != recs[first + i]:
            raise Failed("spill record %d (seq %d) differs from the file's" % (i, first + i))
    srv.start()
    r = srv.client()
    stored = [s for s, _ in stream_entries(r, prefix, run)]
    check(set(stored) >= set(range(first)), "records before the spill are missing from Redis")
    # Records that were in flight may be in both; the seq bitmap says which.
    both = [s for s in stored if s >= first]
    for s in both:
        check(r.getbit("%s:run:%s:seqs" % (prefix, run), s) == 1, "seq %d stored but not in the bitmap" % s)
    check_redis_holds(r, prefix, run, recs, seqs=stored)
    return path, first, len(spilled), len(both)


def t_spill(a, tmp):
    # 1. the exporter alone, Redis gone for good mid-run
    srv = RedisServer(a.redis_server, tmp, aof=True)
    srv.start()
    out = os.path.join(tmp, "bench.msgpack")
    p = bench(a, srv.url("?down_limit=1.5&command_timeout=1&spill_dir=" + tmp), out, 60000, 20000)
    wait_stream(srv, "mxscan:results", 15000, p)
    srv.kill(signal.SIGKILL)
    so, se = p.communicate(timeout=120)
    check(p.returncode == 1, "redis_bench exit %d, want 1:\n%s" % (p.returncode, se))
    recs = file_records(out)
    run = run_id(se)
    path, first, nspill, both = check_spill(srv, "mxscan", run, recs, se)
    print("spill (bench): %d records: %d in Redis, %d in %s from seq %d (%d in flight in both), exit 1"
          % (len(recs), first + both, nspill, os.path.basename(path), first, both))
    srv.stop()
    # 2. a real scan: mxscan's exit status and message
    os.mkdir(os.path.join(tmp, "r2"))
    srv2 = RedisServer(a.redis_server, os.path.join(tmp, "r2"), aof=True)
    srv2.start()
    fl = Fleet(a.fakemx, tmp)
    out = os.path.join(tmp, "scan.msgpack")
    cmd = fl.scan_cmd(a.mxscan, srv2.url("/0?prefix=sp&down_limit=1&spill_dir=" + tmp), out)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    wait_stream(srv2, "sp:results", 5, p)
    srv2.kill(signal.SIGKILL)
    so, se = p.communicate(timeout=180)
    check(p.returncode == 1, "mxscan exit %d, want 1:\n%s" % (p.returncode, se))
    check("mxscan: writing redis://" in se, "no write error reported:\n" + se)
    recs = file_records(out)
    run = run_id(se)
    path, first, nspill, both = check_spill(srv2, "sp", run, recs, se)
    print("spill (scan): %d records: %d in Redis, %d in %s, exit 1" % (len(recs), first + both, nspill,
                                                                       os.path.basename(path)))
    for line in se.splitlines():
        print("  " + line)


QUICK_DNS = []


def mxscan_quick(a, tmp, url, env=None):
    """A scan that ends at DNS at once (a resolver that refuses every
    question): the exit status and stderr of setting up the Redis exporter."""
    if not QUICK_DNS:
        QUICK_DNS.append(fleet.RefusingDns())
    doms = os.path.join(tmp, "quick.txt")
    with open(doms, "w") as fp:
        fp.write("one.invalid\ntwo.invalid\n")
    cmd = [a.mxscan, "scan", "-q", "--dns", QUICK_DNS[0].addr, "--dns-timeout", "0.2", "--dns-tries", "1",
           "--redis", url, doms]
    e = dict(os.environ)
    for k in ("MXSCAN_REDIS_PASSWORD", "REDISCLI_AUTH", "MXSCAN_REDIS_PREFIX"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=e,
                          timeout=60, cwd=tmp)  # a spill file, if any, lands in TMP


def t_badurl(a, tmp):
    pw = "s3kr1t-Pw"
    sock = os.path.join(tmp, "redis.sock")
    srv = RedisServer(a.redis_server, tmp, extra=["--requirepass", pw, "--unixsocket", sock])
    srv.start()
    closed = free_port()
    cases = [
        ("http://127.0.0.1:6379", "expected redis://"),
        ("redis://:%s@127.0.0.1:99999" % pw, "malformed host, port or database"),
        ("redis://:%s@127.0.0.1:%d/zero" % (pw, srv.port), "malformed host, port or database"),
        ("redis://:%s@127.0.0.1:%d?colour=red" % (pw, srv.port), "unknown option 'colour'"),
        ("rediss://:%s@127.0.0.1:%d" % (pw, srv.port), "TLS (rediss://) is not supported"),
        ("unix://relative/sock", "malformed socket path"),
        ("redis://:%s@127.0.0.1:%d" % (pw, closed), "cannot connect: Connection refused"),
        ("unix://:%s@%s/nonexistent.sock" % (pw, tmp), "cannot connect"),
        ("redis://:wrong-%s@127.0.0.1:%d" % (pw, srv.port), "AUTH: WRONGPASS"),
        ("redis://127.0.0.1:%d" % srv.port, "NOAUTH"),
    ]
    for url, want in cases:
        p = mxscan_quick(a, tmp, url)
        check(p.returncode == 2, "%s: exit %d, want 2:\n%s" % (url, p.returncode, p.stderr))
        check(want in p.stderr, "%s: %r not in stderr:\n%s" % (url, want, p.stderr))
        check(pw not in p.stderr and pw not in p.stdout, "%s: the password is printed:\n%s" % (url, p.stderr))
        print("badurl: %-60s -> %s" % (url.replace(pw, "***"), p.stderr.strip().splitlines()[0]))
    # The password from the environment works; from the URL it is masked in the recorded args.
    for url, env in ((srv.url(), {"MXSCAN_REDIS_PASSWORD": pw}), (srv.url(), {"REDISCLI_AUTH": pw}),
                     ("redis://:%s@127.0.0.1:%d" % (pw, srv.port), {})):
        p = mxscan_quick(a, tmp, url, env)
        check(p.returncode == 0, "%s with %s: exit %d:\n%s" % (url.replace(pw, "***"), list(env), p.returncode,
                                                              p.stderr))
        check(pw not in p.stderr, "the password is printed:\n" + p.stderr)
        meta = srv.client(password=pw).hgetall("mxscan:run:" + run_id(p.stderr))
        check(meta.get(b"records") == b"2", "run meta %s" % meta)
        check(pw.encode() not in b" ".join(meta.values()), "the password is in the run's metadata")
    print("badurl: password from MXSCAN_REDIS_PASSWORD, REDISCLI_AUTH and the URL works, never shown")
    p = mxscan_quick(a, tmp, "unix://:%s@%s?db=3&prefix=ux" % (pw, sock))
    check(p.returncode == 0, "unix socket: exit %d:\n%s" % (p.returncode, p.stderr))
    meta = srv.client(password=pw, db=3).hgetall("ux:run:" + run_id(p.stderr))
    check(meta.get(b"records") == b"2" and meta.get(b"status") == b"complete", "unix socket: run meta %s" % meta)
    print("badurl: unix:///path?db=3 works")


def jsonl_lines(path):
    """The raw lines (newline included) of a JSON Lines file, in order."""
    with open(path, "rb") as fp:
        return fp.read().splitlines(keepends=True)


def t_nopersist(a, tmp):
    """A Redis without persistence SIGKILLed and restarted mid-run (as a new
    user runs it): it comes back empty, so the records it had acknowledged
    are gone.  mxscan warns at start, finds them missing at the end (the
    :seqs bitmap), says how many, marks the run incomplete, exits 1 and
    writes them from -o FILE to the spill file: Redis + spill = the run."""
    fl = Fleet(a.fakemx, tmp)
    for fmt in ("msgpack", "jsonl", None):
        d = os.path.join(tmp, "np-%s" % fmt)
        os.mkdir(d)
        srv = RedisServer(a.redis_server, d)  # appendonly no, save ""
        srv.start()
        prefix = "np%s" % (fmt or "only")
        url = srv.url("/0?prefix=%s&spill_dir=%s" % (prefix, d))
        out = os.path.join(d, "out." + (fmt or "none"))
        e = fl.env
        cmd = [a.mxscan, "scan", "-q", "--dns", e["DNS"], "--port", e["SMTP_PORT"], "--ca-file", e["CA"],
               "--redis", url] + SCAN_TIMEOUTS + [fl.domains]
        if fmt:
            cmd[-1:-1] = ["--format", fmt, "-o", out]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
        wait_stream(srv, prefix + ":results", 8, p)
        srv.kill(signal.SIGKILL)
        srv.start()  # empty: what it acknowledged is gone
        _, se = p.communicate(timeout=180)
        check(not re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", se),
              "%s: sanitizer report:\n%s" % (fmt, se))
        check(p.returncode == 1, "%s: exit %d, want 1:\n%s" % (fmt, p.returncode, se))
        check("warning: this Redis has no persistence (appendonly no, no save points)" in se,
              "%s: no warning at start:\n%s" % (fmt, se))
        run = run_id(se)
        meta = {k.decode(): v.decode() for k, v in srv.client().hgetall("%s:run:%s" % (prefix, run)).items()}
        check(meta.get("status") == "incomplete", "%s: status %r, want incomplete" % (fmt, meta.get("status")))
        produced, missing = int(meta["produced"]), int(meta.get("missing", 0))
        stored = stream_entries(srv.client(), prefix, run)
        check(missing >= 8 and missing + len(stored) == produced,
              "%s: missing %d + %d in Redis != produced %d" % (fmt, missing, len(stored), produced))
        m = re.search(r"Redis no longer holds (\d+) of the (\d+) record\(s\) it acknowledged \(it has no "
                      r"persistence and restarted\): (.*); the run is marked incomplete", se)
        check(m and int(m.group(1)) == missing and int(m.group(2)) == produced, "%s: no clear message:\n%s" %
              (fmt, se))
        have = {s_ for s_, _ in stored}
        lost = [i for i in range(produced) if i not in have]
        if fmt is None:
            check("they are LOST (give -o FILE too" in m.group(3), "Redis only: %r" % m.group(3))
            check(meta.get("recovered") == "0", "Redis only: recovered %r" % meta.get("recovered"))
            print("nopersist (Redis only): %d of %d records lost by Redis, said so, incomplete, exit 1" %
                  (missing, produced))
            srv.stop()
            continue
        spill = meta.get("recovered_file", "")
        check(int(meta.get("recovered", 0)) == missing and spill.endswith("." + fmt) and os.path.exists(spill),
              "%s: recovered %r to %r" % (fmt, meta.get("recovered"), spill))
        check("%d written to %s from %s" % (missing, spill, out) in m.group(3), "%s: %r" % (fmt, m.group(3)))
        recs = file_records(out) if fmt == "msgpack" else jsonl_lines(out)
        check(len(recs) == produced, "%s: %d records in the file, produced %d" % (fmt, len(recs), produced))
        got = file_records(spill) if fmt == "msgpack" else jsonl_lines(spill)
        check(got == [recs[i] for i in lost], "%s: the spill file is not the lost records, byte for byte" % fmt)
        if fmt == "msgpack":
            for seq, data in stored:
                check(data == recs[seq], "stream record %d differs from the file's" % seq)
        print("nopersist (%s): Redis restarted empty; %d of %d records missing, all %d in %s; exit 1, incomplete" %
              (fmt, missing, produced, len(got), os.path.basename(spill)))
        srv.stop()


TESTS = {"roundtrip": t_roundtrip, "restart": t_restart, "spill": t_spill, "badurl": t_badurl,
         "nopersist": t_nopersist}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if not a.redis_server or not os.access(a.redis_server, os.X_OK):
        print("SKIP: redis-server not found")
        return 77
    tmp = tempfile.mkdtemp(prefix="mxscan-redis-%s-" % a.test)
    try:
        TESTS[a.test](a, tmp)
    except (Failed, subprocess.TimeoutExpired, redis.RedisError) as e:
        print("FAIL %s: %s (files in %s)" % (a.test, e, tmp), file=sys.stderr)
        return 1
    for f in FLEETS:
        f.down()
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS %s" % a.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
