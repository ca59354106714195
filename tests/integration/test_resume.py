#!/usr/bin/python3
"""test_resume.py - a run killed at any point and resumed gives the records
of an uninterrupted run, in JSON Lines and msgpack.

Starts the fake MX fleet, scans every fleet.tsv domain once cleanly, then
for several kill points: starts the scan, SIGKILLs it, resumes it with
--resume (SIGKILLing some resumes again), tears the file's last record by
hand once, and compares the final record set with the clean run's.  Also:
--resume without -o is a usage error; a resumed file of the other format
is refused; unfinished records (a SIGTERM'd run) are scanned again; a
second run on the same -o while the first one writes it is refused, and a
SIGKILLed run's lock is gone for the next one; a list that repeats its
domains gets each domain's records once.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")

ARGS = ["--connect-timeout", "1", "--banner-timeout", "1.5", "--command-timeout", "1", "--handshake-timeout", "1",
        "--dns-timeout", "0.5", "--dns-tries", "2", "--retries", "1", "--retry-delay", "0.1",
        "--ehlo-name", "scanner.test", "-q"]


def load(path, fmt):
    with open(path, "rb") as fp:
        if fmt == "jsonl":
            return [json.loads(line) for line in fp.read().decode().splitlines()]
        return list(msgpack.Unpacker(fp, raw=False, strict_map_key=False))


def key(r):
    # what a rerun must reproduce; timings and times may differ
    return (r["domain"], r.get("mx"), r.get("ip"), r["class"], r.get("unfinished", False))


class T:
    def __init__(self, mxscan, env, tmp, domains):
        self.mxscan, self.env, self.tmp, self.domains, self.failures = mxscan, env, tmp, domains, []

    def cmd(self, fmt, out, *extra):
        return [self.mxscan, "scan", "--dns", self.env["DNS"], "--port", self.env["SMTP_PORT"], "--ca-file",
                self.env["CA"], "--format", fmt, "-o", out] + ARGS + list(extra) + [self.domains]

    def fail(self, what):
        print("  FAIL " + what)
        self.failures.append(what)

    def killed(self, fmt, out, after, *extra):
        p = subprocess.Popen(self.cmd(fmt, out, *extra), stderr=subprocess.DEVNULL)
        time.sleep(after)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def compare(self, what, fmt, got_path, want):
        try:
            got = load(got_path, fmt)
        except Exception as e:  # a torn or corrupt file is a failure here
            self.fail("%s: the resumed file does not parse: %s" % (what, e))
            return
        g, w = sorted(map(key, got)), sorted(map(key, want))
        if g != w:
            self.fail("%s: %d records, want %d; missing %s; extra %s" %
                      (what, len(g), len(w), sorted(set(w) - set(g))[:5], sorted(set(g) - set(w))[:5]))
        else:
            print("  ok   %s: %d records" % (what, len(g)))


def run(t, fmt):
    clean = os.path.join(t.tmp, "clean." + fmt)
    summary = os.path.join(t.tmp, "summary.json")
    subprocess.run(t.cmd(fmt, clean, "--summary", summary), check=True, stderr=subprocess.DEVNULL)
    want = load(clean, fmt)
    want_delivery = json.load(open(summary))["delivery"]
    for n, (kills, tear) in enumerate([([0.3], False), ([0.8, 0.6], False), ([1.5], True), ([0.05], False)]):
        out = os.path.join(t.tmp, "run%d.%s" % (n, fmt))
        t.killed(fmt, out, kills[0])
        for k in kills[1:]:
            t.killed(fmt, out, k, "--resume")
        if tear and os.path.getsize(out) > 0:
            with open(out, "ab") as fp:  # a record cut mid-write
                fp.write(b'{"domain":"ok.test","class":"o' if fmt == "jsonl" else b"\x8f\xa6domain\xa7ok.te")
        p = subprocess.run(t.cmd(fmt, out, "--resume", "--summary", summary), stderr=subprocess.PIPE)
        if p.returncode != 0:
            t.fail("%s kill at %s: resume exit %d: %s" % (fmt, kills, p.returncode, p.stderr.decode()[-300:]))
        t.compare("%s killed at %s%s" % (fmt, kills, ", torn" if tear else ""), fmt, out, want)
        # the domains kept from the file are counted from their records
        got_delivery = json.load(open(summary)).get("delivery")
        if got_delivery != want_delivery:
            t.fail("%s kill at %s: summary delivery %r, want %r" % (fmt, kills, got_delivery, want_delivery))
    # a run stopped by SIGTERM records unfinished domains: --resume scans them again
    out = os.path.join(t.tmp, "term." + fmt)
    p = subprocess.Popen(t.cmd(fmt, out), stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    p.wait()
    if not any(r.get("unfinished") for r in load(out, fmt)):
        print("  note: the SIGTERM'd run had no unfinished record")
    subprocess.run(t.cmd(fmt, out, "--resume"), stderr=subprocess.DEVNULL)
    t.compare("%s SIGTERM then resume" % fmt, fmt, out, want)


def lock_holder(out, pid, secs=10):
    """Waits until the run PID holds OUT's lock (it writes its id into OUT.lock)."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            if open(out + ".lock").read().startswith("pid %d " % pid):
                return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def overlap(t, want):
    """A second run on the same -o while the first is still writing it (a
    nightly cron run that overran) must not start: it would truncate the
    first run's output.  The first run's file must come out whole."""
    out = os.path.join(t.tmp, "overlap.jsonl")
    first_sum, second_sum = os.path.join(t.tmp, "first.json"), os.path.join(t.tmp, "second.json")
    a = subprocess.Popen(t.cmd("jsonl", out, "--summary", first_sum), stderr=subprocess.DEVNULL)
    if not lock_holder(out, a.pid):
        t.fail("overlap: the first run never wrote its id into %s.lock" % out)
    b = subprocess.run(t.cmd("jsonl", out, "--summary", second_sum), stderr=subprocess.PIPE, timeout=60)
    first_running = a.poll() is None
    a.wait()
    err = b.stderr.decode()
    if b.returncode != 1 or "another mxscan run (pid %d since " % a.pid not in err or "not starting" not in err:
        t.fail("overlap: the second run: exit %d, stderr %r" % (b.returncode, err[-300:]))
    elif not first_running:
        t.fail("overlap: the first run had ended before the second one was refused (the fleet is too fast)")
    else:
        print("  ok   overlap: the second run was refused while the first ran: %s" % err.strip()[:120])
    if os.path.exists(second_sum):
        t.fail("overlap: the refused run wrote its --summary over the first run's")
    if a.returncode != 0:
        t.fail("overlap: the first run exited %d" % a.returncode)
    if os.path.exists(out + ".lock"):
        t.fail("overlap: %s.lock is still there after the run ended" % out)
    t.compare("overlap: the first run's file", "jsonl", out, want)
    # a run SIGKILLed holds nothing: the next one (resuming) starts at once
    out = os.path.join(t.tmp, "killed-lock.jsonl")
    c = subprocess.Popen(t.cmd("jsonl", out), stderr=subprocess.DEVNULL)
    if not lock_holder(out, c.pid):
        t.fail("killed: the run never wrote its id into %s.lock" % out)
    c.send_signal(signal.SIGKILL)
    c.wait()
    if not os.path.exists(out + ".lock"):
        t.fail("killed: no %s.lock after SIGKILL (the case is not tested)" % out)
    d = subprocess.run(t.cmd("jsonl", out, "--resume"), stderr=subprocess.PIPE)
    if d.returncode != 0:
        t.fail("killed: the resume after SIGKILL: exit %d, %r" % (d.returncode, d.stderr.decode()[-300:]))
    if os.path.exists(out + ".lock"):
        t.fail("killed: the resume left %s.lock behind" % out)
    t.compare("killed holder, then resume", "jsonl", out, want)


