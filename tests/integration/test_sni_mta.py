#!/usr/bin/env python3
"""test_sni_mta.py - shared hosting against real MTAs: one address, a
certificate per customer MX name, chosen by SNI.

Real Exim (tls_certificate expanded from ${tls_in_sni}) and real Postfix
(tls_server_sni_maps), each on one 127.0.77.x address with several
customer names (tests/fixtures/mta.py; Postfix from its package, Exim
unpacked by scripts/install-exim), a local unbound publishing the MX and
A records, and the real mxscan:

  exim, postfix   four customers with a certificate of their own: ok, each
                  fetched under its own name (sni == mx); a customer
                  without one gets the default certificate and
                  cert-hostname-mismatch; the server's own name is ok
  ignores-sni     a Postfix serving one certificate for every name: one
                  probe per mismatching name (its maillog counts them), each
                  record a mismatch
  late            an Exim whose first names have no certificate of their
                  own (the default is served) and whose later names do
  alert           a Postfix that answers an unknown SNI with a fatal alert:
                  that name gets the alert, the others their certificate

then --sni none (no SNI: the default certificate everywhere, one connection
per address) and --sni-probes-per-address 1 (names past the cap reuse the
last result, and their sni says so).

    test_sni_mta.py --mxscan build/mxscan [--keep]
Exit 0 when every check passed.  Needs root (Postfix's master insists).
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
sys.path.insert(0, os.path.join(ROOT, "tests", "scale"))
import harness  # noqa: E402  (unbound for a table of rows, the checker)
import mta  # noqa: E402

# name -> (address, MTA, options, the server's own name, {MX name: has a certificate of its own})
SERVERS = {
    "exim": ("127.0.77.1", "exim", {}, "mx.exim-host.test",
             {"mail.e1.test": 1, "mail.e2.test": 1, "mail.e3.test": 1, "mail.e4.test": 1, "mail.e5.test": 0}),
    "postfix": ("127.0.77.2", "postfix", {}, "mx.postfix-host.test",
                {"mail.p1.test": 1, "mail.p2.test": 1, "mail.p3.test": 1, "mail.p4.test": 1, "mail.p5.test": 0}),
    "ignores-sni": ("127.0.77.3", "postfix", {"ignore_sni": True}, "mx.plain-host.test",
                    {"mail.i1.test": 1, "mail.i2.test": 1, "mail.i3.test": 1}),
    "late": ("127.0.77.4", "exim", {}, "mx.late-host.test",
             {"mail.l1.test": 0, "mail.l2.test": 0, "mail.l3.test": 1, "mail.l4.test": 1}),
    "alert": ("127.0.77.5", "postfix", {"unknown_sni": "fail"}, "mx.alert-host.test",
              {"mail.f1.test": 1, "mail.f2.test": 0}),
}
# The server's own name is a customer too: its default certificate names it.
SELF_DOMAIN = {"exim": "eself.test", "postfix": "pself.test"}


def domain_of(mx):
    return mx.split(".", 1)[1]


def free_port(addrs):
    """A port free on every address (each server binds its own)."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for a in addrs:
            t = socket.socket()
            try:
                t.bind((a, port))
            except OSError:
                ok = False
            t.close()
        if ok:
            return port
    raise RuntimeError("no port free on %s" % addrs)


def postfix_connections(server):
    """smtpd's 'connect from' lines in its maillog (postlogd writes them a
    moment later; wait until the count settles)."""
    path = os.path.join(server.base, "log", "maillog")
    last, n = -1, 0
    for _ in range(30):
        try:
            n = len(re.findall(r"postfix/smtpd\[\d+\]: connect from ", open(path, errors="replace").read()))
        except OSError:
            n = 0
        if n == last:
            return n
        last = n
        time.sleep(0.2)
    return n


