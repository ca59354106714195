#!/usr/bin/python3
"""test_profiles.py - sender profiles end to end, with real TLS on both sides.

Starts the fake MX fleet (tests/fixtures/fleet-up) and drives mxscan at the
servers only some sender profiles get through to (tls13-only,
tls12-one-cipher, tls13-ffdhe, tls-client-cert, and the older tls10,
tls-cipher, tls-weak-dh, tls-renego scenarios):

  * `mxscan probe --compare-profiles` (text and --json): every cell's class,
    and for each failing profile the side at fault and the setting that
    makes the difference (version, cipher, group, security level,
    renegotiation, client certificate), against what the handshakes got;
  * `mxscan scan --sender-profile`, the TLS options on top of a profile
    (records say NAME+custom), a client certificate, `--diag-profiles`
    (diag.profiles; the legacy_* keys only when the legacy profile ran) and
    the profile in the --summary file;
  * bad TLS option values: exit 2 naming the option and the value, before
    any record or output file exists;
  * `mxscan profiles` and `--json`: the table and the exact OpenSSL calls.

    test_profiles.py --mxscan PATH --fakemx PATH [--keep]

Python stdlib only.  Exit status 0 when all passed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
PROFILES = ["modern", "postfix-debian12", "tls12-only", "legacy", "strict-tls13"]
OPTS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3", "--handshake-timeout", "3",
        "--dns-timeout", "1", "--dns-tries", "2", "--ehlo-name", "scanner.test"]


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, where, msg):
        self.failures.append("%s: %s" % (where, msg))

    def eq(self, where, what, got, want):
        if got != want:
            self.fail(where, "%s = %r, want %r" % (what, got, want))

    def contains(self, where, what, text, *parts):
        for p in parts:
            if p not in text:
                self.fail(where, "%s lacks %r: %r" % (what, p, text))


def run(cmd, timeout=120):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def read_env(path):
    env = {}
    for line in open(path):
        k, _, v = line.strip().partition("=")
        env[k] = v.strip('"')
    return env


class Mx:
    def __init__(self, args, env):
        self.bin, self.env = args.mxscan, env

    def base(self, sub):
        e = self.env
        return [self.bin, sub, "--dns", e["DNS"], "--port", e["SMTP_PORT"], "--ca-file", e["CA"]] + OPTS

    def compare(self, domain, *extra, json_out=True):
        cmd = self.base("probe") + ["--compare-profiles"] + (["--json"] if json_out else []) + list(extra) + [domain]
        rc, out, err = run(cmd)
        return rc, (json.loads(out) if json_out and out.strip() else out), err

    def scan(self, domains, tmp, *extra):
        inp = os.path.join(tmp, "in.txt")
        with open(inp, "w") as fp:
            fp.write("\n".join(domains) + "\n")
        summary = os.path.join(tmp, "summary.json")
        rc, out, err = run(self.base("scan") + ["-q", "--retries", "0", "--summary", summary] + list(extra) + [inp])
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        try:
            summ = json.load(open(summary))
        except (OSError, ValueError):
            summ = None
        return rc, {r["domain"]: r for r in recs}, summ, err

    def cert(self, name):
        return os.path.join(self.env["DIR"], name)


# --- probe --compare-profiles ---------------------------------------------------


def cells(doc, row=0):
    return {c["profile"]: c["class"] for c in doc["rows"][row]["cells"]}


def findings(doc, row=0):
    return {f["profile"]: f for f in doc["rows"][row]["findings"]}


def check_finding(ck, where, f, fault, setting, *words):
    if f is None:
        ck.fail(where, "no finding, want %s/%s" % (fault, setting))
        return
    ck.eq(where, "fault", f["fault"], fault)
    ck.eq(where, "setting", f["setting"], setting)
    ck.contains(where, "explanation", f["explanation"], *words)
    if not f.get("compared_with"):
        ck.fail(where, "finding without compared_with")


def check_compare(ck, mx):
    # TLS 1.3 only: the profile capped at TLS 1.2 is the one at fault.
    w = "compare tls13-only"
    rc, doc, err = mx.compare("tls13-only.test")
    ck.eq(w, "exit", rc, 3)
    ck.eq(w, "profiles", doc["profiles"], PROFILES)
    ck.eq(w, "cells", cells(doc), {"modern": "ok", "postfix-debian12": "ok", "tls12-only": "tls-version-mismatch",
                                   "legacy": "ok", "strict-tls13": "ok"})
    fs = findings(doc)
    ck.eq(w, "failing profiles", sorted(fs), ["tls12-only"])
    check_finding(ck, w, fs.get("tls12-only"), "sender", "version", "TLSv1.3", "highest version TLSv1.2")
    ok_with = fs.get("tls12-only", {}).get("compared_with")
    if ok_with not in ("modern", "postfix-debian12", "legacy", "strict-tls13"):
        ck.fail(w, "compared_with %r is not a profile that got through" % ok_with)
    tls13 = [c for c in doc["rows"][0]["cells"] if c["class"] == "ok"]
    if not all(c.get("tls_version") == "TLSv1.3" for c in tls13):
        ck.fail(w, "cells that got through: %r, want TLSv1.3" % tls13)
    # ... and as text: the matrix and the verdict, said plainly.
    rc, text, err = mx.compare("tls13-only.test", json_out=False)
    ck.eq(w + " text", "exit", rc, 3)
    head = [l for l in text.splitlines() if l.startswith("MX address")]
    if not head or head[0].split() != ["MX", "address"] + PROFILES:
        ck.fail(w + " text", "matrix header %r" % head)
    row = [l for l in text.splitlines() if l.startswith("mx.tls13-only.test 127.0.1.90 ")]
    if not row or row[0].split()[2:] != ["ok", "ok", "tls-version-mismatch", "ok", "ok"]:
        ck.fail(w + " text", "matrix row %r" % row)
    flat = " ".join(text.split())
    ck.contains(w + " text", "text", flat, "tls12-only fails (tls-version-mismatch)",
                "Fault: the sender's side (setting: version)", "above tls12-only's highest version TLSv1.2")

    # One TLS 1.2 cipher: a custom cipher list without it fails, the
    # profiles (which all offer it) do not: the sender's side.
    w = "compare tls12-one-cipher"
    rc, doc, err = mx.compare("tls12-one-cipher.test", "--profiles", "modern,postfix-debian12", "--ciphers",
                              "ECDHE-RSA-AES256-GCM-SHA384", "--tls-max-version", "1.2")
    ck.eq(w, "profiles", doc["profiles"], ["modern", "postfix-debian12", "modern+custom"])
    ck.eq(w, "cells", cells(doc), {"modern": "ok", "postfix-debian12": "ok", "modern+custom": "tls-no-shared-cipher"})
    check_finding(ck, w, findings(doc).get("modern+custom"), "sender", "cipher", "ECDHE-RSA-AES128-GCM-SHA256",
                  "ECDHE-RSA-AES256-GCM-SHA384")
    # Camellia only: what no current sender offers; Postfix's medium list has it.
    w = "compare tls-cipher"
    rc, doc, err = mx.compare("tls-cipher.test", "--profiles", "modern,postfix-debian12,tls12-only")
    ck.eq(w, "cells", cells(doc), {"modern": "tls-no-shared-cipher", "postfix-debian12": "ok",
                                   "tls12-only": "tls-no-shared-cipher"})
    check_finding(ck, w, findings(doc).get("modern"), "receiver", "cipher", "CAMELLIA", "DEFAULT:@SECLEVEL=2")

    # A group: ffdhe2048 only; Postfix's curve list has no finite-field group.
    w = "compare tls13-ffdhe"
    rc, doc, err = mx.compare("tls13-ffdhe.test")
    ck.eq(w, "cells", cells(doc), {"modern": "ok", "postfix-debian12": "tls-no-shared-cipher",
                                   "tls12-only": "tls-version-mismatch", "legacy": "ok", "strict-tls13": "ok"})
    fs = findings(doc)
    check_finding(ck, w, fs.get("postfix-debian12"), "sender", "group", "ffdhe2048",
                  "X25519:X448:prime256v1:secp521r1:secp384r1")
    check_finding(ck, w, fs.get("tls12-only"), "sender", "version", "TLSv1.3")
    okc = [c for c in doc["rows"][0]["cells"] if c["class"] == "ok"]
    if not okc or any(c.get("group") != "ffdhe2048" for c in okc):
        ck.fail(w, "the profiles that got through negotiated %r, want ffdhe2048" % [c.get("group") for c in okc])

    # The receiver's side: TLS 1.0 only, a 1024-bit DH group, no RFC 5746.
    for domain, failing, setting, words in (
            ("tls10.test", "modern", "version", ("at most TLSv1 ", "RFC 8996")),
            ("tls-weak-dh.test", "modern", "security level", ("DH-1024", "security level 2")),
            ("tls-renego.test", "modern", "renegotiation", ("RFC 5746",))):
        w = "compare " + domain
        rc, doc, err = mx.compare(domain, "--profiles", "modern,legacy")
        ck.eq(w, "cells ok", cells(doc).get("legacy"), "ok")
        check_finding(ck, w, findings(doc).get(failing), "receiver", setting, *words)

    # A client certificate from the right CA: the profiles without one fail.
    w = "compare tls-client-cert good"
    good = ["--client-cert", mx.cert("client-good.pem"), "--client-key", mx.cert("client-good.key")]
    rc, doc, err = mx.compare("tls-client-cert.test", "--profiles", "modern,tls12-only", *good)
    ck.eq(w, "cells", cells(doc), {"modern": "tls-alert", "tls12-only": "tls-alert", "modern+custom": "ok"})
    fs = findings(doc)
    for p in ("modern", "tls12-only"):
        check_finding(ck, "%s %s" % (w, p), fs.get(p), "sender", "client certificate", "presents none",
                      "client-good.pem")
    # TLS 1.2: the certificate is judged inside the handshake.
    w = "compare tls-client-cert good tls1.2"
    rc, doc, err = mx.compare("tls-client-cert.test", "--profiles", "tls12-only", "--sender-profile", "tls12-only",
                              *good)
    ck.eq(w, "cells", cells(doc), {"tls12-only": "tls-alert", "tls12-only+custom": "ok"})
    check_finding(ck, w, findings(doc).get("tls12-only"), "sender", "client certificate", "alert 40")
    # A certificate from another CA: every profile is refused.
    w = "compare tls-client-cert other"
    other = ["--client-cert", mx.cert("client-other.pem"), "--client-key", mx.cert("client-other.key")]
    rc, doc, err = mx.compare("tls-client-cert.test", "--profiles", "modern", *other)
    ck.eq(w, "cells", cells(doc), {"modern": "tls-alert", "modern+custom": "tls-alert"})
    ck.eq(w, "findings", doc["rows"][0]["findings"], [])
    ck.contains(w, "summary", doc["rows"][0]["summary"], "refused every profile", "--client-cert")
    detail = [c["detail"] for c in doc["rows"][0]["cells"] if c["profile"] == "modern+custom"]
    ck.contains(w, "detail", " ".join(detail), "rejected ours", "unknown ca")

    # Everyone gets through: exit 0, nothing to explain.
    w = "compare ok"
    rc, doc, err = mx.compare("ok.test")
    ck.eq(w, "exit", rc, 0)
    ck.eq(w, "ok", doc["ok"], True)
    ck.eq(w, "cells", set(cells(doc).values()), {"ok"})
    ck.eq(w, "summary", doc["rows"][0]["summary"], "Every profile gets ok.")


# --- scan --------------------------------------------------------------------------


def check_scan(ck, mx, tmp):
    doms = ["tls13-only.test", "tls13-ffdhe.test", "tls10.test", "ok.test", "dns-nxdomain.test"]
    # The default: modern, one legacy retry, diag exactly as always.
    rc, recs, summ, err = mx.scan(doms, tmp)
    w = "scan default"
    ck.eq(w, "exit", rc, 0)
    ck.eq(w, "tls13-only class", recs["tls13-only.test"]["class"], "ok")
    for d in ("tls13-only.test", "tls10.test", "ok.test"):
        ck.eq(w, d + " profile", recs[d].get("profile"), "modern")
    ck.eq(w, "nxdomain profile", "profile" in recs["dns-nxdomain.test"], False)
    diag = recs["tls10.test"].get("diag", {})
    ck.eq(w, "tls10 diag keys", sorted(diag), ["legacy_cipher", "legacy_group", "legacy_ok", "legacy_version"])
    ck.eq(w, "summary profile", (summ or {}).get("profile"), "modern")
    ck.eq(w, "summary settings", (summ or {}).get("profile_settings", [])[:3],
          ["SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)", 'SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=2")',
           "SSL_CTX_set_security_level(ctx, 2)"])

    # A named profile.
    rc, recs, summ, err = mx.scan(doms, tmp, "--sender-profile", "tls12-only")
    w = "scan tls12-only"
    ck.eq(w, "tls13-only class", recs["tls13-only.test"]["class"], "tls-version-mismatch")
    ck.eq(w, "profile", recs["tls13-only.test"].get("profile"), "tls12-only")
    ck.eq(w, "ok.test", (recs["ok.test"]["class"], recs["ok.test"].get("tls_version")), ("ok", "TLSv1.2"))
    ck.eq(w, "summary profile", (summ or {}).get("profile"), "tls12-only")
    rc, recs, summ, err = mx.scan(doms, tmp, "--sender-profile", "postfix-debian12")
    w = "scan postfix-debian12"
    ck.eq(w, "ffdhe class", recs["tls13-ffdhe.test"]["class"], "tls-no-shared-cipher")
    ck.eq(w, "tls10 class", (recs["tls10.test"]["class"], recs["tls10.test"].get("tls_version")), ("ok", "TLSv1"))

    # Options on top of a profile: NAME+custom.
    rc, recs, summ, err = mx.scan(doms, tmp, "--tls-max-version", "1.2")
    w = "scan custom"
    ck.eq(w, "profile", recs["ok.test"].get("profile"), "modern+custom")
    ck.eq(w, "tls13-only class", recs["tls13-only.test"]["class"], "tls-version-mismatch")
    ck.eq(w, "summary profile", (summ or {}).get("profile"), "modern+custom")
    if "SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION)" not in (summ or {}).get("profile_settings", []):
        ck.fail(w, "summary settings lack the maximum version: %r" % (summ or {}).get("profile_settings"))
    rc, recs, summ, err = mx.scan(["tls-client-cert.test"], tmp, "--client-cert", mx.cert("client-good.pem"),
                                  "--client-key", mx.cert("client-good.key"))
    w = "scan client certificate"
    ck.eq(w, "class", recs["tls-client-cert.test"]["class"], "ok")
    ck.eq(w, "profile", recs["tls-client-cert.test"].get("profile"), "modern+custom")
    rc, recs, summ, err = mx.scan(["tls-client-cert.test"], tmp)
    ck.eq(w + " without", "class/stage", (recs["tls-client-cert.test"]["class"],
                                            recs["tls-client-cert.test"]["stage"]), ("tls-alert", "tls"))

    # --diag-profiles: one retry per profile, in diag.profiles.
    rc, recs, summ, err = mx.scan(doms, tmp, "--diag-profiles", "tls12-only,postfix-debian12")
    w = "scan --diag-profiles"
    r = recs["tls10.test"]
    ck.eq(w, "class", r["class"], "tls-version-mismatch")
    diag = r.get("diag", {})
    ck.eq(w, "diag keys", sorted(diag), ["profiles"])
    got = [(p["profile"], p["ok"], p.get("version"), p["class"]) for p in diag.get("profiles", [])]
    ck.eq(w, "diag.profiles", got, [("tls12-only", False, None, "tls-version-mismatch"),
                                     ("postfix-debian12", True, "TLSv1", "ok")])
    ck.contains(w, "detail", r["detail"], "profile postfix-debian12 gets TLSv1", "profile tls12-only fails too")
    ck.eq(w, "ok.test diag", "diag" in recs["ok.test"], False)
    rc, recs, summ, err = mx.scan(["tls13-ffdhe.test"], tmp, "--sender-profile", "postfix-debian12",
                                  "--diag-profiles", "legacy,tls12-only")
    w = "scan --diag-profiles with legacy"
    diag = recs["tls13-ffdhe.test"].get("diag", {})
    ck.eq(w, "legacy keys", (diag.get("legacy_ok"), diag.get("legacy_group")), (True, "ffdhe2048"))
    ck.eq(w, "profiles", [(p["profile"], p["ok"]) for p in diag.get("profiles", [])],
          [("legacy", True), ("tls12-only", False)])
    ck.eq(w, "class", recs["tls13-ffdhe.test"]["class"], "tls-no-shared-cipher")


# --- errors and the table ----------------------------------------------------------


def check_errors(ck, mx, tmp):
    out = os.path.join(tmp, "never.jsonl")
    bad_conf = os.path.join(tmp, "bad.conf")
    with open(bad_conf, "w") as fp:
        fp.write("[tls]\n# a comment\ngroups = X25519:nosuchgroup\n")
    cases = [
        (["--ciphers", "NOSUCHCIPHER"], ["--ciphers", "NOSUCHCIPHER"]),
        (["--ciphersuites", "TLS_NOPE"], ["--ciphersuites", "TLS_NOPE"]),
        (["--groups", "X25519:nosuchgroup"], ["--groups", "nosuchgroup"]),
        (["--sigalgs", "NOPE+SHA0"], ["--sigalgs", "NOPE+SHA0"]),
        (["--seclevel", "9"], ["--seclevel", "'9'"]),
        (["--tls-min-version", "1.4"], ["--tls-min-version", "'1.4'"]),
        (["--sender-profile", "exim"], ["--sender-profile", "'exim'", "postfix-debian12"]),
        (["--diag-profiles", "legacy,exim"], ["--diag-profiles", "'exim'"]),
        (["--sender-profile", "strict-tls13", "--tls-max-version", "1.2"], ["--tls-min-version TLSv1.3", "TLSv1.2"]),
        (["--client-cert", "/nonexistent/client.pem"], ["--client-cert", "/nonexistent/client.pem"]),
        (["--client-key", mx.cert("client-good.key")], ["--client-key", "needs --client-cert"]),
        (["--client-cert", mx.cert("client-good.pem"), "--client-key", mx.cert("root.key")],
         ["--client-key", "root.key", "no private key matching --client-cert"]),
        (["--client-cert", mx.cert("client-good.pem")], ["--client-cert", "no private key"]),
        (["--config", bad_conf], ["bad.conf:3", "nosuchgroup"]),
    ]
    inp = os.path.join(tmp, "one.txt")
    with open(inp, "w") as fp:
        fp.write("ok.test\n")
    for extra, words in cases:
        w = "scan %s" % " ".join(extra)
        if os.path.exists(out):
            os.unlink(out)
        rc, stdout, err = run(mx.base("scan") + ["-o", out] + extra + [inp])
        ck.eq(w, "exit", rc, 2)
        ck.contains(w, "stderr", err, *words)
        if os.path.exists(out):
            ck.fail(w, "the output file was created")
    for extra, words in ((["--groups", "nosuchgroup"], ["--groups"]), (["--profiles", "modern"], ["--profiles"]),
                         (["--compare-profiles", "--profiles", "modern,exim"], ["'exim'"])):
        w = "probe %s" % " ".join(extra)
        rc, stdout, err = run(mx.base("probe") + extra + ["ok.test"])
        ck.eq(w, "exit", rc, 2)
        ck.contains(w, "stderr", err, *words)
        ck.eq(w, "stdout", stdout, "")


def check_table(ck, mxscan):
    rc, out, err = run([mxscan, "profiles", "--json"])
    w = "profiles --json"
    ck.eq(w, "exit", rc, 0)
    table = json.loads(out)
    ck.eq(w, "names", [p["name"] for p in table], PROFILES)
    ck.eq(w, "default", [p["name"] for p in table if p["default"]], ["modern"])
    by = {p["name"]: p for p in table}
    ck.eq(w, "modern", by["modern"]["openssl"][:3],
          ["SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)", 'SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=2")',
           "SSL_CTX_set_security_level(ctx, 2)"])
    ck.eq(w, "legacy", by["legacy"]["openssl"][:4],
          ["SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION)",
           "SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION)", 'SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0")',
           "SSL_CTX_set_security_level(ctx, 0)"])
    pf = by["postfix-debian12"]
    ck.eq(w, "postfix settings", (pf["settings"]["min_version"], pf["settings"]["seclevel"],
                                  pf["settings"]["ciphers"], pf["settings"]["groups"]),
          ("TLSv1", 0, "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", "X25519:X448:prime256v1:secp521r1:secp384r1"))
    ck.contains(w, "postfix origin", pf["origin"], "Postfix 3.7", "smtp_tls_security_level = may")
    ck.eq(w, "strict", (by["strict-tls13"]["settings"]["min_version"], by["strict-tls13"]["settings"]["max_version"]),
          ("TLSv1.3", "TLSv1.3"))
    rc, text, err = run([mxscan, "profiles"])
    ck.eq("profiles", "exit", rc, 0)
    ck.contains("profiles", "text", text, *["\n%s" % p for p in PROFILES])
    ck.contains("profiles", "text", " ".join(text.split()),
                "SSL_CTX_set1_groups_list(ctx, \"X25519:X448:prime256v1:secp521r1:secp384r1\")",
                "does not make mxscan that MTA or its TLS library")
    rc, text, err = run([mxscan, "profiles", "--bogus"])
    ck.eq("profiles --bogus", "exit", rc, 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mxscan-profiles-")
    fdir = os.path.join(tmp, "fleet")
    ck = Checker()
    try:
        subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", args.fakemx, "--lifetime", "600", fdir],
                       check=True, stdout=subprocess.DEVNULL)
        mx = Mx(args, read_env(os.path.join(fdir, "env")))
        check_table(ck, args.mxscan)
        check_errors(ck, mx, tmp)
        check_compare(ck, mx)
        check_scan(ck, mx, tmp)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), fdir])
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in ck.failures:
        print("FAIL " + f)
    print("%s: %d failure(s)" % (os.path.basename(__file__), len(ck.failures)))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
