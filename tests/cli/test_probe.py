#!/usr/bin/python3
"""test_probe.py - `mxscan probe` and `mxscan explain` against the fake MX fleet.

Starts the fleet (tests/fixtures/fleet-up: fakemx + unbound on free ports of
127.0.0.0/8) and, for every domain of tests/fixtures/fleet.tsv:

  * runs `mxscan probe DOMAIN` and compares its text, with the volatile parts
    normalised (timestamps, ports, dates, day counts), to the golden file
    tests/cli/golden/DOMAIN.txt; the exit status must be 0 when every row
    of the domain is ok and 3 otherwise;
  * runs `mxscan probe --json DOMAIN`, checks the document's shape (records,
    transcripts {t_ms, dir, text}, explanations) and that its records equal
    what `mxscan scan --retries 0` writes for the same domain, scanned_at
    and timings_ms aside (probe makes one attempt, no retries).

Then it checks `mxscan explain` for every class (text and --json, against
`mxscan classes`; golden/explain.txt holds the text of all of them), an
unknown class (exit 2, the valid ones listed), and probe's usage errors and
--mx/--ip filters.

    test_probe.py --mxscan PATH --fakemx PATH [--update] [--keep] [-j N] [--only DOMAIN...]

--update rewrites the golden files from this run (then read them: they are
what a postmaster sees).  Python stdlib only.  Exit status 0 when all passed.
"""
import argparse
import concurrent.futures
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)
import fleet  # noqa: E402

# Short timeouts keep the stalling scenarios quick; the golden files show them.
OPTS = ["--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3", "--handshake-timeout", "3",
        "--dns-timeout", "1", "--dns-tries", "2", "--ehlo-name", "scanner.test"]
DIRS = {"S", "C", "T", "*"}


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, where, msg):
        self.failures.append("%s: %s" % (where, msg))

    def eq(self, where, what, got, want):
        if got != want:
            self.fail(where, "%s = %r, want %r" % (what, got, want))


def run(cmd, timeout=120):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def read_env(path):
    env = {}
    for line in open(path):
        k, _, v = line.strip().partition("=")
        env[k] = v.strip('"')
    return env


def base_cmd(args, env, sub):
    return [args.mxscan, sub, "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"]] + OPTS


# --- normalising the text ---------------------------------------------------


def normalise(text, env):
    """Replaces what changes from run to run with fixed placeholders."""
    text = text.replace(env["DNS"], "$DNS").replace("port %s" % env["SMTP_PORT"], "port $SMTP_PORT")
    text = re.sub(r"^  [ \d]{5}\d ms  ", "       t ms  ", text, flags=re.M)
    text = re.sub(r"answered in \d+ ms", "answered in N ms", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<date>", text)
    text = re.sub(r"\b\d+ days? (left|ago)", r"N days \1", text)
    text = re.sub(r"starts in \d+ days?", "starts in N days", text)
    return text


# --- one domain ---------------------------------------------------------------


def probe_domain(args, env, domain):
    """Runs text and --json probes of DOMAIN: (rc, text, stderr, jrc, json, jstderr)."""
    cmd = base_cmd(args, env, "probe")
    rc, out, err = run(cmd + [domain])
    jrc, jout, jerr = run(cmd + ["--json", domain])
    return rc, out, err, jrc, jout, jerr


def check_text(ck, args, env, domain, rc, out, err, want_rc):
    where = "probe %s" % domain
    ck.eq(where, "exit status", rc, want_rc)
    if err.strip():
        ck.fail(where, "unexpected stderr: %s" % err.strip()[:300])
    got = normalise(out, env)
    path = os.path.join(GOLDEN, domain + ".txt")
    if args.update:
        with open(path, "w") as fp:
            fp.write(got)
        return
    try:
        want = open(path).read()
    except FileNotFoundError:
        ck.fail(where, "no golden file %s (run with --update, then read it)" % path)
        return
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), path, "this run"))
        ck.fail(where, "output differs from the golden file:\n" + diff)


def check_transcript(ck, where, lines):
    if not isinstance(lines, list) or not lines:
        ck.fail(where, "transcript missing or empty")
        return
    last = 0
    for i, e in enumerate(lines):
        if set(e) != {"t_ms", "dir", "text"}:
            ck.fail(where, "entry %d has keys %s" % (i, sorted(e)))
            continue
        if not isinstance(e["t_ms"], int) or e["t_ms"] < last:
            ck.fail(where, "entry %d: t_ms %r not a non-decreasing integer" % (i, e["t_ms"]))
        else:
            last = e["t_ms"]
        if e["dir"] not in DIRS or not isinstance(e["text"], str):
            ck.fail(where, "entry %d: bad dir/text %r" % (i, e))
    if lines[0]["dir"] != "*" or not lines[0]["text"].startswith("connecting to "):
        ck.fail(where, "transcript does not start with the connection attempt: %r" % lines[0])
    if lines[-1]["dir"] != "*" or not lines[-1]["text"].startswith("end at stage "):
        ck.fail(where, "transcript does not end with the outcome: %r" % lines[-1])


