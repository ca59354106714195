#!/usr/bin/python3
"""test_policy.py - MTA-STS and TLS-RPT checks end to end, against real servers.

A validating unbound (tests/fixtures/policyfix.py) serves one zone per
scenario: the _mta-sts and _smtp._tls TXT records, the policy host's
address, the MX records; nginx serves the policies over HTTPS on loopback
with the certificates, statuses and content types of each scenario, and a
Python listener stalls a fetch past the deadline; the MX servers are a
fakemx fleet (tests/scale/harness.py) with certificates for the shared MX
name or for another one.  One scan of every scenario; each record's
`policy` map and class are checked, then the same scan with --no-policy
must give the records of a scan without policies (no `policy` key, the
probe's own class), msgpack must carry the same, and `mxscan report
--tlsrpt` must group the records under the policy that applies.

    test_policy.py --mxscan PATH --fakemx PATH [-v]

Exit status 0 when all passed.  Talks only to 127.0.0.0/8.
"""
import argparse
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "scale"))
import harness  # noqa: E402
import policyfix as pf  # noqa: E402

MX_OK = "127.0.3.1"       # certificate for mx.shared.test
MX_WRONG = "127.0.3.2"    # certificate for other.invalid only
MX_IN = "127.0.3.3"       # a.in.wild.test
MX_OUT = "127.0.3.4"      # b.out.wild.test
HOSTS = "127.0.88.1"      # every policy host, told apart by SNI
UNTRUSTED = "127.0.88.2"  # a policy host with a certificate from another CA
STALL = "127.0.88.9"      # answers the handshake, never the request
NOBODY = "127.0.88.250"   # nothing listens
HOLD = "127.0.88.10"      # counts the fetches it holds open at once
HOLD_DOMAINS = ["h%d.test" % i for i in range(6)]

ENFORCE = "version: STSv1\nmode: enforce\nmx: mx.shared.test\nmax_age: 86400\n"
TESTING = "version: STSv1\r\nmode: testing\r\nmx: mx.shared.test\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
NONE = "version: STSv1\nmode: none\nmax_age: 3600\n"
WILD = "version: STSv1\nmode: enforce\nmx: *.in.wild.test\nmax_age: 86400\n"

# domain -> (MX lines, extra records, policy host: dict for add_host or None)
SCENARIOS = {
    # a TXT record published as two strings, joined before parsing
    "enforce.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; " "id=e1;"'],
                     dict(policy=ENFORCE)),
    "testing.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=t1"'], dict(policy=TESTING)),
    "none.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=n1"'], dict(policy=NONE)),
    # enforce, and the MX's certificate does not name it
    "enfbad.test": (["@ MX 10 mx.wrong.test."], ['_mta-sts TXT "v=STSv1; id=b1"'],
                    dict(policy=ENFORCE.replace("mx.shared.test", "mx.wrong.test"))),
    # the same certificate problem under testing: only the probe's class
    "testbad.test": (["@ MX 10 mx.wrong.test."], ['_mta-sts TXT "v=STSv1; id=b2"'],
                     dict(policy=TESTING.replace("mx.shared.test", "mx.wrong.test"))),
    # enforce with a wildcard: one MX matches it, the other does not
    "wild.test": (["@ MX 10 a.in.wild.test.", "@ MX 20 b.out.wild.test.",
                   "a.in A " + MX_IN, "b.out A " + MX_OUT], ['_mta-sts TXT "v=STSv1; id=w1"'], dict(policy=WILD)),
    "big.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=g1"'],
                 dict(policy=ENFORCE + "x-pad: " + "a" * 70000 + "\n")),
    "redirect.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=r1"'],
                      dict(redirect="https://mta-sts.enforce.test/.well-known/mta-sts.txt")),
    "ctype.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=c1"'],
                   dict(policy=ENFORCE, content_type="text/html")),
    "charset.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=c2"'],
                     dict(policy=ENFORCE, content_type="text/plain; charset=utf-8")),
    "missing.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=m1"'], dict(policy=None)),
    "untrusted.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=u1"'],
                       dict(policy=ENFORCE, cert="other-ca", addrs=[UNTRUSTED])),
    "stall.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=s1"'], "stall"),
    "nohost.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=h1"', "mta-sts A " + NOBODY], None),
    "nxhost.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=h2"'], None),
    "twotxt.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=a"', '_mta-sts TXT "v=STSv1; id=b"'],
                    dict(policy=ENFORCE)),
    "badtxt.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=not-alnum"'], dict(policy=ENFORCE)),
    "badpolicy.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=p1"'],
                       dict(policy="version: STSv1\nmode: strict\nmx: mx.shared.test\nmax_age: 1\n")),
    "plain.test": (["@ MX 10 mx.shared.test.", '@ TXT "v=spf1 -all"'], [], None),
    "tlsrpt.test": (["@ MX 10 mx.shared.test."],
                    ['_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@tlsrpt.test,https://r.tlsrpt.test/v1"'], None),
    "tlsrptbad.test": (["@ MX 10 mx.shared.test."], ['_smtp._tls TXT "v=TLSRPTv1; rua=ftp://r.test/"'], None),
    "both.test": (["@ MX 10 mx.shared.test."], ['_mta-sts TXT "v=STSv1; id=x1"',
                                                '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:r@both.test"'],
                  dict(policy=ENFORCE)),
}

