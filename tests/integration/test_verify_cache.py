#!/usr/bin/python3
"""test_verify_cache.py - the chain verification cache changes no record.

Starts the fake MX fleet (every certificate problem of the contract, and
addresses whose one chain serves several MX names) and scans every
fleet.tsv domain with --probe-per-name, so each shared address is probed
once per name and meets the same chain again:

  * with --verify-cache 0 (every chain verified afresh): the summary
    counts no cache lookup;
  * with the default cache: the summary counts hits (one per chain met
    again), and every record's class, cert_errors, certificate and
    diagnostic equal the uncached run's;
  * with --verify-cache 1 (one slot: chains keep evicting each other): the
    same records again.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

ARGS = ["--connect-timeout", "1", "--banner-timeout", "1.5", "--command-timeout", "1", "--handshake-timeout", "1",
        "--dns-timeout", "0.5", "--dns-tries", "2", "--retries", "1", "--retry-delay", "0.1",
        "--ehlo-name", "scanner.test", "--probe-per-name", "-q"]

# What verification decides, or follows from it; timings and times may differ.
FIELDS = ("class", "stage", "detail", "cert_errors", "tls_version", "cipher", "diag", "tlsrpt")
CERT_FIELDS = ("subject_cn", "san", "issuer", "sha256", "chain_len", "key_type", "key_bits", "sig_alg")


def view(r):
    v = {k: r.get(k) for k in FIELDS}
    cert = r.get("cert") or {}
    v["cert"] = {k: cert.get(k) for k in CERT_FIELDS}
    return json.dumps(v, sort_keys=True)


def scan(mxscan, env, tmp, domains, name, extra, fail=None):
    out, summary = os.path.join(tmp, name + ".jsonl"), os.path.join(tmp, name + ".summary.json")
    cmd = [mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"], "-o", out,
           "--summary", summary] + ARGS + extra + [domains]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stderr=subprocess.PIPE, timeout=120)
    recs = {}
    for line in open(out):
        r = json.loads(line)
        recs[(r["domain"], r.get("mx"), r.get("ip"))] = view(r)
    s = json.load(open(summary))
    print("%s: exit %d, %d records, verify_cache %s, resources %s" % (name, p.returncode, len(recs),
                                                                      s.get("verify_cache"), s.get("resources")))
    # The summary's resources are mxscan's own: some memory and CPU, and no
    # more than the kernel says this (only) finished child of ours used.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = s.get("resources") or {}
    cpu = res.get("cpu_user_s", -1) + res.get("cpu_sys_s", -1)
    if fail and not (0 < res.get("peak_rss_kib", 0) <= after.ru_maxrss):
        fail("%s: summary peak_rss_kib %r, children's ru_maxrss %d" % (name, res.get("peak_rss_kib"), after.ru_maxrss))
    if fail and not (0 < cpu <= (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) + 0.05):
        fail("%s: summary CPU %r s, more than the child used" % (name, res))
    return p.returncode, recs, s.get("verify_cache") or {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    a = ap.parse_args()
    rows = fleet.load()
    failures = []

    def fail(what):
        print("  FAIL " + what)
        failures.append(what)

    tmp = tempfile.mkdtemp(prefix="mxscan-vc-")
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", a.fakemx, "--lifetime", "300", tmp],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if up.returncode != 0:
        print("FAIL fleet-up")
        return 1
    env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    try:
        domains = os.path.join(tmp, "domains.txt")
        with open(domains, "w") as fp:
            fp.write("\n".join(fleet.domains(rows)) + "\n")
        # Addresses with a certificate that several MX names share: each is
        # a chain met again under --probe-per-name.
        names = {}
        for r in rows:
            if r.ip.startswith("127.") and r.mx and r.cert not in ("", "-"):
                names.setdefault(r.ip, set()).add(r.mx)
        repeats = sum(len(v) - 1 for v in names.values())

        rc0, fresh, vc0 = scan(a.mxscan, env, tmp, domains, "fresh", ["--verify-cache", "0"], fail)
        rc1, cached, vc1 = scan(a.mxscan, env, tmp, domains, "cached", [], fail)
        rc2, tiny, vc2 = scan(a.mxscan, env, tmp, domains, "tiny", ["--verify-cache", "1"], fail)
        for name, rc in (("fresh", rc0), ("cached", rc1), ("tiny", rc2)):
            if rc != 0:
                fail("%s run: exit %d" % (name, rc))
        if vc0.get("lookups") != 0:
            fail("--verify-cache 0 looked up the cache: %r" % vc0)
        if not vc1.get("lookups"):
            fail("the default run never looked up the cache: %r" % vc1)
        if repeats and not vc1.get("hits"):
            fail("%d chain(s) met again but no cache hit: %r" % (repeats, vc1))
        if vc1.get("hits", 0) > vc1.get("lookups", 0):
            fail("more hits than lookups: %r" % vc1)
        for name, got in (("cached", cached), ("tiny", tiny)):
            if set(got) != set(fresh):
                fail("%s: records differ in (domain, mx, ip): %s" % (name, sorted(set(got) ^ set(fresh))[:5]))
            for k in sorted(set(got) & set(fresh)):
                if got[k] != fresh[k]:
                    fail("%s %s:\n    cached %s\n    fresh  %s" % (name, k, got[k], fresh[k]))
        print("%d addresses serve %d more MX name(s); %d records compared" % (len(names), repeats, len(fresh)))
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), tmp])
    print("%d failure(s)" % len(failures))
    if failures:
        print("work directory kept: %s" % tmp)
    else:
        subprocess.run(["rm", "-rf", tmp])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
