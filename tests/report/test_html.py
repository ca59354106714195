#!/usr/bin/python3
"""test_html.py - `mxscan report --html` rendered by a real browser.

Scans the fixture fleet (real DNS, real TLS, the fake MX servers), writes
the HTML report of it and opens the page in headless Chromium over the
DevTools protocol (browser.py): no console error, no exception, no request
but the page itself; the charts are there and their labels and values are
the scan's own counts (--summary); every failing domain is listed with its
class, its detail and the fix `mxscan explain` gives; tables sort when a
heading is clicked; a screenshot is a real picture.  Then, on results files
made from the scan's records: hostile strings in banners, certificate
names, details and MX names stay text (no script runs, no element is
added); three runs in date order give the trend chart and the changes of
the last one, checked against an independent count; the sender-level
section (delivery outcomes per level) agrees with the summary and report
--json; --rows cuts the lists;
bad input and usage errors.  Finally the checks are run on broken copies
of a good page (the script broken, a chart removed) and must fail them.

    test_html.py --mxscan PATH --fakemx PATH [--keep] [-v]

Needs chromium and python3-websocket (scripts/install-deps).  Exit 0 passed.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from xml.etree import ElementTree as ET

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, HERE)
sys.path.insert(0, FIXTURES)
import browser  # noqa: E402
import fleet  # noqa: E402

ORDER = None  # the contract's classes in order, from `mxscan classes --json`
STAGE_OF = {}


class Checker:
    def __init__(self, verbose=False):
        self.failures, self.verbose = [], verbose

    def true(self, where, what, cond, detail=""):
        if not cond:
            self.failures.append("%s: %s %s" % (where, what, detail))
        elif self.verbose:
            print("ok  %s: %s" % (where, what))
        return cond

    def eq(self, where, what, got, want):
        return self.true(where, what, got == want, "= %r, want %r" % (got, want))


def run(mxscan, *args):
    p = subprocess.run([mxscan] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def domain_class(classes):
    """A domain's class: ok only when all its records are, else its first failing class."""
    fails = [c for c in classes if c != "ok"]
    return min(fails, key=ORDER.index) if fails else "ok"


def domain_classes(recs):
    seen = {}
    for r in recs:
        seen.setdefault(r["domain"], []).append(r["class"])
    return {d: domain_class(c) for d, c in seen.items()}


def stage_group(cls):
    """The report's stages, told from the class table independently of the C code."""
    st = STAGE_OF[cls]
    if cls.startswith("starttls-") or st == "starttls":
        return "STARTTLS"
    return {"dns": "DNS", "connect": "TCP", "banner": "SMTP", "ehlo": "SMTP", "tls": "TLS", "cert": "certificate",
            "done": "ok"}.get(st, "after TLS")


# ---- the page, as the browser sees it ------------------------------------------------

DOM = r"""(() => {
  const q = s => Array.from(document.querySelectorAll(s));
  const bars = s => q(s + ' g.bar').map(g => [g.querySelector('text.label').textContent,
                                               g.querySelector('text.value').textContent,
                                               g.querySelector('rect').getAttribute('width')]);
  const rows = s => q(s + ' tbody tr').map(tr => Array.from(tr.cells).map(td => td.textContent));
  return {
    title: document.title,
    sections: q('section').map(s => s.id),
    svgs: q('svg.chart').length,
    svg_titles: q('svg.chart > title').map(t => t.textContent),
    classes: bars('svg.classes'), stages: bars('svg.stages'), providers: bars('svg.providers'),
    trend_columns: q('svg.trend g.column').length,
    trend_labels: q('svg.trend text.xlabel').map(t => t.textContent),
    trend_segments: q('svg.trend rect.seg').length,
    trend_legend: q('svg.trend g.legend text').map(t => t.textContent),
    failing: rows('#failing-table'), expiring: rows('#expiring-table'), changes: rows('#changes-table'),
    trend_table: rows('#trend-table'), classes_table: rows('#classes-table'), delivery: rows('#delivery-table'),
    delivery_columns: q('svg.delivery g.column').length,
    trend_heads: q('#trend-table thead th').map(t => t.textContent),
    cut_notes: q('p.cut').length,
    scripts: q('script').length, imgs: q('img').length, iframes: q('iframe,object,embed').length,
    handlers: q('[onerror],[onload],[onclick]').length, links_out: q('link,a[href^=http]').length,
    xss: window.__xss === undefined ? null : window.__xss,
    text: document.body.innerText,
  };
})()"""

