#!/usr/bin/python3
"""test_progress.py - report, diff and collect show progress on a terminal only.

Runs `mxscan report` (text and --html), `mxscan diff` and `mxscan collect`
over inputs made here, once with standard error on a pseudo-terminal (a
real tty, python's pty module) and once on a pipe, as cron would have it:
on the terminal the progress line (bytes read of the file's size, or
stream entries read) appears and is cleared at the end; on the pipe there
is no progress and no control character at all.  Standard output is the
same both ways.  With Redis up for collect, also the HTML report of two
Redis runs, whose last run's facts come from its hash.

    test_progress.py --mxscan PATH [--redis-server PATH] [--keep]

Exit 0 passed, 1 failed.
"""
import argparse
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL " + what)
    return cond


def on_tty(cmd):
    """(exit status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got, out, fds = b"", b"", [master, p.stdout.fileno()]
    while fds:  # both at once: a full stdout pipe must not stall the program
        for fd in select.select(fds, [], [], 60)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                chunk = b""
            if not chunk:
                fds.remove(fd)
            elif fd == master:
                got += chunk
            else:
                out += chunk
    p.wait(60)
    os.close(master)
    return p.returncode, out, got.decode(errors="replace")


def on_pipe(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def both(name, cmd, want_tty, same_stdout=True):
    rc1, out1, tty = on_tty(cmd)
    rc2, out2, err = on_pipe(cmd)
    check(rc1 == 0 and rc2 == 0, "%s: exit status %d / %d (%s)" % (name, rc1, rc2, err.strip()))
    for w in want_tty:
        check(w in tty, "%s: the terminal shows %r; it got %r" % (name, w, tty[-300:]))
    check(tty.rstrip("\n").endswith("\r\x1b[K") or "\r\x1b[K" in tty, "%s: the line is cleared at the end" % name)
    check("reading" not in err and "read (" not in err and "entries read" not in err,
          "%s: no progress on a pipe: %r" % (name, err))
    check("\x1b" not in err and "\r" not in err, "%s: no control characters on a pipe: %r" % (name, err))
    if same_stdout:
        check(out1 == out2, "%s: the same output either way" % name)


def records(n, cls_every=7):
    for i in range(n):
        cls = "ok" if i % cls_every else "tcp-timeout"
        yield {"domain": "d%06d.test" % (i // 2), "class": cls, "stage": "done" if cls == "ok" else "connect",
               "detail": "x" * 200, "scanned_at": "2026-11-28T02:00:00Z", "mx": "mx%d.example.com" % (i % 50),
               "pref": 10, "implicit_mx": False, "ip": "192.0.2.%d" % (i % 250), "port": 25,
               "tlsrpt": "success" if cls == "ok" else "none"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mxscan-progress-")
    big, other = os.path.join(tmp, "big.jsonl"), os.path.join(tmp, "other.jsonl")
    with open(big, "w") as fp:
        fp.writelines(json.dumps(r) + "\n" for r in records(40000))
    with open(other, "w") as fp:
        fp.writelines(json.dumps(r) + "\n" for r in records(30000, 5))
    size = os.path.getsize(big) / 1048576.0
    both("report", [a.mxscan, "report", big], ["mxscan: reading %s: " % big, "of %.1f MiB (" % size, "records"])
    both("report --html", [a.mxscan, "report", "--html", os.path.join(tmp, "r.html"), other, big],
         ["mxscan: reading %s" % other, "mxscan: reading %s" % big])
    both("diff", [a.mxscan, "diff", other, big], ["mxscan: reading %s" % other, "mxscan: reading %s" % big])
    # standard input that is a pipe: no size to compare with, bytes only
    rc, _, tty = on_tty(["sh", "-c", "cat '%s' | '%s' report -" % (big, a.mxscan)])
    check(rc == 0 and "mxscan: reading -: " in tty and " MiB, " in tty and "MiB of" not in tty,
          "report - (a pipe): bytes read without a size: %r" % tty[-200:])
    if os.access(a.redis_server, os.X_OK):
        collect(a, tmp)
    else:
        print("collect check skipped: no redis-server")
    if FAILURES or a.keep:
        print("files in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES) if FAILURES else "test_progress: all checks passed")
    return 1 if FAILURES else 0


def collect(a, tmp):
    sys.path.insert(0, os.path.join(HERE, "..", "exporters"))
    import msgpack
    import test_redis as rt
    srv = rt.RedisServer(a.redis_server, tmp)
    srv.start()
    try:
        r = srv.client()
        pipe = r.pipeline(transaction=False)
        for i, rec in enumerate(records(30000)):
            pipe.xadd("mxscan:results", {"run": "R1" if i % 3 else "R2", "seq": i, "r": msgpack.packb(rec)})
        pipe.execute()
        out = os.path.join(tmp, "collected.msgpack")
        both("collect", [a.mxscan, "collect", "--redis", srv.url(), "--run", "R1", "-o", out],
             ["mxscan: collect: ", "of 30000 stream entries read", "records of run R1"], same_stdout=False)
        # while Redis is up: the HTML report of two Redis runs takes the last
        # one's facts from its hash (P:run:ID)
        r.hset("mxscan:run:R1", mapping={"run": "R1", "status": "complete", "started_at": "2026-11-28T02:00:00Z",
                                         "finished_at": "2026-11-28T03:04:05Z", "host": "scanner<1>"})
        page = os.path.join(tmp, "redis.html")
        rc, _, err = on_pipe([a.mxscan, "report", "--html", page, "--redis", srv.url(), "--run", "R2", "--run", "R1"])
        html = open(page).read() if rc == 0 else ""
        check(rc == 0, "report --html of Redis runs: exit %d (%s)" % (rc, err.strip()))
        for want in ("redis run R1", "<dd>complete</dd>", "<dd>2026-11-28T03:04:05Z</dd>", "<dd>scanner&lt;1&gt;</dd>",
                     '<text class="xlabel" x="', ">R2</text>", ">R1</text>"):
            check(want in html, "report --html of Redis runs shows %r" % want)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
