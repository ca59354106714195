#!/usr/bin/python3
"""maillog_fixture.py - real Postfix client logs for STARTTLS failures.

Starts scripted SMTP servers on 127.0.66.1-11 (one per failure: no STARTTLS,
a close or garbage after "220" to STARTTLS, a self-signed certificate, TLS
1.3 only against a client capped at 1.2, "454" to STARTTLS, a good server,
a "421" banner, TLS 1.0 only, a session dropped after the handshake, no
close_notify), and a private sending-only Postfix instance per run (its own
config, queue and data directories under a temporary directory, no smtpd,
no DNS: a transport map routes each recipient domain to its server), sends
two messages to one recipient per server, waits out minimal_backoff_time
and flushes the queue once, then stops everything and returns the log
Postfix wrote (maillog_file, the syslog line format).

Adapted for the tests from the harness that captured the Postfix and Exim
logs the parser's unit tests quote (its notes: README "Mail logs as
input").  The Exim runs (EXIM_RUNS) use the exim4 binary scripts/install-exim
unpacks (its Debian package conflicts with postfix's) as a client only:
one message delivered in the foreground, logged to its own mainlog.  Needs
root (a Postfix master, sendmail -C) and the Debian postfix package
(scripts/install-deps).  Only loopback addresses.

    import maillog_fixture as mf
    logs = mf.run(tmpdir, ["may", "encrypt"])   # {run: log text}
"""
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings

PORT = int(os.environ.get("MAILLOG_PORT", "2526"))
SENDER = "sender@sender.test"
CA_NAME = "good.test"        # name in the CA-signed server certificate

# ---------------------------------------------------------------------------
# The failing (and one good) SMTP servers.
# ---------------------------------------------------------------------------

# name, address, recipient domain, behaviour
CASES = [
    # (1) EHLO without STARTTLS, accepts mail in the clear
    dict(case=1, name="notls", addr="127.0.66.1", domain="notls.test",
         starttls=None),
    # (2) offers STARTTLS, answers 220, then closes the connection
    dict(case=2, name="tlsclose", addr="127.0.66.2", domain="tlsclose.test",
         starttls="close"),
    # (3) offers STARTTLS, answers 220, then sends garbage instead of a
    #     ServerHello
    dict(case=3, name="tlsgarbage", addr="127.0.66.3", domain="tlsgarbage.test",
         starttls="garbage"),
    # (4) TLS with a self-signed (untrusted) certificate, accepts mail
    dict(case=4, name="selfsigned", addr="127.0.66.4", domain="selfsigned.test",
         starttls="tls", cert="self"),
    # (5) TLS 1.3 only; the clients are restricted to <= TLS 1.2 for this
    #     one destination (Postfix tls policy map, Exim tls_require_ciphers)
    dict(case=5, name="tls13only", addr="127.0.66.5", domain="tls13only.test",
         starttls="tls", cert="good", tls="1.3only"),
    # (6) answers 454 to STARTTLS
    dict(case=6, name="starttls454", addr="127.0.66.6", domain="starttls454.test",
         starttls="454"),
    # (7) a good TLS server (CA-signed cert for good.test), accepts mail
    dict(case=7, name="good", addr="127.0.66.7", domain="good.test",
         starttls="tls", cert="good"),
    # (8) 421 at the banner
    dict(case=8, name="banner421", addr="127.0.66.8", domain="banner421.test",
         banner421=True),
    # (9) extra: legacy TLS 1.0-only server (Postfix accepts it at may/encrypt
    #     but not at verify/secure; Exim/GnuTLS accepts it)
    dict(case=9, name="tls10only", addr="127.0.66.9", domain="tls10only.test",
         starttls="tls", cert="good", tls="1.0only"),
    # (10) extra: TLS handshake completes, then the server drops the TCP
    #      connection (no close_notify) when it gets the EHLO inside TLS:
    #      a TLS *session* failure rather than a handshake failure
    dict(case=10, name="tlsdrop", addr="127.0.66.10", domain="tlsdrop.test",
         starttls="tls", cert="good", drop_after_tls=True),
    # (11) extra: good TLS server that accepts the mail but closes TCP after
    #      "221" without a TLS close_notify (a common real-world quirk; the
    #      mail is delivered, Exim logs a "TLS error on connection" line)
    dict(case=11, name="noclosenotify", addr="127.0.66.11",
         domain="noclosenotify.test", starttls="tls", cert="good",
         no_close_notify=True),
]