# domain -> [(mx, class, checks on policy)]; None: no policy key
STS = lambda **kw: kw  # noqa: E731
EXPECT = {
    "enforce.test": [("mx.shared.test", "ok", STS(txt_id="e1", mode="enforce", max_age=86400,
                                                  mx=["mx.shared.test"], mx_match=True))],
    "testing.test": [("mx.shared.test", "ok", STS(txt_id="t1", mode="testing", max_age=604800,
                                                  mx=["mx.shared.test", "*.example.net"], mx_match=True))],
    "none.test": [("mx.shared.test", "ok", STS(txt_id="n1", mode="none", max_age=3600, mx=[]))],
    "enfbad.test": [("mx.wrong.test", "sts-webpki-invalid", STS(txt_id="b1", mode="enforce", mx_match=True))],
    "testbad.test": [("mx.wrong.test", "cert-hostname-mismatch", STS(txt_id="b2", mode="testing", mx_match=True))],
    "wild.test": [("a.in.wild.test", "ok", STS(mode="enforce", mx=["*.in.wild.test"], mx_match=True)),
                  ("b.out.wild.test", "sts-policy-invalid", STS(mode="enforce", mx_match=False))],
    "big.test": [("mx.shared.test", "sts-policy-fetch-error", STS(txt_id="g1", fetch_error="larger than 65536"))],
    "redirect.test": [("mx.shared.test", "sts-policy-fetch-error",
                       STS(txt_id="r1", fetch_error="redirect (HTTP 301) to https://mta-sts.enforce.test"))],
    "ctype.test": [("mx.shared.test", "sts-policy-fetch-error",
                    STS(txt_id="c1", fetch_error="content type 'text/html' is not text/plain"))],
    "charset.test": [("mx.shared.test", "ok", STS(txt_id="c2", mode="enforce"))],
    "missing.test": [("mx.shared.test", "sts-policy-fetch-error", STS(txt_id="m1", fetch_error="HTTP 404"))],
    "untrusted.test": [("mx.shared.test", "sts-policy-fetch-error", STS(txt_id="u1", fetch_error="TLS: "))],
    "stall.test": [("mx.shared.test", "sts-policy-fetch-error", STS(txt_id="s1", fetch_error="timeout after 1 s"))],
    "nohost.test": [("mx.shared.test", "sts-policy-fetch-error",
                     STS(txt_id="h1", fetch_error="connect to %s port " % NOBODY))],
    "nxhost.test": [("mx.shared.test", "sts-policy-fetch-error",
                     STS(txt_id="h2", fetch_error="policy host mta-sts.nxhost.test has no address"))],
    "twotxt.test": [("mx.shared.test", "sts-policy-invalid", STS(invalid="2 TXT records begin with v=STSv1"))],
    "badtxt.test": [("mx.shared.test", "sts-policy-invalid", STS(invalid="id 'not-alnum'"))],
    "badpolicy.test": [("mx.shared.test", "sts-policy-invalid",
                        STS(txt_id="p1", invalid="policy line 2: mode 'strict' is not enforce, testing or none"))],
    "plain.test": [("mx.shared.test", "ok", None)],
    "tlsrpt.test": [("mx.shared.test", "ok", None)],
    "tlsrptbad.test": [("mx.shared.test", "ok", None)],
    "both.test": [("mx.shared.test", "ok", STS(txt_id="x1", mode="enforce", mx_match=True))],
}
RUA = {"tlsrpt.test": ["mailto:tls@tlsrpt.test", "https://r.tlsrpt.test/v1"], "both.test": ["mailto:r@both.test"]}
RUA_ERROR = {"tlsrptbad.test": "rua URI 'ftp://r.test/' is not mailto: or https://"}
# delivery.mta-sts (README "The policy levels"): a sender at `may` that applies
# MTA-STS; under a valid enforce policy only a listed MX with a WebPKI-valid
# certificate gets the mail, anything else (testing, none, no policy, a fetch
# error, an invalid policy) is `may`, which every fleet MX does over TLS
MTA_STS = {("enfbad.test", "mx.wrong.test"): "deferred", ("wild.test", "b.out.wild.test"): "deferred"}
# ... and the domains, folded over their MX hosts (wild.test: a.in, preference 10, takes it)
MTA_STS_DOMAINS = {"tls": len(SCENARIOS) - 1, "cleartext": 0, "deferred": 1}
# what --no-policy (and a scan before policies) says
PLAIN_CLASS = {"enfbad.test": "cert-hostname-mismatch", "testbad.test": "cert-hostname-mismatch"}