SORT = r"""(() => {
  const th = document.querySelector('#failing-table thead th');
  const col = () => Array.from(document.querySelectorAll('#failing-table tbody tr')).map(r => r.cells[0].textContent);
  th.click(); const up = col(); th.click(); const down = col();
  const n = document.querySelectorAll('#failing-table thead th')[1]; n.click();
  const byclass = Array.from(document.querySelectorAll('#failing-table tbody tr')).map(r => r.cells[1].textContent);
  return [up, down, byclass, th.getAttribute('aria-sort')];
})()"""


def png_stats(path):
    """(width, height, share of non-white pixels, distinct colours in a sample): a PNG decoded with zlib."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0, 0.0, 0
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if depth != 8 or ctype not in (2, 6):
        return w, h, 0.0, 0
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, nonwhite, colours, total = bytearray(stride), 0, set(), 0
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # PNG filters: none, sub, up, average, paeth
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 8 == 0:
            for x in range(0, w, 4):
                px = bytes(line[x * bpp:x * bpp + 3])
                total += 1
                nonwhite += px != b"\xff\xff\xff"
                colours.add(px)
        prev = line
    return w, h, nonwhite / max(total, 1), len(colours)


def load_page(b, path):
    page = b.open("file://" + os.path.abspath(path))
    d = page.eval(DOM)
    return page, d


def check_clean(ck, where, page, path):
    """What every page must be: no console error, nothing fetched but itself,
    and charts that are well-formed SVG (a browser forgives markup errors
    that other viewers do not)."""
    ck.eq(where, "console errors and exceptions", page.console_errors(), [])
    reqs = [u for u in page.requests() if u != "file://" + os.path.abspath(path)]
    ck.eq(where, "requests besides the page", reqs, [])
    html = open(path, encoding="utf-8").read()
    opened = len(re.findall(r"<svg[\s>]", html))
    parsed = 0
    for frag in re.findall(r"<svg[\s>].*?</svg>", html, flags=re.S):
        try:
            ET.fromstring(frag.replace("&middot;", "&#183;"))
            parsed += 1
        except ET.ParseError as e:
            ck.true(where, "chart is well-formed SVG", False, "(%s)" % e)
    ck.eq(where, "charts that are well-formed SVG", parsed, opened)


def check_fleet_page(ck, b, path, recs, summary, explain, tmp):
    where = "fleet page"
    page, d = load_page(b, path)
    check_clean(ck, where, page, path)
    for sec in ("run", "classes", "stages", "providers", "failing", "expiring", "trend"):
        ck.true(where, "section %s" % sec, sec in d["sections"], d["sections"])
    ck.true(where, "section delivery (the scan's records carry delivery)", "delivery" in d["sections"])
    ck.eq(where, "charts (classes, stages, providers, delivery)", d["svgs"], 4)
    ck.eq(where, "delivery chart: a column per level", d["delivery_columns"], 6)
    want = [[lvl] + [str(c.get(o, 0)) for o in ("tls", "cleartext", "deferred", "unknown")]
            for lvl, c in summary["delivery"].items()]
    ck.eq(where, "delivery table = the scan's summary", [[c.replace(",", "") for c in r] for r in d["delivery"]], want)
    want = [(c, str(n)) for c, n in sorted(summary["domains"]["classes"].items(), key=lambda kv: ORDER.index(kv[0]))]
    ck.eq(where, "class chart labels and values = the scan's summary", [(l, v) for l, v, _ in d["classes"]], want)
    widths = {l: float(w) for l, _, w in d["classes"]}
    ck.true(where, "the longest class bar is ok's (11 domains)",
            max(widths, key=widths.get) == "ok" and all(w >= 1 for w in widths.values()), widths)
    dcls = domain_classes(recs)
    stages = {}
    for dom, c in dcls.items():
        if c != "ok":
            stages[stage_group(c)] = stages.get(stage_group(c), 0) + 1
    got = {l: int(v) for l, v, _ in d["stages"]}
    ck.eq(where, "stage chart", {k: v for k, v in got.items() if v}, stages)
    ck.eq(where, "stage chart labels", [l for l, _, _ in d["stages"]][:6],
          ["DNS", "TCP", "SMTP", "STARTTLS", "TLS", "certificate"])
    failing = {dom: c for dom, c in dcls.items() if c != "ok"}
    rows = {r[0]: r for r in d["failing"]}
    ck.eq(where, "failing domains listed", sorted(rows), sorted(failing))
    for dom, c in failing.items():
        r = rows.get(dom)
        if not r:
            continue
        ck.eq(where, "%s class" % dom, r[1], c)
        ck.eq(where, "%s fix = mxscan explain's" % dom, r[7], explain[c]["fix"])
        mine = [x for x in recs if x["domain"] == dom and x["class"] == c][0]
        ck.true(where, "%s detail" % dom, r[6].startswith(mine["detail"]), "%r vs %r" % (r[6], mine["detail"]))
    ck.eq(where, "failing rows in contract order", [r[1] for r in d["failing"]],
          sorted((r[1] for r in d["failing"]), key=ORDER.index))
    exp = sorted({(r["domain"], r["mx"]) for r in recs if "cert" in r and r["cert"]["days_left"] <= 30})
    ck.eq(where, "certificates expiring within 30 days", sorted((r[0], r[1]) for r in d["expiring"]), exp)
    for needle in ("summary ", "CPU time", "peak memory", "chain verifications", summary["started_at"]):
        ck.true(where, "run section shows %r" % needle, needle in d["text"])
    up, down, byclass, aria = page.eval(SORT)
    ck.eq(where, "click sorts by domain", up, sorted(up, key=str.lower))
    ck.eq(where, "a second click reverses", down, list(reversed(up)))
    ck.eq(where, "sorting by class keeps contract order", byclass, sorted(byclass, key=ORDER.index))
    ck.eq(where, "aria-sort of the domain heading after the class click", aria, None)
    shot = page.screenshot(os.path.join(tmp, "fleet.png"))
    w, h, ink, colours = png_stats(shot)
    ck.true(where, "screenshot is a real picture", w == 1280 and h > 2000 and 0.03 < ink < 0.9 and colours > 20,
            "(%dx%d, %.1f%% ink, %d colours)" % (w, h, ink * 100, colours))
    page.close()


# ---- hostile strings -----------------------------------------------------------------

HOSTILE = {
    "banner": "220 <script>window.__xss=1</script> ESMTP",
    "detail": '"><img src=x onerror="window.__xss=2">\u202egnp.exe',
    "cn": "</td></tr></table><script>window.__xss=4</script>",
    "mx": "<svg onload=window.__xss=3>.test",
    "domain": "x<i>y</i>'\".test",
}


def hostile_records(recs):
    out, done = [], set()
    for r in recs:
        r = json.loads(json.dumps(r))
        if r["class"] == "starttls-not-offered" and "banner" not in done:
            r["banner"], r["detail"], r["mx"] = HOSTILE["banner"], HOSTILE["detail"], HOSTILE["mx"]
            done.add("banner")
        elif "cert" in r and r["class"] == "cert-expired" and "cn" not in done:
            r["cert"]["subject_cn"] = HOSTILE["cn"]
            done.add("cn")
        elif r["class"] == "tcp-refused" and "domain" not in done:
            r["domain"] = HOSTILE["domain"]
            done.add("domain")
        out.append(r)
    return out


def check_hostile(ck, b, mxscan, tmp, recs):
    where = "hostile strings"
    recs = hostile_records(recs)
    path = os.path.join(tmp, "hostile.msgpack")
    with open(path, "wb") as fp:
        for i, r in enumerate(recs):
            if i == 0:  # a banner that is not UTF-8 (msgpack str may hold any bytes)
                r = dict(r, banner=b"220 \xff\xfe bad bytes")
                fp.write(msgpack.packb(r, use_bin_type=False))
            else:
                fp.write(msgpack.packb(r, use_bin_type=True))
    out = os.path.join(tmp, "hostile.html")
    rc, _, err = run(mxscan, "report", "--html", out, path)
    if not ck.eq(where, "exit status (%s)" % err.strip(), rc, 0):
        return
    page, d = load_page(b, out)
    check_clean(ck, where, page, out)
    ck.eq(where, "no record string ran as script (window.__xss)", d["xss"], None)
    ck.eq(where, "<script> elements: the page's own only", d["scripts"], 1)
    ck.eq(where, "no <img>, <iframe> or handler attributes", (d["imgs"], d["iframes"], d["handlers"]), (0, 0, 0))
    for k in ("banner", "mx", "domain"):
        ck.true(where, "the %s is shown as text" % k, HOSTILE[k] in d["text"], HOSTILE[k])
    ck.true(where, "the detail is shown as text, the bidi override replaced",
            HOSTILE["detail"].replace("\u202e", "\ufffd") in d["text"])
    ck.true(where, "the certificate name is shown as text", any(HOSTILE["cn"] in r[2] for r in d["expiring"]),
            d["expiring"])
    ck.true(where, "bytes that are not UTF-8 become U+FFFD", "220 \ufffd\ufffd bad bytes" in d["text"])
    # its provider is the registrable domain of that name: "__xss=3>.test"
    ck.true(where, "the hostile MX's provider is a bar label, as text",
            any(l == "__xss=3>.test" for l, _, _ in d["providers"]), d["providers"])
    page.close()


# ---- several runs ----------------------------------------------------------------------


def make_runs(tmp, recs):
    """Three nights: night3 is the scan; nights 1 and 2 differ from it in known ways."""
    def changed(recs, classes, drop=(), extra=()):
        out = []
        for r in recs:
            if r["domain"] in drop:
                continue
            r = dict(r)
            if r["domain"] in classes:
                r["class"] = classes[r["domain"]]
            out.append(r)
        for dom, c in extra:
            out.append({"domain": dom, "class": c, "stage": "dns", "detail": "made up", "scanned_at":
                        recs[0]["scanned_at"], "tlsrpt": "none"})
        return out

    n1 = changed(recs, {"ok.test": "cert-expired", "tls12.test": "tcp-timeout"}, extra=[("old-only.test", "dns-nxdomain")])
    n2 = changed(recs, {"greet-pause.test": "tcp-timeout", "banner-554.test": "ok", "dns-nxdomain.test": "dns-timeout"},
                 drop=("implicit.test",), extra=[("old-only.test", "dns-nxdomain")])
    paths = [os.path.join(tmp, "night1.jsonl"), os.path.join(tmp, "night2.msgpack"), os.path.join(tmp, "night3.jsonl")]
    with open(paths[0], "w") as fp:
        fp.writelines(json.dumps(r) + "\n" for r in n1)
    with open(paths[1], "wb") as fp:
        for r in n2:
            fp.write(msgpack.packb(r, use_bin_type=True))
    with open(paths[2], "w") as fp:
        fp.writelines(json.dumps(r) + "\n" for r in recs)
    return paths, [n1, n2, recs]


def check_trend(ck, b, mxscan, tmp, recs, summary_path):
    where = "trend"
    paths, runs = make_runs(tmp, recs)
    out = os.path.join(tmp, "trend.html")
    rc, _, err = run(mxscan, "report", "--html", out, "--summary", summary_path, *paths)
    if not ck.eq(where, "exit status (%s)" % err.strip(), rc, 0):
        return
    page, d = load_page(b, out)
    check_clean(ck, where, page, out)
    ck.eq(where, "charts (classes, stages, providers, delivery, trend)", d["svgs"], 5)
    ck.eq(where, "one column per run", d["trend_columns"], 3)
    ck.eq(where, "run labels, oldest first", d["trend_labels"], ["night1.jsonl", "night2.msgpack", "night3.jsonl"])
    per_run = [domain_classes(r) for r in runs]
    want = {}
    for i, dc in enumerate(per_run):
        for c in dc.values():
            want.setdefault(c, [0, 0, 0])[i] += 1
    got = {r[0]: [int(x.replace(",", "")) for x in r[1:]] for r in d["trend_table"]}
    ck.eq(where, "domains per class per run", got, want)
    stages = set(stage_group(c) for dc in per_run for c in dc.values())
    ck.eq(where, "legend: the stages that occur", sorted(d["trend_legend"]), sorted(stages))
    ck.true(where, "stacked segments", d["trend_segments"] >= 3 * 5, d["trend_segments"])
    old, new = per_run[1], per_run[2]
    want_ch = set()
    for dom in set(old) | set(new):
        if dom not in new:
            want_ch.add((dom, "vanished", old[dom], ""))
        elif dom not in old:
            want_ch.add((dom, "new domain", "", new[dom]))
        elif old[dom] != new[dom]:
            kind = "newly failing" if old[dom] == "ok" else "fixed" if new[dom] == "ok" else "class changed"
            want_ch.add((dom, kind, old[dom], new[dom]))
    ck.eq(where, "changes in the last run", set(tuple(r) for r in d["changes"]), want_ch)
    ck.eq(where, "the changes made by hand are all there", len(want_ch), 5)
    page.screenshot(os.path.join(tmp, "trend.png"))
    page.close()


def check_delivery_and_rows(ck, b, mxscan, tmp, recs):
    where = "delivery"
    path = os.path.join(tmp, "delivery.jsonl")
    with open(path, "w") as fp:
        for i, r in enumerate(recs):
            if i % 2 == 0:  # other outcomes than the class gives: the page shows the records' own
                r = dict(r, delivery={"may": "tls", "encrypt": "deferred"})
            else:  # as an older mxscan wrote them: the class decides
                r = {k: v for k, v in r.items() if k != "delivery"}
            fp.write(json.dumps(r) + "\n")
    out = os.path.join(tmp, "delivery.html")
    rc, _, err = run(mxscan, "report", "--html", out, "--rows", "5", path)
    if not ck.eq(where, "exit status (%s)" % err.strip(), rc, 0):
        return
    page, d = load_page(b, out)
    check_clean(ck, where, page, out)
    ck.true(where, "the sender-level section appears with records that carry it", "delivery" in d["sections"])
    rc, out, _ = run(mxscan, "report", "--json", path)
    want = [[lvl] + [str(c.get(o, 0)) for o in ("tls", "cleartext", "deferred", "unknown")]
            for lvl, c in json.loads(out)["delivery"].items()] if rc == 0 else None
    ck.eq(where, "... with report --json's counts", [[c.replace(",", "") for c in r] for r in d["delivery"]], want)
    ck.eq(where, "--rows 5 cuts the failing domains", len(d["failing"]), 5)
    ck.true(where, "... and says so", d["cut_notes"] >= 1)
    page.close()


def check_cli(ck, mxscan, tmp, jsonl):
    where = "cli"
    rc, out, _ = run(mxscan, "report", "--html", "-", jsonl)
    ck.true(where, "--html - writes the page to stdout", rc == 0 and out.startswith("<!DOCTYPE html>") and
            out.rstrip().endswith("</html>"))
    ck.true(where, "a Content-Security-Policy that allows no requests",
            re.search(r"Content-Security-Policy\" content=\"default-src 'none';", out) is not None)
    rc, _, err = run(mxscan, "report", "--summary", jsonl, jsonl)
    ck.eq(where, "--summary without --html: usage error (%s)" % err.strip(), rc, 2)
    rc, _, err = run(mxscan, "report", "--html", os.path.join(tmp, "x.html"), "--json", jsonl)
    ck.eq(where, "--html with --json: usage error", rc, 2)
    bad = os.path.join(tmp, "bad-summary.json")
    with open(bad, "w") as fp:
        fp.write('{"started_at": "2026-01-01T00:00:00Z", "elapsed_s": 12,\n "x": [1, 2,, 3]}')
    out_path = os.path.join(tmp, "never.html")
    rc, _, err = run(mxscan, "report", "--html", out_path, "--summary", bad, jsonl)
    ck.eq(where, "a bad summary: exit 1", rc, 1)
    ck.true(where, "... the error names the file and the byte", bad in err and "byte 68" in err, err)
    ck.true(where, "... and no page is left", not os.path.exists(out_path))
    rc, _, err = run(mxscan, "report", "--html", os.path.join(tmp, "nodir", "x.html"), jsonl)
    ck.true(where, "an unwritable output: exit 1 naming it", rc == 1 and "nodir" in err, err)
    leftovers = [f for f in os.listdir(tmp) if ".tmp-" in f]
    ck.eq(where, "no temporary files left", leftovers, [])


# ---- the checks fail on a broken page --------------------------------------------------------


def check_broken_pages(ck, b, tmp, good, recs, summary, explain):
    html = open(good, encoding="utf-8").read()
    broken = {
        "script error": html.replace("'use strict';", "'use strict'; undefinedFunction();", 1),
        "chart removed": re.sub(r'<svg [^>]*class="chart classes".*?</svg>', "", html, count=1, flags=re.S),
        "a fetch": html.replace("</body>", '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></body>'),
    }
    for name, text in broken.items():
        path = os.path.join(tmp, "broken.html")
        with open(path, "w", encoding="utf-8") as fp:
            fp.write(text)
        inner = Checker()
        try:
            check_fleet_page(inner, b, path, recs, summary, explain, tmp)
        except Exception as e:  # a check that crashes has failed too
            inner.failures.append(str(e))
        ck.true("self-test", "the checks fail on a page with %s" % name, inner.failures, "(they passed)")


def scan_fleet(ck, mxscan, fakemx, tmp):
    fdir = os.path.join(tmp, "fleet")
    up = subprocess.run([os.path.join(FIXTURES, "fleet-up"), "--fakemx", fakemx, "--lifetime", "300", fdir],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if not ck.eq("fleet", "fleet-up", up.returncode, 0):
        return None, None
    env = dict(l.split("=", 1) for l in up.stdout.splitlines() if "=" in l)
    domains, out, summary = (os.path.join(tmp, f) for f in ("domains.txt", "fleet.jsonl", "summary.json"))
    with open(domains, "w") as fp:
        fp.write("\n".join(fleet.domains(fleet.load())) + "\n")
    try:
        p = subprocess.run([mxscan, "scan", "--dns", env["DNS"], "--port", env["SMTP_PORT"], "--ca-file", env["CA"],
                            "--connect-timeout", "2", "--banner-timeout", "4", "--command-timeout", "3",
                            "--handshake-timeout", "3", "--dns-timeout", "1", "--dns-tries", "2",
                            "--retry-delay", "0.2", "-q", "-o", out, "--summary", summary, domains],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    finally:
        subprocess.run([os.path.join(FIXTURES, "fleet-down"), fdir])
    ck.eq("fleet scan", "exit status (%s)" % p.stderr.decode().strip(), p.returncode, 0)
    return out, summary


def main():
    global ORDER
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--fakemx", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    ck = Checker(a.verbose)
    classes = json.loads(run(a.mxscan, "classes", "--json")[1])
    ORDER = [c["class"] for c in classes]
    STAGE_OF.update({c["class"]: c["stage"] for c in classes})
    explain = {}
    for line in run(a.mxscan, "explain", "--json")[1].splitlines():
        e = json.loads(line)
        explain[e["class"]] = e
    tmp = tempfile.mkdtemp(prefix="mxscan-html-")
    try:
        jsonl, summary_path = scan_fleet(ck, a.mxscan, a.fakemx, tmp)
        if jsonl:
            recs = [json.loads(l) for l in open(jsonl)]
            summary = json.load(open(summary_path))
            page = os.path.join(tmp, "fleet.html")
            rc, _, err = run(a.mxscan, "report", "--html", page, "--summary", summary_path, jsonl)
            ck.eq("report --html", "exit status (%s)" % err.strip(), rc, 0)
            with browser.Browser(tmp) as b:
                check_fleet_page(ck, b, page, recs, summary, explain, tmp)
                check_hostile(ck, b, a.mxscan, tmp, recs)
                check_trend(ck, b, a.mxscan, tmp, recs, summary_path)
                check_delivery_and_rows(ck, b, a.mxscan, tmp, recs)
                check_broken_pages(ck, b, tmp, page, recs, summary, explain)
            check_cli(ck, a.mxscan, tmp, jsonl)
    finally:
        if ck.failures or a.keep:
            print("files in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in ck.failures:
        print("FAIL " + f)
    print("%d failed" % len(ck.failures) if ck.failures else "test_html: all checks passed")
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
