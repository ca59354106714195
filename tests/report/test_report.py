#!/usr/bin/python3
"""test_report.py - `mxscan report` and `mxscan diff` on results files made here.

Writes two runs (OLD, NEW) of hand-made records with known counts, each as
JSON Lines and as msgpack, and checks every section of `mxscan report` (text,
--json, --tlsrpt, --expiring) and of `mxscan diff` (text, --json) against
numbers worked out by hand; then torn, corrupt, garbage and empty inputs,
randomly damaged files, stdin, and usage errors.  With --fakemx it also scans the fixture fleet and
checks that the report of the real records agrees with the scan's own
--summary, in both formats.

    test_report.py --mxscan PATH [--fakemx PATH] [--keep] [-v]

Python stdlib + msgpack (python3-msgpack).  Exit status 0 when all passed.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")

STAGE = {"ok": "done", "cert-expired": "cert", "cert-hostname-mismatch": "cert", "cert-untrusted": "cert",
         "starttls-not-offered": "ehlo", "dns-nxdomain": "dns", "mx-no-address": "dns", "tcp-timeout": "connect",
         "tls-died": "tls"}
TLSRPT = {"ok": "success", "cert-expired": "certificate-expired", "cert-hostname-mismatch": "certificate-host-mismatch",
          "cert-untrusted": "certificate-not-trusted", "starttls-not-offered": "starttls-not-supported",
          "tls-died": "validation-failure"}
AT = "2026-11-28T02:%02d:00Z"

GOOGLE, ALT1, ALT2 = "aspmx.l.google.com", "alt1.aspmx.l.google.com", "alt2.aspmx.l.google.com"
OUTLOOK = "b-test.mail.protection.outlook.com"
UK1, UK2 = "mx1.mail.example.co.uk", "mx2.example.co.uk"
T13, T12 = ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")


def sha(tag):
    return (tag.encode().hex() * 64)[:64]


def rec(n, domain, cls, mx=None, ip=None, tls=None, cert=None, detail=None):
    """A record shaped like the contract; CERT = (sha tag, days_left)."""
    r = {"domain": domain, "class": cls, "stage": STAGE[cls],
         "detail": detail if detail is not None else "detail of %s: \"quoted\" \\ caf\u00e9 \u2603 \U0001F600" % cls,
         "scanned_at": AT % n}
    if mx:
        r.update(mx=mx, pref=10, implicit_mx=False)
    if ip:
        r.update(ip=ip, port=25, smtp_code=250, banner="220 %s ESMTP" % mx, ehlo=["PIPELINING", "STARTTLS"])
    if tls:
        r.update(tls_version=tls[0], cipher=tls[1], group="X25519")
    if cert:
        r["cert"] = {"subject_cn": mx, "san": [mx, "*." + domain], "issuer": "CN=Test CA", "not_before":
                     "2026-01-01T00:00:00Z", "not_after": "2026-12-%02dT00:00:00Z" % (1 + cert[1] % 28),
                     "days_left": cert[1], "key_type": "EC", "key_bits": 256, "sig_alg": "ecdsa-with-SHA256",
                     "sha256": sha(cert[0]), "chain_len": 2}
        r["cert_errors"] = [] if cls == "ok" else [cls]
    if cls.startswith("tls-"):
        r["diag"] = {"legacy_ok": False, "legacy_detail": "alert 40"}
    if ip:
        r.update(timings_ms={"dns": 1, "connect": 2, "total": 9}, attempts=1)
    r["tlsrpt"] = TLSRPT.get(cls, "none")
    return r


OLD = [
    rec(1, "a.test", "ok", GOOGLE, "142.250.1.1", T13, ("GA", 60)),
    rec(2, "a.test", "ok", ALT1, "142.250.1.2", T13, ("GA1", 60)),
    rec(3, "b.test", "ok", OUTLOOK, "40.1.1.1", T12, ("B1", 10)),
    rec(4, "b.test", "ok", OUTLOOK, "40.1.1.2", T12, ("B1", 10)),
    rec(5, "c.test", "cert-expired", UK1, "192.0.2.1", T13, ("C1", -3), "certificate has expired"),
    rec(6, "c.test", "ok", UK2, "192.0.2.2", T13, ("CM", 200)),
    rec(7, "d.test", "cert-expired", UK1, "192.0.2.1", T13, ("C1", -3), "certificate has expired"),
    rec(8, "e.test", "starttls-not-offered", "mx.e.test", "198.51.100.5", detail="no STARTTLS in EHLO"),
    rec(9, "f.test", "dns-nxdomain", detail="NXDOMAIN"),
    rec(10, "g.test", "ok", GOOGLE, "142.250.1.1", T13, ("GA", 60)),
    rec(11, "g.test", "tcp-timeout", GOOGLE, "2001:db8::1", detail="connect timed out"),
    rec(12, "h.test", "cert-hostname-mismatch", "mx.h.test", "198.51.100.8", T13, ("H", 5), "no SAN matches"),
    rec(13, "i.test", "mx-no-address", "mx.i.test", detail="no A record"),
    rec(14, "l.test", "ok", "mx.l.test", "203.0.113.12", T13, ("L1", 100)),
]

NEW = [
    rec(31, "a.test", "ok", GOOGLE, "142.250.1.1", T13, ("GA", 59)),
    rec(32, "a.test", "ok", ALT2, "142.250.1.3", T13, ("GA2", 59)),
    rec(33, "b.test", "ok", OUTLOOK, "40.1.1.1", T12, ("B2", 90)),
    rec(34, "b.test", "ok", OUTLOOK, "40.1.1.2", T12, ("B2", 90)),
    rec(35, "c.test", "ok", UK1, "192.0.2.1", T13, ("C2", 80)),
    rec(36, "c.test", "ok", UK2, "192.0.2.2", T13, ("CM", 199)),
    rec(37, "d.test", "ok", UK1, "192.0.2.1", T13, ("C2", 80)),
    rec(38, "e.test", "starttls-not-offered", "mx.e.test", "198.51.100.5", detail="no STARTTLS in EHLO"),
    rec(39, "g.test", "ok", GOOGLE, "142.250.1.1", T13, ("GA", 59)),
    rec(40, "g.test", "tls-died", GOOGLE, "2001:db8::1", detail="connection reset"),
    rec(41, "h.test", "cert-hostname-mismatch", "mx.h.test", "198.51.100.8", T13, ("H", 4), "no SAN matches"),
    rec(42, "i.test", "mx-no-address", "mx.i.test", detail="no A record"),
    rec(43, "j.test", "ok", "mx.j.test", "203.0.113.10", T13, ("J", 300)),
    rec(44, "l.test", "cert-untrusted", "mx.l.test", "203.0.113.12", T13, ("L2", 100), "unable to get issuer"),
]

# What OLD says, worked out by hand (see the comments at each record).
OLD_DOMAINS = {"ok": 3, "cert-expired": 2, "starttls-not-offered": 1, "dns-nxdomain": 1, "tcp-timeout": 1,
               "cert-hostname-mismatch": 1, "mx-no-address": 1}
OLD_PROBES = {"ok": 7, "cert-expired": 2, "starttls-not-offered": 1, "dns-nxdomain": 1, "tcp-timeout": 1,
              "cert-hostname-mismatch": 1, "mx-no-address": 1}
OLD_PROVIDERS = [  # (provider, probes, ok, failures), by probes then name
    ("google.com", 4, 3, {"tcp-timeout": 1}),
    ("example.co.uk", 3, 1, {"cert-expired": 2}),
    ("outlook.com", 2, 2, {}),
    ("e.test", 1, 0, {"starttls-not-offered": 1}),
    ("h.test", 1, 0, {"cert-hostname-mismatch": 1}),
    ("i.test", 1, 0, {"mx-no-address": 1}),
    ("l.test", 1, 1, {}),
]
OLD_NO_TLS = [("d.test", "cert-expired"), ("e.test", "starttls-not-offered"), ("f.test", "dns-nxdomain"),
              ("h.test", "cert-hostname-mismatch"), ("i.test", "mx-no-address")]
OLD_EXPIRING_14 = [("c.test", UK1, -3), ("d.test", UK1, -3), ("h.test", "mx.h.test", 5), ("b.test", OUTLOOK, 10)]

# What a sender does with the mail (README "What happens to the mail"),
# domains per level.  OLD's records have no `delivery` field (an older
# mxscan): the class decides, except `secure` for ok and hostname-mismatch
# records, which need the certificate's names: unknown.  NEW's records carry
# the field, as mxscan writes it (add_delivery).
OLD_DELIVERY = {"may": {"tls": 7, "cleartext": 1, "deferred": 2},       # e: no STARTTLS; f, i: no route
                "encrypt": {"tls": 7, "cleartext": 0, "deferred": 3},
                "verify": {"tls": 5, "cleartext": 0, "deferred": 5},    # d, h: certificate; c: UK2 takes it
                "secure": {"tls": 0, "cleartext": 0, "deferred": 4, "unknown": 6},
                # no policy fields, no dane/mta-sts keys: only a class that defers at every level decides
                "dane": {"tls": 0, "cleartext": 0, "deferred": 2, "unknown": 8},
                "mta-sts": {"tls": 0, "cleartext": 0, "deferred": 2, "unknown": 8}}
NEW_DELIVERY = {"may": {"tls": 8, "cleartext": 1, "deferred": 1},       # g: GOOGLE first, its tls-died MX unused
                "encrypt": {"tls": 8, "cleartext": 0, "deferred": 2},
                "verify": {"tls": 6, "cleartext": 0, "deferred": 4},    # h: mismatch, l: untrusted
                "secure": {"tls": 7, "cleartext": 0, "deferred": 3},    # h: *.h.test names the domain
                "dane": {"tls": 0, "cleartext": 0, "deferred": 1, "unknown": 9},
                "mta-sts": {"tls": 8, "cleartext": 1, "deferred": 1}}   # as may: no domain publishes MTA-STS
# diff OLD NEW --level: domains in both runs whose outcome changed (unknown: no change)
DIFF_DELIVERY = {"may": [], "encrypt": [], "dane": [], "mta-sts": [],
                 "verify": [("d.test", "deferred", "tls"), ("l.test", "tls", "deferred")],
                 "secure": [("d.test", "deferred", "tls")]}
CELLS = {}  # class -> {level: cell}, from `mxscan classes --json`


def add_delivery(r):
    """The record's `delivery` as mxscan computes it from the class cells."""
    out = {}
    for level in ("may", "encrypt", "verify", "secure"):
        cell = CELLS[r["class"]][level]
        if cell == "cleartext-after-retry":
            cell = "cleartext"
        elif cell == "tls-if-named":
            names = r.get("cert", {}).get("san", [])
            named = any(n == r["domain"] or n.endswith("." + r["domain"]) for n in names)
            others = set(r.get("cert_errors", [])) - {"cert-hostname-mismatch"}
            cell = "tls" if named and not others else "deferred"
        out[level] = cell
    # as a scan with policy checks where the domain publishes no MTA-STS (mta-sts
    # is may) and without --dnssec (dane only where the class defers anyway)
    out["mta-sts"] = "deferred" if CELLS[r["class"]]["mta-sts"] == "deferred" else out["may"]
    if CELLS[r["class"]]["dane"] == "deferred":
        out["dane"] = "deferred"
    r["delivery"] = out