def zones(https_port):
    z = {"shared.test.": ["mx A " + MX_OK], "wrong.test.": ["mx A " + MX_WRONG]}
    for dom in HOLD_DOMAINS:
        z[dom + "."] = ["@ MX 10 mx.shared.test.", '_mta-sts TXT "v=STSv1; id=1"', "mta-sts A " + HOLD]
    for dom, (mx, extra, host) in SCENARIOS.items():
        recs = list(mx) + list(extra)
        if host == "stall":
            recs.append("mta-sts A " + STALL)
        elif host is not None:
            recs.append("mta-sts A " + (host.get("addrs") or [HOSTS])[0])
        z[dom + "."] = recs
    return z


class HoldServer:
    """TLS on ADDR:PORT for NAMES: reads a request and never answers, so
    each fetch lasts its client's whole deadline; keeps each accept's time."""

    def __init__(self, addr, port, ca, names):
        import ssl
        import threading
        cert, key = ca.issue(names)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = __import__("socket").create_server((addr, port))
        self.sock.settimeout(0.1)
        self.lock, self.times = threading.Lock(), []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        import threading
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.times.append(time.monotonic())
            t = threading.Thread(target=self._hold, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _hold(self, c):
        try:
            c.settimeout(30)
            t = self.ctx.wrap_socket(c, server_side=True)
            while t.recv(4096):  # until the client closes
                pass
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)
        self.sock.close()


