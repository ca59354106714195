#!/usr/bin/python3
"""test_scan.py - mxscan end to end against the fake MX fleet.

Starts the fleet (tests/fixtures/fleet-up: fakemx + unbound on free ports of
127.0.0.0/8), scans every domain of tests/fixtures/fleet.tsv and checks each
record against the row(s) of that table and the results contract
(shared/spec/results.md): record count per domain, class, stage, mx, ip,
port, pref, implicit_mx, tlsrpt, and the presence and shape of smtp_code,
banner, ehlo, tls_version, cipher, cert (checked against the certificate
files fakemx serves), cert_errors, diag, timings_ms, attempts, scanned_at.
Then it checks that every class but tcp-unreachable and excluded occurred, that
--format msgpack gives the same records, that malformed input lines are
reported with their line number while good lines are scanned, and (fakemx
runs with --max-per-ip 1) that mxscan never opened two connections to one
address at once and probed a shared address once.

    test_scan.py --mxscan PATH --fakemx PATH [--keep] [-v] [--only DOMAIN...]

Python stdlib + msgpack (python3-msgpack).  Exit status 0 when all passed.
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

# The contract's class table, in order: name -> (stages, tlsrpt).
CLASSES = collections.OrderedDict(
    (name, (stages.split("/"), tlsrpt))
    for name, stages, tlsrpt in (
        ("dns-nxdomain", "dns", "none"),
        ("dns-servfail", "dns", "none"),
        ("dns-timeout", "dns", "none"),
        ("null-mx", "dns", "none"),
        ("no-mx-no-address", "dns", "none"),
        ("mx-no-address", "dns", "none"),
        ("tcp-timeout", "connect", "none"),
        ("tcp-refused", "connect", "none"),
        ("tcp-unreachable", "connect", "none"),
        ("smtp-banner-timeout", "banner", "none"),
        ("smtp-timeout", "ehlo/starttls", "none"),
        ("smtp-rejected", "banner/ehlo", "none"),
        ("smtp-protocol-error", "banner/ehlo", "none"),
        ("smtp-closed", "banner/ehlo", "none"),
        ("starttls-not-offered", "ehlo", "starttls-not-supported"),
        ("starttls-rejected", "starttls", "starttls-not-supported"),
        ("tls-version-mismatch", "tls", "validation-failure"),
        ("tls-no-shared-cipher", "tls", "validation-failure"),
        ("tls-weak-dh", "tls", "validation-failure"),
        ("tls-legacy-renegotiation", "tls", "validation-failure"),
        ("tls-died", "tls", "validation-failure"),
        ("tls-timeout", "tls", "validation-failure"),
        ("tls-alert", "tls", "validation-failure"),
        ("tls-protocol-error", "tls", "validation-failure"),
        ("cert-expired", "cert", "certificate-expired"),
        ("cert-not-yet-valid", "cert", "certificate-not-trusted"),
        ("cert-self-signed", "cert", "certificate-not-trusted"),
        ("cert-chain-incomplete", "cert", "certificate-not-trusted"),
        ("cert-untrusted", "cert", "certificate-not-trusted"),
        ("cert-hostname-mismatch", "cert", "certificate-host-mismatch"),
        ("cert-weak", "cert", "validation-failure"),
        ("post-tls-ehlo-failed", "post-tls", "validation-failure"),
        ("excluded", "dns", "none"),
        ("ok", "done", "success"),
    )
)
STAGES = ["dns", "connect", "banner", "ehlo", "starttls", "tls", "cert", "post-tls", "done"]
TIMING_KEYS = {"dns", "connect", "banner", "ehlo", "starttls", "handshake", "total"}
CERT_KEYS = {"subject_cn": str, "san": list, "issuer": str, "not_before": str, "not_after": str, "days_left": int,
             "key_type": str, "key_bits": int, "sig_alg": str, "sha256": str, "chain_len": int}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
EHLO_OK = ["PIPELINING", "SIZE 52428800", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME"]
EHLO_NO_TLS = ["PIPELINING", "SIZE 52428800", "8BITMIME"]

TIMEOUT_ARGS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3",
                "--handshake-timeout", "3", "--dns-timeout", "1", "--dns-tries", "2", "--ehlo-name", "scanner.test",
                "--retry-delay", "0.2"]


class Checker:
    def __init__(self, verbose):
        self.failures, self.verbose = [], verbose

    def fail(self, where, msg):
        self.failures.append("%s: %s" % (where, msg))

    def eq(self, where, key, got, want):
        if got != want:
            self.fail(where, "%s = %r, want %r" % (key, got, want))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def stage_index(stage):
    return STAGES.index(stage) if stage in STAGES else -1


# --- certificates fakemx serves ------------------------------------------------


def served_chain(certdir, ip):
    """DER certificates of DIR/site-IP.pem, leaf first."""
    try:
        text = open(os.path.join(certdir, "site-%s.pem" % ip)).read()
    except FileNotFoundError:
        return []
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return [base64.b64decode("".join(b.split())) for b in blocks]


# --- what a sender does with the mail ---------------------------------------------

# class -> {level: cell}, from `mxscan classes --json` (set by main); README's
# table is compared with it by tests/report/test_report.py.
CELLS = {}


def names_domain(cert, domain):
    """Postfix's `secure` match: a SAN dNSName (or the CN without one) is the
    domain or a name under it."""
    names = cert.get("san") or ([cert["subject_cn"]] if cert.get("subject_cn") else [])
    d = domain.rstrip(".").lower()
    return any(n.rstrip(".").lower() == d or n.rstrip(".").lower().endswith("." + d) for n in names)


def check_delivery(ck, where, rec):
    want = {}
    for level in ("may", "encrypt", "verify", "secure"):
        cell = CELLS.get(rec.get("class"), {}).get(level)
        if cell == "cleartext-after-retry":
            cell = "cleartext"
        elif cell == "tls-if-named":
            others = set(rec.get("cert_errors", [])) - {"cert-hostname-mismatch"}
            cell = "tls" if not others and names_domain(rec.get("cert", {}), rec["domain"]) else "deferred"
        want[level] = cell
    # the policy levels: no fleet domain publishes MTA-STS, so mta-sts is may;
    # the scan has no --dnssec, so dane is there only where the class defers
    # whatever the policy (README "The policy levels")
    cells = CELLS.get(rec.get("class"), {})
    if cells.get("dane") == "deferred":
        want["dane"] = "deferred"
    if cells.get("mta-sts") == "deferred":
        want["mta-sts"] = "deferred"
    elif not rec.get("unfinished"):
        want["mta-sts"] = want["may"]
    ck.eq(where, "delivery", rec.get("delivery"), want)


# --- one record against its row -------------------------------------------------


def check_record(ck, rec, row, env, t_start, t_end):
    where = "%s [%s %s] (fleet.tsv:%d)" % (row.domain, row.mx, row.ip, row.line)
    cls, stage = rec.get("class"), rec.get("stage")
    ck.eq(where, "class", cls, row.cls)
    ck.eq(where, "stage", stage, row.stage)
    ck.eq(where, "domain", rec.get("domain"), row.domain)
    if cls in CLASSES:
        ck.eq(where, "tlsrpt", rec.get("tlsrpt"), CLASSES[cls][1])
        if stage not in CLASSES[cls][0]:
            ck.fail(where, "stage %r is not a stage of class %s %s" % (stage, cls, CLASSES[cls][0]))
    else:
        ck.fail(where, "class %r is not in the contract" % cls)
    check_delivery(ck, where, rec)
    if not isinstance(rec.get("detail"), str) or not rec.get("detail"):
        ck.fail(where, "detail missing or empty")
    at = rec.get("scanned_at", "")
    if not RFC3339.match(at):
        ck.fail(where, "scanned_at %r is not RFC 3339 UTC" % at)
    else:
        ts = time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        if not t_start - 2 <= ts <= t_end + 2:
            ck.fail(where, "scanned_at %s outside the run" % at)

    # MX known / address known
    if row.mx == "-":
        for k in ("mx", "pref", "implicit_mx", "ip", "port"):
            if k in rec:
                ck.fail(where, "%s present in a record that stopped before any MX" % k)
    else:
        ck.eq(where, "mx", rec.get("mx"), row.mx)
        ck.eq(where, "pref", rec.get("pref"), int(row.pref))
        ck.eq(where, "implicit_mx", rec.get("implicit_mx"), row.dns == "a")
    if row.ip == "-":
        for k in ("ip", "port", "timings_ms", "attempts", "smtp_code", "banner"):
            if k in rec:
                ck.fail(where, "%s present but no address was known" % k)
        return
    ck.eq(where, "ip", rec.get("ip"), row.ip)
    ck.eq(where, "port", rec.get("port"), int(env["SMTP_PORT"]))

    # a connection was tried
    t = rec.get("timings_ms")
    if not isinstance(t, dict) or "total" not in t:
        ck.fail(where, "timings_ms %r lacks total" % (t,))
    else:
        if set(t) - TIMING_KEYS:
            ck.fail(where, "timings_ms has unknown keys %s" % sorted(set(t) - TIMING_KEYS))
        if not all(is_int(v) and v >= 0 for v in t.values()):
            ck.fail(where, "timings_ms values must be non-negative ints: %r" % t)
    if not is_int(rec.get("attempts")) or rec["attempts"] < 1:
        ck.fail(where, "attempts %r" % rec.get("attempts"))

    si = stage_index(stage)
    greeted = si > stage_index("banner") or cls == "smtp-rejected"
    ehlo_ok = si > stage_index("ehlo") or cls == "starttls-not-offered"
    handshake = si >= stage_index("cert")

    # smtp_code, banner
    code = rec.get("smtp_code")
    if greeted:
        if not is_int(code) or not 200 <= code <= 599:
            ck.fail(where, "smtp_code %r, want an int 200..599" % (code,))
        b = rec.get("banner")
        if not isinstance(b, str) or not b or len(b.encode()) > 512:
            ck.fail(where, "banner %r" % (b,))
        elif cls != "smtp-rejected" and not re.match(r"^(220[ -])?\S+ ESMTP fakemx", b):
            ck.fail(where, "banner %r is not fakemx's first greeting line" % (b,))
    elif cls in ("tcp-refused", "tcp-timeout", "smtp-banner-timeout", "smtp-closed"):
        for k in ("smtp_code", "banner"):
            if k in rec:
                ck.fail(where, "%s present but no greeting was read" % k)
    if "code" in row.expect:
        ck.eq(where, "smtp_code", code, row.expect["code"])

    # ehlo
    e = rec.get("ehlo")
    if ehlo_ok and row.mode != "ehlo-502-helo":
        want = EHLO_NO_TLS if cls == "starttls-not-offered" else EHLO_OK
        if not isinstance(e, list) or [x.upper() for x in e] != want:
            ck.fail(where, "ehlo %r, want %r (any case)" % (e, want))
    elif e is not None and (not isinstance(e, list) or any("STARTTLS" == x.upper() for x in e)):
        ck.fail(where, "ehlo %r" % (e,))

    # handshake results
    for k in ("tls_version", "cipher", "group"):
        v = rec.get(k)
        if handshake and not (isinstance(v, str) and v):
            ck.fail(where, "%s %r, want a string after a handshake" % (k, v))
        if not handshake and v is not None:
            ck.fail(where, "%s present without a completed handshake" % k)
    if handshake:
        ck.eq(where, "tls_version", rec.get("tls_version"), row.expect.get("tls", "TLSv1.3"))

    # cert and cert_errors
    cert = rec.get("cert")
    if handshake or cert is not None:
        check_cert(ck, where, cert, row, env)
    errs = rec.get("cert_errors")
    if handshake:
        want = row.expect.get("errors", [row.cls] if row.stage == "cert" else [])
        if not isinstance(errs, list) or sorted(errs) != sorted(want):
            ck.fail(where, "cert_errors %r, want %r" % (errs, want))
        elif errs:
            first = min(errs, key=lambda c: list(CLASSES).index(c) if c in CLASSES else 99)
            ck.eq(where, "class (first of cert_errors)", cls, first)

    # diag
    diag = rec.get("diag")
    if stage == "tls" and row.expect.get("legacy") is False:
        # A retry that cannot help (a stall, a reset) may be skipped; if it
        # was made, it must have failed.
        if diag is not None and (not isinstance(diag, dict) or diag.get("legacy_ok") is not False):
            ck.fail(where, "diag %r, want none or legacy_ok false" % (diag,))
    elif stage == "tls" and row.expect.get("legacy"):
        if not isinstance(diag, dict):
            ck.fail(where, "diag missing after a TLS failure")
        else:
            ck.eq(where, "diag.legacy_ok", diag.get("legacy_ok"), row.expect["legacy"])
            if row.expect["legacy"] and not isinstance(diag.get("legacy_version"), str):
                ck.fail(where, "diag.legacy_version %r" % diag.get("legacy_version"))
            if row.expect["legacy"] and not isinstance(diag.get("legacy_cipher"), str):
                ck.fail(where, "diag.legacy_cipher %r" % diag.get("legacy_cipher"))
    elif stage != "tls" and diag is not None:
        ck.fail(where, "diag present but TLS did not fail")


def check_cert(ck, where, cert, row, env):
    if not isinstance(cert, dict):
        ck.fail(where, "cert %r, want a map" % (cert,))
        return
    for k, typ in CERT_KEYS.items():
        if not isinstance(cert.get(k), typ) or (typ is int and isinstance(cert.get(k), bool)):
            ck.fail(where, "cert.%s = %r, want %s" % (k, cert.get(k), typ.__name__))
    for k in ("not_before", "not_after"):
        if isinstance(cert.get(k), str) and not RFC3339.match(cert[k]):
            ck.fail(where, "cert.%s %r is not RFC 3339 UTC" % (k, cert[k]))
    chain = served_chain(env["DIR"], row.ip)
    if chain:
        ck.eq(where, "cert.sha256", str(cert.get("sha256", "")).lower(), hashlib.sha256(chain[0]).hexdigest())
        ck.eq(where, "cert.chain_len", cert.get("chain_len"), len(chain))
    profile = row.cert
    ck.eq(where, "cert.key_type", cert.get("key_type"), "RSA")
    ck.eq(where, "cert.key_bits", cert.get("key_bits"), 1024 if profile == "weak" else 2048)
    if profile == "sha1" and "sha1" not in str(cert.get("sig_alg", "")).lower().replace("-", ""):
        ck.fail(where, "cert.sig_alg %r, want a SHA-1 signature" % cert.get("sig_alg"))
    days = cert.get("days_left")
    if is_int(days):
        if profile.startswith("expired") and days >= 0:
            ck.fail(where, "cert.days_left %d for an expired certificate" % days)
        if not profile.startswith("expired") and not 0 < days <= 120:
            ck.fail(where, "cert.days_left %d, want 1..120" % days)
    san = cert.get("san") if isinstance(cert.get("san"), list) else []
    if "mismatch" in profile:
        ck.eq(where, "cert.san", san, ["other.invalid"])
    elif row.san == "y" and row.mx not in san:
        ck.fail(where, "cert.san %r lacks %s" % (san, row.mx))
    elif row.san == "n" and row.mx in san:
        ck.fail(where, "cert.san %r names %s" % (san, row.mx))


# --- runs ------------------------------------------------------------------------


def run_mxscan(mxscan, env, inp, extra=(), timeout=60):
    cmd = [mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"]]
    cmd += TIMEOUT_ARGS + list(extra) + [inp]
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p, t0, time.time()


def stats(env, settle=False):
    """fakemx's counters, refreshed with SIGUSR1.  SETTLE: wait until fakemx
    serves no connection (its threads may still be reading the last QUIT
    when mxscan exits)."""
    for _ in range(100 if settle else 1):
        out = stats_once(env)
        if not settle or out.get("active") == 0:
            break
        time.sleep(0.05)
    return out


def stats_once(env):
    path = env["STATS"]
    old = os.path.getmtime(path) if os.path.exists(path) else 0
    os.kill(int(env["FAKEMX_PID"]), signal.SIGUSR1)
    for _ in range(100):
        time.sleep(0.02)
        if os.path.exists(path) and os.path.getmtime(path) != old:
            break
    out = {"site": {}}
    for line in open(path):
        f = line.split()
        if f[0] == "site":
            out["site"][f[1]] = {"connections": int(f[4]), "peak": int(f[6]), "quits": int(f[8])}
        elif f[0] == "sni":  # ClientHellos per (address, server name): not used here
            continue
        else:
            out[f[0]] = int(f[1])
    return out


def parse_jsonl(ck, data):
    recs = []
    for n, line in enumerate(data.decode().splitlines(), 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            ck.fail("stdout line %d" % n, "not JSON: %s" % e)
            continue
        if not isinstance(r, dict):
            ck.fail("stdout line %d" % n, "not a JSON object")
            continue
        recs.append(r)
    return recs


def key(rec):
    return (rec.get("domain"), rec.get("mx"), rec.get("ip"))


def check_scan(ck, rows, recs, env, t0, t1, coverage=True):
    got = collections.defaultdict(list)
    for r in recs:
        got[r.get("domain")].append(r)
    for domain, drows in fleet.by_domain(rows).items():
        drecs = got.pop(domain, [])
        if len(drecs) != len(drows):
            ck.fail(domain, "%d record(s), want %d: %s" % (len(drecs), len(drows),
                                                          [(r.get("mx"), r.get("ip"), r.get("class")) for r in drecs]))
        for row in drows:
            want_key = (row.domain, None if row.mx == "-" else row.mx, None if row.ip == "-" else row.ip)
            match = [r for r in drecs if key(r) == want_key]
            if not match:
                ck.fail(domain, "no record for mx=%s ip=%s (fleet.tsv:%d)" % (row.mx, row.ip, row.line))
                continue
            check_record(ck, match[0], row, env, t0, t1)
    for domain in got:
        ck.fail(domain, "record for a domain that was not in the input")
    seen = {r.get("class") for r in recs}
    if not coverage:
        return
    # no fleet row is unreachable; exclusions have their own test (test_exclude.py)
    missing = [c for c in CLASSES if c not in ("tcp-unreachable", "excluded") and c not in seen]
    if missing:
        ck.fail("coverage", "classes never produced: %s" % ", ".join(missing))


def comparable(rec):
    return {k: v for k, v in rec.items() if k not in ("scanned_at", "timings_ms")}


def check_msgpack(ck, jsonl_recs, path):
    with open(path, "rb") as fp:
        mp = list(msgpack.Unpacker(fp, raw=False, strict_map_key=False))
    if not all(isinstance(r, dict) for r in mp):
        ck.fail("msgpack", "the file is not a plain concatenation of maps")
        return
    a = {key(r): comparable(r) for r in jsonl_recs}
    b = {key(r): comparable(r) for r in mp}
    if len(mp) != len(jsonl_recs):
        ck.fail("msgpack", "%d records, JSONL had %d" % (len(mp), len(jsonl_recs)))
    for k in sorted(set(a) | set(b), key=str):
        if a.get(k) != b.get(k):
            # A timing-dependent outcome may legitimately differ between two
            # runs; the record shape may not.
            ck.fail("msgpack %s" % (k,), "differs from JSONL:\n    jsonl:   %s\n    msgpack: %s" %
                    (json.dumps(a.get(k), sort_keys=True), json.dumps(b.get(k), sort_keys=True)))


def check_malformed(ck, mxscan, env, tmp):
    lines = ["ok.test", "bad domain.test", "# a comment", "", "a..b.test", "x" * 64 + ".test", "shared-a.test",
             "exa$mple.test"]
    bad = {2: lines[1], 5: lines[4], 6: lines[5], 8: lines[7]}
    inp = os.path.join(tmp, "malformed.txt")
    with open(inp, "w") as fp:
        fp.write("\n".join(lines) + "\n")
    p, _, _ = run_mxscan(mxscan, env, inp, ["-q"])
    err = p.stderr.decode(errors="replace")
    recs = parse_jsonl(ck, p.stdout)
    doms = sorted(r.get("domain") for r in recs)
    if doms != ["ok.test", "shared-a.test"]:
        ck.fail("malformed input", "records for %s, want the two good lines ok.test, shared-a.test" % doms)
    for n in bad:
        if not re.search(r"(line\s*%d\b|:%d\b)" % (n, n), err, re.I):
            ck.fail("malformed input", "stderr does not name line %d (%r):\n%s" % (n, bad[n], err.strip()))
    return p.returncode, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--only", nargs="+", metavar="DOMAIN", help="scan only these domains (no coverage check)")
    a = ap.parse_args()
    ck = Checker(a.verbose)
    classes = subprocess.run([a.mxscan, "classes", "--json"], stdout=subprocess.PIPE, check=True).stdout
    CELLS.update((c["class"], c["delivery"]) for c in json.loads(classes))
    rows = fleet.load()
    if a.only:
        rows = [r for r in rows if r.domain in a.only]
    tmp = tempfile.mkdtemp(prefix="mxscan-it-")
    t_begin = time.time()
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", a.fakemx, "--lifetime", "300", tmp,
                         "--", "--max-per-ip", "1"], stdout=subprocess.PIPE, universal_newlines=True)
    if up.returncode != 0:
        print("FAIL fleet-up", file=sys.stderr)
        return 1
    env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    try:
        domains = os.path.join(tmp, "domains.txt")
        with open(domains, "w") as fp:
            fp.write("# fleet.tsv domains\n" + "\n".join(fleet.domains(rows)) + "\n")

        # 1. JSON Lines
        before = stats(env)
        p, t0, t1 = run_mxscan(a.mxscan, env, domains)
        after = stats(env, settle=True)
        open(os.path.join(tmp, "out.jsonl"), "wb").write(p.stdout)
        open(os.path.join(tmp, "stderr.txt"), "wb").write(p.stderr)
        print("jsonl scan: exit %d, %.1fs, %d bytes" % (p.returncode, t1 - t0, len(p.stdout)))
        if a.verbose:
            sys.stdout.write(p.stderr.decode(errors="replace"))
        ck.eq("mxscan", "exit status", p.returncode, 0)
        recs = parse_jsonl(ck, p.stdout)
        check_scan(ck, rows, recs, env, t0, t1, coverage=not a.only)
        # per-IP limits and fan-out, from fakemx's own counters
        ck.eq("fakemx --max-per-ip 1", "violations", after["violations"] - before["violations"], 0)
        # One probe per address, plus one for a name its certificate does not
        # cover (the server might choose another certificate by SNI; fakemx
        # does not, so that name's own probe gets the same certificate and
        # the record its mismatch).  Whichever name goes first, one more
        # connection: the probes of the other names reuse a certificate that
        # covers them.
        for ip in sorted({r.ip for r in rows if r.domain.startswith(("shared-", "multi-"))}):
            n = after["site"][ip]["connections"] - before["site"][ip]["connections"]
            want = 1 + any(r.cls == "cert-hostname-mismatch" for r in rows if r.ip == ip)
            if n != want:
                ck.fail("fan-out %s" % ip, "%d connections for domains sharing this address, want %d" % (n, want))
        # Every record with a certificate names the SNI it was fetched
        # under; a name the first certificate did not cover got a probe of
        # its own, so its record's certificate was fetched under its name.
        for rec in recs:
            if "cert" in rec and rec.get("sni") is None:
                ck.fail("sni %s" % rec.get("domain"), "a record with a certificate and no sni")
            if rec.get("class") == "cert-hostname-mismatch" and rec.get("sni") != rec.get("mx"):
                ck.fail("sni %s" % rec.get("domain"), "mismatch reported from a probe sent %r, not its MX %r"
                        % (rec.get("sni"), rec.get("mx")))
        # Like a sending MTA, mxscan ends every dialogue it completes with
        # QUIT (sent together with its FIN), in clear text or after TLS.
        said_quit = {}
        for r in rows:
            if r.ip != "-" and r.mode != "-":
                done = r.cls == "ok" or r.stage in ("cert", "ehlo") and r.cls in (
                    "starttls-not-offered", "cert-hostname-mismatch", "cert-expired", "cert-self-signed")
                said_quit[r.ip] = said_quit.get(r.ip, True) and done
        for ip in sorted(ip for ip, done in said_quit.items() if done and ip in after["site"]):
            n = after["site"][ip]["connections"] - before["site"][ip]["connections"]
            q = after["site"][ip]["quits"] - before["site"][ip]["quits"]
            if n < 1 or q != n:
                ck.fail("QUIT %s" % ip, "%d of %d connection(s) ended with QUIT" % (q, n))

        # 2. msgpack: same records
        out_mp = os.path.join(tmp, "out.msgpack")
        p2, t2a, t2b = run_mxscan(a.mxscan, env, domains, ["--format", "msgpack", "-o", out_mp, "-q"])
        print("msgpack scan: exit %d, %.1fs" % (p2.returncode, t2b - t2a))
        ck.eq("mxscan --format msgpack", "exit status", p2.returncode, 0)
        if p2.returncode == 0 or os.path.exists(out_mp):
            check_msgpack(ck, recs, out_mp)
        if p2.stdout:
            ck.fail("mxscan -o FILE", "wrote %d bytes to stdout" % len(p2.stdout))

        # 3. malformed lines
        rc, err = check_malformed(ck, a.mxscan, env, tmp)
        print("malformed input: exit %d, stderr: %s" % (rc, " | ".join(err.strip().splitlines()[:4])))
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), tmp])
    elapsed = time.time() - t_begin
    if elapsed > 60:
        ck.fail("duration", "the integration run took %.0fs, want under 60s" % elapsed)
    for f in ck.failures:
        print("FAIL", f)
    print("%d failure(s) in %.1fs" % (len(ck.failures), elapsed))
    if ck.failures or a.keep:
        print("work directory kept: %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