class Checker:
    def __init__(self, verbose):
        self.failures = []
        self.verbose = verbose

    def eq(self, where, what, got, want):
        if got != want:
            self.failures.append("%s: %s = %r, want %r" % (where, what, got, want))
        elif self.verbose:
            print("ok  %s: %s" % (where, what))

    def true(self, where, what, cond, detail=""):
        if not cond:
            self.failures.append("%s: %s %s" % (where, what, detail))
        elif self.verbose:
            print("ok  %s: %s" % (where, what))


def write_run(base, recs):
    """BASE.jsonl (alternating ASCII-escaped and raw UTF-8 lines) and BASE.msgpack."""
    with open(base + ".jsonl", "wb") as fp:
        for i, r in enumerate(recs):
            fp.write(json.dumps(r, ensure_ascii=(i % 2 == 0), separators=(",", ":")).encode() + b"\n")
    with open(base + ".msgpack", "wb") as fp:
        for r in recs:
            fp.write(msgpack.packb(r, use_bin_type=True))
    return base + ".jsonl", base + ".msgpack"


def run(mxscan, *args, stdin=None):
    p = subprocess.run([mxscan] + list(args), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace")


def report_json(ck, mxscan, where, *args):
    rc, out, err = run(mxscan, "report", "--json", *args)
    ck.eq(where, "exit status (stderr: %s)" % err.strip(), rc, 0)
    try:
        return json.loads(out)
    except ValueError as e:
        ck.true(where, "--json output is JSON", False, str(e))
        return {}


def check_report_json(ck, where, d):
    ck.eq(where, "domains", d.get("domains"), {"total": 10, "classes": OLD_DOMAINS})
    ck.eq(where, "probes", d.get("probes"), {"total": 14, "classes": OLD_PROBES})
    got = [(p["provider"], p["probes"], p["ok"], p["failures"]) for p in d.get("providers", [])]
    ck.eq(where, "providers", got, OLD_PROVIDERS)
    ck.eq(where, "no_tls_domains", [(x["domain"], x["class"]) for x in d.get("no_tls_domains", [])], OLD_NO_TLS)
    exp = d.get("expiring", {})
    ck.eq(where, "expiring.days", exp.get("days"), 14)
    ck.eq(where, "expiring", [(c["domain"], c["mx"], c["days_left"]) for c in exp.get("certificates", [])],
          OLD_EXPIRING_14)
    if exp.get("certificates"):
        c = exp["certificates"][0]
        ck.eq(where, "expiring[0] sha256/not_after", (c["sha256"], c["not_after"]), (sha("C1"), "2026-12-26T00:00:00Z"))
    ck.eq(where, "tls_versions", d.get("tls_versions"), {"TLSv1.3": 8, "TLSv1.2": 2})
    ck.eq(where, "ciphers", d.get("ciphers"), {"TLS_AES_256_GCM_SHA384": 8, "ECDHE-RSA-AES256-GCM-SHA384": 2})
    ck.eq(where, "scanned_at range", (d.get("first_scanned_at"), d.get("last_scanned_at")), (AT % 1, AT % 14))
    ck.eq(where, "delivery (no delivery fields: from the classes)", d.get("delivery"), OLD_DELIVERY)


def check_report_text(ck, mxscan, path):
    rc, out, err = run(mxscan, "report", path)
    where = "report (text) " + os.path.basename(path)
    ck.eq(where, "exit status", rc, 0)
    for pat in [r"^mxscan report: 14 records, 10 domains, scanned 2026-11-28T02:01:00Z \.\. 2026-11-28T02:14:00Z$",
                r"^  class +domains +% +probes +%$",
                r"^  ok +3 +30\.0% +7 +50\.0%$",
                r"^  cert-expired +2 +20\.0% +2 +14\.3%$",
                r"^  total +10 +14$",
                r"^Providers \(registrable domain of the MX host\): 7$",
                r"^  google\.com +4 +75\.0% +tcp-timeout 1$",
                r"^  example\.co\.uk +3 +33\.3% +cert-expired 2$",
                r"^  outlook\.com +2 +100\.0%$",
                r"^Domains that cannot receive mail over TLS \(no MX host is ok\): 5$",
                r"^  f\.test +dns-nxdomain$",
                r"^Certificates expiring within 14 days \(negative: expired\): 4$",
                r"^  c\.test +mx1\.mail\.example\.co\.uk +2026-12-26T00:00:00Z +-3$",
                r"^  b\.test +b-test\.mail\.protection\.outlook\.com +2026-12-11T00:00:00Z +10$",
                r"^Delivery \(domains: what a sender does with the mail at each smtp_tls_security_level\)$",
                r"^  level +tls +% +cleartext +% +deferred +% +unknown +%$",
                r"^  may +7 +70\.0% +1 +10\.0% +2 +20\.0% +0 +0\.0%$",
                r"^  secure +0 +0\.0% +0 +0\.0% +4 +40\.0% +6 +60\.0%$",
                r"^  dane +0 +0\.0% +0 +0\.0% +2 +20\.0% +8 +80\.0%$",
                r"^  mta-sts +0 +0\.0% +0 +0\.0% +2 +20\.0% +8 +80\.0%$",
                r"^  dane: DANE where the MX host has secure TLSA records, else may",
                r"^  mta-sts: MTA-STS where the domain has an enforce policy, else may$",
                r"^  unknown: the records do not say: a policy not checked",
                r"^TLS versions \(of 10 handshakes\): 2$",
                r"^  TLSv1\.3 +8 +80\.0%$",
                r"^Ciphers \(of 10 handshakes\): 2$"]:
        ck.true(where, "has a line matching /%s/" % pat, re.search(pat, out, re.M), "\n" + out)
    ck.true(where, "no trailing blanks", not re.search(r" $", out, re.M))
    # columns line up: every row of the class table has its numbers at the header's columns
    head = next((l for l in out.splitlines() if l.startswith("  class ")), "")
    rows = [l for l in out.splitlines() if re.match(r"^  (ok|cert-expired|tcp-timeout) ", l)]
    ck.true(where, "class table aligned", rows and all(len(l) == len(head) for l in rows), "\n" + out)
    rc, out, _ = run(mxscan, "report", "--top", "2", path)
    ck.true(where + " --top 2", "cuts the provider table",
            "Providers (registrable domain of the MX host): 7, the 2 with the most probes" in out
            and not re.search(r"^  outlook\.com ", out, re.M), "\n" + out)


def check_tlsrpt(ck, mxscan, path):
    where = "report --tlsrpt " + os.path.basename(path)
    rc, out, err = run(mxscan, "report", "--tlsrpt", "--contact", "tls@example.test", path)
    ck.eq(where, "exit status", rc, 0)
    try:
        t = json.loads(out)
    except ValueError as e:
        return ck.true(where, "is JSON", False, str(e))
    ck.eq(where, "organization-name", t.get("organization-name"), "mxscan")
    ck.eq(where, "date-range", t.get("date-range"), {"start-datetime": AT % 1, "end-datetime": AT % 14})
    ck.eq(where, "contact-info", t.get("contact-info"), "tls@example.test")
    ck.true(where, "report-id", isinstance(t.get("report-id"), str) and t["report-id"])
    pol = {p["policy"]["policy-domain"]: p for p in t.get("policies", [])}
    # f.test (DNS) and i.test (no address) never reached TLS: no session, no policy
    ck.eq(where, "policy domains", sorted(pol), ["a.test", "b.test", "c.test", "d.test", "e.test", "g.test",
                                                 "h.test", "l.test"])
    ck.eq(where, "policy-type", {p["policy"]["policy-type"] for p in pol.values()}, {"no-policy-found"})
    summ = {k: (p["summary"]["total-successful-session-count"], p["summary"]["total-failure-session-count"])
            for k, p in pol.items()}
    ck.eq(where, "summaries", summ, {"a.test": (2, 0), "b.test": (2, 0), "c.test": (1, 1), "d.test": (0, 1),
                                     "e.test": (0, 1), "g.test": (1, 0), "h.test": (0, 1), "l.test": (1, 0)})
    fd = pol.get("c.test", {}).get("failure-details", [])
    ck.eq(where, "c.test failure-details", fd, [{
        "result-type": "certificate-expired", "receiving-mx-hostname": UK1, "receiving-ip": "192.0.2.1",
        "failed-session-count": 1, "failure-reason-code": "certificate has expired",
        "additional-information": "certificate has expired"}])
    fd = pol.get("e.test", {}).get("failure-details", [{}])
    ck.eq(where, "e.test result-type", fd[0].get("result-type"), "starttls-not-supported")
    ck.eq(where, "a.test failure-details", pol.get("a.test", {}).get("failure-details"), [])


def check_expiring(ck, mxscan, path):
    for days, want in ((7, 3), (0, 2), (100, 8)):
        d = report_json(ck, mxscan, "report --expiring %d" % days, "--expiring", str(days), path)
        got = [(c["domain"], c["days_left"]) for c in d.get("expiring", {}).get("certificates", [])]
        ck.eq("report --expiring %d" % days, "certificates", len(got), want)
        ck.true("report --expiring %d" % days, "all within", all(x[1] <= days for x in got), repr(got))


DIFF_WANT = {
    "newly_failing": [{"domain": "l.test", "old_class": "ok", "new_class": "cert-untrusted"}],
    "fixed": [{"domain": "c.test", "old_class": "cert-expired", "new_class": "ok"},
              {"domain": "d.test", "old_class": "cert-expired", "new_class": "ok"}],
    "class_changed": [{"domain": "g.test", "old_class": "tcp-timeout", "new_class": "tls-died"}],
    "new_domains": [{"domain": "j.test", "new_class": "ok"}],
    "vanished_domains": [{"domain": "f.test", "old_class": "dns-nxdomain"}],
    "mx_added": [{"domain": "a.test", "mx": ALT2}],
    "mx_removed": [{"domain": "a.test", "mx": ALT1}],
}
DIFF_CERTS = [("b.test", OUTLOOK, "40.1.1.1", "B1", "B2"), ("b.test", OUTLOOK, "40.1.1.2", "B1", "B2"),
              ("c.test", UK1, "192.0.2.1", "C1", "C2"), ("d.test", UK1, "192.0.2.1", "C1", "C2"),
              ("l.test", "mx.l.test", "203.0.113.12", "L1", "L2")]


def check_diff(ck, mxscan, old, new):
    where = "diff --json %s %s" % (os.path.basename(old), os.path.basename(new))
    rc, out, err = run(mxscan, "diff", "--json", old, new)
    ck.eq(where, "exit status (stderr: %s)" % err.strip(), rc, 0)
    try:
        d = json.loads(out)
    except ValueError as e:
        return ck.true(where, "is JSON", False, str(e))
    ck.eq(where, "old", (d["old"]["records"], d["old"]["domains"]), (14, 10))
    ck.eq(where, "new", (d["new"]["records"], d["new"]["domains"]), (14, 10))
    for k, want in DIFF_WANT.items():
        ck.eq(where, k, d.get(k), want)
    got = [(c["domain"], c["mx"], c["ip"], c["old_sha256"], c["new_sha256"]) for c in d.get("certs_changed", [])]
    ck.eq(where, "certs_changed", got, [(a, b, c, sha(x), sha(y)) for a, b, c, x, y in DIFF_CERTS])
    if d.get("certs_changed"):
        ck.eq(where, "certs_changed[0] not_after", (d["certs_changed"][0]["old_not_after"],
              d["certs_changed"][0]["new_not_after"]), ("2026-12-11T00:00:00Z", "2026-12-07T00:00:00Z"))

    rc, out, err = run(mxscan, "diff", old, new)
    where = "diff (text)"
    ck.eq(where, "exit status", rc, 0)
    for pat in [r"^Newly failing \(ok before\): 1$", r"^  l\.test +ok +cert-untrusted$",
                r"^Fixed \(ok now\): 2$", r"^Failure class changed: 1$", r"^  g\.test +tcp-timeout +tls-died$",
                r"^Domains only in the new run: 1$", r"^Domains only in the old run: 1$",
                r"^MX hosts added: 1$", r"^  a\.test +alt2\.aspmx\.l\.google\.com$", r"^MX hosts removed: 1$",
                r"^Certificates changed \(same domain, MX and address\): 5$",
                r"^  c\.test +mx1\.mail\.example\.co\.uk +192\.0\.2\.1 +%s +%s +2026-12-25T00:00:00Z$"
                % (sha("C1")[:16], sha("C2")[:16])]:
        ck.true(where, "has a line matching /%s/" % pat, re.search(pat, out, re.M), "\n" + out)
    for level, want in DIFF_DELIVERY.items():
        args = ["--level", level] if level != "may" else []  # may is the default
        rc, out, err = run(mxscan, "diff", "--json", *args, old, new)
        d = json.loads(out) if rc == 0 else {}
        got = [(c["domain"], c["old"], c["new"]) for c in d.get("delivery_changed", [])]
        ck.eq("diff --json --level %s" % level, "delivery_changed (%s)" % err.strip(), got, want)
        ck.true("diff --json --level %s" % level, "names the level",
                all(c.get("level") == level for c in d.get("delivery_changed", [])), out)
    rc, out, err = run(mxscan, "diff", "--level", "verify", old, new)
    for pat in [r"^Delivery changed at verify \(what a sender does with the mail\): 2$",
                r"^  d\.test +deferred +tls$", r"^  l\.test +tls +deferred$",
                r", 2 delivery changed at verify$"]:
        ck.true("diff --level verify (text)", "has a line matching /%s/" % pat, re.search(pat, out, re.M), "\n" + out)
    rc, out, err = run(mxscan, "diff", "--level", "dane-only", old, new)
    ck.true("diff --level dane-only", "usage error, not a level", rc == 2 and "'dane-only' is not a level" in err, err)
    rc, out, _ = run(mxscan, "diff", "--json", old, old)
    d = json.loads(out) if rc == 0 else {}
    ck.true("diff OLD OLD", "is empty",
            rc == 0 and all(d.get(k) == [] for k in list(DIFF_WANT) + ["certs_changed", "delivery_changed"]), out)


def check_bad_inputs(ck, mxscan, tmp, old_jl, old_mp):
    jl, mp = open(old_jl, "rb").read(), open(old_mp, "rb").read()
    extra = json.dumps(NEW[0]).encode()
    # 1. torn last record: a warning with its offset, the complete records counted
    for name, data, torn in (("torn.jsonl", jl + extra[:40], 40), ("torn.msgpack", mp + msgpack.packb(NEW[0])[:25], 25),
                             ("torn-nonl.jsonl", jl + extra, len(extra))):
        path = os.path.join(tmp, name)
        open(path, "wb").write(data)
        rc, out, err = run(mxscan, "report", "--json", path)
        ck.eq(name, "exit status", rc, 0)
        ck.true(name, "warns with the offset", "%s: warning: torn last record at byte %d (%d bytes" %
                (path, len(data) - torn, torn) in err, err)
        if rc == 0:
            ck.eq(name, "counts only complete records", json.loads(out)["probes"]["total"], 14)
    # 2. a corrupt record in the middle: an error naming the file, record and offset
    lines = jl.splitlines(keepends=True)
    off3 = len(lines[0]) + len(lines[1])
    recs = [msgpack.packb(r, use_bin_type=True) for r in OLD]
    moff3 = len(recs[0]) + len(recs[1])
    for name, data, want in (
            ("corrupt.jsonl", b"".join(lines[:2]) + lines[2][:30] + b"\n" + b"".join(lines[3:]),
             "record 3 at byte %d: invalid JSON" % off3),
            ("badclass.jsonl", b"".join(lines[:2]) + lines[2].replace(b'"ok"', b'"fine"') + b"".join(lines[3:]),
             "record 3 at byte %d: unknown class 'fine'" % off3),
            ("badtype.jsonl", b"".join(lines[:2]) + lines[2].replace(b'"pref":10', b'"pref":"10"') + b"".join(lines[3:]),
             "record 3 at byte %d: 'pref' is not an integer" % off3),
            ("corrupt.msgpack", b"".join(recs[:2]) + b"\xc1" + b"".join(recs[2:]),
             "record 3 at byte %d: invalid msgpack" % moff3),
            ("notmap.msgpack", b"".join(recs[:2]) + msgpack.packb(7) + b"".join(recs[2:]),
             "record 3 at byte %d: invalid msgpack: a record is a msgpack map" % moff3),
            # an array that claims 4 billion elements: read as far as the bytes go, no giant allocation
            ("huge.msgpack", b"".join(recs[:2]) + b"\x81\xa1k\xdd\xff\xff\xff\xff" + b"\x00" * 100 + b"\xc1",
             "record 3 at byte %d: invalid msgpack: byte 0xc1" % moff3),
            ("garbage.bin", b"\x00\x01garbage" + os.urandom(3000), "not a results file"),
            ("text.txt", b"hello world\n", "not a results file (neither JSON Lines nor msgpack): first byte 0x68"),
            ("other.json", b'{"foo": 1}\n', "record 1 at byte 0: not a results record: no 'domain'"),
    ):
        path = os.path.join(tmp, name)
        open(path, "wb").write(data)
        for cmd in (["report", path], ["diff", old_jl, path]):
            rc, out, err = run(mxscan, *cmd)
            where = "%s %s" % (cmd[0], name)
            ck.eq(where, "exit status", rc, 1)
            ck.true(where, "names file, record and offset", ("mxscan: %s: " % path) in err and want in err, err)
            ck.true(where, "no partial report on stdout", out == "", out[:200])
    # 3. nothing to read is not an error
    path = os.path.join(tmp, "empty.msgpack")
    open(path, "wb").close()
    rc, out, err = run(mxscan, "report", path)
    ck.eq("report empty", "exit status", rc, 0)
    ck.true("report empty", "says 0 records", "mxscan report: 0 records, 0 domains" in out, out)
    # 4. stdin, and several files at once
    with open(old_mp, "rb") as fp:
        rc, out, err = run(mxscan, "report", "--json", "-", stdin=fp)
    ck.eq("report - < msgpack", "probes", json.loads(out)["probes"]["total"] if rc == 0 else err, 14)
    d = report_json(ck, mxscan, "report two files", old_jl, old_mp)
    ck.eq("report two files", "totals", (d.get("probes", {}).get("total"), d.get("domains", {}).get("total")), (28, 10))
    # 5. usage
    for args in (["report"], ["report", "--json", "--tlsrpt", old_jl], ["report", "--expiring", "x", old_jl],
                 ["diff", old_jl], ["diff", "--bogus", old_jl, old_jl]):
        rc, _, err = run(mxscan, *args)
        ck.eq(" ".join(a if a != old_jl else "FILE" for a in args), "exit status (usage)", rc, 2)
    rc, _, err = run(mxscan, "report", os.path.join(tmp, "missing.jsonl"))
    ck.true("report missing file", "exit 1 and says so", rc == 1 and "cannot open" in err, err)


def check_mutations(ck, mxscan, tmp, old_jl, old_mp, n=300):
    """Damaged files (bytes flipped, cut out, inserted) never crash the reader:
    a report (valid JSON) or exit 1 with a message naming the file."""
    rnd = random.Random(5)
    bases = (open(old_jl, "rb").read(), open(old_mp, "rb").read())
    path = os.path.join(tmp, "mutant")
    for k in range(n):
        b = bytearray(bases[k % 2])
        for _ in range(rnd.randint(1, 8)):
            i, op = rnd.randrange(len(b)), rnd.random()
            if op < 0.5:
                b[i] = rnd.randrange(256)
            elif op < 0.75:
                del b[i:i + rnd.randint(1, 20)]
            else:
                b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 10)))
        open(path, "wb").write(b)
        rc, out, err = run(mxscan, "report", "--tlsrpt", path)
        ok = rc == 1 and ("mxscan: %s: " % path) in err
        if rc == 0:
            try:
                json.loads(out)
                ok = True
            except ValueError:
                pass
        if not ok:
            kept = os.path.join(tmp, "mutant-%d" % k)
            shutil.copy(path, kept)
            return ck.true("mutation %d (%s)" % (k, kept), "exit 0 with JSON or 1 with a message", False,
                           "exit %d: %s" % (rc, err[-300:]))
    ck.true("%d mutated files" % n, "never crash", True)