def check_policy(ck, where, rec, want):
    pol = rec.get("policy")
    dom = rec["domain"]
    if want is None and dom not in RUA and dom not in RUA_ERROR:
        ck.check(pol is None, where, "a policy map where none is published: %r" % pol)
        return
    ck.check(isinstance(pol, dict), where, "no policy map: %r" % rec)
    if not isinstance(pol, dict):
        return
    sts = pol.get("sts")
    if want is None:
        ck.check(sts is None, where, "policy.sts where no STS record is published: %r" % sts)
    else:
        ck.check(isinstance(sts, dict), where, "no policy.sts: %r" % pol)
        sts = sts or {}
        for k, v in want.items():
            got = sts.get(k)
            if k in ("fetch_error", "invalid"):
                ck.check(isinstance(got, str) and v in got, where, "policy.sts.%s %r lacks %r" % (k, got, v))
            else:
                ck.eq(where, "policy.sts." + k, got, v)
        if "mode" not in want:
            ck.check("mode" not in sts and "mx_match" not in sts, where, "a mode without a policy: %r" % sts)
        if "fetch_error" not in want:
            ck.check("fetch_error" not in sts, where, "unexpected fetch_error %r" % sts.get("fetch_error"))
    ck.eq(where, "policy.tlsrpt_rua", pol.get("tlsrpt_rua"), RUA.get(dom))
    if dom in RUA_ERROR:
        ck.check(RUA_ERROR[dom] in (pol.get("tlsrpt_error") or ""), where,
                 "policy.tlsrpt_error %r lacks %r" % (pol.get("tlsrpt_error"), RUA_ERROR[dom]))
    else:
        ck.check("tlsrpt_error" not in pol, where, "unexpected tlsrpt_error %r" % pol.get("tlsrpt_error"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    ck = harness.Checker("policy")
    tmp = tempfile.mkdtemp(prefix="mxs-policy.")
    classes = json.loads(subprocess.run([a.mxscan, "classes", "--json"], stdout=subprocess.PIPE,
                                        check=True).stdout)
    tlsrpt_of = {c["class"]: c["tlsrpt"] for c in classes}
    try:
        sites = [MX_OK + ":ok:chain:mx.shared.test", MX_WRONG + ":ok:chain:other.invalid",
                 MX_IN + ":ok:chain:a.in.wild.test", MX_OUT + ":ok:chain:b.out.wild.test"]
        with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), sites=sites, quiet=True) as fl:
            port = pf.free_port(HOSTS, udp_too=False)
            ps = pf.PolicyServers(port, os.path.join(tmp, "https"))
            for dom, (_, _, host) in SCENARIOS.items():
                if host == "stall":
                    ps.add_stall(STALL, "tls", names=["mta-sts." + dom])
                elif host is not None:
                    h = dict(host)
                    ps.add_host("mta-sts." + dom, h.pop("addrs", [HOSTS]), **h)
            res = pf.Resolver("127.0.0.1", None, os.path.join(tmp, "dns"))
            for name, recs in zones(port).items():
                res.add_zone(name, recs, mode="unsigned")
            ca = os.path.join(tmp, "ca.pem")
            with open(ca, "w") as out:
                for f in (fl.ca, ps.ca.cert):
                    out.write(open(f).read())
            domains = os.path.join(tmp, "domains.txt")
            harness.write_domains(domains, list(SCENARIOS))
            with ps, res:
                base = [a.mxscan, "scan", "--dns", res.server, "--ca-file", ca, "--port", str(fl.port),
                        "--retries", "0", "--no-diag", "--sts-port", str(port), "--sts-timeout", "1", "-q",
                        "--ehlo-name", "scanner.test"]
                summary = os.path.join(tmp, "summary.json")
                run = subprocess.run(base + ["--summary", summary, domains], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, timeout=120)
                ck.eq("scan", "exit status", run.returncode, 0)
                check_summary(ck, summary)
                if run.stderr:
                    ck.fail("scan", "stderr: %s" % run.stderr.decode(errors="replace")[-2000:])
                recs, bad = harness.parse_jsonl(run.stdout)
                for b in bad:
                    ck.fail("scan", b)
                by = {}
                for r in recs:
                    by.setdefault(r["domain"], []).append(r)
                for dom, want in EXPECT.items():
                    got = sorted(by.get(dom, []), key=lambda r: r.get("pref", 0))
                    ck.eq(dom, "records", [r.get("mx") for r in got], [w[0] for w in want])
                    for r, (mx, cls, sts) in zip(got, want):
                        where = "%s %s" % (dom, mx)
                        ck.eq(where, "class", r["class"], cls)
                        ck.eq(where, "tlsrpt", r.get("tlsrpt"), tlsrpt_of.get(cls))
                        check_policy(ck, where, r, sts)
                        dlv = r.get("delivery", {})
                        ck.eq(where, "delivery.may", dlv.get("may"), "tls")
                        ck.eq(where, "delivery.mta-sts", dlv.get("mta-sts"), MTA_STS.get((dom, mx), "tls"))
                        ck.check("dane" not in dlv, where, "delivery.dane without --dnssec: %r" % dlv)
                        if cls.startswith("sts-"):
                            ck.check("MTA-STS" in r.get("detail", ""), where, "detail %r" % r.get("detail"))
                        if cls == "sts-webpki-invalid":
                            ck.check("cert-hostname-mismatch" in r.get("cert_errors", []), where,
                                     "cert_errors %r" % r.get("cert_errors"))
                # msgpack carries the same records
                mp = subprocess.run(base + ["--format", "msgpack", domains], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=120)
                import msgpack
                mrecs = list(msgpack.Unpacker(__import__("io").BytesIO(mp.stdout), raw=False))
                key = lambda r: (r["domain"], r.get("mx", ""), r.get("ip", ""))  # noqa: E731
                same = lambda r: (key(r), r["class"], r.get("detail"), r.get("policy"))  # noqa: E731
                for x, y in zip(sorted(map(same, mrecs)), sorted(map(same, recs))):
                    ck.eq("msgpack %s" % (x[0],), "record", x, y)
                ck.eq("msgpack", "records", len(mrecs), len(recs))
                # the report groups records under the policy that applies
                path = os.path.join(tmp, "out.jsonl")
                with open(path, "wb") as f:
                    f.write(run.stdout)
                check_report(ck, a.mxscan, path)
                check_mta_sts_level(ck, base, path, domains)
                # the run ends while a policy fetch stalls: the domain is recorded, unfinished
                # (so --resume scans it again), and its neighbours are whole
                cut_list = harness.write_domains(os.path.join(tmp, "cut.txt"), ["stall.test", "enforce.test"])
                cut = subprocess.run(base + ["--sts-timeout", "60", "--max-runtime", "3", cut_list],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                ck.eq("--max-runtime", "exit status", cut.returncode, 1)
                got = {r["domain"]: r for r in harness.parse_jsonl(cut.stdout)[0]}
                ck.eq("--max-runtime", "domains", sorted(got), ["enforce.test", "stall.test"])
                st = got.get("stall.test", {})
                ck.eq("--max-runtime stall.test", "unfinished", st.get("unfinished"), True)
                ck.eq("--max-runtime stall.test", "policy", st.get("policy"), {"sts": {"txt_id": "s1"}})
                ck.check("unfinished" not in got.get("enforce.test", {}), "--max-runtime enforce.test",
                         "unfinished: %r" % got.get("enforce.test"))
                # ... and its policy was not all checked: no mta-sts outcome
                ck.check("mta-sts" not in st.get("delivery", {}), "--max-runtime stall.test",
                         "delivery %r" % st.get("delivery"))
                ck.eq("--max-runtime enforce.test", "delivery.mta-sts",
                      got.get("enforce.test", {}).get("delivery", {}).get("mta-sts"), "tls")
                # per-host politeness: six policy hosts on one address, at most two fetches at once
                hold = HoldServer(HOLD, port, ps.ca, ["mta-sts." + d for d in HOLD_DOMAINS])
                try:
                    hl = harness.write_domains(os.path.join(tmp, "hold.txt"), HOLD_DOMAINS)
                    h = subprocess.run(base + ["--sts-per-host", "2", hl], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, timeout=60)
                finally:
                    hold.close()
                ck.eq("--sts-per-host 2", "exit status", h.returncode, 0)
                ck.eq("--sts-per-host 2", "fetches", len(hold.times), len(HOLD_DOMAINS))
                # each fetch holds its slot for --sts-timeout (1 s): within half of
                # that after the first one, only the second may have started
                early = [t for t in hold.times if t - min(hold.times, default=0) < 0.5]
                ck.check(len(early) <= 2, "--sts-per-host 2",
                         "%d fetches to one address started within 0.5 s" % len(early))
                for r in harness.parse_jsonl(h.stdout)[0]:
                    ck.eq("--sts-per-host " + r["domain"], "class", r["class"], "sts-policy-fetch-error")
                check_policy_cache(ck, base, tmp, domains, ps, recs)
                # --no-policy: the records of a scan without policies
                off = subprocess.run(base + ["--no-policy", domains], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, timeout=120)
                ck.eq("--no-policy", "exit status", off.returncode, 0)
                for r in harness.parse_jsonl(off.stdout)[0]:
                    where = "--no-policy %s %s" % (r["domain"], r.get("mx"))
                    ck.check("policy" not in r, where, "a policy map: %r" % r.get("policy"))
                    ck.check("mta-sts" not in r.get("delivery", {}), where,
                             "delivery.mta-sts without policy checks: %r" % r.get("delivery"))
                    ck.eq(where, "class", r["class"], PLAIN_CLASS.get(r["domain"], "ok"))
        fl.check_stopped(ck)
    finally:
        if not ck.failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp)
    print("%d passed, %d failed" % (0 if ck.failures else 1, 1 if ck.failures else 0))
    return 1 if ck.failures else 0