CASE_BY_NAME = {c["name"]: c for c in CASES}


def rcpt(case):
    return "user-%s@%s" % (case["name"], case["domain"])


def make_certs(d):
    """CA + CA-signed cert for good.test (SAN DNS:good.test and
    IP:127.0.66.1-20, so Exim's IP-literal host check passes)
    + a self-signed cert.  Uses /usr/bin/openssl.  Returns dict of paths."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    if not os.path.exists(p("self.pem")):
        def ossl(*args):
            subprocess.run(["openssl"] + list(args), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-keyout", p("ca.key"), "-out", p("ca.pem"),
             "-subj", "/CN=mxscan test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(p("good.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=DNS:%s,%s\n" % (CA_NAME, ",".join(
                        "IP:127.0.66.%d" % i for i in range(1, 21))))
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("good.key"),
             "-out", p("good.csr"), "-subj", "/CN=%s" % CA_NAME)
        ossl("x509", "-req", "-in", p("good.csr"), "-CA", p("ca.pem"),
             "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "3650",
             "-extfile", p("good.ext"), "-out", p("good.pem"))
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-keyout", p("self.key"), "-out", p("self.pem"),
             "-subj", "/CN=selfsigned.test",
             "-addext", "subjectAltName=DNS:selfsigned.test")
    for n in os.listdir(d):
        os.chmod(p(n), 0o644)
    return dict(ca=p("ca.pem"), good=(p("good.pem"), p("good.key")),
                self=(p("self.pem"), p("self.key")))


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self, limit=65536):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buf += data
            if len(self.buf) > limit:
                raise EOFError
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode("latin-1"))


class SMTPServer:
    """One tiny SMTP server on (addr, port) with a scripted STARTTLS flaw."""

    def __init__(self, case, certs, port=PORT):
        self.case = case
        self.name = case["name"]
        self.addr = case["addr"]
        self.port = port
        self.hostname = "mx.%s" % case["domain"]
        self.events = []          # (time, text) for debugging
        self.messages = 0
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self._lock = threading.Lock()
        self.ctx = None
        if case.get("starttls") == "tls":
            self.ctx = self._make_ctx(case, certs)
        self.lsock = None

    @staticmethod
    def _make_ctx(case, certs):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = certs[case.get("cert", "good")]
        mode = case.get("tls")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if mode == "1.3only":
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            elif mode == "1.0only":
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.load_cert_chain(cert, key)
        return ctx

    def log(self, text):
        with self._lock:
            self.events.append((time.time(), text))

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.addr, self.port))
        s.listen(16)
        s.settimeout(0.2)
        self.lsock = s
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name="smtp-%s" % self.name)
        t.start()
        self._threads.append(t)

    def stop(self):
        self._stop.set()
        for t in list(self._threads):
            t.join(5)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        if self.lsock:
            self.lsock.close()
            self.lsock = None

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                sock, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(20)
            with self._lock:
                self._conns.add(sock)
            t = threading.Thread(target=self._serve, args=(sock, peer),
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock, peer):
        self.log("connect from %s:%d" % peer)
        socks = [sock]
        try:
            self._session(sock, socks)
        except (EOFError, OSError, ssl.SSLError) as e:
            self.log("session ended: %r" % (e,))
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
                with self._lock:
                    self._conns.discard(s)

    @staticmethod
    def _abort(sock):
        """Close the TCP connection under a (TLS) socket abruptly: no
        close_notify, just FIN."""
        try:
            raw = socket.socket(fileno=os.dup(sock.fileno()))
            raw.shutdown(socket.SHUT_RDWR)
            raw.close()
        except OSError:
            pass

    def _session(self, sock, socks):
        case = self.case
        c = _Conn(sock)
        if case.get("banner421"):
            c.send("421 4.3.2 %s Service not available, closing transmission "
                   "channel\r\n" % self.hostname)
            self.log("sent 421 banner")
            try:                      # let the client say QUIT, then close
                sock.settimeout(2)
                c.readline()
            except (EOFError, OSError):
                pass
            return
        c.send("220 %s ESMTP mxscan-test\r\n" % self.hostname)
        tls = False
        while True:
            line = c.readline()
            self.log("C: %s" % line)
            verb = line.split(" ", 1)[0].upper()
            if tls and case.get("drop_after_tls"):
                self.log("dropping the connection inside TLS")
                self._abort(sock)
                return
            if verb == "EHLO":
                caps = ["PIPELINING", "SIZE 10240000"]
                if case.get("starttls") and not tls:
                    caps.append("STARTTLS")
                caps += ["ENHANCEDSTATUSCODES", "8BITMIME"]
                lines = [self.hostname] + caps
                c.send("".join("250-%s\r\n" % x for x in lines[:-1]) +
                       "250 %s\r\n" % lines[-1])
            elif verb == "HELO":
                c.send("250 %s\r\n" % self.hostname)
            elif verb == "STARTTLS" and case.get("starttls") and not tls:
                mode = case["starttls"]
                if mode == "454":
                    c.send("454 4.7.0 TLS not available due to local problem\r\n")
                    continue
                c.send("220 2.0.0 Ready to start TLS\r\n")
                if mode == "close":
                    self.log("closing right after 220 to STARTTLS")
                    sock.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "garbage":
                    try:
                        hello = sock.recv(4096)      # the ClientHello
                        self.log("got %d bytes of ClientHello" % len(hello))
                    except OSError:
                        pass
                    c.send("this is not a TLS ServerHello, sorry\r\n" * 4)
                    self.log("sent garbage")
                    try:
                        sock.settimeout(5)
                        while sock.recv(4096):
                            pass
                    except OSError:
                        pass
                    return
                # real TLS
                try:
                    tsock = self.ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.log("TLS handshake failed: %r" % (e,))
                    return
                socks.append(tsock)
                with self._lock:
                    self._conns.add(tsock)
                self.log("TLS established %s %s" % (tsock.version(),
                                                     tsock.cipher()[0]))
                sock = tsock
                c = _Conn(tsock)
                tls = True
            elif verb == "MAIL":
                c.send("250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                c.send("250 2.1.5 Ok\r\n")
            elif verb == "DATA":
                c.send("354 End data with <CR><LF>.<CR><LF>\r\n")
                while c.readline() != ".":
                    pass
                self.messages += 1
                c.send("250 2.0.0 Ok: queued as %s%04d\r\n"
                       % (self.name.upper(), self.messages))
                self.log("message accepted (tls=%s)" % tls)
            elif verb in ("RSET", "NOOP"):
                c.send("250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                c.send("221 2.0.0 Bye\r\n")
                if tls and case.get("no_close_notify"):
                    self._abort(sock)
                elif tls:
                    # send our close_notify like a real server; Exim waits
                    # for it and otherwise logs "TLS error on connection
                    # (recv): Function was interrupted." after a timeout
                    try:
                        sock.settimeout(3)
                        sock.unwrap()
                    except (ssl.SSLError, OSError, ValueError):
                        pass
                return
            else:
                c.send("502 5.5.2 Error: command not recognized\r\n")


class ServerSet:
    def __init__(self, certs, cases=CASES, port=PORT):
        self.servers = [SMTPServer(c, certs, port) for c in cases]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        started = []
        try:
            for s in self.servers:
                s.start()
                started.append(s)
        except Exception:
            for s in started:
                s.stop()
            raise

    def stop(self):
        for s in self.servers:
            s.stop()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _run(cmd, env=None, input=None, timeout=60, check=True):
    r = subprocess.run(cmd, env=env, input=input, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (
            " ".join(cmd), r.returncode, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace")))
    return r


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _wait_for(pred, timeout, interval=0.1):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            return None
        time.sleep(interval)


def _pids_with_cwd_under(path):
    """PIDs of processes whose cwd is under `path` (Postfix daemons chdir to
    their queue_directory; exim processes chdir to the spool directory)."""
    path = os.path.realpath(path)
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % p)
        except OSError:
            continue
        if cwd == path or cwd.startswith(path + "/"):
            out.append(int(p))
    return out


def _kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _message(msgid, rcpts, subject):
    return ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: %s\r\n\r\nmxscan maillog fixture\r\n"
            % (SENDER, ", ".join("<%s>" % r for r in rcpts), subject, msgid,
               time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))
            ).encode()


# ---------------------------------------------------------------------------
# Postfix (sending client only)
# ---------------------------------------------------------------------------

# run name -> (smtp_tls_security_level, smtp_tls_loglevel, extra main.cf)
POSTFIX_RUNS = {
    "none": ("none", 1, {}),
    "may": ("may", 1, {}),
    "encrypt": ("encrypt", 1, {}),
    "verify": ("verify", 1, {}),
    "secure": ("secure", 1, {}),
    # no DNSSEC resolver here: Postfix logs "dane configured with dnssec
    # lookups disabled" and behaves exactly like "may" (no DNS is queried)
    "dane": ("dane", 1, {}),
    # Postfix's stock smtp_tls_loglevel is 0: fewer TLS lines
    "may-ll0": ("may", 0, {}),
    "encrypt-ll0": ("encrypt", 0, {}),
    # formatting variants seen on multi-instance / modern setups:
    # long queue ids and a syslog_name of "postfix-out"
    "encrypt-longid": ("encrypt", 1, {"enable_long_queue_ids": "yes",
                                      "syslog_name": "postfix-out"}),
}
POSTFIX_LEVELS = list(POSTFIX_RUNS)

MASTER_CF = """\
# private sending-only instance: no smtpd at all, no chroot
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance in `base` used only as an SMTP client."""

    def __init__(self, base, level, certs, port=PORT, cases=CASES,
                 backoff=4, loglevel=1, extra_main=None):
        self.base = os.path.abspath(base)
        self.level = level
        self.certs = certs
        self.port = port
        self.cases = cases
        self.backoff = backoff
        self.loglevel = loglevel
        self.extra_main = extra_main or {}
        self.etc = os.path.join(self.base, "etc")
        self.queue = os.path.join(self.base, "queue")
        self.data = os.path.join(self.base, "data")
        self.logdir = os.path.join(self.base, "log")
        self.logfile = os.path.join(self.logdir, "postfix.log")
        self.env = dict(os.environ, MAIL_CONFIG=self.etc)
        self.started = False

    # -- configuration ------------------------------------------------------
    def configure(self):
        for d in (self.base, self.etc, self.queue, self.data, self.logdir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.base, 0o755)
        _run(["chown", "postfix:postfix", self.data])
        main = {
            "compatibility_level": "3.6",
            "config_directory": self.etc,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "client.test",
            "mydomain": "client.test",
            "myorigin": "client.test",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks_style": "host",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "transport_maps": "texthash:%s/transport" % self.etc,
            "smtp_tls_policy_maps": "texthash:%s/tls_policy" % self.etc,
            "smtp_tls_security_level": self.level,
            "smtp_tls_loglevel": str(self.loglevel),
            "smtp_tls_CAfile": self.certs["ca"],
            "smtp_tls_verify_cert_match": "hostname, %s" % CA_NAME,
            "smtp_tls_secure_cert_match": "nexthop, dot-nexthop, %s" % CA_NAME,
            "smtp_tls_session_cache_database": "",
            "maillog_file": self.logfile,
            "maillog_file_prefixes": self.base,
            "minimal_backoff_time": "%ds" % self.backoff,
            "maximal_backoff_time": "%ds" % (self.backoff * 2),
            # no periodic deferred-queue scans during a run: the second
            # attempt is triggered explicitly with postqueue -f
            "queue_run_delay": "300s",
            # one failed delivery marks a destination dead, so the message
            # submitted next logs "delivery temporarily suspended: ..."
            "initial_destination_concurrency": "1",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_starttls_timeout": "10s",
            "delay_warning_time": "0",
            "biff": "no",
            "notify_classes": "",
        }
        main.update(self.extra_main)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write("sender.test discard:\nclient.test discard:\n")
            for c in self.cases:
                f.write("%s smtp:[%s]:%d\n" % (c["domain"], c["addr"], self.port))
        with open(os.path.join(self.etc, "tls_policy"), "w") as f:
            for c in self.cases:
                if c.get("tls") == "1.3only":
                    # the one destination where the client is capped at 1.2
                    lvl = self.level
                    f.write("[%s]:%d %s protocols=<=TLSv1.2\n"
                            % (c["addr"], self.port, lvl))

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        self.configure()
        _run(["postfix", "-c", self.etc, "start"], env=self.env)
        self.started = True
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        if not _wait_for(lambda: os.path.exists(pidfile), 10):
            raise RuntimeError("postfix master did not start: %s"
                               % _read(self.logfile))
        # wait until the master is accepting (pickup/qmgr up)
        _wait_for(lambda: "daemon started" in _read(self.logfile), 10)

    def master_pid(self):
        try:
            return int(_read(os.path.join(self.queue, "pid",
                                          "master.pid")).strip())
        except ValueError:
            return None

    def stop(self):
        if not self.started and not _pids_with_cwd_under(self.queue):
            return
        pid = self.master_pid()
        _run(["postfix", "-c", self.etc, "stop"], env=self.env, check=False)

        def gone():
            if pid and os.path.exists("/proc/%d" % pid):
                return False
            return not _pids_with_cwd_under(self.queue)
        if not _wait_for(gone, 15):
            _kill_pids(_pids_with_cwd_under(self.queue))
            _wait_for(gone, 5)
        self.started = False
        left = _pids_with_cwd_under(self.queue)
        if left:
            raise RuntimeError("postfix processes left running: %s" % left)

    # -- mail ---------------------------------------------------------------
    def submit(self, rcpts, msgid, subject="test"):
        _run(["sendmail", "-C", self.etc, "-f", SENDER, "--"] + list(rcpts),
             env=self.env, input=_message(msgid, rcpts, subject))

    def qid_for(self, msgid, timeout=15):
        pat = re.compile(r"\b([0-9A-Za-z]+): message-id=<%s>" % re.escape(msgid))

        def find():
            m = pat.search(_read(self.logfile))
            return m and m.group(1)
        q = _wait_for(find, timeout)
        if not q:
            raise RuntimeError("no queue id for %s in\n%s"
                               % (msgid, _read(self.logfile)))
        return q

    def status_count(self, qid, rcpt_addr):
        pat = re.compile(r"\b%s: to=<%s>,.* status=" % (re.escape(qid),
                                                        re.escape(rcpt_addr)))
        return len(pat.findall(_read(self.logfile)))

    def wait_status(self, qid, rcpts, counts, timeout=40):
        """Wait until each rcpt has more status= lines than counts[rcpt]."""
        def done():
            return all(self.status_count(qid, r) > counts.get(r, 0)
                       for r in rcpts)
        return bool(_wait_for(done, timeout, 0.2))

    def flush(self):
        _run(["postqueue", "-c", self.etc, "-f"], env=self.env)

    def queued(self):
        r = _run(["postqueue", "-c", self.etc, "-j"], env=self.env,
                 check=False)
        return r.stdout.decode(errors="replace")

    def log(self):
        return _read(self.logfile)


def run_postfix_level(base, level, certs, cases=CASES, port=PORT, backoff=4,
                      loglevel=1, extra_main=None, name=None):
    """One Postfix run:
      1. message A to one recipient per case (first attempt, message age ~0)
      2. message B likewise, right after A's attempts (hits throttled sites:
         'delivery temporarily suspended')
      3. wait > minimal_backoff_time, postqueue -f (second attempt; at level
         may the message is now old enough for plaintext fallback)
    Returns the log text."""
    pf = Postfix(base, level, certs, port=port, cases=cases, backoff=backoff,
                 loglevel=loglevel, extra_main=extra_main)
    rcpts = [rcpt(c) for c in cases]
    try:
        pf.start()
        tag = "%s.%d" % (name or level, os.getpid())
        qids = {}
        for which in ("A", "B"):
            t_last = time.time()
            msgid = "%s.%s@client.test" % (which, tag)
            pf.submit(rcpts, msgid, "attempt %s level %s" % (which, level))
            qids[which] = pf.qid_for(msgid)
            pf.wait_status(qids[which], rcpts, {})
        # second attempt for whatever is still queued
        counts = {q: {r: pf.status_count(q, r) for r in rcpts}
                  for q in qids.values()}
        pending = {q: [r for r in rcpts
                       if not re.search(r"\b%s: to=<%s>,.* status=sent"
                                        % (q, re.escape(r)), pf.log())]
                   for q in qids.values()}
        if any(pending.values()):
            wait = t_last + backoff + 1.5 - time.time()
            if wait > 0:
                time.sleep(wait)
            pf.flush()
            for q, rs in pending.items():
                if rs:
                    pf.wait_status(q, rs, counts[q])
        time.sleep(0.5)
    finally:
        pf.stop()
    return pf.log()



# ---------------------------------------------------------------------------
# Exim (sending client only), from the binary scripts/install-exim unpacks
# ---------------------------------------------------------------------------

EXIM_ROOT = os.environ.get("MXSCAN_EXIM_ROOT", "/opt/mxscan-test/exim")
EXIM = os.path.join(EXIM_ROOT, "usr", "sbin", "exim4")

# run name -> extra smtp transport options.  Exim's defaults try TLS where
# it is offered and deliver in the clear when it fails (tls_tempfail_tryclear);
# hosts_require_tls is Postfix's encrypt, tls_verify_hosts its verify.
EXIM_RUNS = {
    "exim-try": {},
    "exim-require": {"hosts_require_tls": "*"},
    "exim-verify": {"hosts_require_tls": "*", "tls_verify_hosts": "*"},
}


def exim_available():
    """None, or why the Exim runs cannot happen here."""
    import pwd
    if not os.access(EXIM, os.X_OK):
        return "no exim binary at %s (scripts/install-exim)" % EXIM
    try:
        pwd.getpwnam("Debian-exim")
    except KeyError:
        return "user Debian-exim does not exist (scripts/install-exim)"
    return None


class Exim:
    """A private Exim used only as an SMTP client: each message is
    delivered in the foreground (-odi) by a manualroute router that sends
    each recipient domain to its server, and logged to BASE/log/mainlog."""

    def __init__(self, base, name, certs, port=PORT, cases=CASES):
        self.base = os.path.abspath(base)
        self.name = name
        self.certs = certs
        self.port = port
        self.cases = cases
        self.conf = os.path.join(self.base, "exim.conf")
        self.spool = os.path.join(self.base, "spool")
        self.logdir = os.path.join(self.base, "log")
        self.logfile = os.path.join(self.logdir, "mainlog")

    def configure(self):
        import pwd
        exim_user = pwd.getpwnam("Debian-exim")  # its compiled-in user: owns the spool and the log
        for d in (self.base, self.spool, self.logdir):
            os.makedirs(d, exist_ok=True)
        for d in (self.spool, self.logdir):
            os.chown(d, exim_user.pw_uid, exim_user.pw_gid)
        os.chmod(self.base, 0o755)
        routes = os.path.join(self.base, "routes")
        with open(routes, "w") as f:
            for c in self.cases:
                f.write("%s: %s\n" % (c["domain"], c["addr"]))
        # the one destination where the client is capped at TLS 1.2 (GnuTLS
        # priority string), as Postfix's tls_policy does
        capped = [c["addr"] for c in self.cases if c.get("tls") == "1.3only"]
        ciphers = "NORMAL"
        if capped:
            ciphers = "${if match_ip{$host_address}{<; %s}{NORMAL:-VERS-TLS1.3}{NORMAL}}" % " ; ".join(capped)
        transport = {
            "driver": "smtp",
            "port": str(self.port),
            "allow_localhost": None,
            "hosts_try_fastopen": ":",
            "tls_verify_certificates": self.certs["ca"],
            "tls_require_ciphers": ciphers,
            "connect_timeout": "5s",
            "command_timeout": "10s",
        }
        transport.update(EXIM_RUNS[self.name])
        main = [
            ("primary_hostname", "client.test"),
            ("exim_path", EXIM),
            ("spool_directory", self.spool),
            ("log_file_path", os.path.join(self.logdir, "%slog")),
            ("keep_environment", ""),
            ("host_lookup", ""),
            ("rfc1413_hosts", ""),
            ("log_selector", "+tls_certificate_verified +tls_peerdn"),
        ]
        with open(self.conf, "w") as f:
            for k, v in main:
                f.write("%s = %s\n" % (k, v))
            f.write("\nbegin routers\n\nloopback_servers:\n  driver = manualroute\n"
                    "  route_data = ${lookup{$domain}lsearch{%s}}\n  transport = remote_smtp\n"
                    "  self = send\n\nbegin transports\n\nremote_smtp:\n" % routes)
            for k, v in transport.items():
                f.write("  %s\n" % k if v is None else "  %s = %s\n" % (k, v))
            # a temporary failure stays queued (==), as on a real server
            f.write("\nbegin retry\n\n*  *  F,1h,10m\n")
        os.chmod(self.conf, 0o644)

    def send(self, rcpts, msgid, subject="test"):
        """Delivers one message to RCPTS in the foreground."""
        _run([EXIM, "-C", self.conf, "-odi", "-f", SENDER, "--"] + list(rcpts),
             input=_message(msgid, rcpts, subject), timeout=120, check=False)

    def log(self):
        return _read(self.logfile)


def run_exim(base, name, certs, cases=CASES, port=PORT):
    """One Exim run: one message to one recipient per case, delivered at
    once; returns the log text."""
    ex = Exim(base, name, certs, port=port, cases=cases)
    ex.configure()
    ex.send([rcpt(c) for c in cases], "A.%s.%d@client.test" % (name, os.getpid()), "exim run %s" % name)
    return ex.log()


# ---------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------

def free_port(cases=CASES):
    """A TCP port free on every server address (tests may run in parallel)."""
    rnd = random.Random(os.getpid())
    for _ in range(50):
        port = rnd.randrange(20000, 60000)
        socks = []
        try:
            for c in cases:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((c["addr"], port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port on 127.0.66.x")


def run(tmpdir, runs, cases=CASES, port=None):
    """Starts the servers, runs each Postfix or Exim run of RUNS (names of
    POSTFIX_RUNS and EXIM_RUNS) in parallel threads, stops everything (servers, every
    Postfix process) and returns {run: log text}."""
    if os.geteuid() != 0:
        raise RuntimeError("needs root (a private Postfix instance)")
    tmpdir = os.path.abspath(tmpdir)
    os.makedirs(tmpdir, exist_ok=True)
    os.chmod(tmpdir, 0o755)
    port = port or free_port(cases)
    certs = make_certs(os.path.join(tmpdir, "certs"))
    out, errors = {}, []

    def job(name):
        level, loglevel, extra = POSTFIX_RUNS.get(name, (name, 1, {}))
        try:
            if name in EXIM_RUNS:
                out[name] = run_exim(os.path.join(tmpdir, name), name, certs, cases=cases, port=port)
                return
            out[name] = run_postfix_level(os.path.join(tmpdir, "postfix-" + name), level, certs, cases=cases,
                                          port=port, loglevel=loglevel, extra_main=extra, name=name)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("postfix %s: %r" % (name, e))

    with ServerSet(certs, cases, port):
        threads = [threading.Thread(target=job, args=(r,)) for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return out
