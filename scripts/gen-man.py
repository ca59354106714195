#!/usr/bin/python3
"""gen-man.py MXSCAN OUT - writes the mxscan(1) man page from the program's
own help, so the page lists exactly the options and classes the binary has.

Every command's --help becomes a section; the class list comes from
`mxscan classes`.  Run by the build (cli/CMakeLists.txt); installed to
share/man/man1.
"""
import subprocess
import sys

COMMANDS = ["scan", "probe", "explain", "report", "diff", "maillog", "classes", "profiles"]


def run(mxscan, *args):
    p = subprocess.run([mxscan] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    return p.stdout


def esc(line):
    """Escape a line of plain text for troff."""
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def verbatim(text):
    out = [".nf", ".RS 2"]
    out += [esc(l) for l in text.rstrip("\n").split("\n")]
    out += [".RE", ".fi"]
    return out


def main():
    mxscan, out = sys.argv[1], sys.argv[2]
    version = run(mxscan, "--version").strip().split()[-1]
    page = [
        '.TH MXSCAN 1 "" "mxscan %s" "User Commands"' % version,
        ".SH NAME",
        "mxscan \\- audit STARTTLS on every mail server behind a list of domains",
        ".SH SYNOPSIS",
        ".B mxscan scan",
        "[options] [INPUT|-]",
        ".br",
        ".B mxscan probe",
        "[options] DOMAIN",
        ".br",
        ".B mxscan",
        "explain | classes | report | diff | maillog ...",
        ".SH DESCRIPTION",
        "For every domain, mxscan resolves the MX records, probes each MX address the way a",
        "sending MTA does (connect to port 25, banner, EHLO, STARTTLS, TLS handshake,",
        "certificate checks, EHLO again, QUIT) and writes one record per (domain, MX host,",
        "address) as JSON Lines or msgpack, with the class that says why a probe failed.",
        ".SH COMMANDS",
    ]
    page += verbatim(run(mxscan, "--help"))
    for c in COMMANDS:
        page += [".SS mxscan %s" % c]
        page += verbatim(run(mxscan, c, "--help") if c != "classes" else run(mxscan, "classes"))
    page += [
        ".SH FILES",
        ".TP",
        ".I configs/mxscan.conf",
        "every option of mxscan scan as a config file key, with its default (read with --config).",
        ".SH EXIT STATUS",
        "0 the run completed, whatever it found; 1 it could not complete (interrupted,",
        "--max-runtime, records that could not be written); 2 usage or configuration error;",
        "3 the run completed and --fail-on or --fail-on-ratio matched (scan), or a probed",
        "address was not ok (probe).",
        ".SH SEE ALSO",
        "posttls-finger(1), openssl-s_client(1), RFC 3207, RFC 7505, RFC 8460.",
    ]
    with open(out, "w") as fp:
        fp.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
