#!/usr/bin/python3
"""test_leaks.py - zero leaks at exit, and every event loop closed empty, for
a representative set of mxscan runs against the fake fleet:

  scan of the whole fleet (two threads, JSON Lines, summary; one thread,
  msgpack, an exclude list), scan --resume of a cut output, a scan stopped
  by SIGTERM, probe (text; --json of a domain with two MX hosts; a TLS 1.0
  server, with the legacy retry), report (text, --json, --tlsrpt), diff
  (text, --json), explain, classes, and three runs that fail on purpose
  (a bad exclude file, a non-results file, a bad --ehlo-name).

    test_leaks.py --mode lsan|valgrind --mxscan PATH --fakemx PATH --canary PATH

--mode lsan: the ASan build's LeakSanitizer (ctest runs it there).
--mode valgrind: valgrind memcheck on the normal build (jemalloc's malloc
  intercepted too), definite and indirect leaks and memory errors counted.
Either way the checker is first shown to work: the canary program leaks a
block on purpose and must be caught.  Each run's exit status must be the
one expected, with no leak report and no "event loop is not empty" on
stderr (scanner/loopcheck.h).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

LEAK_EXIT = 66  # the checkers' exit status for a leak (or, valgrind, any memory error)
VALGRIND = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=%d" % LEAK_EXIT,
            "--soname-synonyms=somalloc=*jemalloc*", "--child-silent-after-fork=yes"]
REPORT = re.compile(r"ERROR: LeakSanitizer|definitely lost|indirectly lost|Invalid (read|write)|uninitialised|"
                    r"event loop is not empty")
failures = []


class Runner:
    def __init__(self, mode, timeout_scale):
        self.mode, self.scale = mode, timeout_scale
        self.env = dict(os.environ)
        if mode == "lsan":
            # exit LEAK_EXIT on a leak (not an abort), whatever the suite set
            self.env["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=%d:strict_string_checks=1" % LEAK_EXIT
            self.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"

    def cmd(self, argv):
        return (VALGRIND + argv) if self.mode == "valgrind" else argv

    def run(self, what, argv, want, stdin=None, timeout=60, term_after=None):
        t0 = time.monotonic()
        p = subprocess.Popen(self.cmd(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env, universal_newlines=True)
        if term_after is not None:
            time.sleep(term_after * self.scale)
            p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(stdin, timeout=timeout * self.scale)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            fail("%s: no end within %d s" % (what, timeout * self.scale))
            return out
        m = REPORT.search(err)
        if p.returncode != want or m:
            tail = err[m.start():][:1500] if m else err[-800:]
            fail("%s: exit %d (want %d)\n    %s" % (what, p.returncode, want, tail.replace("\n", "\n    ")))
        else:
            print("  ok   %-44s exit %d, %.1f s" % (what, p.returncode, time.monotonic() - t0), flush=True)
        return out


def fail(what):
    print("  FAIL " + what, flush=True)
    failures.append(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("lsan", "valgrind"), required=True)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--canary", required=True)
    a = ap.parse_args()
    r = Runner(a.mode, 1 if a.mode == "lsan" else 4)

    # the checker works here: the canary's leak is caught
    p = subprocess.run(r.cmd([a.canary]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=r.env,
                       universal_newlines=True, timeout=60)
    if p.returncode != LEAK_EXIT or not REPORT.search(p.stderr):
        fail("the %s checker missed the canary's leak (exit %d): %r" % (a.mode, p.returncode, p.stderr[-300:]))
        return 1
    print("  ok   %s catches a leak (the canary: exit %d)" % (a.mode, p.returncode), flush=True)

    m = a.mxscan
    with tempfile.TemporaryDirectory(prefix="mxscan-leaks-") as tmp:
        d = os.path.join(tmp, "fleet")
        up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", a.fakemx, "--lifetime", "900", d],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        if up.returncode != 0:
            fail("fleet-up: %s" % up.stderr)
            return 1
        try:
            env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
            base = ["--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"], "--ehlo-name",
                    "scanner.test", "--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3",
                    "--handshake-timeout", "4", "--dns-timeout", "1", "--dns-tries", "2"]
            probe_base, base = base, base + ["--retries", "0"]
            domains = "\n".join(fleet.domains(fleet.load())) + "\n"
            jl, mp = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "out.msgpack")
            excl = os.path.join(tmp, "exclude.conf")
            with open(excl, "w") as fp:
                fp.write("ok.test\n.multi.test\n127.0.1.12/32\n")
            r.run("scan: the fleet, 2 threads, jsonl", [m, "scan"] + base + ["--threads", "2", "-q", "-o", jl,
                                                                           "--summary", os.path.join(tmp, "s.json"),
                                                                           "-"], 0, domains, timeout=120)
            r.run("scan: the fleet, msgpack, --exclude", [m, "scan"] + base + ["--threads", "1", "--format", "msgpack",
                                                                            "-q", "-o", mp, "--exclude", excl, "-"],
                  0, domains, timeout=120)
            cut = os.path.join(tmp, "cut.jsonl")
            with open(jl) as src, open(cut, "w") as dst:
                text = src.read()
                dst.write(text[:len(text) // 2])
            r.run("scan --resume of a cut file", [m, "scan"] + base + ["-q", "-o", cut, "--resume", "-"], 0, domains,
                  timeout=120)
            r.run("scan stopped by SIGTERM", [m, "scan"] + base + ["-q", "--banner-timeout", "8", "-"], 1,
                  "banner-timeout.test\nehlo-timeout.test\nok.test\n", term_after=1.5)
            r.run("probe ok.test", [m, "probe"] + probe_base + ["ok.test"], 0)
            r.run("probe --json two-mx.test", [m, "probe"] + probe_base + ["--json", "two-mx.test"], 3)
            r.run("probe tls10.test (legacy retry)", [m, "probe"] + probe_base + ["tls10.test"], 3)
            r.run("report", [m, "report", jl], 0)
            r.run("report --json of both files", [m, "report", "--json", jl, mp], 0)
            r.run("report --tlsrpt", [m, "report", "--tlsrpt", jl], 0)
            r.run("diff", [m, "diff", jl, mp], 0)
            r.run("diff --json", [m, "diff", "--json", jl, mp], 0)
            r.run("explain", [m, "explain"], 0)
            r.run("explain --json tls-died", [m, "explain", "--json", "tls-died"], 0)
            r.run("classes", [m, "classes"], 0)
            r.run("classes --json", [m, "classes", "--json"], 0)
            bad = os.path.join(tmp, "bad.conf")
            with open(bad, "w") as fp:
                fp.write("ok.test\n10.0.0.1/8\n")
            r.run("scan with a bad exclude file", [m, "scan"] + base + ["--exclude", bad, "-"], 2, "ok.test\n")
            r.run("report of a file that is not results", [m, "report", excl], 1)
            r.run("scan --ehlo-name 'bad name'", [m, "scan", "--ehlo-name", "bad name", "-"], 2, "")
        finally:
            subprocess.run([os.path.join(FIXTURES, "fleet-down"), d])
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