def check_json(ck, domain, jrc, jout, jerr, want_rc):
    """Checks the --json document; returns its records."""
    where = "probe --json %s" % domain
    ck.eq(where, "exit status", jrc, want_rc)
    if jerr.strip():
        ck.fail(where, "unexpected stderr: %s" % jerr.strip()[:300])
    try:
        doc = json.loads(jout)
    except ValueError as e:
        ck.fail(where, "not JSON: %s: %r" % (e, jout[:200]))
        return []
    ck.eq(where, "domain", doc.get("domain"), domain)
    ck.eq(where, "ok", doc.get("ok"), want_rc == 0)
    if not isinstance(doc.get("dns"), dict) or "mx" not in doc["dns"]:
        ck.fail(where, "dns answer missing")
    records = []
    for i, res in enumerate(doc.get("results", [])):
        w = "%s result %d" % (where, i)
        rec, ex = res.get("record", {}), res.get("explanation", {})
        records.append(rec)
        ck.eq(w, "explanation class", ex.get("class"), rec.get("class"))
        for k in ("what", "cause", "fix"):
            if not ex.get(k):
                ck.fail(w, "explanation.%s empty" % k)
        if "ip" in rec:
            check_transcript(ck, w + " transcript", res.get("transcript"))
        elif "transcript" in res:
            ck.fail(w, "a DNS record has a transcript")
        if ("diag" in rec) != ("legacy_transcript" in res) or ("diag" in rec) != ("legacy" in ex):
            ck.fail(w, "diag, legacy_transcript and explanation.legacy must come together")
        if "legacy_transcript" in res:
            check_transcript(ck, w + " legacy transcript", res["legacy_transcript"])
        errs = set(rec.get("cert_errors", [])) - {rec.get("class")}
        ck.eq(w, "explanation.also", sorted(a.get("class") for a in ex.get("also", [])), sorted(errs))
    if not records:
        ck.fail(where, "no results")
    return records


def comparable(rec):
    # sni: a scan reuses a certificate fetched under another MX name of the
    # address when it covers this one (its record says so); probe sends
    # each name (checked in check_same_as_scan).
    return {k: v for k, v in rec.items() if k not in ("scanned_at", "timings_ms", "sni")}


def record_key(rec):
    return (rec.get("mx", ""), rec.get("ip", ""))


def scan_records(args, env, domains, tmp):
    path = os.path.join(tmp, "domains.txt")
    with open(path, "w") as fp:
        fp.write("\n".join(domains) + "\n")
    # probe makes one attempt per (MX, address); a scan retries transient
    # failures unless told not to.  probe checks no MTA-STS: nor does this
    # scan (else its records have a delivery.mta-sts).
    cmd = [args.mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"], "-q",
           "--retries", "0", "--no-policy"] + OPTS
    rc, out, err = run(cmd + [path], timeout=300)
    if rc != 0:
        raise RuntimeError("mxscan scan failed (%d): %s" % (rc, err))
    by = {}
    for line in out.splitlines():
        rec = json.loads(line)
        by.setdefault(rec["domain"], []).append(rec)
    return by


def check_same_as_scan(ck, domain, probe_recs, scan_recs):
    for r in probe_recs:
        if "cert" in r and r.get("sni") != r.get("mx"):
            ck.fail("probe --json %s" % domain, "sni %r, not its MX name %r" % (r.get("sni"), r.get("mx")))
    got = sorted((comparable(r) for r in probe_recs), key=record_key)
    want = sorted((comparable(r) for r in scan_recs), key=record_key)
    if got != want:
        ck.fail("probe --json %s" % domain, "records differ from mxscan scan:\n  probe: %s\n  scan:  %s"
                % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))


# --- explain and usage ------------------------------------------------------------


def class_table(args):
    rc, out, _ = run([args.mxscan, "classes"])
    rows = [line.split(None, 3) for line in out.splitlines()[1:]]
    return {r[0]: (r[1], r[2]) for r in rows}


