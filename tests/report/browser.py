#!/usr/bin/python3
"""browser.py - a page in headless Chromium, driven over the DevTools protocol.

    with Browser(tmpdir) as b:
        page = b.open("file:///.../out.html")   # waits for the load event
        page.eval("document.title")             # a JS expression's value (JSON)
        page.screenshot("shot.png")             # the whole page, PNG
        page.console_errors()                   # console.error/assert, uncaught exceptions, error log entries
        page.requests()                         # every URL the page asked for

Debian's chromium and python3-websocket; the browser listens on loopback
only (a DevTools port it picks) and never goes on the network (flags
below).  Used by test_html.py.
"""
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request

import websocket

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Page:
    def __init__(self, ws_url, timeout):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events = []
        for m in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            self.call(m)
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        want = self.next_id
        self.ws.send(json.dumps({"id": want, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            for e in self.events:
                if e["method"] == method:
                    return e
            self.ws.settimeout(max(0.1, end - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
        raise RuntimeError("no %s within %ss" % (method, timeout))

    def navigate(self, url):
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        self.eval("0")  # let the events of the load arrive first

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %r: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def console_errors(self):
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description")))
                                                                   for a in p.get("args", []))))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s %s" % (d.get("text"), d.get("exception", {}).get("description", "")))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append("log %s: %s" % (p["entry"]["level"], p["entry"].get("text")))
        return out

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path, y=0, height=None, width=1280):
        m = self.call("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        h = int(min(size["height"] - y, height or 16000))
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": y, "width": width, "height": h, "scale": 1})
        with open(path, "wb") as fp:
            fp.write(base64.b64decode(r["data"]))
        return path

    def close(self):
        self.ws.close()


class Browser:
    def __init__(self, tmpdir, timeout=30):
        self.dir = os.path.join(tmpdir, "chromium-profile")
        self.timeout = timeout
        self.proc = None

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        if os.path.exists(port_file):  # a stale one from an earlier browser of this profile
            os.unlink(port_file)
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                "--disable-extensions", "--no-default-browser-check", "--user-data-dir=" + self.dir,
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        end = time.time() + self.timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited with %s: %s" % (self.proc.returncode, self.log()))
            if os.path.exists(port_file):
                lines = open(port_file).read().split()
                if len(lines) >= 2:
                    self.port = int(lines[0])
                    return self
            time.sleep(0.1)
        raise RuntimeError("chromium did not start: " + self.log())

    def log(self):
        try:
            return open(os.path.join(self.dir, "log")).read()[-2000:]
        except OSError:
            return ""

    def open(self, url):
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % self.port, timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        p = Page(page["webSocketDebuggerUrl"], self.timeout)
        p.navigate(url)
        return p

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
