#!/usr/bin/env python3
"""test_sni_fakemx.py - shared hosting at fixture speed: fakemx sites that
choose their certificate by SNI, sites that ignore it, and a wildcard pool.

220 domains on 8 addresses of one fakemx (tests/fixtures, its SNI mode:
--site IP:MODE:CERT:NAMES:PATTERNS), a local unbound, the real mxscan:

  s1..s4   shared-hosting servers: customers whose MX matches the site's
           pattern (mx.sKc*.test) get a leaf of their own; customers with
           another name (mail.sKnN.test) get the default certificate, which
           names only the server itself (hostK.shared.test, the MX of the
           customers that use the server's name)
  i1, i2   servers that ignore SNI: one certificate for every name
           (i2's is a wildcard covering half its customers)
  p1, p2   a wildcard pool: 35 MX names *.pool.test on both addresses

Checked, per run, against fakemx's own counters (connections per address,
ClientHellos per (address, server name)):

  default  every record's class (ok where the certificate served under its
           name, or under the name whose probe its record reports, covers
           it; cert-hostname-mismatch otherwise); sni == mx for every name
           the address's default certificate does not cover; connections
           per address == the exact minimum: one per distinct name the
           default certificate does not cover (each must be asked under its
           own name), plus one if the default certificate was first fetched
           under a name it covers (then every other covered name reuses it;
           fetched under an uncovered name, it costs nothing more) - at
           most one, and exactly one when no uncovered name exists (the
           pool: one connection per address); each (address, name) asked
           once; the summary's sni.name_probes = connections - addresses,
           sni.addresses_by_name = the four that chose by name
  --sni-probes-per-address 2   at most 2 extra connections per address
           (exactly 2 where more names needed one), the names past the cap
           reuse the address's last result and say so in sni
  --sni none   exactly one connection per address, no SNI in any
           ClientHello, sni null, the default certificate's verdict for
           every name

    test_sni_fakemx.py --mxscan build/mxscan --fakemx build/tests/fixtures/fakemx [--keep]
Exit 0 when every check passed.
"""
import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scale"))
import harness  # noqa: E402

OPTS = ["--retries", "0", "--no-diag", "--rate", "0", "--provider-rate", "0", "--concurrency", "50"]


class Site:
    """One address: its default certificate's names, its SNI patterns
    (fnmatch-like: only a trailing '*' inside a label is used here) and the
    MX names of its customers."""

    def __init__(self, tag, ip, default, patterns=(), sni=True):
        self.tag, self.ip, self.default, self.patterns = tag, ip, list(default), list(patterns)
        self.rows = []

    def own(self, name):
        """NAME gets a leaf of its own here (the site's patterns)."""
        import fnmatch
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def served(self, sni):
        """The SAN of the certificate served to a ClientHello with SNI."""
        return [sni] if sni and self.own(sni) else self.default


def covers(san, name):
    for s in san:
        if s == name or (s.startswith("*.") and "." in name and name.split(".", 1)[1] == s[2:]):
            return True
    return False


def scenario():
    sites = {}

    def site(tag, ip, default, patterns=()):
        sites[tag] = Site(tag, ip, default, patterns)
        return sites[tag]

    def add(s, domain, mx):
        s.rows.append(harness.row(domain, mx=mx, ip=s.ip, mode="ok", cert="chain", san="n"))

    # shared hosting: (own-certificate customers, customers without one, customers on the server's name)
    for k, (own, nocert, host) in enumerate([(30, 0, 10), (20, 10, 0), (15, 10, 10), (15, 0, 15)], 1):
        names = ["host%d.shared.test" % k] + (["host%db.shared.test" % k] if k == 4 else [])
        s = site("s%d" % k, "127.0.80.%d" % k, names, ["mx.s%dc*.test" % k])
        for n in range(own):
            add(s, "s%dc%d.test" % (k, n), "mx.s%dc%d.test" % (k, n))
        for n in range(nocert):
            add(s, "s%dn%d.test" % (k, n), "mail.s%dn%d.test" % (k, n))
        for n in range(host):
            add(s, "s%dh%d.test" % (k, n), names[n % len(names)])
    # servers that ignore SNI
    s = site("i1", "127.0.80.11", ["plain1.hosting.test"])
    for n in range(20):
        add(s, "i1x%d.test" % n, "mail.i1x%d.test" % n)
    for n in range(10):
        add(s, "i1h%d.test" % n, "plain1.hosting.test")
    s = site("i2", "127.0.80.12", ["*.plain2.test"])
    for n in range(10):
        add(s, "i2x%d.test" % n, "mail.i2x%d.test" % n)
    for n in range(10):
        add(s, "i2c%d.test" % n, "c%d.plain2.test" % n)
    # a wildcard pool: every MX name on both addresses
    p1, p2 = site("p1", "127.0.80.21", ["*.pool.test"]), site("p2", "127.0.80.22", ["*.pool.test"])
    for n in range(35):
        add(p1, "p%d.test" % n, "mx%d.pool.test" % n)
        add(p2, "p%d.test" % n, "mx%d.pool.test" % n)
    specs = ["%s:ok:chain:%s%s" % (s.ip, ",".join(s.default), ":" + ",".join(s.patterns) if s.patterns else "")
             for s in sites.values()]
    return sites, specs


