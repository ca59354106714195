#!/usr/bin/python3
"""seeds.py - writes the seed corpus of the fuzz harnesses.

    tests/fuzz/seeds.py [CORPUS_DIR]      (default: tests/fuzz/corpus)

Writes small, valid (and a few deliberately broken) inputs per harness into
CORPUS_DIR/NAME/seed-*: DNS answers built byte by byte (MX with name
compression, null MX, CNAME chains, A and AAAA), domain lists, config
files and option values, results records in JSON Lines and msgpack, and
verdicts in the codec's layout (probe/verdict_codec.c, the version in its header).
Files named otherwise (crash-*, the regressions) are left alone, but for
verdict/crash-unterminated and crash-cert-class-no-cert, whose layout
follows the codec's.  Run it
again after changing a format and commit what changed.  Python stdlib +
python3-msgpack.
"""
import json
import os
import re
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


# --- DNS -----------------------------------------------------------------------

def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid=0x1234, flags=0x8180, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(qname, qtype):
    return name(qname) + struct.pack(">HH", qtype, 1)


def rr(owner, rtype, rdata, ttl=300):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


PTR_Q = b"\xc0\x0c"  # compression pointer to the question name at offset 12


def dns_seeds():
    out = {}
    q = question("example.test", 15)
    mx = [rr(PTR_Q, 15, struct.pack(">H", p) + name(h)) for p, h in
          ((20, "mx2.example.test"), (10, "mx1.example.test"), (10, "mx1b.example.test"))]
    out["mx-three"] = header(an=3) + q + b"".join(mx)
    # an MX target compressed against the owner name: "mx" + pointer
    out["mx-compressed"] = header(an=1) + q + rr(PTR_Q, 15, struct.pack(">H", 5) + b"\x02mx\xc0\x0c")
    out["mx-null"] = header(an=1) + q + rr(PTR_Q, 15, struct.pack(">H", 0) + b"\0")
    cname = rr(PTR_Q, 5, name("alias.example.test"))
    out["mx-cname-only"] = header(an=1) + q + cname
    out["mx-cname-then-mx"] = header(an=2) + q + cname + rr(b"\xc0\x2a", 15, struct.pack(">H", 1) + name("mx.test"))
    out["nxdomain"] = header(flags=0x8183) + q
    out["servfail"] = header(flags=0x8182) + q
    out["truncated"] = (header(an=3) + q + b"".join(mx))[:40]
    qa = question("mx1.example.test", 1)
    a = [rr(PTR_Q, 1, bytes([192, 0, 2, i])) for i in range(1, 4)]
    out["a-three"] = header(an=3) + qa + b"".join(a)
    chain = rr(PTR_Q, 5, name("c1.example.test")) + rr(b"\xc0\x2e", 5, name("c2.example.test")) + \
        rr(b"\xc0\x43", 1, bytes([192, 0, 2, 9]))
    out["a-cname-chain"] = header(an=3) + qa + chain
    out["a-cname-loop"] = header(an=2) + qa + rr(PTR_Q, 5, name("mx1.example.test")) + rr(PTR_Q, 5, name("mx1.example.test"))
    out["a-many"] = header(an=40) + qa + b"".join(rr(PTR_Q, 1, bytes([198, 51, 100, i])) for i in range(40))
    qaaaa = question("mx1.example.test", 28)
    out["aaaa-two"] = header(an=2) + qaaaa + rr(PTR_Q, 28, bytes(15) + b"\x01") + \
        rr(PTR_Q, 28, b"\x20\x01\x0d\xb8" + bytes(11) + b"\x25")
    # what the policy lookups ask: _mta-sts TXT (two records, one of two
    # strings) and a TLSA RRset (3 1 1 and 2 0 1)
    qtxt = question("_mta-sts.example.test", 16)
    out["txt-two"] = header(an=2) + qtxt + rr(PTR_Q, 16, b"\x0bv=STSv1; id\x05=2026") + \
        rr(PTR_Q, 16, b"\x10v=STSv1; id=old")
    qtlsa = question("_25._tcp.mx1.example.test", 52)
    out["tlsa-two"] = header(an=2) + qtlsa + rr(PTR_Q, 52, b"\x03\x01\x01" + bytes(range(32))) + \
        rr(PTR_Q, 52, b"\x02\x00\x01" + bytes(range(32, 64)))
    return out


# --- domain lists ---------------------------------------------------------------

