#!/usr/bin/python3
"""test_maillog.py - `mxscan maillog` on logs a real Postfix and a real Exim
write here.

Runs a private sending-only Postfix (maillog_fixture.py) at several
smtp_tls_security_level settings, and a sending-only Exim (the binary
scripts/install-exim unpacks) with its defaults, hosts_require_tls and
tls_verify_hosts, against servers that fail STARTTLS in
different ways, and checks that `mxscan maillog` finds exactly the
recipient domains whose deliveries failed on TLS at that level (and none of
the others: no STARTTLS at `may`, a 421 banner, a self-signed certificate
below `verify`, a server that closes without close_notify); then the same
logs gzip-compressed, several files and standard input, damaged lines
(counted and skipped), a truncated and a corrupt gzip file, usage errors,
and that the output is a domain list `mxscan scan -` takes.

    test_maillog.py --mxscan PATH [--keep] [-v]

Needs root, the postfix package and the unpacked Exim (scripts/install-deps);
without root or Postfix it exits 77 (ctest: skipped), without Exim it fails.  Only loopback addresses.  Python stdlib.
"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import fleet  # noqa: E402
import maillog_fixture as mf  # noqa: E402

# run -> the domains whose mail failed on TLS in that run.  At `may` a failed
# handshake or TLS session is deferred once and then delivered in the clear;
# no STARTTLS and a 454 to STARTTLS go out in the clear without a word.
# With smtp_tls_loglevel 0 the session that died after its handshake
# (tlsdrop) reads like a plaintext one and is not reported.
MAY = {"tlsclose.test", "tlsgarbage.test", "tls13only.test", "tlsdrop.test"}
ENCRYPT = MAY | {"notls.test", "starttls454.test"}
WANT = {
    "may": MAY,
    "may-ll0": MAY - {"tlsdrop.test"},
    "encrypt": ENCRYPT,
    "encrypt-longid": ENCRYPT,
    "verify": ENCRYPT | {"selfsigned.test", "tls10only.test"},
    # Exim 4.96 (GnuTLS) as the client.  Its defaults deliver in the clear
    # at once when TLS fails, and say so; a 454 to STARTTLS goes out in the
    # clear without a word, as with Postfix at `may`.  Its GnuTLS takes TLS
    # 1.0, so tls10only.test is no failure even with tls_verify_hosts.
    "exim-try": MAY,
    "exim-require": ENCRYPT,
    "exim-verify": ENCRYPT | {"selfsigned.test"},
}
NEVER = {"good.test", "banner421.test", "noclosenotify.test"}


class Checker:
    def __init__(self, verbose):
        self.failures, self.verbose = [], verbose

    def true(self, what, cond, detail=""):
        if not cond:
            self.failures.append("%s %s" % (what, detail))
            print("  FAIL %s %s" % (what, detail))
        elif self.verbose:
            print("  ok   %s" % what)


def maillog(mxscan, *args, stdin=None):
    p = subprocess.run([mxscan, "maillog"] + list(args), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace")


COUNTS = re.compile(r"^mxscan maillog: (\d+) files?, (\d+) lines: (\d+) TLS failures \((\d+) deferred, (\d+) then "
                    r"delivered in the clear\) of (\d+) domains?, (\d+) other lines, (\d+) malformed lines skipped$",
                    re.M)


def check_run(ck, mxscan, name, path):
    rc, out, err = maillog(mxscan, path)
    got = out.splitlines()
    ck.true("%s: exit 0" % name, rc == 0, err)
    ck.true("%s: the domains that failed on TLS" % name, set(got) == WANT[name],
            "got %s, want %s" % (sorted(got), sorted(WANT[name])))
    ck.true("%s: once each, sorted" % name, got == sorted(set(got)), repr(got))
    ck.true("%s: never the good ones" % name, not NEVER & set(got), repr(got))
    m = COUNTS.search(err)
    lines = sum(1 for _ in open(path, "rb"))
    ck.true("%s: counts on stderr" % name, m and int(m.group(2)) == lines and int(m.group(6)) == len(WANT[name])
            and int(m.group(8)) == 0 and int(m.group(3)) == int(m.group(4)) + int(m.group(5)), err)
    if name.startswith("may") and m:  # the fallback: deferred first, then in the clear
        ck.true("%s: deferred and then delivered in the clear" % name, int(m.group(4)) > 0 and int(m.group(5)) > 0,
                err)
    if name == "exim-try" and m:  # Exim falls back within the delivery: no deferral at all
        ck.true("%s: each delivered in the clear, none deferred" % name,
                int(m.group(4)) == 0 and int(m.group(5)) == len(WANT[name]), err)
    if name in ("exim-require", "exim-verify") and m:  # nothing in the clear: one deferral each
        ck.true("%s: each deferred once, none in the clear" % name,
                int(m.group(4)) == len(WANT[name]) and int(m.group(5)) == 0, err)
    return m


def check_inputs(ck, mxscan, tmp, paths):
    union = set().union(*(WANT[n] for n in paths))
    allp = list(paths.values())
    # several files at once, some of them gzip'ed, and standard input
    gz = os.path.join(tmp, "all.log.gz")
    with gzip.open(gz, "wb") as fo:
        for p in allp:
            fo.write(open(p, "rb").read())
    rc, out, err = maillog(mxscan, gz)
    ck.true("gzip: the union of the runs", rc == 0 and set(out.split()) == union, "%s %s" % (out, err))
    plain_lines = sum(sum(1 for _ in open(p, "rb")) for p in allp)
    ck.true("gzip: every line read", re.search(r", %d lines: " % plain_lines, err), err)
    rc, out2, err = maillog(mxscan, allp[0], gz, allp[1])
    ck.true("plain and gzip files together", rc == 0 and out2 == out and "3 files" in err, err)
    with open(gz, "rb") as fi:
        rc, out3, err = maillog(mxscan, "-", stdin=fi)
    ck.true("gzip on standard input", rc == 0 and out3 == out, err)

    # damaged and foreign lines are counted and skipped, never fatal
    bad = os.path.join(tmp, "damaged.log")
    junk = [b"\x00\x01\x02 binary junk \xff\xfe", b"", b"not a log line at all",
            b"Dec  2 00:14:22 host postfix/smtp[1]: 7497AA758C7: to=<cut@x.test, relay=mx[192.0.2.1]:25, dsn=4.7.5, "
            b"status=deferred (Cannot start TLS: handshake failure)",
            b"2026-12-02 00:14:22 1xYXzK-0008Ef-0Z == \"open@y.test R=r T=t defer (-37): TLS session: x",
            b"Dec  2 00:14:22 " + b"x" * 200000]  # one line of 200 kB: skipped as it streams
    with open(bad, "wb") as fo:
        data = open(paths["encrypt"], "rb").read().split(b"\n")
        for i, line in enumerate(data[:-1]):
            fo.write(line + b"\n")
            if i % 7 == 3 and junk:
                fo.write(junk.pop() + b"\n")
        for line in junk:  # any left
            fo.write(line + b"\n")
        fo.write(b"Dec  2 00:14:22 host postfix/smtp[1]: 7497AA758C7: to=<last@no-newline.test>, "
                 b"relay=mx[192.0.2.1]:25, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)")
    rc, out, err = maillog(mxscan, bad)
    m = COUNTS.search(err)
    ck.true("damaged lines: the same domains, and the last line without its newline",
            rc == 0 and set(out.split()) == WANT["encrypt"] | {"no-newline.test"}, "%s %s" % (out, err))
    ck.true("damaged lines: 6 malformed lines counted", m and int(m.group(8)) == 6, err)

    # a gzip file cut short: a warning, and what was read counts
    data = open(gz, "rb").read()
    cut = os.path.join(tmp, "cut.log.gz")
    open(cut, "wb").write(data[:len(data) * 2 // 3])
    rc, out, err = maillog(mxscan, cut)
    ck.true("truncated gzip: exit 0 with a warning naming the file",
            rc == 0 and ("mxscan: %s: warning: the compressed data ends early" % cut) in err, err)
    ck.true("truncated gzip: the domains read before the cut", out and set(out.split()) <= union, out)
    # a corrupt one: an error naming the file, and nothing on stdout
    broken = bytearray(data)
    for i in range(len(broken) // 3, len(broken) // 3 + 64):
        broken[i] ^= 0x5A
    corrupt = os.path.join(tmp, "corrupt.log.gz")
    open(corrupt, "wb").write(bytes(broken))
    rc, out, err = maillog(mxscan, allp[0], corrupt)
    ck.true("corrupt gzip: exit 1, names the file, no partial list",
            rc == 1 and ("mxscan: %s: cannot read" % corrupt) in err and out == "", "%d %r %r" % (rc, out, err))
    rc, out, err = maillog(mxscan, os.path.join(tmp, "missing.log"))
    ck.true("missing file: exit 1, names it", rc == 1 and "missing.log: cannot open" in err and out == "", err)
    rc, out, err = maillog(mxscan)
    ck.true("no file: usage error", rc == 2 and "no log file given" in err, err)
    rc, out, err = maillog(mxscan, "--bogus", gz)
    ck.true("unknown option: usage error", rc == 2, err)
    rc, out, err = maillog(mxscan, "--help")
    ck.true("--help", rc == 0 and "usage: mxscan maillog" in out, out)
    rc, out, err = maillog(mxscan, "-q", gz)
    ck.true("-q: no counts", rc == 0 and err == "" and out, err)
    return out


def check_scan_takes_it(ck, mxscan, tmp, listing):
    """The list is scan input: every domain a record (here dns-servfail: the
    resolver asked refuses every question)."""
    dns = fleet.RefusingDns()
    out = os.path.join(tmp, "scan.jsonl")
    p = subprocess.run([mxscan, "scan", "--dns", dns.addr, "--dns-timeout", "0.2", "--dns-tries", "1",
                        "--ehlo-name", "scanner.test", "-q", "-o", out, "-"], input=listing.encode(), stderr=subprocess.PIPE, timeout=60)
    recs = [l for l in open(out)] if os.path.exists(out) else []
    ck.true("mxscan maillog | mxscan scan -: one record per domain",
            p.returncode == 0 and len(recs) == len(listing.split()) and not p.stderr, p.stderr.decode()[-300:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("test_maillog: skipped: needs root to run a private Postfix instance")
        return 77
    if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
        print("test_maillog: skipped: postfix is not installed (scripts/install-deps installs it)")
        return 77
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    ck = Checker(a.verbose)
    tmp = tempfile.mkdtemp(prefix="mxscan-maillog-")
    os.chmod(tmp, 0o755)  # Postfix's own user walks to its data directory
    try:
        why = mf.exim_available()
        ck.true("Exim is here (scripts/install-deps unpacks it)", why is None, why or "")
        runs = [n for n in WANT if why is None or n not in mf.EXIM_RUNS]
        logs = mf.run(os.path.join(tmp, "mta"), runs)
        paths = {}
        for name in runs:  # the Postfix runs first: check_inputs reads the first two
            text = logs.get(name, "")
            exim = name in mf.EXIM_RUNS
            paths[name] = os.path.join(tmp, "%s.log" % (name if exim else "postfix-" + name))
            open(paths[name], "w").write(text)
            if exim:  # the message and every recipient's outcome
                ck.true("%s: Exim wrote a log" % name, " <= " + mf.SENDER in text and
                        text.count("@good.test R=loopback_servers") == 1, text[-500:])
            else:
                ck.true("%s: Postfix wrote a log" % name, "status=" in text, text[-500:])
            check_run(ck, a.mxscan, name, paths[name])
        listing = check_inputs(ck, a.mxscan, tmp, paths)
        check_scan_takes_it(ck, a.mxscan, tmp, listing)
    finally:
        if ck.failures or a.keep:
            print("files kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(ck.failures))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
