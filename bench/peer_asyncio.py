#!/usr/bin/python3
"""peer_asyncio.py - the asyncio STARTTLS scanner bench/run compares mxscan with.

    peer_asyncio.py --targets FILE --port N --ca-file PEM [--procs 2] [--inflight 256]
                    [--time-limit S] [--ehlo-name NAME]

FILE has one "IP MXNAME" per line.  The lines are split between --procs
worker processes (each a copy of this script with --worker), each running
uvloop with --inflight probes at once: connect, EHLO, STARTTLS with
certificate and host-name verification against --ca-file (SNI = MXNAME),
EHLO, QUIT.  This is what a careful Python scanner does with Debian's
python3-aiosmtplib and python3-uvloop.

Prints one line: "ok N failed N elapsed S" (summed over the workers); the
parent waits for its workers, so getrusage(RUSAGE_CHILDREN) of whoever
started it covers their CPU.  Only connects to the addresses in FILE
(bench/run gives it 127.0.0.0/8 addresses inside its network namespace).
"""
import argparse
import asyncio
import ssl
import subprocess
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--targets", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca-file", required=True)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--inflight", type=int, default=256)
    p.add_argument("--time-limit", type=float, default=300)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--ehlo-name", default="bench.test")
    p.add_argument("--worker", type=int, default=-1, help=argparse.SUPPRESS)
    return p.parse_args(argv)


async def probe(aiosmtplib, ctx, ip, name, a):
    smtp = aiosmtplib.SMTP(hostname=ip, port=a.port, local_hostname=a.ehlo_name, timeout=a.timeout,
                           start_tls=False, validate_certs=True, tls_context=ctx)
    try:
        await smtp.connect()
        await smtp.ehlo()
        await smtp.starttls(server_hostname=name, tls_context=ctx)
        await smtp.ehlo()
        await smtp.quit()
        return True
    except Exception:  # any failure counts as a failed probe
        smtp.close()
        return False


async def run_worker(targets, a):
    import aiosmtplib

    # aiosmtplib leaves "Future exception was never retrieved" notes behind
    # failed handshakes: the failure is counted below, the note is noise.
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    ctx = ssl.create_default_context(cafile=a.ca_file)  # verifies chain and host name
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    deadline = time.monotonic() + a.time_limit
    it = iter(targets)
    counts = [0, 0]

    async def lane():
        for ip, name in it:
            if time.monotonic() > deadline:
                return
            ok = await probe(aiosmtplib, ctx, ip, name, a)
            counts[0 if ok else 1] += 1

    await asyncio.gather(*(lane() for _ in range(a.inflight)))
    return counts


def main(argv):
    a = parse_args(argv)
    with open(a.targets) as f:
        targets = [tuple(line.split()[:2]) for line in f if line.strip()]
    if a.worker >= 0:
        import uvloop

        mine = targets[a.worker::a.procs]
        t0 = time.monotonic()
        uvloop.install()
        ok, failed = asyncio.run(run_worker(mine, a))
        print("ok %d failed %d elapsed %.3f" % (ok, failed, time.monotonic() - t0), flush=True)
        return 0
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, __file__] + argv + ["--worker", str(i)], stdout=subprocess.PIPE,
                              text=True) for i in range(a.procs)]
    ok = failed = 0
    for p in procs:
        out, _ = p.communicate()
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 4 and f[0] == "ok":
                ok += int(f[1])
                failed += int(f[3])
    print("ok %d failed %d elapsed %.3f" % (ok, failed, time.monotonic() - t0), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