def scan(args, fl, port, ca, domains, extra, tmp, tag):
    inp = harness.write_domains(os.path.join(tmp, tag + ".txt"), domains)
    summary = os.path.join(tmp, tag + ".summary.json")
    cmd = [args.mxscan, "scan", "--dns", fl.dns, "--port", str(port), "--ca-file", ca, "--ehlo-name", "scanner.test",
           "--dns-timeout", "1", "--connect-timeout", "3", "--banner-timeout", "5", "--command-timeout", "5",
           "--handshake-timeout", "5", "--retries", "0", "-q", "--summary", summary] + extra + [inp]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    recs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    try:
        summ = json.load(open(summary))
    except (OSError, ValueError):
        summ = {}
    return p, {r["domain"]: r for r in recs}, summ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx")  # the fleet tests' common arguments; unused here
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: Postfix's master runs only as root")
        return 77
    ck = harness.Checker("sni_mta")
    tmp = tempfile.mkdtemp(prefix="mxscan-sni-mta-")
    os.chmod(tmp, 0o755)  # the MTAs' unprivileged daemons read their keys below it
    names = [n for s in SERVERS.values() for n, own in s[4].items() if own] + [s[3] for s in SERVERS.values()]
    certs = mta.make_certs(tmp, names=names, default_name=None)  # one CA, a leaf per name
    ca = certs["ca"]

    rows = []
    for key, (addr, kind, opts, host, mxs) in SERVERS.items():
        for mx in mxs:
            rows.append(harness.row(domain_of(mx), mx=mx, ip=addr))
        if key in SELF_DOMAIN:
            rows.append(harness.row(SELF_DOMAIN[key], mx=host, ip=addr))
    fl = harness.Fleet(None, os.path.join(tmp, "dns"), zone_rows=rows)
    servers = {}
    try:
        os.makedirs(fl.dir)
        fl._start_unbound()
        port = free_port([s[0] for s in SERVERS.values()])
        for key, (addr, kind, opts, host, mxs) in SERVERS.items():
            sni = {mx: certs[mx] for mx, own in mxs.items() if own}
            cls = mta.Exim if kind == "exim" else mta.Postfix
            srv = cls(tmp, addr, port, sni_certs=sni, default_cert=certs[host], hostname=host, name=key, **opts)
            srv.start()
            servers[key] = srv
        run_checks(ck, args, fl, port, ca, servers, tmp)
    finally:
        for srv in servers.values():
            try:
                srv.stop()
            except mta.MTAError as e:
                ck.fail("stop", str(e))
        fl.stop()
    harness.check_sanitizers(ck)
    if ck.failures and args.keep:
        print("work directory kept: %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(ck.failures))
    return 1 if ck.failures else 0


def expect(ck, tag, recs, domain, cls, sni=None, cert_name=None):
    r = recs.get(domain)
    if r is None:
        ck.fail(tag, "no record for %s" % domain)
        return
    ck.eq("%s %s" % (tag, domain), "class", r["class"], cls)
    if sni is not None:
        ck.eq("%s %s" % (tag, domain), "sni", r.get("sni"), sni)
    if cert_name is not None:
        ck.check(cert_name in (r.get("cert") or {}).get("san", []), "%s %s" % (tag, domain),
                 "certificate SAN %s, want %s" % ((r.get("cert") or {}).get("san"), cert_name))


def run_checks(ck, args, fl, port, ca, servers, tmp):
    # 1. the default: a probe per address, and one per name it does not cover
    domains = [domain_of(mx) for s in SERVERS.values() for mx in s[4]] + list(SELF_DOMAIN.values())
    before = {k: postfix_connections(s) for k, s in servers.items() if isinstance(s, mta.Postfix)}
    p, recs, summ = scan(args, fl, port, ca, domains, [], tmp, "default")
    ck.eq("scan", "exit status", p.returncode, 0)
    for key, (addr, kind, opts, host, mxs) in SERVERS.items():
        for mx, own in mxs.items():
            d = domain_of(mx)
            if key == "alert" and not own:
                expect(ck, key, recs, d, "tls-alert")
            elif own and key != "ignores-sni":
                expect(ck, key, recs, d, "ok", sni=mx, cert_name=mx)  # fetched under its own name
            else:
                # the default certificate, fetched under this name: a mismatch
                # that a sender presenting this name would see too
                expect(ck, key, recs, d, "cert-hostname-mismatch", sni=mx, cert_name=host)
        if key in SELF_DOMAIN:
            expect(ck, key, recs, SELF_DOMAIN[key], "ok", cert_name=host)
    # A record whose sni is not its MX reuses a probe made under another
    # name, whose certificate covers it (the server's own name behind a
    # customer that got the default certificate); each distinct sni of an
    # address is one connection, and that is what the MTAs saw.
    probes = {}
    for r in recs.values():
        probes.setdefault(r.get("ip"), set()).add(r.get("sni"))
        if r.get("cert") and r.get("sni") != r.get("mx"):
            ck.check(r["mx"] in r["cert"]["san"], "reuse %s" % r["domain"],
                     "reported a certificate fetched under %s that does not cover %s" % (r.get("sni"), r["mx"]))
    for key in ("ignores-sni", "postfix"):
        n = postfix_connections(servers[key]) - before[key]
        ck.eq(key, "connections (one per name no certificate covered)", n, len(probes[SERVERS[key][0]]))
    ck.eq("ignores-sni", "probes (one per mismatching name)", len(probes[SERVERS["ignores-sni"][0]]), 3)
    ck.check(len(probes[SERVERS["postfix"][0]]) >= 5, "postfix", "%d probes: every customer needs its own" %
             len(probes[SERVERS["postfix"][0]]))
    sni = summ.get("sni", {})
    ck.eq("summary", "sni.name_probes", sni.get("name_probes"), sum(len(v) - 1 for v in probes.values()))
    # exim, postfix and late served another certificate for another name;
    # alert does when the unknown name came first (its probe got no certificate)
    ck.check(sni.get("addresses_by_name") in (3, 4), "summary", "sni.addresses_by_name %s, want 3 or 4" % sni)

    # 2. --sni none: what a stock Postfix or Exim client sees: the default
    # certificate for every name, one connection per address
    before = postfix_connections(servers["postfix"])
    p, recs, summ = scan(args, fl, port, ca, domains, ["--sni", "none"], tmp, "none")
    ck.eq("--sni none", "exit status", p.returncode, 0)
    for mx in SERVERS["postfix"][4]:
        expect(ck, "--sni none", recs, domain_of(mx), "cert-hostname-mismatch", cert_name="mx.postfix-host.test")
        r = recs.get(domain_of(mx), {})
        ck.check("sni" in r and r["sni"] is None, "--sni none", "sni %r, want null" % r.get("sni", "(absent)"))
    expect(ck, "--sni none", recs, "pself.test", "ok")
    ck.eq("--sni none", "postfix connections", postfix_connections(servers["postfix"]) - before, 1)
    ck.eq("--sni none", "summary sni.name_probes", summ.get("sni", {}).get("name_probes"), 0)

    # mxscan probe shows the same: each name sent as SNI, or none
    for extra, cls, sni in (([], "ok", "mail.p1.test"), (["--sni", "none"], "cert-hostname-mismatch", None)):
        p = subprocess.run([args.mxscan, "probe", "--json", "--dns", fl.dns, "--port", str(port), "--ca-file", ca,
                            "--ehlo-name", "scanner.test"] + extra + ["p1.test"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        w = "probe %s p1.test" % " ".join(extra)
        try:
            rec = json.loads(p.stdout)["results"][0]["record"]
        except (ValueError, KeyError, IndexError):
            ck.fail(w, "no record in %r" % p.stdout[:300])
            continue
        ck.eq(w, "class", rec.get("class"), cls)
        ck.eq(w, "sni", rec.get("sni", "(absent)"), sni)

    # 3. --sni-probes-per-address 1: one extra probe per address, later names
    # reuse the last result and their sni shows it
    pdomains = [domain_of(mx) for mx in SERVERS["postfix"][4]]
    before = postfix_connections(servers["postfix"])
    p, recs, summ = scan(args, fl, port, ca, pdomains, ["--sni-probes-per-address", "1"], tmp, "cap")
    ck.eq("cap", "exit status", p.returncode, 0)
    ck.eq("cap", "postfix connections", postfix_connections(servers["postfix"]) - before, 2)
    own = [d for d in pdomains if recs.get(d, {}).get("sni") == "mail.%s" % d]
    ck.eq("cap", "records fetched under their own name", len(own), 2)
    for d in pdomains:
        r = recs.get(d, {})
        if r.get("sni") != "mail.%s" % d:  # past the cap: another name's result, and it says so
            ck.check(r.get("class") == "cert-hostname-mismatch", "cap %s" % d,
                     "class %s (sni %s): a reused certificate of another name" % (r.get("class"), r.get("sni")))


if __name__ == "__main__":
    sys.exit(main())
