#!/usr/bin/python3
"""test_faults.py - the scanning machine fails under mxscan: its resolver,
its disk, its descriptors.

    test_faults.py CASE --mxscan PATH --fakemx PATH [--keep]

CASE is one of:
  dns-start    --dns naming a closed port, a socket that never answers, and
               a server that answers REFUSED to everything: the first two
               exit 2 with a message naming the server before any output
               exists; the third is a resolver (it answers) and the run
               goes on, its records saying dns-servfail.
  dns-restart  unbound SIGKILLed mid-run and started again 3 s later: the
               run pauses (stderr, status line), asks again, and ends with
               exit 0 and every domain ok: no record blames a domain for
               our resolver.
  dns-gone     unbound SIGKILLed mid-run for good, --dns-down-limit 3: exit
               1 soon after the limit, every domain that was read has its
               records, those that waited for DNS marked unfinished, and no
               other DNS failure is recorded.
  dns-drops    the resolver's socket drops every try of some A queries (as a
               burst that overflows its buffer drops the burst and then its
               retries) while it answers the rest: those are asked again,
               every domain ends ok (never dns-timeout), and the summary
               counts them (dns_reasked).
  dns-overrun  unbound with the smallest socket buffer (so-rcvbuf: 1k), 2,000 domains
               at --concurrency 1000: its kernel drops queries; the run
               reads its drop counter, sends fewer at once, asks the lost
               lookups again, and every domain ends ok; the summary's drops
               are the kernel's (read here from /proc/net/udp).
  disk-full    -o on a 64 KiB tmpfs that fills mid-run: a clear error, exit
               1, and the file holds whole domains only, so --resume (with
               room again) completes it to the records of a clean run.
  emfile       a descriptor limit far below --concurrency, much of it taken
               by descriptors mxscan inherits, then a limit lowered under a
               running scan (prlimit --pid): the scan fits and throttles
               itself; no record says tcp-* (or dns-*) for our shortage.
  ports        48 connections to one address from 16 local ports
               (EADDRNOTAVAIL), in a network namespace of its own: the
               same.

The fleet is fakemx's wildcard site (every 127.0.0.0/8 address serves the
`ok` dialogue, each reply --delay-ms late so a run lasts long enough to
break things under it) plus unbound, made by tests/scale/harness.py.  Exit
status 0 passed, 1 failed, 77 skipped (not root where root is needed).
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "scale"))
import fleet  # noqa: E402
import harness  # noqa: E402

OPTS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3", "--handshake-timeout", "3",
        "--dns-timeout", "0.5", "--dns-tries", "2", "--retry-delay", "0.2", "--ehlo-name", "scanner.test",
        "--status-interval", "1", "--rate", "0", "--provider-rate", "0", "--per-provider", "1000"]


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


def no_sanitizer(text, what):
    """TEXT (an mxscan's stderr) has no sanitizer report: under ASan a run
    that must exit 1 would otherwise hide one."""
    m = SANITIZER.search(text or "")
    check(not m, "%s: sanitizer report:\n%s" % (what, (text or "")[m.start():m.start() + 3000] if m else ""))
    return text


def rows(n, prefix="d"):
    """N domains, each with its own MX host and address (127.3.x.y)."""
    return [harness.row("%s%d.fault.test" % (prefix, i), "%smx%d.fault.test" % (prefix, i),
                        "127.3.%d.%d" % (i // 250, i % 250 + 1)) for i in range(n)]


def fleet_for(a, tmp, rs, delay_ms=100):
    return harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), sites=["any:ok:chain:*.fault.test"], zone_rows=rs,
                         fakemx_args=["--delay-ms", str(delay_ms)], quiet=True)


def scan_cmd(a, fl, inp, extra=()):
    return [a.mxscan, "scan", "--dns", fl.dns, "--port", str(fl.port), "--ca-file", fl.ca] + OPTS + list(extra) + [inp]


def read_jsonl(path):
    recs, bad = harness.parse_jsonl(open(path, "rb").read())
    check(not bad, "%s: %s" % (path, bad[:3]))
    return recs


def wait_records(path, n, p, timeout=60):
    """Waits until PATH holds N records while P runs (progress, not time)."""
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        check(p.poll() is None, "mxscan ended before %d records:\n%s" % (n, p.stderr.read() if p.stderr else ""))
        try:
            with open(path, "rb") as fp:
                if fp.read().count(b"\n") >= n:
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise Failed("%s did not reach %d records in %d s" % (path, n, timeout))


# --- the resolver ----------------------------------------------------------------


class RefusingDns:
    """A UDP server that answers REFUSED to every question: a resolver that
    is there, however unhelpful."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(msg) >= 12:  # the question echoed (c-ares checks it), no records, rcode 5
                qid, flags, qd = struct.unpack(">HHH", msg[:6])
                self.sock.sendto(struct.pack(">HHHHHH", qid, 0x8000 | (flags & 0x0100) | 5, qd, 0, 0, 0) + msg[12:],
                                 peer)


class DroppingRelay:
    """A UDP relay in front of unbound that drops the first DROPS datagrams
    of each query for a name in NAMES (both tries, with --dns-tries 2), the
    way a resolver whose socket buffer overflowed under a burst drops the
    burst and then its retries, which c-ares sends together.  Every other
    datagram, and the answers, pass."""

    def __init__(self, upstream, names, drops=2):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.names, self.drops = set(n.lower() for n in names), drops
        self.seen = collections.Counter()
        self.dropped = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(self.upstream)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.client = None
        threading.Thread(target=self.forward, daemon=True).start()
        threading.Thread(target=self.back, daemon=True).start()

    @staticmethod
    def qname(msg):
        labels, i = [], 12
        while i < len(msg) and msg[i]:
            labels.append(msg[i + 1:i + 1 + msg[i]].decode("ascii", "replace"))
            i += 1 + msg[i]
        return ".".join(labels).lower()

    def forward(self):
        while True:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.client = peer
            name = self.qname(msg)
            if name in self.names:
                self.seen[name] += 1
                if self.seen[name] <= self.drops:
                    self.dropped += 1
                    continue
            self.up.send(msg)

    def back(self):
        while True:
            try:
                msg = self.up.recv(4096)
            except OSError:
                return
            if self.client:
                self.sock.sendto(msg, self.client)


def t_dns_drops(a, tmp):
    rs = rows(120)
    lost = [r.mx for r in rs[::4]]  # 30 MX hosts whose A queries are dropped
    with fleet_for(a, tmp, rs, delay_ms=0) as fl:
        relay = DroppingRelay(fl.dns, lost)
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        out, summary = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "summary.json")
        cmd = [a.mxscan, "scan", "--dns", relay.addr, "--port", str(fl.port), "--ca-file", fl.ca] + OPTS + \
            ["--no-policy", "-o", out, "--summary", summary, inp]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        no_sanitizer(p.stderr, "dropping resolver")
        check(p.returncode == 0, "exit %d:\n%s" % (p.returncode, p.stderr[-3000:]))
        check(relay.dropped == 2 * len(lost), "the relay dropped %d datagrams, want %d (2 tries of %d names): %s" %
              (relay.dropped, 2 * len(lost), len(lost), dict(relay.seen)))
        recs = read_jsonl(out)
        bad = sorted((r["domain"], r["class"], r.get("detail")) for r in recs if r["class"] != "ok")
        check(not bad, "records blame %d domain(s) for the resolver's dropped queries: %s" % (len(bad), bad[:5]))
        check(len(recs) == len(rs), "%d records for %d domains" % (len(recs), len(rs)))
        asked = {n: c for n, c in relay.seen.items() if c != 3}
        check(not asked, "names asked other than twice then once more: %s" % asked)
        sm = json.load(open(summary))
        check(sm.get("dns_reasked") == len(lost), "summary dns_reasked %s, want %d" % (sm.get("dns_reasked"), len(lost)))
        check(sm["dns_outages"]["count"] == 0, "summary dns_outages %s: the resolver was never down" %
              sm["dns_outages"])
        want = "%d DNS lookup(s) went unanswered while the resolver answered others, and were asked again" % len(lost)
        check(want in p.stderr, "no %r in stderr:\n%s" % (want, p.stderr[-2000:]))
        print("dns-drops: %d A queries dropped on both tries: asked again, all %d domains ok, dns_reasked %d" %
              (len(lost), len(rs), sm["dns_reasked"]))