def delta(after, before):
    out = {}
    for k, v in after["site"].items():
        out[("site", k)] = v["connections"] - before["site"].get(k, {"connections": 0})["connections"]
    for k, v in after["sni"].items():
        out[("sni",) + k] = v["hellos"] - before["sni"].get(k, {"hellos": 0})["hellos"]
    return out


def scan(a, fl, tmp, tag, domains, extra):
    inp = harness.write_domains(os.path.join(tmp, tag + ".txt"), domains)
    before = fl.stats()
    res = harness.run(a.mxscan, fl, inp, OPTS + ["--summary", os.path.join(tmp, tag + ".summary.json"), "-q"] +
                      list(extra))
    time.sleep(0.2)  # the last connection's close reaches fakemx's counters
    return res, delta(fl.stats(), before)


def check_common(ck, tag, res, sites, conns, tmp, by_name=None):
    """One record per row, and its class is what the certificate served
    under its sni says of its MX name; the summary's name probes are the
    connections beyond one per address (BY_NAME: the addresses that served
    another certificate for another name, when the scenario fixes it)."""
    import json
    with open(os.path.join(tmp, tag + ".summary.json")) as fp:
        sni = json.load(fp).get("sni", {})
    made = sum(v for k, v in conns.items() if k[0] == "site")
    ck.eq(tag, "summary sni.name_probes", sni.get("name_probes"), made - len(sites))
    if by_name is not None:
        ck.eq(tag, "summary sni.addresses_by_name", sni.get("addresses_by_name"), by_name)
    rows = [r for s in sites.values() for r in s.rows]
    ck.check(res.rc in (0, 3), tag, "mxscan exit %s: %s" % (res.rc, res.err[-500:]))
    got = harness.check_records(ck, tag, res, rows, classes={(r.domain, r.mx, r.ip): None for r in rows})
    by_ip = {s.ip: s for s in sites.values()}
    for (domain, mx, ip), recs in got.items():
        if len(recs) != 1 or ip not in by_ip:
            continue
        r, s = recs[0], by_ip[ip]
        if not ck.check("sni" in r, "%s %s" % (tag, domain), "no sni field: %s" % r):
            continue
        want = "ok" if covers(s.served(r["sni"]), mx) else "cert-hostname-mismatch"
        ck.eq("%s %s %s (sni %s)" % (tag, domain, ip, r["sni"]), "class", r.get("class"), want)
    return got


def records_of(got, ip):
    return [recs[0] for (d, mx, i), recs in got.items() if i == ip and len(recs) == 1]


