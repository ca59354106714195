#!/usr/bin/python3
"""test_dane.py - DANE (RFC 7672) end to end: mxscan --dnssec against real
servers.

fakemx serves STARTTLS on 127.0.3.x with certificates made for this run
(`fakemx gencerts`); a validating unbound (tests/fixtures/policyfix.py)
serves zones signed at start time (ldns-signzone) whose TLSA records are
computed from those very certificates, so the zone is made after them.

Cases, one domain each (zone dane.test., signed, unless said):
  ee        DANE-EE 3 1 1 of a self-signed leaf: match (WebPKI: cert-self-signed,
            which stays the class; the dane sender delivers)
  ta        DANE-TA 2 1 1 of the intermediate the server sends: match, ok
  tafull    DANE-TA 2 0 1 (whole certificate) of it, on a leaf that does not
            name the MX host: DANE-TA checks names, so no match (tlsa-invalid)
  wrong     3 1 1 of another key: tlsa-invalid
  unusable  usages 0 and 1 only (PKIX-TA, PKIX-EE): tlsa-invalid, usable false
  none      no TLSA records (an authenticated denial): no DANE, ok
  bogus     a TLSA RRset with a corrupted signature: dnssec-invalid
  insecure  zone plain.test. (unsigned) with a matching 3 1 1: ignored
            (secure false), cert-self-signed
  shared    plain.test's shared.plain.test uses the `ee` address under
            another (insecure) name: its own probe, no DANE; the address
            gets two connections (the DANE probe has its own SNI)
  broken    zone broken.test. signed but bogus throughout: the MX lookup
            fails (dns-servfail)
Each record's delivery.dane is what a sender at Postfix's `dane` level does
(README "The policy levels"), and `mxscan report --tlsrpt` groups the
domains whose MX host DANE applies to under policy-type tlsa.
Then the same scan without --dnssec: no record has a `policy` map, nor a
delivery.dane.

    test_dane.py --mxscan PATH --fakemx PATH [--keep]

Python stdlib only.  Exit status 0 when all passed; 77 (skipped) without
unbound or ldns-signzone.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
sys.path.insert(0, FIXTURES)
import policyfix as pf  # noqa: E402

# address, fakemx certificate profile, the names in its leaf
SITES = {
    "ee": ("127.0.3.1", "self", "mx.ee.dane.test"),
    "ta": ("127.0.3.2", "chain", "mx.ta.dane.test"),
    "tafull": ("127.0.3.3", "chain", "other.dane.test"),
    "wrong": ("127.0.3.4", "chain", "mx.wrong.dane.test"),
    "unusable": ("127.0.3.5", "chain", "mx.unusable.dane.test"),
    "none": ("127.0.3.6", "chain", "mx.none.dane.test"),
    "bogus": ("127.0.3.7", "chain", "mx.bogus.dane.test"),
    "insecure": ("127.0.3.8", "self", "mx.plain.test"),
    "broken": ("127.0.3.9", "chain", "mx.broken.test"),
}
ARGS = ["--connect-timeout", "2", "--banner-timeout", "3", "--command-timeout", "2", "--handshake-timeout", "3",
        "--dns-timeout", "1", "--dns-tries", "2", "--retries", "0", "--ehlo-name", "scanner.test", "-q"]


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def eq(self, what, got, want):
        if got == want:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s: got %r, want %r" % (what, got, want))

    def true(self, what, cond):
        self.eq(what, bool(cond), True)


def start_fakemx(fakemx, d):
    sel = []
    for ip, cert, names in SITES.values():
        sel += ["--site", "%s:ok:%s:%s" % (ip, cert, names)]
    subprocess.run([fakemx, "gencerts"] + sel + [d], check=True, stdout=subprocess.DEVNULL)
    for _ in range(5):
        port = pf.free_port("127.0.3.1", udp_too=False)
        ready = os.path.join(d, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(os.path.join(d, "fakemx.log"), "ab")
        p = subprocess.Popen([fakemx, "serve", "--certs", d, "--port", str(port), "--stats",
                              os.path.join(d, "stats"), "--ready-file", ready] + sel,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(200):
            if (os.path.exists(ready) and os.path.getsize(ready) > 0) or p.poll() is not None:
                break
            time.sleep(0.05)
        if p.poll() is None:
            return p, port
        p.wait()
    raise RuntimeError("fakemx did not start")


def zones(d, port):
    site = lambda k: os.path.join(d, "site-%s.pem" % SITES[k][0])  # noqa: E731
    inter = os.path.join(d, "inter.pem")
    t = "_%d._tcp." % port
    dane = []
    rd = {
        "ee": [pf.tlsa_rdata(site("ee"))],
        "ta": [pf.tlsa_rdata(inter, 2, 1, 1)],
        "tafull": [pf.tlsa_rdata(inter, 2, 0, 1)],
        # fakemx's leaves share one RSA key: the intermediate's EC key is another
        "wrong": [pf.tlsa_rdata(inter, 3, 1, 1)],
        "unusable": [pf.tlsa_rdata(site("unusable"), 1, 1, 1), pf.tlsa_rdata(inter, 0, 0, 1)],
        "bogus": [pf.tlsa_rdata(site("bogus"))],
    }
    for k in ("ee", "ta", "tafull", "wrong", "unusable", "none", "bogus"):
        dane += ["%s MX 10 mx.%s" % (k, k), "mx.%s A %s" % (k, SITES[k][0])]
    for k, recs in rd.items():
        dane += [t + "mx.%s TLSA %s" % (k, r) for r in recs]
    plain = ["@ MX 10 mx", "mx A " + SITES["insecure"][0], t + "mx TLSA " + pf.tlsa_rdata(site("insecure")),
             "shared MX 10 alias", "alias A " + SITES["ee"][0]]
    broken = ["@ MX 10 mx", "mx A " + SITES["broken"][0]]
    return dane, plain, broken, rd


def scan(mxscan, dns, port, ca, tmp, name, extra):
    domains = os.path.join(tmp, "domains.txt")
    with open(domains, "w") as f:
        for k in ("ee", "ta", "tafull", "wrong", "unusable", "none", "bogus"):
            f.write(k + ".dane.test\n")
        f.write("plain.test\nshared.plain.test\nbroken.test\n")
    out = os.path.join(tmp, name + ".jsonl")
    cmd = [mxscan, "scan", "--dns", dns, "--port", str(port), "--ca-file", ca, "-o", out] + ARGS + extra + [domains]
    p = subprocess.run(cmd, stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        print("%s: exit %d: %s" % (name, p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    recs = {}
    for line in open(out):
        r = json.loads(line)
        recs[r["domain"]] = r
    return p.returncode, recs


def site_connections(d, fakemx_proc):
    fakemx_proc.send_signal(10)  # SIGUSR1: write the stats
    time.sleep(0.3)
    conns = {}
    for line in open(os.path.join(d, "stats")):
        f = line.split()
        if f and f[0] == "site":
            conns[f[1]] = int(f[f.index("connections") + 1])
    return conns


# delivery.dane per domain: DANE's verdict where the host has secure TLSA
# records (ee: a match under a self-signed leaf; unusable: TLS mandatory,
# unauthenticated), deferred for no match or a bogus lookup, else `may`
DANE_LEVEL = {"ee.dane.test": "tls", "ta.dane.test": "tls", "tafull.dane.test": "deferred",
              "wrong.dane.test": "deferred", "unusable.dane.test": "tls", "none.dane.test": "tls",
              "bogus.dane.test": "deferred", "plain.test": "tls", "shared.plain.test": "tls",
              "broken.test": "deferred"}
# ... and at verify (WebPKI), for contrast: ee's self-signed leaf defers
VERIFY_LEVEL = dict(DANE_LEVEL, **{"ee.dane.test": "deferred", "tafull.dane.test": "deferred",
                                   "wrong.dane.test": "tls", "unusable.dane.test": "tls",
                                   "bogus.dane.test": "tls", "plain.test": "deferred",
                                   "shared.plain.test": "deferred"})


def check_levels(ck, recs):
    for d, want in DANE_LEVEL.items():
        dlv = recs.get(d, {}).get("delivery", {})
        ck.eq(d + " delivery.dane", dlv.get("dane"), want)
        ck.eq(d + " delivery.verify", dlv.get("verify"), VERIFY_LEVEL[d])
        # no domain publishes MTA-STS: the mta-sts sender is at may
        ck.eq(d + " delivery.mta-sts", dlv.get("mta-sts"), dlv.get("may"))


def check_tlsrpt(ck, mxscan, path, tlsa):
    """report --tlsrpt: RFC 8460 4.4's policy-type tlsa, the TLSA records as
    the policy strings, for the domains DANE applies to."""
    p = subprocess.run([mxscan, "report", "--tlsrpt", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ck.eq("report --tlsrpt: exit", p.returncode, 0)
    try:
        pols = {x["policy"]["policy-domain"]: x for x in json.loads(p.stdout)["policies"]}
    except (ValueError, KeyError):
        pols = {}
    for k in ("ee", "ta", "tafull", "wrong", "unusable"):
        d = k + ".dane.test"
        pol = pols.get(d, {}).get("policy", {})
        ck.eq("tlsrpt %s policy-type" % d, pol.get("policy-type"), "tlsa")
        ck.eq("tlsrpt %s policy-string" % d, sorted(pol.get("policy-string", [])), sorted(tlsa[k]))
        ck.eq("tlsrpt %s mx-host" % d, pol.get("mx-host"), ["mx.%s.dane.test" % k])
    # no TLSA records, insecure, or a failed lookup: no DANE policy was applied
    for d in ("none.dane.test", "plain.test", "shared.plain.test", "bogus.dane.test"):
        ck.eq("tlsrpt %s policy-type" % d, pols.get(d, {}).get("policy", {}).get("policy-type"), "no-policy-found")
    # a DANE sender's verdict: ee's self-signed leaf matched its DANE-EE record
    ck.eq("tlsrpt ee: a success (DANE matched, WebPKI did not)", pols.get("ee.dane.test", {}).get("summary"),
          {"total-successful-session-count": 1, "total-failure-session-count": 0})
    ck.eq("tlsrpt plain: a failure (no DANE: WebPKI's verdict)", pols.get("plain.test", {}).get("summary"),
          {"total-successful-session-count": 0, "total-failure-session-count": 1})
    details = [f["result-type"] for f in pols.get("wrong.dane.test", {}).get("failure-details", [])]
    ck.eq("tlsrpt wrong: failure", details, ["tlsa-invalid"])
    # a domain with both: one policy per entry (RFC 8460), the one a sender that
    # does both applies, DANE (RFC 8461 2).  ee's record, as if ee.dane.test
    # also published an MTA-STS policy listing its MX
    both = os.path.join(os.path.dirname(path), "both.jsonl")
    with open(both, "w") as f:
        for line in open(path):
            r = json.loads(line)
            if r["domain"] == "ee.dane.test":
                r["policy"]["sts"] = {"txt_id": "b1", "mode": "enforce", "max_age": 86400,
                                      "mx": ["mx.ee.dane.test"], "mx_match": True}
                f.write(json.dumps(r) + "\n")
    p = subprocess.run([mxscan, "report", "--tlsrpt", both], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pol = json.loads(p.stdout)["policies"][0]["policy"]
    except (ValueError, KeyError, IndexError):
        pol = {}
    ck.eq("tlsrpt DANE and MTA-STS: DANE's policy", (pol.get("policy-type"), pol.get("policy-string")),
          ("tlsa", tlsa["ee"]))


def check(ck, recs, tlsa):
    def rec(domain):
        r = recs.get(domain)
        if r is None:
            ck.eq(domain + " record", None, "present")
            return {}
        return r

    def dane(domain):
        return (rec(domain).get("policy") or {}).get("dane")

    r = rec("ee.dane.test")
    ck.eq("ee class (WebPKI's, the first failing check)", r.get("class"), "cert-self-signed")
    ck.eq("ee dane", dane("ee.dane.test"),
          {"secure": True, "tlsa_count": 1, "tlsa": tlsa["ee"], "usable": True, "match": True, "matched": "3 1 1"})
    r = rec("ta.dane.test")
    ck.eq("ta class", r.get("class"), "ok")
    ck.eq("ta dane", dane("ta.dane.test"),
          {"secure": True, "tlsa_count": 1, "tlsa": tlsa["ta"], "usable": True, "match": True, "matched": "2 1 1"})
    r = rec("tafull.dane.test")
    ck.eq("tafull class", r.get("class"), "tlsa-invalid")
    ck.eq("tafull tlsrpt", r.get("tlsrpt"), "tlsa-invalid")
    ck.eq("tafull dane match", (dane("tafull.dane.test") or {}).get("match"), False)
    ck.true("tafull detail names the host check", "hostname mismatch" in r.get("detail", ""))
    ck.true("tafull cert_errors keep WebPKI's view", "cert-hostname-mismatch" in r.get("cert_errors", []))
    r = rec("wrong.dane.test")
    ck.eq("wrong class", r.get("class"), "tlsa-invalid")
    ck.eq("wrong dane", dane("wrong.dane.test"),
          {"secure": True, "tlsa_count": 1, "tlsa": tlsa["wrong"], "usable": True, "match": False})
    ck.true("wrong detail", r.get("detail", "").startswith("DANE: the certificate matches none of the usable TLSA"))
    ck.eq("wrong cert_errors (WebPKI ok)", r.get("cert_errors"), [])
    r = rec("unusable.dane.test")
    ck.eq("unusable class", r.get("class"), "tlsa-invalid")
    ck.eq("unusable dane", dict(dane("unusable.dane.test") or {}, tlsa=sorted((dane("unusable.dane.test") or {})
                                                                                .get("tlsa", []))),
          {"secure": True, "tlsa_count": 2, "tlsa": sorted(tlsa["unusable"]), "usable": False})
    ck.true("unusable detail", "none of the 2 TLSA records is usable" in r.get("detail", ""))
    r = rec("none.dane.test")
    ck.eq("none class", r.get("class"), "ok")
    ck.eq("none dane", dane("none.dane.test"), {"secure": True, "tlsa_count": 0, "usable": False})
    r = rec("bogus.dane.test")
    ck.eq("bogus class", r.get("class"), "dnssec-invalid")
    ck.eq("bogus tlsrpt", r.get("tlsrpt"), "dnssec-invalid")
    ck.eq("bogus dane", dane("bogus.dane.test"),
          {"secure": False, "tlsa_count": 0, "usable": False, "error": "SERVFAIL"})
    ck.eq("bogus still probed", r.get("tls_version") is not None, True)
    r = rec("plain.test")
    ck.eq("insecure class", r.get("class"), "cert-self-signed")
    ck.eq("insecure dane (TLSA ignored, not even asked)", dane("plain.test"), {"secure": False})
    r = rec("shared.plain.test")
    ck.eq("shared ip", r.get("ip"), SITES["ee"][0])
    ck.eq("shared class", r.get("class"), "cert-self-signed")
    ck.eq("shared dane", dane("shared.plain.test"), {"secure": False})
    r = rec("broken.test")
    ck.eq("broken class", r.get("class"), "dns-servfail")
    ck.eq("broken has no mx, no dane", "policy" in r, False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(pf.UNBOUND) or shutil.which(pf.LDNS_SIGNZONE) is None:
        print("test_dane: unbound or ldns-signzone missing: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="mxs-dane.")
    ck = Checks()
    fm = None
    try:
        fm, port = start_fakemx(a.fakemx, tmp)
        dane, plain, broken, tlsa = zones(tmp, port)
        r = pf.Resolver("127.0.0.1", None, os.path.join(tmp, "dns"))
        r.add_zone("dane.test.", dane, bogus=[("_%d._tcp.mx.bogus" % port, "TLSA")])
        r.add_zone("plain.test.", plain, mode="unsigned")
        r.add_zone("broken.test.", broken, mode="bogus")
        with r:
            ca = os.path.join(tmp, "root.pem")
            summary = os.path.join(tmp, "summary.json")
            rc, recs = scan(a.mxscan, r.server, port, ca, tmp, "dnssec", ["--dnssec", "--summary", summary])
            ck.eq("exit status", rc, 0)
            # TLSA asked for the 7 secure hosts; own probes for the 4 with usable records
            ck.eq("summary", json.load(open(summary)).get("dane"), {"tlsa_lookups": 7, "dane_probes": 4})
            check(ck, recs, tlsa)
            conns = site_connections(tmp, fm)
            # the ee address: the DANE probe of mx.ee.dane.test, and one for
            # the insecure alias (DANE names get probes of their own)
            ck.eq("connections to the shared address", conns.get(SITES["ee"][0]), 2)
            check_levels(ck, recs)
            out = os.path.join(tmp, "dnssec.jsonl")
            check_tlsrpt(ck, a.mxscan, out, tlsa)
            rep = subprocess.run([a.mxscan, "report", "--json", out], stdout=subprocess.PIPE)
            try:
                got = json.loads(rep.stdout).get("delivery", {}).get("dane")
            except ValueError:
                got = None
            ck.eq("report --json delivery.dane (domains)", got, {"tls": 6, "cleartext": 0, "deferred": 4})
            # cron as a dane sender: four of the domains' mail would be deferred
            rc, _ = scan(a.mxscan, r.server, port, ca, tmp, "fail", ["--dnssec", "--fail-on", "deferred",
                                                                     "--sender-level", "dane"])
            ck.eq("--fail-on deferred --sender-level dane: exit", rc, 3)
            p = subprocess.run([a.mxscan, "scan", "--sender-level", "dane", "-q", os.devnull], stderr=subprocess.PIPE)
            ck.eq("--sender-level dane without --dnssec: exit", p.returncode, 2)
            ck.true("... says why", b"--sender-level dane needs --dnssec" in p.stderr)
            # a sender that requires DANE: every MX host without it is dane-required
            rc, req = scan(a.mxscan, r.server, port, ca, tmp, "required", ["--dnssec", "--require-dane"])
            ck.eq("exit status with --require-dane", rc, 0)
            for d, want in (("none.dane.test", "dane-required"), ("plain.test", "dane-required"),
                            ("shared.plain.test", "dane-required"), ("ee.dane.test", "cert-self-signed"),
                            ("ta.dane.test", "ok"), ("wrong.dane.test", "tlsa-invalid"),
                            ("bogus.dane.test", "dnssec-invalid"), ("broken.test", "dns-servfail")):
                ck.eq("--require-dane: " + d, req.get(d, {}).get("class"), want)
            ck.true("--require-dane detail", "it publishes none" in req.get("none.dane.test", {}).get("detail", ""))
            p = subprocess.run([a.mxscan, "scan", "--require-dane", "-q", os.devnull], stderr=subprocess.PIPE)
            ck.eq("--require-dane without --dnssec: exit", p.returncode, 2)
            ck.true("... says why", b"--require-dane needs --dnssec" in p.stderr)
            # mxscan probe --dnssec: the same records, transcripts saying what DANE made of them
            for d, want_rc, cls, match in (("ee.dane.test", 3, "cert-self-signed", True), ("ta.dane.test", 0, "ok", True),
                                           ("wrong.dane.test", 3, "tlsa-invalid", False)):
                p = subprocess.run([a.mxscan, "probe", "--dns", r.server, "--port", str(port), "--ca-file", ca,
                                    "--dnssec", "--json", "--ehlo-name", "scanner.test", d],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                ck.eq("probe %s: exit" % d, p.returncode, want_rc)
                if p.returncode != want_rc:
                    print(p.stderr.decode(errors="replace")[-3000:])
                try:
                    doc = json.loads(p.stdout)
                except ValueError:
                    doc = {"results": [{}]}
                res = doc["results"][0]
                rec = res.get("record", {})
                ck.eq("probe %s: class" % d, rec.get("class"), cls)
                ck.eq("probe %s: dane match" % d, rec.get("policy", {}).get("dane", {}).get("match"), match)
                ck.eq("probe %s: the record is the scan's" % d, rec.get("policy"), recs.get(d, {}).get("policy"))
                lines = [x["text"] for x in res.get("transcript", []) if x.get("dir") == "T"]
                ck.true("probe %s: the transcript says DANE's verdict" % d,
                        any(x.startswith("DANE: the certificate matches TLSA" if match else "DANE: no usable TLSA")
                            for x in lines))
            p = subprocess.run([a.mxscan, "probe", "--require-dane", "ee.dane.test"], stderr=subprocess.PIPE)
            ck.eq("probe --require-dane without --dnssec: exit", p.returncode, 2)
            rc, plain_recs = scan(a.mxscan, r.server, port, ca, tmp, "plain", [])
            ck.eq("exit status without --dnssec", rc, 0)
            ck.eq("without --dnssec: no policy map", [d for d, x in plain_recs.items() if "policy" in x], [])
            ck.eq("without --dnssec: ee", plain_recs.get("ee.dane.test", {}).get("class"), "cert-self-signed")
            ck.eq("without --dnssec: wrong", plain_recs.get("wrong.dane.test", {}).get("class"), "ok")
            ck.eq("without --dnssec: delivery.dane only where the class defers anyway",
                  sorted(d for d, x in plain_recs.items() if "dane" in x.get("delivery", {})), ["broken.test"])
            # diff --level dane: a sender at dane would now defer tafull and wrong, and
            # bogus; the scan without --dnssec cannot say (no change), so compare both ways
            p = subprocess.run([a.mxscan, "diff", "--json", "--level", "dane", os.path.join(tmp, "required.jsonl"),
                                out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            ck.eq("diff --level dane: exit", p.returncode, 0)
            try:
                ch = json.loads(p.stdout).get("delivery_changed")
            except ValueError:
                ch = None
            ck.eq("diff --level dane (--require-dane is no part of the dane level)", ch, [])
    finally:
        if fm:
            fm.terminate()
            fm.wait()
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