def udp_drops(port):
    """The drop counter of the unconnected UDP socket bound to PORT on
    127.0.0.1 (the last column of /proc/net/udp), or None."""
    want = "0100007F:%04X" % port if sys.byteorder == "little" else "7F000001:%04X" % port
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        f = line.split()
        if len(f) >= 13 and f[1] == want and f[3] == "07":
            return int(f[12])
    return None


def t_dns_overrun(a, tmp):
    rs = rows(2000)
    with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), sites=["any:ok:chain:*.fault.test"], zone_rows=rs,
                       fakemx_args=["--delay-ms", "0"], quiet=True, zone_lines=["so-rcvbuf: 1k"]) as fl:
        port = int(fl.dns.rsplit(":", 1)[1])
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        out, summary = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "summary.json")
        before = udp_drops(port)
        check(before is not None, "unbound's socket on port %d is not in /proc/net/udp" % port)
        p = subprocess.run(scan_cmd(a, fl, inp, ["--no-policy", "--concurrency", "1000", "-o", out, "--summary",
                                                 summary]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        dropped = udp_drops(port) - before
        no_sanitizer(p.stderr, "an overrun resolver")
        check(p.returncode == 0, "exit %d:\n%s" % (p.returncode, p.stderr[-3000:]))
        check(dropped > 0, "unbound's kernel dropped nothing: the fixture did not overrun it")
        recs = read_jsonl(out)
        bad = collections.Counter(r["class"] for r in recs if r["class"] != "ok")
        check(not bad and len(recs) == len(rs), "%d records, the resolver's drops blamed on domains: %s" %
              (len(recs), dict(bad)))
        sm = json.load(open(summary))
        sd = sm.get("dns_server_drops")
        check(sd and sd["drops"] == dropped, "summary dns_server_drops %s, the kernel counted %d" % (sd, dropped))
        check(sd["lowest_window"] < 512, "summary dns_server_drops %s: never sent fewer at once" % sd)
        check(re.search(r"mxscan: status: .*; DNS: the resolver dropped \d+ queries, at most \d+ at once", p.stderr),
              "no status line on the drops:\n%s" % p.stderr[-2000:])
        want = "the resolver %s dropped %d of our queries (its socket's receive buffer was full" % (fl.dns, dropped)
        check(want in p.stderr, "no %r in stderr:\n%s" % (want, p.stderr[-2000:]))
        print("dns-overrun: unbound's kernel dropped %d queries; at most %d at once after that, %d asked again, all "
              "%d domains ok" % (dropped, sd["lowest_window"], sm["dns_reasked"], len(rs)))


def t_dns_start(a, tmp):
    doms = harness.write_domains(os.path.join(tmp, "d.txt"), ["a.fault.test", "b.fault.test"])
    out = os.path.join(tmp, "out.jsonl")
    closed = harness.free_port()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never read: queries are dropped
    quiet = "127.0.0.1:%d" % silent.getsockname()[1]
    for server, why, limit in (("127.0.0.1:%d" % closed, "connection refused", 2.0),
                               (quiet, "timeout", 0.5 * 3 + 2.0)):
        t0 = time.monotonic()
        p = subprocess.run([a.mxscan, "scan", "--dns", server, "--dns-timeout", "0.5", "--dns-tries", "2", "-o", out,
                            doms], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        took = time.monotonic() - t0
        no_sanitizer(p.stderr, "--dns " + server)
        check(p.returncode == 2, "--dns %s: exit %d, want 2:\n%s" % (server, p.returncode, p.stderr))
        want = "mxscan: --dns %s: the resolver does not answer (%s): nothing was scanned" % (server, why)
        check(want in p.stderr, "--dns %s: stderr %r, want %r" % (server, p.stderr, want))
        check(not os.path.exists(out), "--dns %s: the output file was created" % server)
        check(took < limit, "--dns %s: took %.1f s, want under %.1f (--dns-timeout 0.5 x 2 tries)" % (server, took,
                                                                                                    limit))
        print("dns-start: %-22s exit 2 in %.2f s: %s" % (server, took, p.stderr.strip()))
    silent.close()
    ref = RefusingDns()
    p = subprocess.run([a.mxscan, "scan", "-q", "--dns", ref.addr, "--dns-timeout", "0.5", "--dns-tries", "2", "-o", out,
                        doms], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    no_sanitizer(p.stderr, "a REFUSED resolver")
    check(p.returncode == 0, "a REFUSED resolver: exit %d, want 0:\n%s" % (p.returncode, p.stderr))
    recs = read_jsonl(out)
    check(sorted((r["domain"], r["class"]) for r in recs) == [("a.fault.test", "dns-servfail"),
                                                            ("b.fault.test", "dns-servfail")],
          "a REFUSED resolver: records %s" % [(r["domain"], r["class"], r["detail"]) for r in recs])
    print("dns-start: a resolver answering REFUSED is a resolver: exit 0, %d dns-servfail records" % len(recs))


def t_dns_restart(a, tmp):
    rs = rows(240)
    with fleet_for(a, tmp, rs) as fl:
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        out, summary = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "summary.json")
        err = open(os.path.join(tmp, "stderr"), "w+")
        p = subprocess.Popen(scan_cmd(a, fl, inp, ["--concurrency", "8", "-o", out, "--summary", summary]),
                             stdout=subprocess.DEVNULL, stderr=err, universal_newlines=True)
        wait_records(out, 60, p)
        fl.kill_unbound()
        t_kill = time.monotonic()
        time.sleep(3)
        fl.restart_unbound()
        rc = p.wait(timeout=120)
        err.seek(0)
        text = no_sanitizer(err.read(), "the scan")
        check(rc == 0, "exit %d, want 0:\n%s" % (rc, text[-3000:]))
        recs = read_jsonl(out)
        by = collections.Counter(r["domain"] for r in recs)
        check(len(by) == len(rs) and set(by.values()) == {1}, "%d domains recorded (want %d), counts %s" %
              (len(by), len(rs), collections.Counter(by.values())))
        classes = collections.Counter(r["class"] for r in recs)
        check(classes == {"ok": len(rs)}, "classes %s, want all ok: our resolver's outage was recorded" %
              dict(classes))
        m = re.search(r"mxscan: resolver (\S+) does not answer \((connection refused|timeout)\): intake paused, "
                      r"(\d+) lookup\(s\) held", text)
        check(m and m.group(1) == fl.dns, "no 'does not answer' message naming %s:\n%s" % (fl.dns, text[-3000:]))
        m2 = re.search(r"mxscan: resolver \S+ answers again after ([\d.]+) s: held lookups asked again, intake "
                       r"resumed", text)
        check(m2, "no 'answers again' message:\n" + text[-3000:])
        check(re.search(r"mxscan: status: .*; DNS DOWN for \d+ s \(.*\), \d+ lookups held, intake paused", text),
              "the status line never said DNS DOWN:\n" + text[-3000:])
        sm = json.load(open(summary))
        check(sm["dns_outages"]["count"] >= 1 and not sm["dns_outages"]["gave_up"], "summary %s" % sm["dns_outages"])
        print("dns-restart: unbound down %.1f s mid-run: %s; %s; all %d domains ok, exit 0" %
              (time.monotonic() - t_kill - (time.monotonic() - t_kill - 3), m.group(0), m2.group(0), len(rs)))


def t_dns_gone(a, tmp):
    rs = rows(240)
    with fleet_for(a, tmp, rs) as fl:
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        out, summary = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "summary.json")
        err = open(os.path.join(tmp, "stderr"), "w+")
        p = subprocess.Popen(scan_cmd(a, fl, inp, ["--concurrency", "8", "--dns-down-limit", "3", "-o", out,
                                                   "--summary", summary]),
                             stdout=subprocess.DEVNULL, stderr=err, universal_newlines=True)
        wait_records(out, 60, p)
        fl.kill_unbound()
        t_kill = time.monotonic()
        rc = p.wait(timeout=120)
        took = time.monotonic() - t_kill
        err.seek(0)
        text = no_sanitizer(err.read(), "the scan")
        check(rc == 1, "exit %d, want 1:\n%s" % (rc, text[-3000:]))
        # the limit (3 s) runs from the first held lookup; the probes in
        # flight then finish (0.5 s each here)
        check(took < 3 + 6, "ended %.1f s after the kill, want within the limit plus the probes in flight" % took)
        check(re.search(r"mxscan: resolver %s has not answered for 3 s \(--dns-down-limit\): stopping; the \d+ "
                        r"domain\(s\) waiting for DNS are recorded as unfinished" % re.escape(fl.dns), text),
              "no give-up message:\n" + text[-3000:])
        recs = read_jsonl(out)
        blamed = [r for r in recs if r["class"].startswith("dns-") and not r.get("unfinished")]
        check(not blamed, "%d records blame the domains for our resolver: %s" % (len(blamed), blamed[:2]))
        unf = [r for r in recs if r.get("unfinished")]
        check(unf, "no unfinished records")
        for r in unf:
            check(r["class"] in ("dns-timeout", "tcp-timeout") or r["stage"] != "dns",
                  "unfinished record %s" % r)
        dns_unf = [r for r in unf if r["stage"] == "dns"]
        check(dns_unf and all("did not answer" in r["detail"] for r in dns_unf),
              "unfinished DNS records do not say why: %s" % dns_unf[:2])
        ok = [r for r in recs if r["class"] == "ok"]
        check(len(ok) + len(unf) == len(recs), "other classes: %s" % collections.Counter(r["class"] for r in recs))
        by = collections.Counter(r["domain"] for r in recs)
        check(set(by.values()) == {1}, "a domain recorded twice")
        sm = json.load(open(summary))
        check(sm["dns_outages"]["gave_up"] and sm["interrupted"], "summary %s" % sm)
        print("dns-gone: exit 1 %.1f s after the kill; %d ok, %d unfinished (%d waiting for DNS), %d not read" %
              (took, len(ok), len(unf), len(dns_unf), len(rs) - len(by)))


# --- the disk -------------------------------------------------------------------


def in_small_tmpfs(cmd, directory, keep, size="64k"):
    """CMD run in a private mount namespace where DIRECTORY is a SIZE tmpfs;
    KEEP (a file in it) is copied out to DIRECTORY/../ before the namespace
    goes.  Root uses `unshare -m`, anyone else a user namespace (`-rm`).
    Returns the CompletedProcess, or None when neither works."""
    script = 'mount -t tmpfs -o size=%s tmpfs "$0" || exit 99; "$@"; rc=$?; cp "$0/%s" "$0/.."; exit $rc' % (size, keep)
    for flags in (["-m"], ["-rm"]) if os.geteuid() == 0 else (["-rm"],):
        p = subprocess.run(["unshare"] + flags + ["sh", "-c", script, directory] + cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        if p.returncode != 99 and "unshare failed" not in p.stderr:
            return p
    return None


def record_keys(recs):
    return collections.Counter((r["domain"], r.get("mx"), r.get("ip"), r["class"]) for r in recs)


def read_any(path):
    """Records of a JSON Lines or msgpack results file (the reader's rule:
    the first byte tells)."""
    data = open(path, "rb").read()
    if data[:1] == b"{" or not data:
        return read_jsonl(path)
    import msgpack
    return list(msgpack.Unpacker(__import__("io").BytesIO(data), raw=False))


def t_disk_full(a, tmp):
    rs = rows(400)
    with fleet_for(a, tmp, rs, delay_ms=0) as fl:
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        clean = os.path.join(tmp, "clean.jsonl")
        p = subprocess.run(scan_cmd(a, fl, inp, ["-q", "-o", clean]), stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=120)
        no_sanitizer(p.stderr, "the clean run")
        check(p.returncode == 0, "the clean run: exit %d:\n%s" % (p.returncode, p.stderr))
        want = record_keys(read_jsonl(clean))
        check(len(want) == len(rs), "the clean run has %d records" % len(want))
        for fmt in ("jsonl", "msgpack"):
            small = os.path.join(tmp, "small-" + fmt)
            os.mkdir(small)
            name = "out." + fmt
            p = in_small_tmpfs(scan_cmd(a, fl, inp, ["--format", fmt, "-o", os.path.join(small, name)]), small, name)
            if p is None:
                print("SKIP: cannot mount a tmpfs (not root, no user namespaces)")
                return 77
            no_sanitizer(p.stderr, "a full disk")
            check(p.returncode == 1, "%s on a full disk: exit %d, want 1:\n%s" % (fmt, p.returncode, p.stderr[-3000:]))
            path = os.path.join(tmp, name)
            msg = ("mxscan: writing %s: No space left on device: stopping the run; %s holds whole domains only"
                   % (os.path.join(small, name), os.path.join(small, name)))
            check(msg in p.stderr, "%s: no clear message (%r) in:\n%s" % (fmt, msg, p.stderr[-3000:]))
            check(re.search(r"WARNING: \d+ record\(s\) could not be written", p.stderr), "no count of lost records")
            part = read_any(path)  # every record whole: a torn one fails here
            got = record_keys(part)
            check(0 < len(part) < len(rs), "%s: %d records on the full disk" % (fmt, len(part)))
            check(all(n == 1 for n in got.values()) and set(got) <= set(want),
                  "%s: the partial file holds records a clean run does not" % fmt)
            size = os.path.getsize(path)
            check(size <= 64 * 1024, "%s: %d bytes on a 64 KiB disk" % (fmt, size))
            # room again: --resume completes the file to a clean run's records
            p = subprocess.run(scan_cmd(a, fl, inp, ["-q", "--format", fmt, "-o", path, "--resume"]),
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
            no_sanitizer(p.stderr, "--resume")
            check(p.returncode == 0, "%s --resume: exit %d:\n%s" % (fmt, p.returncode, p.stderr))
            final = record_keys(read_any(path))
            check(final == want, "%s: after --resume the file differs from a clean run: %d vs %d records, %s" %
                  (fmt, sum(final.values()), sum(want.values()), sorted(set(want) ^ set(final), key=str)[:3]))
            print("disk-full (%s): exit 1 with %d of %d records written whole (%d bytes); --resume completed it" %
                  (fmt, len(part), len(rs), size))
        # standard output closed under us: an error, not a silent death by SIGPIPE
        p = subprocess.Popen(scan_cmd(a, fl, inp, ["-q", "-o", "-"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        p.stdout.read(100)
        p.stdout.close()
        err = no_sanitizer(p.stderr.read(), "a closed pipe")
        rc = p.wait(timeout=60)
        check(rc == 1 and "mxscan: writing standard output: Broken pipe: stopping the run" in err,
              "a closed pipe: exit %d, stderr:\n%s" % (rc, err[-2000:]))
        print("disk-full: a closed standard output: exit 1, %s" % err.strip().splitlines()[0])


# --- descriptors ----------------------------------------------------------------


def check_all_ok(recs, rs, what):
    by = collections.Counter(r["domain"] for r in recs)
    check(len(by) == len(rs) and set(by.values()) == {1}, "%s: %d domains recorded of %d" % (what, len(by), len(rs)))
    classes = collections.Counter(r["class"] for r in recs)
    ours = {c: n for c, n in classes.items() if c.startswith(("tcp-", "dns-"))}
    check(not ours, "%s: records blame the servers for our shortage: %s" % (what, ours))
    check(classes == {"ok": len(rs)}, "%s: classes %s" % (what, dict(classes)))


def t_emfile(a, tmp):
    rs = rows(900)
    with fleet_for(a, tmp, rs) as fl:
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), [r.domain for r in rs])
        # 1. At start: a limit of 200 of which a parent left 90 taken.
        inherited = [os.open("/dev/null", os.O_RDONLY) for _ in range(90)]
        out = os.path.join(tmp, "start.jsonl")
        cmd = ["prlimit", "--nofile=200:200", "--"] + scan_cmd(a, fl, inp, ["--concurrency", "1000", "-o", out])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                           pass_fds=inherited)
        for fd in inherited:
            os.close(fd)
        no_sanitizer(p.stderr, "limit 200")
        check(p.returncode == 0, "limit 200, 90 inherited: exit %d:\n%s" % (p.returncode, p.stderr[-3000:]))
        m = re.search(r"mxscan: --concurrency 1000 exceeds the descriptor limit \(200, (\d+) already open\): using "
                      r"(\d+)", p.stderr)
        check(m and int(m.group(1)) >= 90 and int(m.group(2)) < 200 - 90, "no fitting message:\n" +
              p.stderr[-2000:])
        check_all_ok(read_jsonl(out), rs, "limit 200 with 90 inherited")
        print("emfile: limit 200 with 90 descriptors inherited: %s; all %d ok" % (m.group(0), len(rs)))
        # 2. Mid-run: the limit drops under what is already open.
        out, summary = os.path.join(tmp, "mid.jsonl"), os.path.join(tmp, "summary.json")
        errf = open(os.path.join(tmp, "stderr"), "w+")
        p = subprocess.Popen(scan_cmd(a, fl, inp, ["--concurrency", "400", "-o", out, "--summary", summary]),
                             stdout=subprocess.DEVNULL, stderr=errf)
        wait_records(out, 40, p)
        subprocess.run(["prlimit", "--pid", str(p.pid), "--nofile=120:120"], check=True)
        rc = p.wait(timeout=120)
        errf.seek(0)
        text = no_sanitizer(errf.read(), "limit lowered")
        check(rc == 0, "limit lowered mid-run: exit %d:\n%s" % (rc, text[-3000:]))
        check(re.search(r"mxscan: our own shortage \(too many open files\) with \d+ probe\(s\) running: at most \d+ "
                        r"at once until it eases", text), "no throttling message:\n" + text[-3000:])
        check_all_ok(read_jsonl(out), rs, "limit lowered to 120 mid-run")
        sm = json.load(open(summary))
        check(sm["local_shortages"] > 0, "summary local_shortages %s" % sm.get("local_shortages"))
        print("emfile: limit lowered to 120 under 400 probes: %d starts hit it, throttled, all %d ok" %
              (sm["local_shortages"], len(rs)))


PORT_RANGE = (40000, 40015)  # 16 local ports


def t_ports(a, tmp):
    """Out of local ports: 48 MX names (3 domains of 16) on one address,
    probed each with its own connection (--probe-per-name), 40 at once
    (--per-ip), from 16 local
    ports: connect() fails with EADDRNOTAVAIL.  Only in a network namespace
    of our own, where the port range is ours to shrink: the test re-runs
    itself under unshare -n (root) or -rn (a user namespace)."""
    if os.environ.get("MXS_FAULTS_NETNS") != "1":
        env = dict(os.environ, MXS_FAULTS_NETNS="1")
        inner = [sys.executable, os.path.abspath(__file__), "ports", "--mxscan", os.path.abspath(a.mxscan),
                 "--fakemx", os.path.abspath(a.fakemx)]
        for flags in (["-n"], ["-rn"]) if os.geteuid() == 0 else (["-rn"],):
            p = subprocess.run(["unshare"] + flags + inner, env=env, timeout=300)
            if p.returncode == 99:  # this kind of namespace is not allowed here: try the next
                continue
            check(p.returncode in (0, 77), "the run in the namespace failed (exit %d)" % p.returncode)
            return p.returncode
        print("SKIP: no network namespace of our own (not root, no user namespaces)")
        return 77
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as fp:
            fp.write("%d %d\n" % PORT_RANGE)
    except (OSError, subprocess.CalledProcessError) as e:
        print("cannot set up the namespace: %s" % e)
        sys.exit(99)
    names = ["pmx%d.fault.test" % i for i in range(48)]
    rs = [harness.row("ports%d.fault.test" % (i // 16), n, "127.3.9.9") for i, n in enumerate(names)]
    with fleet_for(a, tmp, rs, delay_ms=300) as fl:
        inp = harness.write_domains(os.path.join(tmp, "d.txt"), sorted({r.domain for r in rs}))
        out, summary = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "summary.json")
        p = subprocess.run(scan_cmd(a, fl, inp, ["--probe-per-name", "--per-ip", "40", "-o", out, "--summary", summary]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        no_sanitizer(p.stderr, "out of ports")
        check(p.returncode == 0, "exit %d:\n%s" % (p.returncode, p.stderr[-3000:]))
        recs = read_jsonl(out)
        classes = collections.Counter(r["class"] for r in recs)
        check(len(recs) == len(names) and classes == {"ok": len(names)},
              "%d records, classes %s: our port shortage recorded?" % (len(recs), dict(classes)))
        check(re.search(r"mxscan: our own shortage \((address not available|resource temporarily unavailable)\)",
                        p.stderr), "no throttling message:\n" + p.stderr[-3000:])
        sm = json.load(open(summary))
        check(sm["local_shortages"] > 0, "summary local_shortages %s" % sm.get("local_shortages"))
        print("ports: 48 connections to one address from %d local ports: %d starts hit the shortage, throttled, "
              "all ok" % (PORT_RANGE[1] - PORT_RANGE[0] + 1, sm["local_shortages"]))
    return 0


def t_egress(a, tmp):
    """This machine cannot reach port 25: 60 MX hosts over 12 providers, 12
    whose every SYN is dropped (fakemx blackhole: a full accept queue), as a
    cloud provider drops outbound port 25, and 48 refused (nothing listens),
    as a rejecting firewall answers.  The records stay tcp-timeout and
    tcp-refused (that is what the network did), and the run says once,
    during it and at its end, that not one connection got through.  With
    one domain whose MX answers, first in the list, nothing is said: a real
    list of dead hosts is not a blocked port."""
    dropped = [harness.row("e%d.egress.test" % i, "mx.p%d.test" % i, "127.3.0.%d" % (i + 1), mode="blackhole",
                           cert="chain", cls="tcp-timeout", stage="connect") for i in range(12)]
    refused = [harness.row("r%d.egress.test" % i, "mx%d.p%d.test" % (i, i % 12), "127.4.0.%d" % (i + 1))
               for i in range(48)]
    live = harness.row("live.egress.test", "mx.live.test", "127.3.1.1", mode="ok", cert="chain")
    fast = ["--connect-timeout", "1", "--retries", "0", "--concurrency", "100", "--per-ip", "1"]
    for with_live in (False, True):
        rs = ([live] if with_live else []) + dropped
        d = os.path.join(tmp, "live" if with_live else "dead")
        with harness.Fleet(a.fakemx, os.path.join(d, "fleet"), rows=rs, zone_rows=refused, quiet=True) as fl:
            inp = harness.write_domains(os.path.join(d, "d.txt"), [r.domain for r in rs + refused])
            out, summary = os.path.join(d, "out.jsonl"), os.path.join(d, "summary.json")
            prom = os.path.join(d, "mxscan.prom")
            p = subprocess.run(scan_cmd(a, fl, inp, fast + ["-o", out, "--summary", summary, "--metrics", prom]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
            no_sanitizer(p.stderr, "egress")
            check(p.returncode == 0, "exit %d:\n%s" % (p.returncode, p.stderr[-2000:]))
            classes = collections.Counter(r["class"] for r in read_jsonl(out))
            want = dict({"tcp-timeout": 12, "tcp-refused": 48}, **({"ok": 1} if with_live else {}))
            check(classes == want, "classes %s, want %s" % (dict(classes), want))
            eg = json.load(open(summary))["egress"]
            metrics = open(prom).read()
            want_metrics = ["mxscan_egress_blocked %d" % (0 if with_live else 1),
                            'mxscan_smtp_connects_total{result="connected"} %d' % (1 if with_live else 0),
                            'mxscan_smtp_connects_total{result="failed"} 60']
            check(all(re.search("^%s$" % re.escape(m), metrics, re.M) for m in want_metrics),
                  "--metrics lacks %s:\n%s" % (want_metrics, metrics[-1500:]))
            warned = re.findall(r"^mxscan: warning: not one of (\d+) connection\(s\) to port %d reached a server, "
                                r"at least 10 different providers: outbound port %d from this machine is probably "
                                r"blocked" % (fl.port, fl.port), p.stderr, re.M)
            ended = re.search(r"^WARNING: not one of \d+ connection\(s\) to port %d reached a server" % fl.port,
                              p.stderr, re.M)
            if with_live:
                check(not warned and not ended and eg == {"connected": 1, "failed_at_connect": 60, "blocked": False},
                      "one server answered, yet: summary %s, stderr %s" % (eg, p.stderr[-1500:]))
                print("egress: 60 dead hosts and one that answers: no warning, summary %s" % eg)
            else:
                check(len(warned) == 1 and int(warned[0]) >= 50 and ended,
                      "the blocked port was not said once during the run and at its end:\n" + p.stderr[-1500:])
                check(eg == {"connected": 0, "failed_at_connect": 60, "blocked": True}, "summary egress %s" % eg)
                print("egress: 60 connections over 12 providers all dropped or refused: warned after %s, summary %s"
                      % (warned[0], eg))
    return 0


CASES = {"dns-start": t_dns_start, "dns-restart": t_dns_restart, "dns-gone": t_dns_gone, "dns-drops": t_dns_drops,
         "dns-overrun": t_dns_overrun,
         "disk-full": t_disk_full,
         "emfile": t_emfile, "ports": t_ports, "egress": t_egress}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mxscan-faults-%s-" % a.case)
    try:
        rc = CASES[a.case](a, tmp)
    except (Failed, subprocess.TimeoutExpired, RuntimeError) as e:
        print("FAIL %s: %s (files in %s)" % (a.case, e, tmp), file=sys.stderr)
        return 1
    if rc == 77:
        shutil.rmtree(tmp, ignore_errors=True)
        return 77
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s: passed" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
