#!/usr/bin/python3
"""test_delivery_docs.py - README's class-by-class delivery table says what
the code does: every class of `mxscan classes --json`, in order, with the
same cell at each level: may, encrypt, verify, secure, dane and mta-sts.

    test_delivery_docs.py --mxscan PATH
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LEVELS = ("may", "encrypt", "verify", "secure", "dane", "mta-sts")


def readme_rows():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"^### Class by class\n(.*?)^###? ", text, re.M | re.S)
    if not m:
        return None
    rows = []
    for line in m.group(1).splitlines():
        c = re.match(r"^\| `([a-z0-9-]+)` \|" + r" ([a-z-]+) \|" * len(LEVELS) + r" .+ \|$", line)
        if c:
            rows.append((c.group(1), dict(zip(LEVELS, c.groups()[1:]))))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    a = ap.parse_args()
    classes = json.loads(subprocess.run([a.mxscan, "classes", "--json"], stdout=subprocess.PIPE, check=True).stdout)
    rows = readme_rows()
    failures = []
    if not rows:
        failures.append("README.md has no 'Class by class' table")
        rows = []
    if [r[0] for r in rows] != [c["class"] for c in classes]:
        failures.append("README's rows %s are not the classes in order %s" % ([r[0] for r in rows],
                                                                              [c["class"] for c in classes]))
    for (name, cells), c in zip(rows, classes):
        want = {k: c["delivery"].get(k) for k in LEVELS}
        if cells != want:
            failures.append("%s: README says %s, the code %s" % (name, cells, want))
    for f in failures:
        print("FAIL " + f)
    print("%d classes, %d failure(s)" % (len(rows), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