INPUT = {
    "plain": b"example.com\nexample.org\n",
    "comments": b"# list\n\n  example.com  # note\n\t# indented comment\nmail.example.co.uk\n",
    "crlf-bom": b"\xef\xbb\xbfexample.com\r\nexample.net.\r\n",
    "idn": "bücher.example\nBÜCHER.example\nxn--bcher-kva.example\nfaß.de\n".encode(),
    "bad": b"exa mple.com\n[192.0.2.1]\n2001:db8::1\n192.0.2.1\nlocalhost\n-bad.example\na..b\nx\x00y.test\n",
    "long-label": b"a" * 64 + b".example\n" + b"b" * 63 + b".example\n",
}


# --- config ---------------------------------------------------------------------

def config_seeds():
    out = {}
    shipped = os.path.join(HERE, "..", "..", "configs", "mxscan.conf")
    if os.path.exists(shipped):
        out["shipped"] = b"\x00" + open(shipped, "rb").read()
    out["small"] = b"\x00[scan]\nport = 2525\nconnect_timeout = 1h30m\n[limits]\nrate = 600/m\n[output]\nformat = msgpack\n"
    out["bad-key"] = b"\x00[scan]\nconcurency = 5\n"
    out["no-section"] = b"\x00port = 25\n"
    for i, v in enumerate((b"90s", b"200/h", b"0.5", b"yes", b"cert-expired,tcp-timeout", b"1e3", b"mail.example.com",
                           b"[192.0.2.1]", b"[IPv6:2001:db8::1]", b"bad name")):
        out["value-%d" % i] = bytes([1, i * 7]) + v
    out["argv"] = b"\xff--port\x002525\x00--rate\x0010/s\x00-q\x00input.txt"
    return out


# --- results --------------------------------------------------------------------

RECORDS = [
    {"domain": "ok.test", "class": "ok", "stage": "done", "detail": "", "scanned_at": "2026-11-28T02:00:07Z",
     "mx": "mx.ok.test", "pref": 10, "implicit_mx": False, "ip": "127.0.1.1", "port": 25, "smtp_code": 250,
     "banner": "220 mx.ok.test ESMTP", "ehlo": ["PIPELINING", "STARTTLS"], "tls_version": "TLSv1.3",
     "cipher": "TLS_AES_256_GCM_SHA384", "group": "X25519",
     "cert": {"subject_cn": "mx.ok.test", "san": ["mx.ok.test"], "issuer": "CN=Test CA",
              "not_before": "2026-01-01T00:00:00Z", "not_after": "2026-12-01T00:00:00Z", "days_left": 3,
              "key_type": "EC", "key_bits": 256, "sig_alg": "ecdsa-with-SHA256", "sha256": "ab" * 32,
              "chain_len": 2},
     "cert_errors": [], "timings_ms": {"dns": 1, "connect": 1, "total": 20}, "attempts": 1, "tlsrpt": "success"},
    {"domain": "dns-nxdomain.test", "class": "dns-nxdomain", "stage": "dns", "detail": "MX lookup: NXDOMAIN",
     "scanned_at": "2026-11-28T02:00:07Z", "tlsrpt": "none"},
    {"domain": "tls.test", "class": "tls-alert", "stage": "tls", "detail": "handshake failure \u00e9\u2603",
     "scanned_at": "2026-11-28T02:00:07Z", "mx": "mx.tls.test", "pref": 0, "implicit_mx": True, "ip": "::1",
     "port": 25, "diag": {"legacy_ok": True, "legacy_version": "TLSv1"}, "tlsrpt": "validation-failure",
     "unfinished": True},
]


def results_seeds():
    jl, mp = {}, {}
    lines = [json.dumps(r, ensure_ascii=i % 2 == 0).encode() + b"\n" for i, r in enumerate(RECORDS)]
    jl["three"] = b"".join(lines)
    jl["torn"] = b"".join(lines)[:-30]
    jl["blank-lines"] = b"\n" + lines[0] + b"  \n\n" + lines[1]
    jl["escapes"] = b'{"domain": "a\\u00e9\\ud83d\\ude00.test", "class": "ok", "detail": "\\"\\\\\\/\\b\\f\\n\\r\\t"}\n'
    jl["bad-class"] = b'{"domain": "x.test", "class": "nope"}\n'
    packed = [msgpack.packb(r, use_bin_type=True) for r in RECORDS]
    mp["three"] = b"".join(packed)
    mp["torn"] = b"".join(packed)[:-7]
    mp["map16"] = b"\xde\x00\x02" + msgpack.packb("domain") + msgpack.packb("m.test") + msgpack.packb("class") + \
        msgpack.packb("ok")
    mp["nested"] = msgpack.packb({"domain": "n.test", "class": "ok", "x": [1, -2, 3.5, None, b"\x00bin",
                                                                            {"k": [True, False]}]}, use_bin_type=True)
    return jl, mp