def check_fleet(ck, mxscan, fakemx, tmp):
    """The report of real records agrees with the scan's own class table."""
    sys.path.insert(0, FIXTURES)
    import fleet  # noqa: E402
    fdir = os.path.join(tmp, "fleet")
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "300", fdir],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if up.returncode != 0:
        return ck.true("fleet", "fleet-up", False)
    env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    try:
        domains = os.path.join(tmp, "fleet-domains.txt")
        with open(domains, "w") as fp:
            fp.write("\n".join(fleet.domains(fleet.load())) + "\n")
        out, summary = os.path.join(tmp, "fleet.jsonl"), os.path.join(tmp, "fleet-summary.json")
        p = subprocess.run([mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"],
                            "--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3",
                            "--handshake-timeout", "3", "--dns-timeout", "1", "--dns-tries", "2",
                            "--retry-delay", "0.2", "-q", "-o", out, "--summary", summary, domains],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        ck.eq("fleet scan", "exit status (%s)" % p.stderr.decode().strip(), p.returncode, 0)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), fdir])
    mp = os.path.join(tmp, "fleet.msgpack")
    with open(out) as fi, open(mp, "wb") as fo:
        for line in fi:
            fo.write(msgpack.packb(json.loads(line), use_bin_type=True))
    want = json.load(open(summary))
    rj, rm = report_json(ck, mxscan, "fleet jsonl", out), report_json(ck, mxscan, "fleet msgpack", mp)
    for where, r in (("fleet report jsonl", rj), ("fleet report msgpack", rm)):
        ck.eq(where, "domains == scan summary", r.get("domains"), want["domains"])
        ck.eq(where, "probes == scan summary", r.get("probes"), want["probes"])
        ck.eq(where, "delivery == scan summary", r.get("delivery"), want["delivery"])
    rj.pop("files", None), rm.pop("files", None)
    ck.true("fleet report", "same for both formats", rj == rm)
    n_ok = want["probes"]["classes"].get("ok", 0)
    ck.eq("fleet report", "ok probes in providers", sum(p["ok"] for p in rj.get("providers", [])), n_ok)
    rc, out, err = run(mxscan, "diff", "--json", out, mp)
    d = json.loads(out) if rc == 0 else {}
    ck.true("fleet diff jsonl msgpack", "no changes", rc == 0 and not any(v for k, v in d.items() if
                                                                       k not in ("old", "new")), out + err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", help="also check reports of a real scan of the fixture fleet")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    ck = Checker(a.verbose)
    tmp = tempfile.mkdtemp(prefix="mxscan-report-")
    classes = subprocess.run([a.mxscan, "classes", "--json"], stdout=subprocess.PIPE, check=True).stdout
    CELLS.update((c["class"], c["delivery"]) for c in json.loads(classes))
    for r in NEW:
        add_delivery(r)
    try:
        old_jl, old_mp = write_run(os.path.join(tmp, "old"), OLD)
        new_jl, new_mp = write_run(os.path.join(tmp, "new"), NEW)
        dj = report_json(ck, a.mxscan, "report --json old.jsonl", old_jl)
        dm = report_json(ck, a.mxscan, "report --json old.msgpack", old_mp)
        check_report_json(ck, "report --json old.jsonl", dj)
        check_report_json(ck, "report --json old.msgpack", dm)
        dj.pop("files", None), dm.pop("files", None)
        ck.true("report --json", "jsonl and msgpack agree", dj == dm)
        for p in (old_jl, old_mp):
            check_report_text(ck, a.mxscan, p)
            check_tlsrpt(ck, a.mxscan, p)
        check_expiring(ck, a.mxscan, old_mp)
        for p in (new_jl, new_mp):  # records that carry their delivery field
            d = report_json(ck, a.mxscan, "report --json " + os.path.basename(p), p)
            ck.eq("report --json " + os.path.basename(p), "delivery (the records' own)", d.get("delivery"),
                  NEW_DELIVERY)
        check_diff(ck, a.mxscan, old_jl, new_mp)
        check_diff(ck, a.mxscan, old_mp, new_jl)
        check_bad_inputs(ck, a.mxscan, tmp, old_jl, old_mp)
        check_mutations(ck, a.mxscan, tmp, old_jl, old_mp)
        if a.fakemx:
            check_fleet(ck, a.mxscan, a.fakemx, tmp)
    finally:
        if ck.failures or a.keep:
            print("files kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in ck.failures:
        print("FAIL", f)
    print("%d failure(s)" % len(ck.failures))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
