#!/usr/bin/python3
"""gen_results.py - a large synthetic results file for timing `mxscan report`.

    gen_results.py [-n RECORDS] [--format jsonl|msgpack] [--seed N] -o FILE

Records have the shape and size of real ones (shared/spec/results.md; about
650 bytes of JSON each, most with a certificate, EHLO lines and timings):
domains with one to three probes, a few big providers and many self-hosted
MX hosts, 70% ok and the rest spread over the failure classes.  Stdlib +
python3-msgpack; writes about 1M records a minute.
"""
import argparse
import json
import random
import sys

import msgpack

FAILS = [("tcp-timeout", "connect", "none", "connect timed out"),
         ("tcp-refused", "connect", "none", "connection refused"),
         ("starttls-not-offered", "ehlo", "starttls-not-supported", "EHLO does not advertise STARTTLS"),
         ("tls-version-mismatch", "tls", "validation-failure", "unsupported protocol"),
         ("cert-expired", "cert", "certificate-expired", "certificate has expired"),
         ("cert-self-signed", "cert", "certificate-not-trusted", "self-signed certificate"),
         ("cert-hostname-mismatch", "cert", "certificate-host-mismatch", "no SAN matches the MX host"),
         ("mx-no-address", "dns", "none", "host does not exist (NXDOMAIN)"),
         ("dns-nxdomain", "dns", "none", "MX lookup: NXDOMAIN")]
PROVIDERS = ["aspmx.l.google.com", "alt1.aspmx.l.google.com", "%s.mail.protection.outlook.com",
             "mx1.mail.ovh.net", "mx00.ionos.de", "mx.zoho.eu", "mail.%s"]


def record(rnd, i, domain, mx, ip, cls):
    name, stage, tlsrpt, detail = cls
    r = {"domain": domain, "class": name, "stage": stage, "detail": detail,
         "scanned_at": "2026-11-28T%02d:%02d:%02dZ" % (2 + i // 360000 % 20, i // 6000 % 60, i // 100 % 60)}
    if name == "dns-nxdomain":
        r["tlsrpt"] = tlsrpt
        return r
    r.update(mx=mx, pref=10, implicit_mx=False)
    if name != "mx-no-address":
        r.update(ip=ip, port=25)
    if stage not in ("dns", "connect"):
        r.update(smtp_code=250, banner="220 %s ESMTP Postfix" % mx,
                 ehlo=["PIPELINING", "SIZE 52428800", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "CHUNKING"]
                 + ([] if name == "starttls-not-offered" else ["STARTTLS"]))
    if stage in ("cert", "done"):
        v = rnd.random() < 0.8
        r.update(tls_version="TLSv1.3" if v else "TLSv1.2",
                 cipher="TLS_AES_256_GCM_SHA384" if v else "ECDHE-RSA-AES256-GCM-SHA384", group="X25519")
        days = rnd.randint(-30, 365)
        r["cert"] = {"subject_cn": mx, "san": [mx, "*." + mx.split(".", 1)[1]],
                     "issuer": "C=US, O=Let's Encrypt, CN=R11", "not_before": "2026-09-01T00:00:00Z",
                     "not_after": "2027-%02d-01T00:00:00Z" % (1 + days % 12), "days_left": days,
                     "key_type": "RSA", "key_bits": 2048, "sig_alg": "sha256WithRSAEncryption",
                     "sha256": "%064x" % rnd.getrandbits(256), "chain_len": 2}
        r["cert_errors"] = [] if name == "ok" else [name]
    r.update(timings_ms={"dns": rnd.randint(1, 80), "connect": rnd.randint(5, 200), "total": rnd.randint(50, 2000)},
             attempts=1, tlsrpt=tlsrpt)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000000)
    ap.add_argument("--format", choices=("jsonl", "msgpack"), default="jsonl")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    ok = ("ok", "done", "success", "STARTTLS with a trusted certificate")
    packer = msgpack.Packer(use_bin_type=True)
    with open(a.o, "wb") as fp:
        i = d = 0
        while i < a.n:
            domain = "d%07d.example" % d
            d += 1
            nprobes = min(rnd.choice((1, 1, 1, 2, 2, 3)), a.n - i)
            for k in range(nprobes):
                mx = rnd.choice(PROVIDERS)
                mx = mx % domain.replace(".", "-") if mx.startswith("%") else mx % domain if "%" in mx else mx
                ip = "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), k + 1)
                cls = ok if rnd.random() < 0.7 else rnd.choice(FAILS)
                r = record(rnd, i, domain, mx, ip, cls)
                fp.write(packer.pack(r) if a.format == "msgpack" else
                         json.dumps(r, separators=(",", ":")).encode() + b"\n")
                i += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
