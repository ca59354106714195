#!/usr/bin/python3
"""test_exclude.py - --exclude FILE against a private fleet (fakemx + unbound
that logs every query it gets).

The exclude file names a domain, a suffix and an MX address network.  The
scan must write exactly one record per excluded domain (class `excluded`,
no MX, no address), one per excluded (domain, MX host) with no address
when the MX host's name is excluded, one per excluded (domain, MX,
address), and the usual records for the rest; unbound must never be
asked about an excluded domain nor an MX host under an excluded name; fakemx must never see a connection to an excluded address (nor to
the MX hosts of excluded domains), nor to a domain's MTA-STS policy host
in an excluded network (its fetch error says so).  Then: the same from the config file
([scan] exclude = FILE), a bad line stops the run with exit 2, naming
the file and the line, before any record is written, and `mxscan probe
--exclude FILE` keeps to the list the same way.

    test_exclude.py --mxscan PATH --fakemx PATH [--keep]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scale"))
import harness  # noqa: E402
from harness import row  # noqa: E402

# Every site really serves STARTTLS: a connection that should not happen
# would succeed and show in fakemx's log.
SITES = [
    row("keep.test", "mx.keep.test", "127.0.3.1", "ok", "chain"),
    row("gone.test", "mx.gone.test", "127.0.3.2", "ok", "chain"),  # the domain is excluded
    row("a.sub.test", "mx.asub.test", "127.0.3.3", "ok", "chain"),  # under the suffix
    row("sub.test", "mx.subhost.test", "127.0.3.4", "ok", "chain"),  # the suffix's parent: scanned
    row("mixed.test", "mx1.mixed.test", "127.0.3.5", "ok", "chain"),
    row("mixed.test", "mx2.mixed.test", "127.0.3.9", "ok", "chain", pref=20),  # in 127.0.3.8/29
    row("hosted.test", "mx.in.sub.test", "127.0.3.6", "ok", "chain"),  # MX host under the suffix
    row("sts.test", "mx.sts.test", "127.0.3.7", "ok", "chain"),  # its MTA-STS policy host is excluded
]
# sts.test publishes MTA-STS; its policy host mta-sts.sts.test is at
# 127.0.3.20, in an excluded network: the policy is never fetched from it
# (a listener there must see no connection).
ZONE = ['local-data: \'_mta-sts.sts.test. 300 IN TXT "v=STSv1; id=20260101"\'',
        'local-data: "mta-sts.sts.test. 300 IN A 127.0.3.20"']
STS_HOST = "127.0.3.20"
EXCLUDE = """# what test_exclude.py must never touch
gone.test
*.sub.test                   # every name under sub.test
127.0.3.8/29                 # mx2.mixed.test's network
2001:db8::/32
127.0.3.16/28                # sts.test's policy host
"""
WANT = {
    ("keep.test", "mx.keep.test", "127.0.3.1"): "ok",
    ("gone.test", None, None): "excluded",
    ("a.sub.test", None, None): "excluded",
    ("sub.test", "mx.subhost.test", "127.0.3.4"): "ok",
    ("mixed.test", "mx1.mixed.test", "127.0.3.5"): "ok",
    ("mixed.test", "mx2.mixed.test", "127.0.3.9"): "excluded",
    ("hosted.test", "mx.in.sub.test", None): "excluded",  # not even looked up: no address
    ("sts.test", "mx.sts.test", "127.0.3.7"): "sts-policy-fetch-error",
}
DETAIL = {
    "gone.test": "on the exclude list (%s:2: gone.test)",
    "a.sub.test": "on the exclude list (%s:3: .sub.test)",
    "mixed.test": "127.0.3.9 is on the exclude list (%s:4: 127.0.3.8/29)",
    "hosted.test": "not resolved: mx.in.sub.test is on the exclude list (%s:3: .sub.test)",
    "sts.test": "policy host mta-sts.sts.test not fetched from: 127.0.3.20 is on the exclude list (%s:6: "
                "127.0.3.16/28)",
}
NEVER_CONNECTED = ["127.0.3.2", "127.0.3.3", "127.0.3.9", "127.0.3.6"]
NEVER_ASKED = ["gone.test", "a.sub.test", "mx.gone.test", "mx.asub.test", "mx.in.sub.test"]


def check_records(ck, where, res, path):
    got = harness.by_key(res.records)
    for b in res.bad_lines:
        ck.fail(where, b)
    for key, cls in WANT.items():
        recs = got.get(key, [])
        if not ck.check(len(recs) == 1, where, "%d record(s) for %s, want 1" % (len(recs), key)):
            continue
        r = recs[0]
        ck.eq("%s %s" % (where, key), "class", r.get("class"), cls)
        if key[0] == "sts.test":  # not excluded itself: its policy host is
            want = DETAIL[key[0]] % path
            ck.check(want in r.get("detail", ""), where, "%s: detail %r lacks %r" % (key, r.get("detail"), want))
        if cls != "excluded":
            continue
        ck.eq("%s %s" % (where, key), "stage", r.get("stage"), "dns")
        ck.eq("%s %s" % (where, key), "tlsrpt", r.get("tlsrpt"), "none")
        want = DETAIL[key[0]] % path
        ck.check(want in r.get("detail", ""), where, "%s: detail %r lacks %r" % (key, r.get("detail"), want))
        for k in ("timings_ms", "attempts", "smtp_code", "banner", "tls_version", "cert"):
            ck.check(k not in r, where, "%s: excluded record has %s" % (key, k))
        if key[2]:
            ck.check(isinstance(r.get("port"), int), where, "%s: no port" % (key,))
        else:
            ck.check("ip" not in r and "port" not in r, where, "%s: an address in %s" % (key, r))
    for key in got:
        ck.check(key in WANT, where, "unexpected record(s) for %s" % (key,))


def check_untouched(ck, where, fl, since, sts_listener):
    sts_listener.settimeout(0)
    try:
        c, peer = sts_listener.accept()
        c.close()
        ck.fail(where, "a connection to the excluded policy host %s from %s" % (STS_HOST, peer))
    except (BlockingIOError, socket.timeout):
        pass
    conns = fl.connections(since)
    ck.check(conns.get("127.0.3.1"), where, "no connection to keep.test's MX: the log shows nothing")
    for ip in NEVER_CONNECTED:
        ck.check(ip not in conns, where, "%d connection(s) to excluded %s" % (len(conns.get(ip, [])), ip))
    asked = {name for name, _ in fl.dns_queries()}
    ck.check("keep.test" in asked, where, "unbound logged no query for keep.test: log-queries off?")
    for name in NEVER_ASKED:
        ck.check(name not in asked, where, "unbound was asked about %s" % name)


def probe(mxscan, fl, domain, extra):
    cmd = [mxscan, "probe", "--json", "--dns", fl.dns, "--port", str(fl.port), "--ca-file", fl.ca,
           "--ehlo-name", "scanner.test", "--no-diag"] + extra + [domain]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc, p.stderr


def check_probe(ck, mxscan, fl, path, sts):
    """`mxscan probe --exclude` keeps to the list like a scan: the excluded
    domain, MX host and address get their records, unasked and unconnected."""
    since = fl.last_conn_id()
    asked_before = len(fl.dns_queries())
    for domain in ("gone.test", "hosted.test", "mixed.test", "keep.test"):
        where = "probe --exclude %s" % domain
        rc, doc, err = probe(mxscan, fl, domain, ["--exclude", path])
        if not ck.check(doc is not None, where, "no JSON document: exit %d, %r" % (rc, err[-300:])):
            continue
        recs = {(r["record"].get("mx"), r["record"].get("ip")): r["record"] for r in doc.get("results", [])}
        want = {k[1:]: c for k, c in WANT.items() if k[0] == domain}
        ck.eq(where, "records", sorted(recs, key=str), sorted(want, key=str))
        for k, cls in want.items():
            r = recs.get(k, {})
            ck.eq("%s %s" % (where, k), "class", r.get("class"), cls)
            if cls == "excluded":
                ck.check(DETAIL[domain] % path in r.get("detail", ""), where,
                         "detail %r lacks %r" % (r.get("detail"), DETAIL[domain] % path))
                ck.check("timings_ms" not in r and "tls_version" not in r, where, "an excluded record was probed: %r" % r)
        ck.eq(where, "exit status", rc, 0 if set(want.values()) == {"ok"} else 3)
    check_untouched(ck, "probe --exclude", fl, since, sts)
    asked = {name for name, _ in fl.dns_queries()[asked_before:]}
    ck.check("keep.test" in asked and "mx.mixed.test" not in asked, "probe --exclude",
             "unbound's log since the probes: %s" % sorted(asked))
    # without the list the same probe reaches the excluded address (the check above can fail)
    since = fl.last_conn_id()
    rc, doc, err = probe(mxscan, fl, "mixed.test", [])
    ck.check("127.0.3.9" in fl.connections(since), "probe without --exclude", "no connection to 127.0.3.9: %r" % err)
    rc, doc, err = probe(mxscan, fl, "keep.test", ["--exclude", os.path.join(os.path.dirname(path), "missing.conf")])
    ck.check(rc == 2 and "cannot read exclude file" in err, "probe --exclude missing.conf", "exit %d %r" % (rc, err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mxscan-exclude-")
    ck = harness.Checker("exclude")
    try:
        path = os.path.join(tmp, "exclude.conf")
        with open(path, "w") as fp:
            fp.write(EXCLUDE)
        inp = harness.write_domains(os.path.join(tmp, "domains.txt"), sorted({k[0] for k in WANT}))
        sts = socket.socket()
        sts.bind((STS_HOST, 0))
        sts.listen(16)
        sts_port = str(sts.getsockname()[1])
        with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), rows=SITES, log_queries=True, zone_lines=ZONE) as fl:
            res = harness.run(a.mxscan, fl, inp, ["--exclude", path, "--retries", "0", "--threads", "1", "--sts-port",
                                                  sts_port, "--sts-timeout", "2"])
            ck.eq("--exclude", "exit status", res.rc, 0)
            check_records(ck, "--exclude", res, path)
            ck.check("excluding 1 domain(s), 1 suffix(es) and 3 network(s)" in res.err, "--exclude",
                     "no start message: %r" % res.err[-300:])
            check_untouched(ck, "--exclude", fl, 0, sts)
            print("  ran --exclude: %d records" % len(res.records), flush=True)

            # the same list from the config file
            conf = os.path.join(tmp, "mxscan.conf")
            with open(conf, "w") as fp:
                fp.write("[scan]\nexclude = %s\n" % path)
            since = fl.last_conn_id()
            res = harness.run(a.mxscan, fl, inp, ["--config", conf, "--retries", "0", "--sts-port", sts_port,
                                                  "--sts-timeout", "2"])
            ck.eq("[scan] exclude", "exit status", res.rc, 0)
            check_records(ck, "[scan] exclude", res, path)
            check_untouched(ck, "[scan] exclude", fl, since, sts)
            print("  ran [scan] exclude", flush=True)

            # a bad line: exit 2, file and line named, nothing written
            bad = os.path.join(tmp, "bad.conf")
            with open(bad, "w") as fp:
                fp.write("gone.test\n\n127.0.3.9/24\nexa mple.test\n")
            res = harness.run(a.mxscan, fl, inp, ["--exclude", bad])
            ck.eq("bad exclude file", "exit status", res.rc, 2)
            for want in ("%s:3: bad exclude entry '127.0.3.9/24': host bits set" % bad,
                         "%s:4: bad exclude entry 'exa mple.test': unexpected text" % bad):
                ck.check(want in res.err, "bad exclude file", "stderr lacks %r: %r" % (want, res.err[-500:]))
            ck.eq("bad exclude file", "records", len(res.records), 0)
            res = harness.run(a.mxscan, fl, inp, ["--exclude", os.path.join(tmp, "missing.conf")])
            ck.eq("missing exclude file", "exit status", res.rc, 2)
            ck.check("cannot read exclude file" in res.err, "missing exclude file", res.err[-300:])
            print("  ran the bad files", flush=True)

            check_probe(ck, a.mxscan, fl, path, sts)
            print("  ran mxscan probe --exclude", flush=True)

        # configs/exclude.conf is valid as shipped, and with its examples on
        shipped = os.path.join(HERE, "..", "..", "configs", "exclude.conf")
        on = os.path.join(tmp, "exclude-on.conf")
        with open(shipped) as src, open(on, "w") as dst:
            for line in src:
                m = re.match(r"^# (\S*[./:]\S*)(\s+#.*)?$", line)
                dst.write(line[2:] if m else line)
        for f, what in ((shipped, r"excluding 0 domain\(s\), 0 suffix\(es\) and 0 network\(s\)"),
                        (on, r"excluding 0 domain\(s\), 5 suffix\(es\) and 2\d network\(s\)")):
            p = subprocess.run([a.mxscan, "scan", "--exclude", f, "/dev/null"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
            ck.check(p.returncode == 0 and re.search(what, p.stderr), os.path.basename(f),
                     "exit %d, stderr %r" % (p.returncode, p.stderr[-300:]))
        print("  checked configs/exclude.conf", flush=True)
        fl.check_stopped(ck)
        harness.check_sanitizers(ck)
    finally:
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(ck.failures))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