# --- verdicts (probe/verdict_codec.c, the version in its header) ------------------------------

def class_number(cls):
    """The enum value of class CLS: its row in results/classify.h."""
    text = open(os.path.join(HERE, "..", "..", "results", "classify.h")).read()
    return re.findall(r'X\([A-Z0-9_]+, "([a-z0-9-]+)"', text).index(cls)


def codec_version():
    text = open(os.path.join(HERE, "..", "..", "probe", "verdict_codec.h")).read()
    return int(re.search(r"#define MXS_VERDICT_CODEC_VERSION (\d+)", text).group(1))


def result(cls, stage, detail, tls=False, cert=True):
    c = None
    if cert:
        c = ["mx1.example.test", ["mx1.example.test", "*.mail.example.test"], "CN=Test CA", "2026-01-01T00:00:00Z",
             "2027-01-01T00:00:00Z", 40, "EC", 256, "ecdsa-with-SHA256", "ab" * 32, 2, 0]
    return [cls, stage, detail, 250 if tls else 220, "220 mx1.example.test ESMTP",
            ["PIPELINING", "SIZE 10240000", "STARTTLS"], 1, 1 if tls else 0, "TLSv1.3" if tls else "",
            "TLS_AES_256_GCM_SHA384" if tls else "", "X25519" if tls else "", c, 0,
            "ok" if tls else "", [0, -1, 1 if tls else 0, 0, 0], 0, [-1, 3, 150, 151, 150, 12, 620], 1, 0, 0,
            "mx1.example.test" if cert else None]


def verdict_seeds():
    n_ok, n_alert, n_version = class_number("ok"), class_number("tls-alert"), class_number("tls-version-mismatch")
    ok = result(n_ok, "done", "", tls=True)
    alert = result(n_alert, "tls", "tlsv1 alert protocol version", cert=False)
    legacy = result(n_ok, "done", "", tls=True, cert=False)
    at, v = "2026-11-28T02:00:07Z", codec_version()
    # [version, class, detail, scanned_at, result, legacy, profile, profile_custom, retries]
    return {
        "ok": msgpack.packb([v, n_ok, None, at, ok, None, None, 0, None]),
        "legacy": msgpack.packb([v, n_version, "no shared protocol version", at, alert, legacy, None, 0, None]),
        "profiles": msgpack.packb([v, n_version, None, at, alert, None, "modern", 1,
                                   [["legacy", legacy], ["tls12-only", alert]]]),
        "old-version": msgpack.packb([v - 1, n_ok, None, at, ok, None, None, 0, None]),
        "no-result": msgpack.packb([v, n_ok, None, at, None, None, None, 0, None]),
        "nil-stage": msgpack.packb([v, n_alert, None, at, [n_alert, None] + alert[2:], None, None, 0, None]),
    }


def verdict_regressions():
    """The verdict regressions in the current layout: crash-unterminated, no
    0 byte after the banner (tests/probe/test_verdict_codec.c
    strings_need_no_terminator); crash-cert-class-no-cert."""
    res = [class_number("ok"), "done", "detail", 250, "220 banner", ["STARTTLS"], 1, 1, "t", "t", "t", None, 1, "v",
           [1, 1, 1, 1, 1], 1, [1] * 7, 1, 1, 1, "sni"]
    # a completed handshake, no certificate, and a certificate class
    # (test_verdict_codec.c cert_class_without_cert)
    nocert = result(class_number("ok"), "done", "", tls=True, cert=False)
    v = codec_version()
    return {"crash-unterminated": msgpack.packb([v, class_number("ok"), None, "x", res, "end", "p", 1, "r"]),
            "crash-cert-class-no-cert": msgpack.packb([v, class_number("cert-weak"), None, "2026-11-28T02:00:07Z",
                                                       nocert, None, None, 0, None])}


def main(argv):
    corpus = argv[1] if len(argv) > 1 else os.path.join(HERE, "corpus")
    jl, mp = results_seeds()
    sets = {"dns": dns_seeds(), "input": INPUT, "config": config_seeds(), "results_jsonl": jl,
            "results_msgpack": mp, "verdict": verdict_seeds()}
    for target, seeds in sets.items():
        d = os.path.join(corpus, target)
        os.makedirs(d, exist_ok=True)
        for n, data in seeds.items():
            with open(os.path.join(d, "seed-" + n), "wb") as fp:
                fp.write(data)
        print("%s: %d seeds" % (target, len(seeds)))
    # the regressions whose bytes follow a layout that changes
    for n, data in verdict_regressions().items():
        with open(os.path.join(corpus, "verdict", n), "wb") as fp:
            fp.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