def repeats(t, want):
    """A list that gives every domain twice, the second time spelled
    otherwise (upper case, a trailing dot), gets the records of the clean
    run once; --keep-duplicates scans each line."""
    names = [line.strip() for line in open(t.domains) if line.strip() and not line.startswith("#")]
    listed = os.path.join(t.tmp, "repeated.txt")
    with open(listed, "w") as fp:
        for n in names:
            fp.write(n + "\n")
        for n in names:
            fp.write(n.upper() + ".\n")
    out, summary = os.path.join(t.tmp, "repeated.jsonl"), os.path.join(t.tmp, "repeated.json")
    cmd = t.cmd("jsonl", out, "--summary", summary)
    cmd[-1] = listed
    p = subprocess.run(cmd, stderr=subprocess.PIPE)
    err = p.stderr.decode()
    if p.returncode != 0:
        t.fail("repeats: exit %d: %s" % (p.returncode, err[-300:]))
    t.compare("repeats: every domain listed twice", "jsonl", out, want)
    got = json.load(open(summary)).get("lines_duplicate")
    if got != len(names):
        t.fail("repeats: summary lines_duplicate %r, want %d" % (got, len(names)))
    first = "%s:%d: %s again, given by an earlier line" % (listed, len(names) + 1, names[0].lower())
    if first not in err or "more repeated domains are skipped" not in err:
        t.fail("repeats: stderr lacks %r or the line for the rest: %r" % (first, err[-400:]))
    cmd = t.cmd("jsonl", out, "--keep-duplicates")
    cmd[-1] = listed
    subprocess.run(cmd, stderr=subprocess.DEVNULL)
    n = len(load(out, "jsonl"))
    if n != 2 * len(want):
        t.fail("repeats: --keep-duplicates wrote %d records, want %d" % (n, 2 * len(want)))
    else:
        print("  ok   repeats: --keep-duplicates scans every line (%d records)" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mxscan-resume-")
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", a.fakemx, "--lifetime", "300", tmp],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if up.returncode != 0:
        print("fleet-up failed")
        return 1
    try:
        env = dict(line.split("=", 1) for line in open(os.path.join(tmp, "env")).read().splitlines() if "=" in line)
        env = {k: v.strip('"') for k, v in env.items()}
        domains = os.path.join(tmp, "domains.txt")
        subprocess.run(["/usr/bin/python3", os.path.join(FIXTURES, "fleet.py"), "domains"], check=True,
                       stdout=open(domains, "w"))
        t = T(a.mxscan, env, tmp, domains)
        for fmt in ("jsonl", "msgpack"):
            run(t, fmt)
        overlap(t, load(os.path.join(tmp, "clean.jsonl"), "jsonl"))
        repeats(t, load(os.path.join(tmp, "clean.jsonl"), "jsonl"))
        # usage errors
        p = subprocess.run([a.mxscan, "scan", "--resume", domains], stderr=subprocess.PIPE)
        if p.returncode != 2 or b"-o FILE" not in p.stderr:
            t.fail("--resume without -o: exit %d, %r" % (p.returncode, p.stderr[-200:]))
        p = subprocess.run(t.cmd("msgpack", os.path.join(tmp, "clean.jsonl"), "--resume"), stderr=subprocess.PIPE)
        if p.returncode != 2 or b"not --format msgpack" not in p.stderr:
            t.fail("resuming a jsonl file as msgpack: exit %d, %r" % (p.returncode, p.stderr[-200:]))
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), tmp])
    print("%d failure(s)" % len(t.failures))
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