def check_policy_cache(ck, base, tmp, domains, ps, plain):
    """--policy-cache: the second run takes every valid policy from the file
    (nginx sees no request for it), with the same records but `cached_at`;
    a changed TXT id, --policy-refresh 0 and a line that does not read make
    mxscan fetch again; a file that is not a cache is refused, untouched."""
    cache = os.path.join(tmp, "policies.cache")
    valid = sorted(d for d, want in EXPECT.items() if want[0][2] and "mode" in want[0][2])

    def scan(extra, what):
        before = ps.fetches()
        summ = os.path.join(tmp, "cache-summary.json")
        run = subprocess.run(base + ["--policy-cache", cache, "--summary", summ] + extra + [domains],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        ck.eq(what, "exit status", run.returncode, 0)
        after = ps.fetches()
        fetched = sorted(h[len("mta-sts."):] for h in after if after[h] > before.get(h, 0) and h.startswith("mta-sts."))
        try:
            pol = json.load(open(summ)).get("policy", {})
        except (OSError, ValueError):
            pol = {}
        return run, harness.parse_jsonl(run.stdout)[0], fetched, pol

    def lines():
        try:
            return open(cache).read().splitlines()
        except OSError:
            return []

    run, recs, fetched, pol = scan([], "--policy-cache (first run)")
    ck.check(not run.stderr, "--policy-cache (first run)", "stderr %r" % run.stderr[-500:])
    got = lines()
    ck.eq("--policy-cache file", "header", got[:1], ["# mxscan policy cache 1"])
    ck.eq("--policy-cache file", "domains", sorted(ln.split("\t")[0] for ln in got[1:]), valid)
    ck.eq("--policy-cache (first run)", "summary sts_from_cache", pol.get("sts_from_cache"), 0)
    ck.check(all(d in fetched for d in valid), "--policy-cache (first run)", "fetched %r" % fetched)

    key = lambda r: (r["domain"], r.get("mx"), r.get("ip"))  # noqa: E731
    first = {key(r): r for r in plain}
    run, recs, fetched, pol = scan([], "--policy-cache (second run)")
    cached_doms = set(valid)
    ck.eq("--policy-cache (second run)", "policies fetched from the policy hosts",
          [d for d in fetched if d in cached_doms], [])
    ck.eq("--policy-cache (second run)", "summary sts_from_cache", pol.get("sts_from_cache"), len(valid))
    ck.eq("--policy-cache (second run)", "records", sorted(map(key, recs)), sorted(first))
    now = time.time()
    for r in recs:
        where = "--policy-cache (second run) %s %s" % (r["domain"], r.get("mx"))
        old = first.get(key(r), {})
        ck.eq(where, "class", r["class"], old.get("class"))
        sts, old_sts = dict((r.get("policy") or {}).get("sts") or {}), (old.get("policy") or {}).get("sts")
        at = sts.pop("cached_at", None)
        ck.eq(where, "policy.sts but cached_at", sts or None, old_sts)
        if r["domain"] in cached_doms:
            ok = False
            try:
                ok = abs(calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ")) - now) < 600
            except (TypeError, ValueError):
                pass
            ck.check(ok, where, "cached_at %r: want the first run's time" % at)
        else:
            ck.check(at is None, where, "cached_at %r for a policy not cached" % at)

    # the domain's TXT id is not the one its policy was fetched under: fetched again;
    # a line that does not read: a warning naming the file and line, that domain fetched again
    got = lines()
    edited, bad_line = [got[0]], None
    for ln in got[1:]:
        f = ln.split("\t")
        if f[0] == "enforce.test":
            f[1] = "old1"
        elif f[0] == "testing.test":
            f[2] = "yesterday"
            bad_line = len(edited) + 1
        edited.append("\t".join(f))
    with open(cache, "w") as out:
        out.write("\n".join(edited) + "\n")
    run, recs, fetched, pol = scan([], "--policy-cache (edited)")
    ck.eq("--policy-cache (edited)", "fetched", [d for d in fetched if d in cached_doms],
          ["enforce.test", "testing.test"])
    err = run.stderr.decode(errors="replace")
    ck.check("policy cache %s:%s: not a time and a max_age" % (cache, bad_line) in err, "--policy-cache (edited)",
             "warning %r" % err)
    ck.eq("--policy-cache (edited)", "summary sts_from_cache", pol.get("sts_from_cache"), len(valid) - 2)

    # --policy-refresh 0: every policy fetched again, the file kept up to date
    run, recs, fetched, pol = scan(["--policy-refresh", "0"], "--policy-refresh 0")
    ck.eq("--policy-refresh 0", "fetched", [d for d in fetched if d in cached_doms], valid)
    ck.eq("--policy-refresh 0", "summary sts_from_cache", pol.get("sts_from_cache"), 0)
    ck.check(not any("cached_at" in str(r.get("policy")) for r in recs), "--policy-refresh 0", "cached_at in a record")
    ck.eq("--policy-refresh 0", "domains in the file", sorted(ln.split("\t")[0] for ln in lines()[1:]), valid)

    # --policy-refresh S: each domain's policy comes due between S/2 and S after its
    # fetch, at a point of its own; aged by hand, so the test waits for nothing
    S = 7200

    def aged(age):
        out = [lines()[0]]
        for ln in lines()[1:]:
            f = ln.split("\t")
            f[2] = str(int(time.time()) - age)
            out.append("\t".join(f))
        with open(cache, "w") as fo:
            fo.write("\n".join(out) + "\n")

    for age, want in ((S // 2 - 120, []), (S + 60, valid)):
        aged(age)
        run, recs, fetched, pol = scan(["--policy-refresh", str(S)], "--policy-refresh %d, age %d" % (S, age))
        ck.eq("--policy-refresh %d, age %d" % (S, age), "fetched", [d for d in fetched if d in cached_doms], want)
    # in between, some are due and some not, and the same ones every time (among
    # the policies whose own max_age has not run out by then: none.test's has)
    lasting = sorted(ln.split("\t")[0] for ln in lines()[1:] if int(ln.split("\t")[3]) > S)
    picks = []
    for _ in range(2):
        aged(S * 3 // 4)
        run, recs, fetched, pol = scan(["--policy-refresh", str(S)], "--policy-refresh %d, age 3/4" % S)
        picks.append([d for d in fetched if d in lasting])
    ck.check(len(lasting) >= 6, "--policy-refresh, age 3/4 of it", "only %r outlast it" % lasting)
    ck.check(0 < len(picks[0]) < len(lasting), "--policy-refresh, age 3/4 of it",
             "%d of %d policies due: want some, not all" % (len(picks[0]), len(lasting)))
    ck.eq("--policy-refresh, age 3/4 of it", "the same domains due twice", picks[1], picks[0])

    # a file that is not a policy cache (here: the domain list) is refused and left alone
    before = open(domains).read()
    bad = subprocess.run(base + ["--policy-cache", domains, domains], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    ck.eq("--policy-cache on a domain list", "exit status", bad.returncode, 2)
    ck.check("%s:1: not an mxscan policy cache" % domains in bad.stderr.decode(errors="replace"),
             "--policy-cache on a domain list", "stderr %r" % bad.stderr[-300:])
    ck.eq("--policy-cache on a domain list", "file unchanged", open(domains).read() == before, True)


def check_summary(ck, path):
    """--summary counts what the policy lookups found, domain by domain."""
    try:
        got = json.load(open(path)).get("policy")
    except (OSError, ValueError) as e:
        ck.fail("summary", "unreadable: %s" % e)
        return
    first = {dom: want[0][2] or {} for dom, want in EXPECT.items()}
    want = {"lookups": len(SCENARIOS), "cache_hits": 0,
            "sts": sum(1 for _, extra, _ in SCENARIOS.values() if any("_mta-sts" in x for x in extra)),
            "sts_fetched": sum(1 for w in first.values() if "mode" in w),
            "sts_from_cache": 0,
            "sts_fetch_errors": sum(1 for w in first.values() if "fetch_error" in w),
            "sts_invalid": sum(1 for w in first.values() if "invalid" in w),
            "tlsrpt": len(RUA)}
    ck.eq("summary", "policy", got, want)


def check_mta_sts_level(ck, base, path, domains):
    """The mta-sts level in the report and for --sender-level / --fail-on deferred."""
    mxscan = base[0]
    rep = subprocess.run([mxscan, "report", "--json", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        dlv = json.loads(rep.stdout).get("delivery", {})
    except ValueError:
        dlv = {}
    ck.eq("report --json", "delivery.mta-sts", dlv.get("mta-sts"), MTA_STS_DOMAINS)
    ck.eq("report --json", "delivery.may", dlv.get("may"), {"tls": len(SCENARIOS), "cleartext": 0, "deferred": 0})
    txt = subprocess.run([mxscan, "report", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    row = [ln.split() for ln in txt.stdout.decode().splitlines() if ln.split()[:1] == ["mta-sts"]]
    # (the unknown columns, when shown: dane is not checked without --dnssec)
    ck.eq("report", "the mta-sts row", [x[:7] for x in row[:1]], [["mta-sts", str(len(SCENARIOS) - 1), "%.1f%%" % (
        100.0 * (len(SCENARIOS) - 1) / len(SCENARIOS)), "0", "0.0%", "1", "%.1f%%" % (100.0 / len(SCENARIOS))]])
    # cron at mta-sts: enfbad.test's mail would be deferred (and at may none is)
    for level, want in (("mta-sts", 3), ("may", 0)):
        r = subprocess.run(base + ["--fail-on", "deferred", "--sender-level", level, "-o", os.devnull, domains],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        ck.eq("--fail-on deferred --sender-level " + level, "exit status", r.returncode, want)
    r = subprocess.run(base + ["--no-policy", "--sender-level", "mta-sts", "-o", os.devnull, domains],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    ck.eq("--sender-level mta-sts --no-policy", "exit status", r.returncode, 2)


def check_report(ck, mxscan, path):
    rep = subprocess.run([mxscan, "report", "--tlsrpt", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ck.eq("report --tlsrpt", "exit status", rep.returncode, 0)
    try:
        doc = json.loads(rep.stdout)
    except ValueError as e:
        ck.fail("report --tlsrpt", "not JSON: %s" % e)
        return
    pols = {p["policy"]["policy-domain"]: p for p in doc.get("policies", [])}
    p = pols.get("enforce.test")
    ck.check(p is not None, "report enforce.test", "no policy entry")
    if p:
        ck.eq("report enforce.test", "policy-type", p["policy"].get("policy-type"), "sts")
        ck.eq("report enforce.test", "policy-string", p["policy"].get("policy-string"),
              ["version: STSv1", "mode: enforce", "mx: mx.shared.test", "max_age: 86400"])
        ck.eq("report enforce.test", "mx-host", p["policy"].get("mx-host"), ["mx.shared.test"])
        ck.eq("report enforce.test", "successes", p["summary"]["total-successful-session-count"], 1)
    p = pols.get("enfbad.test")
    ck.check(p is not None, "report enfbad.test", "no policy entry")
    if p:
        ck.eq("report enfbad.test", "policy-type", p["policy"].get("policy-type"), "sts")
        types = [d["result-type"] for d in p.get("failure-details", [])]
        ck.eq("report enfbad.test", "result types", types, ["sts-webpki-invalid"])
    p = pols.get("missing.test")
    if p:  # announced, but not fetched: an sts entry without the policy strings
        ck.eq("report missing.test", "policy-type", p["policy"].get("policy-type"), "sts")
        ck.check("policy-string" not in p["policy"], "report missing.test", "policy-string %r" % p["policy"])
        ck.eq("report missing.test", "result types", [d["result-type"] for d in p.get("failure-details", [])],
              ["sts-policy-fetch-error"])
    else:
        ck.fail("report missing.test", "no policy entry")
    p = pols.get("plain.test")
    ck.check(p is not None and p["policy"].get("policy-type") == "no-policy-found", "report plain.test",
             "want no-policy-found: %r" % p)


if __name__ == "__main__":
    sys.exit(main())
