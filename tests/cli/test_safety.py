#!/usr/bin/python3
"""test_safety.py - running mxscan politely and safely (SECURITY.md):

* the EHLO name: a domain or an address literal, from a flag or the config
  file, else exit 2 naming the option (or file and line) and the value; a
  name without a dot, given or this host's (set in a UTS namespace when
  the test may make one), is a warning on stderr with the fix; what is
  given is what the probe sends (the transcript against the fake fleet);
* --source-address: each probe connects from it (fakemx logs the peer), for
  scan, probe and with --threads; one or ADDR4,ADDR6 or given twice; a bad
  address, or one that is not this host's, is exit 2 at start;
* a Redis password in a URL never reaches stdout, stderr or the run's
  recorded command line: every command that takes --redis, malformed
  URLs, a password in the query string, and a whole scan into a real
  redis-server with requirepass, status lines included.

    test_safety.py --mxscan PATH --fakemx PATH
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

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


def source_tests(mxscan):
    for arg, why in (("192.0.2.1", "cannot bind to 192.0.2.1: not an address of this host"),
                     ("2001:db8::1", "cannot bind to 2001:db8::1: not an address of this host"),
                     ("nope", "'nope' is not an IPv4 and/or an IPv6 address"),
                     ("127.0.0.2,127.0.0.3", "gives two IPv4 addresses"),
                     ("127.0.0.2,::1,::2", "is not an IPv4 and/or an IPv6 address"),
                     ("127.0.0.2,", "is not an IPv4")):
        expect("--source-address %s refused" % arg,
               run([mxscan, "scan", "-q", "--ehlo-name", "scanner.test", "--source-address", arg, "/dev/null"]), 2,
               r"--source-address: .*%s" % re.escape(why))
    expect("--source-address ADDR4,ADDR6", run([mxscan, "scan", "-q", "--ehlo-name", "scanner.test", "--ipv6",
                                                  "--source-address", "127.0.0.2,::1", "/dev/null"]), 0, None, ".")
    expect("--source-address twice, one per family",
           run([mxscan, "scan", "-q", "--ehlo-name", "scanner.test", "--ipv6", "--source-address", "::1",
                "--source-address", "127.0.0.2", "/dev/null"]), 0, None, ".")
    expect("--ipv6 with an IPv4 source only: a warning",
           run([mxscan, "scan", "-q", "--ehlo-name", "scanner.test", "--ipv6", "--source-address", "127.0.0.2",
                "/dev/null"]), 0, r"--source-address gives no IPv6 address")
    expect("probe: --source-address not of this host", run([mxscan, "probe", "--ehlo-name", "scanner.test",
                                                            "--source-address", "192.0.2.1", "ok.test"]), 2,
           r"cannot bind to 192\.0\.2\.1")


PW = "S3kr1t-pw"


def secrets_tests(mxscan):
    closed = "127.0.0.1:1"
    urls = ["redis://:%s@%s" % (PW, closed), "redis://alice:%s@%s/2" % (PW, closed), "redis:/:%s@h" % PW,
            "redis//:%s@h" % PW, "%s@%s" % (PW, closed), "redis://%s?password=%s" % (closed, PW),
            "redis://:%s@%s?prefix=p&auth=%s" % (PW, closed, PW), "unix://:%s@/nonexistent.sock" % PW]
    cmds = [["scan", "-q", "--ehlo-name", "scanner.test", "/dev/null"], ["enqueue", "/dev/null"],
            ["collect", "--run", "X", "-o", os.devnull], ["status"],
            ["worker", "--ehlo-name", "scanner.test", "--run", "X"], ["report", "--run", "X"]]
    shown = 0
    for url in urls:
        for cmd in cmds:
            p = run([mxscan, cmd[0], "--redis", url] + cmd[1:], timeout=30)
            if PW in p.stderr or PW in p.stdout:
                fail("%s --redis %s: the password is printed: %r" % (cmd[0], url.replace(PW, "PW"), p.stderr[-300:]))
            elif p.returncode == 0:
                fail("%s --redis %s: exit 0" % (cmd[0], url.replace(PW, "PW")))
            shown += 1
    print("  ok   %d runs with a password in --redis: never printed" % shown, flush=True)


def redis_tests(mxscan, base, tmp):
    """A real redis-server with requirepass: the scan's messages, its status
    lines and the run's metadata hold no password."""
    server = "/usr/bin/redis-server"
    if not os.path.exists(server):
        print("  skip the redis-server run (not installed)")
        return
    import socket
    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        port = s_.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", tmp, "--requirepass", PW, "--logfile", os.path.join(tmp, "redis.log")],
                            stdin=subprocess.DEVNULL)
    try:
        import redis
        r = redis.Redis(port=port, password=PW, socket_timeout=2)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        url = "redis://:%s@127.0.0.1:%d/0?prefix=safety" % (PW, port)
        p = run([mxscan, "scan"] + base + ["--ehlo-name", "scanner.test", "--status-interval", "0.2", "--redis", url,
                                           "--redis-down-limit", "5", "-o", os.path.join(tmp, "out.jsonl"), "-"],
                "ok.test\nbanner-timeout.test\nno-starttls.test\n")
        status = [l for l in p.stderr.splitlines() if l.startswith("mxscan: status: ")]
        if p.returncode != 0 or "redis://:***@127.0.0.1:%d" % port not in p.stderr or not status:
            fail("scan --redis: exit %d, %d status lines: %r" % (p.returncode, len(status), p.stderr[-400:]))
        elif PW in p.stderr or PW in p.stdout:
            fail("scan --redis: the password is printed: %r" % p.stderr[-400:])
        else:
            meta = b" ".join(v for k, v in r.hgetall("safety:run:" + re.search(r"redis run (\S+)", p.stderr).group(1))
                             .items())
            if PW.encode() in meta or b"redis://:***@" not in meta:
                fail("scan --redis: the run's metadata: %r" % meta[:300])
            else:
                print("  ok   scan into Redis: %d status lines and the run's args without the password" % len(status),
                      flush=True)
    finally:
        proc.terminate()
        proc.wait(10)


