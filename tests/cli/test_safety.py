#!/usr/bin/python3
"""test_safety.py - running mxscan politely and safely (SECURITY.md):

* the EHLO name: a domain or an address literal, from a flag or the config
  file, else exit 2 naming the option (or file and line) and the value; a
  name without a dot, given or this host's (set in a UTS namespace when
  the test may make one), is a warning on stderr with the fix; what is
  given is what the probe sends (the transcript against the fake fleet).

    test_safety.py --mxscan PATH --fakemx PATH
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
FAST = ["--connect-timeout", "2", "--banner-timeout", "2", "--command-timeout", "2", "--handshake-timeout", "2",
        "--dns-timeout", "0.5", "--dns-tries", "2"]
WARN = r"warning: the EHLO name '%s'%s is not fully qualified: many receivers reject it .*--ehlo-name mail\.example\.com"
failures = []


def fail(what):
    print("  FAIL " + what, flush=True)
    failures.append(what)


def run(cmd, stdin=None, timeout=60):
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout)


def expect(what, p, code, err_pattern=None, no_err_pattern=None):
    ok = p.returncode == code and (err_pattern is None or re.search(err_pattern, p.stderr))
    ok = ok and (no_err_pattern is None or not re.search(no_err_pattern, p.stderr))
    if not ok:
        fail("%s: exit %d (want %d), stderr %r" % (what, p.returncode, code, p.stderr[-400:]))
    else:
        print("  ok   %s" % what, flush=True)


def with_hostname(name, cmd):
    """CMD run with this host's name set to NAME, in a UTS namespace of its own."""
    return ["unshare", "--uts", "--", "/usr/bin/python3", "-c",
            "import os, socket, sys; socket.sethostname(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])",
            name] + cmd


def ehlo_tests(mxscan, tmp):
    bad = [("bad name", "invalid character"), ("my_host.example", "'_' is not allowed"),
           ("mail.example.com.", "trailing dot"), ("[2001:db8::1]", r"an IPv6 address literal is written \[IPv6:"),
           ("[192.0.2.300]", "not an IPv4 address"), ("mail\r\nRCPT TO:<x@example.com>", "invalid character")]
    for name, why in bad:
        shown = re.sub(r"[\x00-\x1f\x7f]", "?", name)  # no control characters in the operator's log
        p = run([mxscan, "scan", "-q", "--ehlo-name", name, "/dev/null"])
        expect("--ehlo-name %r refused" % name, p, 2,
               r"--ehlo-name: '%s' is not a domain name or an address literal: %s" % (re.escape(shown), why))
        if re.search(r"[\x00-\x09\x0b-\x1f\x7f]", p.stderr):
            fail("--ehlo-name %r: control characters on stderr: %r" % (name, p.stderr))
    expect("probe --ehlo-name refused too", run([mxscan, "probe", "--ehlo-name", "bad name", "ok.test"]), 2,
           r"--ehlo-name: 'bad name' is not a domain name")
    conf = os.path.join(tmp, "t.conf")
    with open(conf, "w") as fp:
        fp.write("[scan]\nport = 25\nehlo_name = scanner example\n")
    expect("ehlo_name in the config file: file and line", run([mxscan, "scan", "-q", "--config", conf, "/dev/null"]),
           2, r"t\.conf:3: 'scanner example' is not a domain name or an address literal")
    for name in ("scanner.example.net", "[192.0.2.1]", "[IPv6:2001:db8::1]"):
        expect("--ehlo-name %s accepted, no warning" % name, run([mxscan, "scan", "-q", "--ehlo-name", name,
                                                                    "/dev/null"]), 0, None, "warning")
    expect("--ehlo-name vm: accepted with a warning", run([mxscan, "scan", "-q", "--ehlo-name", "vm", "/dev/null"]),
           0, WARN % ("vm", ""))
    # this host's name, as the default
    probe = run(with_hostname("scanner.example.net", ["/bin/true"]))
    if probe.returncode != 0:
        print("  skip the default EHLO name (no UTS namespace here: %s)" % probe.stderr.strip()[:100])
        return
    expect("default: this host's name without a dot is a warning",
           run(with_hostname("vm", [mxscan, "scan", "-q", "/dev/null"])), 0, WARN % ("vm", r" \(this host's name\)"))
    expect("default: a fully qualified host name is no warning",
           run(with_hostname("scanner.example.net", [mxscan, "scan", "-q", "/dev/null"])), 0, None, "warning")
    expect("default: a host name that cannot be sent stops the run",
           run(with_hostname("my_host", [mxscan, "scan", "-q", "/dev/null"])), 2,
           r"this host's name 'my_host' cannot be sent in EHLO .*give --ehlo-name")
    expect("default: probe warns too", run(with_hostname("vm", [mxscan, "probe", "--dns", "127.0.0.1:1",
                                                                "--dns-timeout", "0.2", "--dns-tries", "1",
                                                                "nothing.test"])), 3,
           WARN % ("vm", r" \(this host's name\)"))


def fleet_tests(mxscan, fakemx, tmp):
    d = os.path.join(tmp, "fleet")
    up = run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "200", d], timeout=60)
    if up.returncode != 0:
        fail("fleet-up: %s" % up.stderr)
        return
    try:
        env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
        base = ["--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"]] + FAST
        for name in ("scanner.example.net", "[192.0.2.1]", "[IPv6:2001:db8::1]"):
            p = run([mxscan, "probe"] + base + ["--ehlo-name", name, "ok.test"])
            sent = re.findall(r"C: (EHLO .*)", p.stdout)
            if p.returncode != 0 or not sent or any(s != "EHLO " + name for s in sent):
                fail("probe --ehlo-name %s: exit %d, sent %r" % (name, p.returncode, sent))
            else:
                print("  ok   probe sends %r (%d times)" % (sent[0], len(sent)), flush=True)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), d])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mxscan-safety-") as tmp:
        ehlo_tests(a.mxscan, tmp)
        fleet_tests(a.mxscan, a.fakemx, tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