def check_explain(ck, args):
    classes = class_table(args)
    if len(classes) < 30:
        ck.fail("classes", "only %d classes listed" % len(classes))
    for name, (stage, tlsrpt) in classes.items():
        rc, out, err = run([args.mxscan, "explain", name])
        ck.eq("explain %s" % name, "exit status", rc, 0)
        if err:
            ck.fail("explain %s" % name, "unexpected stderr: %s" % err[:300])
        if not out.startswith("%s (stage %s, TLS-RPT %s)\n" % (name, stage, tlsrpt)):
            ck.fail("explain %s" % name, "unexpected first line: %r" % out[:80])
        for section in ("What happened:\n  ", "Likely cause:\n  ", "Fix:\n  "):
            if section not in out:
                ck.fail("explain %s" % name, "no %r section" % section.split(":")[0])
        rc, out, err = run([args.mxscan, "explain", "--json", name])
        try:
            obj = json.loads(out)
        except ValueError:
            ck.fail("explain --json %s" % name, "not JSON: %r" % out[:100])
            continue
        ck.eq("explain --json %s" % name, "class/stage/tlsrpt", (obj.get("class"), obj.get("stage"), obj.get("tlsrpt")),
              (name, stage, tlsrpt))
        for k in ("what", "cause", "fix"):
            if not obj.get(k):
                ck.fail("explain --json %s" % name, "%s empty" % k)
    rc, out, err = run([args.mxscan, "explain"])
    ck.eq("explain", "exit status", rc, 0)
    path = os.path.join(GOLDEN, "explain.txt")
    if args.update:
        with open(path, "w") as fp:
            fp.write(out)
    elif not os.path.exists(path) or out != open(path).read():
        ck.fail("explain", "output differs from %s (run with --update, then read it)" % path)
    rc, out, err = run([args.mxscan, "explain", "--json"])
    ck.eq("explain --json", "lines", [json.loads(l)["class"] for l in out.splitlines()], list(classes))
    rc, out, err = run([args.mxscan, "explain", "tls-dead"])
    ck.eq("explain tls-dead", "exit status", rc, 2)
    if "unknown class 'tls-dead'" not in err or not all("  %s\n" % c in err for c in classes):
        ck.fail("explain tls-dead", "stderr does not list the valid classes: %r" % err[:200])
    if out:
        ck.fail("explain tls-dead", "output on stdout: %r" % out[:100])


def check_usage(ck, args, env):
    cmd = base_cmd(args, env, "probe")
    for extra, want, where in (([], 2, "no domain"), (["a.test", "b.test"], 2, "two domains"),
                               (["--ip", "nope", "ok.test"], 2, "bad --ip"), (["--port", "0", "ok.test"], 2, "bad --port"),
                               (["--bogus", "ok.test"], 2, "unknown option"), (["exa mple.test"], 2, "bad domain")):
        rc, out, err = run(cmd + extra)
        ck.eq("probe %s" % where, "exit status", rc, want)
    rc, out, err = run([args.mxscan, "probe", "--help"])
    ck.eq("probe --help", "exit status", rc, 0)
    if "Exit status: 0 every record is ok, 3" not in out:
        ck.fail("probe --help", "exit statuses not documented")
    rc, out, err = run([args.mxscan, "probe", "--ca-file", "/nonexistent/ca.pem", "ok.test"])
    ck.eq("probe unreadable --ca-file", "exit status", rc, 1)
    # --mx/--ip narrow the probe to one record
    rc, out, err = run(cmd + ["--mx", "MX2.two-mx.test.", "--json", "two-mx.test"])
    ck.eq("probe --mx", "exit status", rc, 3)
    recs = [r["record"] for r in json.loads(out)["results"]] if rc == 3 else []
    ck.eq("probe --mx", "records", [(r["mx"], r["class"]) for r in recs], [("mx2.two-mx.test", "starttls-not-offered")])
    rc, out, err = run(cmd + ["--ip", "127.0.1.11", "--json", "two-addr.test"])
    ck.eq("probe --ip", "exit status", rc, 0)
    recs = [r["record"] for r in json.loads(out)["results"]] if rc == 0 else []
    ck.eq("probe --ip", "records", [(r["ip"], r["class"]) for r in recs], [("127.0.1.11", "ok")])
    rc, out, err = run(cmd + ["--mx", "mx9.two-mx.test", "two-mx.test"])
    ck.eq("probe --mx (no such MX)", "exit status", rc, 2)
    if "mx1.two-mx.test (MX 10): 127.0.1.9" not in err:
        ck.fail("probe --mx (no such MX)", "the MX hosts are not listed: %r" % err)


# --- main ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--update", action="store_true", help="rewrite the golden files")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-j", type=int, default=8, help="probes run at once (default 8)")
    ap.add_argument("--only", nargs="*", help="only these domains")
    args = ap.parse_args()

    rows = fleet.load()
    by_domain = fleet.by_domain(rows)
    domains = args.only or list(by_domain)
    tmp = tempfile.mkdtemp(prefix="mxscan-probe-")
    fdir = os.path.join(tmp, "fleet")
    ck = Checker()
    try:
        subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", args.fakemx, "--lifetime", "600", fdir],
                       check=True, stdout=subprocess.DEVNULL)
        env = read_env(os.path.join(fdir, "env"))
        os.makedirs(GOLDEN, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
            futs = {d: pool.submit(probe_domain, args, env, d) for d in domains}
            scanned = scan_records(args, env, domains, tmp)
            for d in domains:
                rc, out, err, jrc, jout, jerr = futs[d].result()
                want_rc = 0 if all(r.cls == "ok" for r in by_domain[d]) else 3
                check_text(ck, args, env, d, rc, out, err, want_rc)
                recs = check_json(ck, d, jrc, jout, jerr, want_rc)
                check_same_as_scan(ck, d, recs, scanned.get(d, []))
        if not args.only:
            check_explain(ck, args)
            check_usage(ck, args, env)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), fdir])
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in ck.failures:
        print("FAIL " + f)
    print("%s: %d domain(s), %d failure(s)%s" % (os.path.basename(__file__), len(domains), len(ck.failures),
                                                 " (golden files updated)" if args.update else ""))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