def peers(log, since):
    """[(server address, peer address)] of fakemx's connections logged after byte SINCE."""
    with open(log, errors="replace") as fp:
        fp.seek(since)
        return re.findall(r" fakemx: conn \d+ (\S+) \S+ from ([0-9.]+):\d+$", fp.read(), re.M)


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
        redis_tests(mxscan, base, tmp)
        log = os.path.join(d, "fakemx.log")
        domains = "ok.test\ntwo-mx.test\nmulti-a.test\nmulti-b.test\ntls12.test\n"
        for what, extra, cmd in (
                ("scan", ["--source-address", "127.0.0.3"], "scan"),
                ("scan --threads 2", ["--source-address", "127.0.0.3,::1", "--threads", "2"], "scan"),
                ("probe", ["--source-address", "127.0.0.3"], "probe"),
                ("scan without it", [], "scan")):
            since = os.path.getsize(log)
            args = [mxscan, cmd] + base + ["--ehlo-name", "scanner.test"] + extra
            p = run(args + ["-q", "-"], domains) if cmd == "scan" else run(args + ["two-mx.test"])
            seen = peers(log, since)
            want = "127.0.0.3" if extra else None
            if p.returncode not in (0, 3) or not seen:
                fail("%s --source-address: exit %d, %d connection(s) logged: %s" % (what, p.returncode, len(seen),
                                                                                   p.stderr[-300:]))
            elif want and any(peer != want for _, peer in seen):
                fail("%s: connections not from %s: %s" % (what, want, sorted(set(seen))))
            elif not want and any(peer == "127.0.0.3" for _, peer in seen):
                fail("%s: connections from 127.0.0.3 without --source-address" % what)
            else:
                print("  ok   %s: %d connection(s), all from %s" % (what, len(seen), sorted({x for _, x in seen})),
                      flush=True)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), d])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mxscan-safety-") as tmp:
        ehlo_tests(a.mxscan, tmp)
        source_tests(a.mxscan)
        secrets_tests(a.mxscan)
        fleet_tests(a.mxscan, a.fakemx, tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