def check_default(ck, res, conns, sites, tmp):
    # s1..s4 serve a leaf of its own to some name after the first: always counted
    got = check_common(ck, "default", res, sites, conns, tmp, by_name=4)
    total = 0
    for s in sites.values():
        recs = records_of(got, s.ip)
        names = {r["mx"] for r in recs}
        uncovered = {n for n in names if not covers(s.default, n)}
        for r in recs:
            if r["mx"] in uncovered:
                ck.eq("default %s %s" % (s.tag, r["mx"]), "sni", r.get("sni"), r["mx"])
                ck.eq("default %s %s" % (s.tag, r["mx"]), "class", r.get("class"),
                      "ok" if s.own(r["mx"]) else "cert-hostname-mismatch")
            elif "sni" in r:  # a covered name reports a probe of this address's names
                ck.check(r["sni"] in names, "default %s %s" % (s.tag, r["mx"]), "sni %s is none of the address's "
                         "names" % r["sni"])
        # the covered names' certificate fetched under a covered name: one probe for all of them
        fetched = {r["sni"] for r in recs if r["mx"] not in uncovered and r.get("sni") not in uncovered}
        ck.check(len(fetched) <= 1, "default %s" % s.tag, "covered names fetched under %s: one probe for all "
                 "of them, not %d" % (sorted(fetched), len(fetched)))
        if not uncovered:
            ck.eq("default %s" % s.tag, "probes under covered names", len(fetched), 1)
        want = len(uncovered) + len(fetched)
        total += want
        ck.eq("default %s %s" % (s.tag, s.ip), "connections", conns.get(("site", s.ip)), want)
        for n in uncovered:
            ck.eq("default %s %s" % (s.tag, n), "ClientHellos", conns.get(("sni", s.ip, n)), 1)
        hellos = sum(v for k, v in conns.items() if k[0] == "sni" and k[1] == s.ip)
        ck.eq("default %s" % s.tag, "ClientHellos", hellos, want)
    print("default: %d connections for %d records on %d addresses (the minimum)" % (
        sum(v for k, v in conns.items() if k[0] == "site"), len(res.records), len(sites)))
    ck.eq("default", "connections", sum(v for k, v in conns.items() if k[0] == "site"), total)


def check_cap(ck, res, conns, sites, tmp):
    got = check_common(ck, "cap", res, sites, conns, tmp)
    for s in sites.values():
        recs = records_of(got, s.ip)
        uncovered = {r["mx"] for r in recs if not covers(s.default, r["mx"])}
        want = 1 if not uncovered else 3  # every other address has 15 or more names to ask
        ck.eq("cap %s %s" % (s.tag, s.ip), "connections", conns.get(("site", s.ip)), want)
        snis = {r.get("sni") for r in recs}
        ck.check(len(snis) <= 3, "cap %s" % s.tag, "records report %d probes, want 3 at most" % len(snis))
        if uncovered:
            past = [r for r in recs if r["mx"] in uncovered and r.get("sni") != r["mx"]]
            ck.check(len(past) >= len(uncovered) - 3, "cap %s" % s.tag, "only %d records past the cap" % len(past))


def check_none(ck, res, conns, sites, tmp):
    got = check_common(ck, "none", res, sites, conns, tmp, by_name=0)
    for s in sites.values():
        ck.eq("none %s %s" % (s.tag, s.ip), "connections", conns.get(("site", s.ip)), 1)
        ck.eq("none %s" % s.tag, "ClientHellos without SNI", conns.get(("sni", s.ip, "-")), 1)
        for r in records_of(got, s.ip):
            ck.check("sni" in r and r["sni"] is None, "none %s %s" % (s.tag, r["mx"]), "sni %r, want null" %
                     r.get("sni"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    ck = harness.Checker("sni_fakemx")
    tmp = tempfile.mkdtemp(prefix="mxscan-sni-fakemx-")
    sites, specs = scenario()
    rows = [r for s in sites.values() for r in s.rows]
    domains = sorted({r.domain for r in rows})
    t0 = time.monotonic()
    with harness.Fleet(a.fakemx, os.path.join(tmp, "fleet"), rows, sites=specs, quiet=True) as fl:
        res, conns = scan(a, fl, tmp, "default", domains, [])
        check_default(ck, res, conns, sites, tmp)
        res, conns = scan(a, fl, tmp, "cap", domains, ["--sni-probes-per-address", "2"])
        check_cap(ck, res, conns, sites, tmp)
        res, conns = scan(a, fl, tmp, "none", domains, ["--sni", "none"])
        check_none(ck, res, conns, sites, tmp)
    fl.check_stopped(ck)
    harness.check_sanitizers(ck)
    print("%d domains, %d records per run, 3 runs in %.1fs" % (len(domains), len(rows), time.monotonic() - t0))
    if ck.failures:
        print("FAIL: %d check(s) failed (files in %s)" % (len(ck.failures), tmp))
        return 1
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
