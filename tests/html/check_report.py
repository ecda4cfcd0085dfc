#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Open an HTML report in headless Chromium and check what only a browser can.

usage: check_report.py REPORT.html EXPECTED_SERIES SCREENSHOT.png

Fails (exit 1, one line on stderr) on a console error or an uncaught
exception, on any network request other than the file:// document itself
(the report must open on an air-gapped machine), when the hover readout does
not appear over a chart, or when the page has another number of per-process
RSS lines than EXPECTED_SERIES. Saves a full-page screenshot.

Without Chromium or python3-websocket it fails too, because a check that
silently passes where it cannot run checks nothing; with
TREETRACE_ALLOW_NO_BROWSER=1 it exits 77, which ctest reports as skipped.

Speaks the DevTools protocol over the browser's WebSocket directly (Debian's
python3-websocket), so nothing but Debian packages is needed.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


def fail(msg):
    print(f"check_report: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def unavailable(msg):
    if os.environ.get("TREETRACE_ALLOW_NO_BROWSER") == "1":
        print(f"check_report: SKIP: {msg} (TREETRACE_ALLOW_NO_BROWSER=1)")
        sys.exit(SKIP)
    fail(f"{msg}: apt-get install -y chromium python3-websocket, or set TREETRACE_ALLOW_NO_BROWSER=1 to skip")


try:
    import websocket
except ImportError:
    websocket = None


class Cdp:
    """One WebSocket to the browser; page commands go through a flattened session."""

    def __init__(self, ws):
        self.ws = ws
        self.last_id = 0
        self.events = []

    def _recv(self, deadline):
        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            raw = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
        return msg

    def call(self, method, params=None, session=None, timeout=30):
        self.last_id += 1
        msg = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._recv(deadline)
            if reply and reply.get("id") == self.last_id:
                if "error" in reply:
                    fail(f"{method}: {reply['error'].get('message', reply['error'])}")
                return reply.get("result", {})
        fail(f"{method}: no reply within {timeout} s")

    def wait_for(self, method, session, timeout):
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev["method"] == method and ev.get("sessionId") == session:
                    return ev
            seen = len(self.events)
            if time.monotonic() >= deadline:
                fail(f"no {method} within {timeout} s")
            self._recv(deadline)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._recv(deadline)


def problems(events, session, doc_url):
    """What the page did that a self-contained report must not do."""
    out = []
    for ev in events:
        if ev.get("sessionId") != session:
            continue
        method, p = ev["method"], ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            out.append(f"uncaught exception: {desc.splitlines()[0] if desc else '?'}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {args}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"browser log error: {p['entry'].get('text', '')}")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if url != doc_url:
                out.append(f"network request: {url[:200]}")
    return out


def evaluate(cdp, session, expr):
    r = cdp.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
    if "exceptionDetails" in r:
        fail(f"evaluating {expr[:60]!r}: {r['exceptionDetails'].get('text')}")
    return r.get("result", {}).get("value")


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    html = pathlib.Path(sys.argv[1]).resolve()
    try:
        expected = int(sys.argv[2].strip())
    except ValueError:
        fail(f"EXPECTED_SERIES {sys.argv[2]!r} is not a number")
    shot = pathlib.Path(sys.argv[3])
    if not html.is_file():
        fail(f"{html}: no such file")
    if websocket is None:
        unavailable("python3-websocket is not installed")
    chrome = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    if not chrome:
        unavailable("chromium is not installed")

    tmp = tempfile.mkdtemp(prefix="tt-chromium-")
    log = open(os.path.join(tmp, "chromium.log"), "wb")
    # Everything that phones home off: the page's own requests are the ones
    # checked, and the browser's would only be noise on a build machine.
    proc = subprocess.Popen(
        [chrome, "--headless", "--remote-debugging-port=0", "--no-sandbox", f"--user-data-dir={tmp}",
         "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--hide-scrollbars", "--mute-audio", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        return run(proc, tmp, html, expected, shot)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def chromium_log_tail(tmp):
    try:
        lines = pathlib.Path(tmp, "chromium.log").read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"
    except OSError:
        return "no log"


def run(proc, tmp, html, expected, shot):
    port_file = pathlib.Path(tmp, "DevToolsActivePort")
    deadline = time.monotonic() + 60
    while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
        if proc.poll() is not None:
            fail(f"chromium exited with {proc.returncode} before listening: {chromium_log_tail(tmp)}")
        if time.monotonic() > deadline:
            fail(f"chromium wrote no DevToolsActivePort within 60 s: {chromium_log_tail(tmp)}")
        time.sleep(0.1)
    port, path = port_file.read_text().splitlines()[:2]
    # No Origin header: Chromium refuses DevTools connections from origins
    # it was not told to allow, and this client is no web page.
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=30, suppress_origin=True)
    cdp = Cdp(ws)

    targets = cdp.call("Target.getTargets")["targetInfos"]
    page = next((t["targetId"] for t in targets if t["type"] == "page"), None)
    if page is None:
        page = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        cdp.call(f"{domain}.enable", session=session)
    cdp.call("Emulation.setDeviceMetricsOverride",
             {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)

    doc_url = html.as_uri()
    cdp.events.clear()
    nav = cdp.call("Page.navigate", {"url": doc_url}, session)
    if nav.get("errorText"):
        fail(f"navigating to {doc_url}: {nav['errorText']}")
    cdp.wait_for("Page.loadEventFired", session, 30)
    cdp.drain(0.5)

    # The readout is the page's only script: move the pointer over the
    # first line chart and expect it to say something.
    rect = evaluate(cdp, session, """(() => {
        const c = document.querySelector('svg.chart[data-kind="line"]');
        if (!c) return null;
        c.scrollIntoView({block: 'center'});
        const r = c.getBoundingClientRect();
        return {x: r.left + r.width / 2, y: r.top + r.height / 2};
    })()""")
    if rect is None:
        fail("no line chart on the page")
    cdp.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": rect["x"], "y": rect["y"]}, session)
    readout = evaluate(cdp, session, """(() => {
        const r = document.getElementById('readout');
        return r && !r.hidden ? r.textContent : null;
    })()""")
    cdp.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 0, "y": 0}, session)
    evaluate(cdp, session, "window.scrollTo(0, 0)")
    cdp.drain(0.3)

    found = problems(cdp.events, session, doc_url)
    if found:
        fail(f"{found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))
    if not readout:
        fail("the hover readout did not appear over the first line chart")
    series = evaluate(cdp, session, "document.querySelectorAll('[data-kind=\"process-rss\"]').length")
    if series != expected:
        fail(f"{series} per-process RSS series on the page, expected {expected}")

    metrics = cdp.call("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width, height = int(size["width"]), int(size["height"])
    png = cdp.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                              "clip": {"x": 0, "y": 0, "width": width, "height": height,
                                                       "scale": 1}}, session, timeout=60)
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(png["data"]))
    try:  # the browser closes the socket as it goes, so no reply is awaited
        ws.send(json.dumps({"id": cdp.last_id + 1, "method": "Browser.close"}))
        ws.close()
    except Exception:
        pass
    print(f"check_report: OK: {series} per-process series, readout {readout!r}, no console errors, "
          f"no network requests; {width}x{height} screenshot in {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
