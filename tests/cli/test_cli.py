#!/usr/bin/python3
"""test_cli.py - what an operator running mxscan from cron relies on:
config file parsing (every error path names the file, line and key), flags
overriding the file, the documented config covering every option, status
lines without control characters when stderr is not a terminal, and the
exit codes 0 / 1 / 2 / 3.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
FAST = ["--connect-timeout", "1", "--banner-timeout", "1", "--command-timeout", "1", "--handshake-timeout", "1",
        "--dns-timeout", "0.5", "--dns-tries", "2", "--retries", "0", "--ehlo-name", "scanner.test"]
failures = []


def fail(what):
    print("  FAIL " + what)
    failures.append(what)


def run(cmd, stdin=None, timeout=60):
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout)


def expect(what, p, code, err_pattern=None):
    ok = p.returncode == code and (err_pattern is None or re.search(err_pattern, p.stderr))
    if not ok:
        fail("%s: exit %d (want %d), stderr %r" % (what, p.returncode, code, p.stderr[-300:]))
    else:
        print("  ok   %s" % what)


def config_tests(mxscan, tmp):
    conf = os.path.join(tmp, "t.conf")
    cases = [
        ("unknown key", "[scan]\nport = 25\nconcurency = 5\n", r"t\.conf:3: unknown key 'concurency' in \[scan\]"),
        ("key in the wrong section", "[resolver]\nport = 25\n", r"t\.conf:2: unknown key 'port' in \[resolver\]"),
        ("unknown section", "[nope]\nx = 1\n", r"t\.conf:2: unknown key 'x' in \[nope\]"),
        ("bad number", "[scan]\n\nport = 99999\n", r"t\.conf:3: '99999' is not a whole number from 1 to 65535"),
        ("bad duration", "[scan]\nconnect_timeout = soon\n", r"t\.conf:2: 'soon' is not a number of seconds"),
        ("bad flag value", "[resolver]\nipv6 = maybe\n", r"t\.conf:2: 'maybe' is not yes or no"),
        ("bad format", "[output]\nformat = xml\n", r"t\.conf:2: 'xml' is not jsonl or msgpack"),
        ("bad class", "[output]\nfail_on = cert-expired,bogus\n", r"t\.conf:2: 'bogus' is not a class"),
        ("bad ratio", "[output]\nfail_on_ratio = 2\n", r"t\.conf:2: '2' is not a ratio from 0 to 1"),
        ("not a level", "[output]\nsender_level = dane-only\n", r"t\.conf:2: 'dane-only' is not a level"),
        ("syntax error", "[scan\nport = 25\n", r"t\.conf:1: "),
    ]
    for what, text, pattern in cases:
        with open(conf, "w") as fp:
            fp.write(text)
        expect("config " + what, run([mxscan, "scan", "--config", conf, "-q", "/dev/null"]), 2, pattern)
    expect("missing config file", run([mxscan, "scan", "--config", os.path.join(tmp, "none.conf"), "/dev/null"]), 2,
           r"cannot read config file .*none\.conf")
    # flags override the file whatever their order; the file overrides defaults
    with open(conf, "w") as fp:
        fp.write("[scan]\nport = 99999x\n")
    expect("a bad file value is an error even when a flag sets it too",
           run([mxscan, "scan", "--port", "2525", "--config", conf, "/dev/null"]), 2, r"t\.conf:2:")
    with open(conf, "w") as fp:
        fp.write("[output]\nformat = msgpack\nquiet = yes\n")
    out = os.path.join(tmp, "o.jsonl")
    p = run([mxscan, "scan", "--format", "jsonl", "--config", conf, "-o", out, "-"], stdin="invalid..name\n")
    expect("flags override the file (format), the file sets quiet", p, 0, r"invalid domain")
    if "class " in p.stderr:
        fail("quiet = yes from the file was not applied: %r" % p.stderr[-200:])
    # the documented config is accepted as is and names every option
    shipped = os.path.join(ROOT, "configs", "mxscan.conf")
    expect("configs/mxscan.conf is accepted", run([mxscan, "scan", "--config", shipped, "-q", "/dev/null"]), 0)
    help_text = run([mxscan, "scan", "--help"]).stdout
    flags = set(re.findall(r"--([a-z][a-z0-9-]+)", help_text)) - {"config", "help"}
    text = open(shipped).read()
    missing = sorted(f for f in flags if not re.search(r"^#? ?%s\b" % f.replace("-", "_"), text, re.M))
    if missing:
        fail("configs/mxscan.conf does not document: %s" % ", ".join(missing))
    else:
        print("  ok   configs/mxscan.conf documents all %d options" % len(flags))


def fleet_tests(mxscan, fakemx, tmp):
    d = os.path.join(tmp, "fleet")
    up = run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "200", d], timeout=60)
    if up.returncode != 0:
        fail("fleet-up: %s" % up.stderr)
        return
    try:
        env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
        base = [mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"]] + FAST
        expect("exit 0: a run that completed, with failures found",
               run(base + ["-q", "-"], "ok.test\nbanner-554.test\n"), 0)
        expect("exit 3: --fail-on a class that was found",
               run(base + ["-q", "--fail-on", "smtp-rejected", "-"], "ok.test\nbanner-554.test\n"), 3)
        expect("exit 0: --fail-on a class that was not found",
               run(base + ["-q", "--fail-on", "cert-expired", "-"], "ok.test\nbanner-554.test\n"), 0)
        expect("exit 3: --fail-on-ratio exceeded (1 of 2 domains fails)",
               run(base + ["-q", "--fail-on-ratio", "0.4", "-"], "ok.test\nbanner-554.test\n"), 3)
        expect("exit 0: --fail-on-ratio not exceeded",
               run(base + ["-q", "--fail-on-ratio", "0.6", "-"], "ok.test\nbanner-554.test\n"), 0)
        # --fail-on deferred: mail to tls-died.test goes in the clear at
        # `may` but is deferred at `encrypt`; ok.test's is delivered at all
        expect("exit 0: --fail-on deferred at may (cleartext after a failed handshake)",
               run(base + ["-q", "--fail-on", "deferred", "-"], "ok.test\ntls-died.test\n"), 0)
        expect("exit 3: --fail-on deferred --sender-level encrypt",
               run(base + ["-q", "--fail-on", "deferred", "--sender-level", "encrypt", "-"], "ok.test\ntls-died.test\n"),
               3)
        expect("exit 0: --fail-on deferred --sender-level verify, a trusted certificate",
               run(base + ["-q", "--fail-on", "deferred", "--sender-level", "verify", "-"], "ok.test\n"), 0)
        three = "ok.test\ntls-died.test\ncert-self.test\n"
        expect("exit 3: --fail-on deferred --fail-on-ratio, 2 of 3 deferred at verify",
               run(base + ["-q", "--fail-on", "deferred", "--sender-level", "verify", "--fail-on-ratio", "0.5", "-"],
                   three), 3)
        expect("exit 0: --fail-on deferred --fail-on-ratio, 1 of 3 deferred at encrypt",
               run(base + ["-q", "--fail-on", "deferred", "--sender-level", "encrypt", "--fail-on-ratio", "0.5", "-"],
                   three), 0)
        expect("exit 0: a deferred domain of a listed class counts once (1 of 3, not 2)",
               run(base + ["-q", "--fail-on", "deferred,tls-died", "--sender-level", "encrypt", "--fail-on-ratio",
                           "0.4", "-"], three), 0)
        summary = os.path.join(tmp, "delivery-summary.json")
        p = run(base + ["--sender-level", "encrypt", "--summary", summary, "-"], three)
        # dane: not checked without --dnssec; mta-sts: as may, none of them publishes a policy
        want = {"may": {"tls": 2, "cleartext": 1, "deferred": 0}, "encrypt": {"tls": 2, "cleartext": 0, "deferred": 1},
                "verify": {"tls": 1, "cleartext": 0, "deferred": 2}, "secure": {"tls": 1, "cleartext": 0, "deferred": 2},
                "dane": {"tls": 0, "cleartext": 0, "deferred": 0, "unknown": 3},
                "mta-sts": {"tls": 2, "cleartext": 1, "deferred": 0}}
        got = json.load(open(summary)) if os.path.exists(summary) else {}
        if got.get("delivery") != want or got.get("sender_level") != "encrypt":
            fail("--summary delivery: %r, sender_level %r" % (got.get("delivery"), got.get("sender_level")))
        elif not re.search(r"^encrypt +2 +0 +1  \(--sender-level\)$.*^dane +not checked \(DANE: --dnssec\)$", p.stderr, re.M | re.S):
            fail("the delivery table on stderr: %r" % p.stderr[-600:])
        else:
            print("  ok   --summary and the table on stderr count domains per level and outcome")
        expect("exit 2: an unknown --sender-level", run(base + ["--sender-level", "none", "-"], ""), 2,
               r"'none' is not a level: may, encrypt, verify, secure, dane, mta-sts")
        expect("exit 2: --sender-level dane without --dnssec", run(base + ["--sender-level", "dane", "-"], ""), 2,
               r"--sender-level dane needs --dnssec")
        expect("exit 2: --sender-level mta-sts with --no-policy",
               run(base + ["--no-policy", "--sender-level", "mta-sts", "-"], ""), 2,
               r"--sender-level mta-sts needs the policy checks")
        expect("exit 2: unreadable CA file", run(base + ["--ca-file", "/nonexistent.pem", "-"], ""), 2,
               r"/nonexistent\.pem")
        expect("exit 2: bad --dns", run(base + ["--dns", "not an address", "-"], ""), 2, r"(?i)dns server")
        # an input that cannot be read to its end: the rest is not scanned, so the run did not complete
        expect("exit 2: the input is a directory", run(base + ["-q", tmp]), 2, r"is a directory")
        summary = os.path.join(tmp, "ioerr-summary.json")
        p = run(base + ["--summary", summary, "/proc/self/mem"])  # the kernel's EIO at offset 0
        expect("exit 1: the input fails to read (EIO)", p, 1, r"reading /proc/self/mem: Input/output error")
        got = json.load(open(summary)).get("input_error") if os.path.exists(summary) else None
        if got != "reading /proc/self/mem: Input/output error" or "could not be read to its end" not in p.stderr:
            fail("EIO: summary input_error %r, stderr %r" % (got, p.stderr[-300:]))
        utf16 = os.path.join(tmp, "utf16.txt")
        with open(utf16, "wb") as fp:
            fp.write("ok.test\r\nbanner-554.test\r\n".encode("utf-16"))  # BOM FF FE, as Windows saves it
        expect("exit 1: a UTF-16 list is refused at line 1", run(base + ["-q", utf16]), 1,
               r"utf16\.txt:1: .*the list is UTF-16, not UTF-8 or ASCII: convert it \(iconv")
        p = run(base + ["-q", "--summary", summary, "-"], "ok.test\n")
        expect("exit 0: a list read to its end", p, 0)
        if json.load(open(summary)).get("input_error", "absent") is not None:
            fail("a clean run: summary input_error %r, want null" % json.load(open(summary)).get("input_error"))
        slow = base + ["--banner-timeout", "5", "--status-interval", "0.5", "--max-runtime", "2.5", "-"]
        p = run(slow, "banner-timeout.test\nehlo-timeout.test\nok.test\n")
        expect("exit 1: --max-runtime reached", p, 1, r"max-runtime")
        status = [l for l in p.stderr.splitlines() if l.startswith("mxscan: status: ")]
        if len(status) < 2:
            fail("not a terminal: want a status line every 0.5 s, got %r" % p.stderr[-400:])
        elif any(re.search(r"[\x00-\x1f\x7f]", l) for l in p.stderr.split("\n")):
            fail("not a terminal: control characters in stderr: %r" % p.stderr[:300])
        elif not re.search(r"\d+ read, \d+ resolved, \d+ done \(\d+/s\), \d+ probing, \d+ queued, \d+ records", status[0]):
            fail("status line shape: %r" % status[0])
        else:
            print("  ok   %d status lines, plain text: %s" % (len(status), status[0][:100]))
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), d])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mxscan-cli-") as tmp:
        expect("exit 2: unknown option", run([a.mxscan, "scan", "--bogus"]), 2, r"bogus")
        expect("exit 2: unknown command", run([a.mxscan, "frobnicate"]), 2, r"unknown command")
        expect("--help exits 0", run([a.mxscan, "scan", "--help"]), 0)
        config_tests(a.mxscan, tmp)
        fleet_tests(a.mxscan, a.fakemx, tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
