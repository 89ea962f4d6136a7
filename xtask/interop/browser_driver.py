"""Headless Chromium against the chat page, driven over the DevTools protocol: `cargo xtask interop`.

Usage: browser_driver.py http://127.0.0.1:PORT/ [--chromium PATH] [--screenshot FILE]
       browser_driver.py https://127.0.0.1:PORT/ --insecure ...   (a server whose
       certificate Chromium does not trust: --ignore-certificate-errors)

DOM CONTRACT for the chat page (GET / on the chat server); the real chat example must
follow it for this test to pass:

  - The page reads the room from its own query string, `?room=NAME` (default `lobby`),
    and opens a WebSocket to ws://HOST/ws?room=NAME on the host it was loaded from.
  - id="msg"   a text <input>; id="send" a button: clicking it sends the input's value
               as one text message and may clear the input.
  - id="log"   an element to which every message received from the server is appended
               as one line (its own child element or a line of text), so that
               `document.getElementById("log").innerText` contains the message text.
  - id="status" OPTIONAL: if present, its text is "open" once the WebSocket is open;
               the driver waits for it. Without it, the driver re-sends until seen.

What it does: starts `chromium --headless --no-sandbox --disable-gpu ...` with a fresh
--user-data-dir and --remote-debugging-port on a free port, in its own process group;
opens two pages of one fresh room (Network domain on, so the WebSocket handshake is
seen: permessage-deflate must be negotiated); page A types a message and clicks send, the driver
reads page B's log until the message is there; then B answers A. Everything is read
with Runtime.evaluate over a plain WebSocket (the `websockets` library). Every wait has
a timeout; Chromium's whole process group is killed at the end, whatever happened.
The last line is "browser_driver: N passed, N failed".
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

STEP_TIMEOUT = 15.0
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium(explicit):
    for c in [explicit, "chromium", "chromium-browser", "google-chrome"]:
        if c and shutil.which(c):
            return shutil.which(c)
    raise RuntimeError("no chromium found (apt-get install -y chromium)")


def devtools_endpoint(port, proc, deadline):
    url = "http://127.0.0.1:%d/json/version" % port
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("chromium exited with %s before DevTools answered" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return json.load(r)["webSocketDebuggerUrl"]
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("DevTools did not answer on %s in time" % url)


class Cdp:
    """A flat-session DevTools connection: one WebSocket, commands tagged with sessionId."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.events = []  # (sessionId, method, params) of every event, in order
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "method" in msg:
                self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))
                continue
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def call(self, method, params=None, session=None, timeout=STEP_TIMEOUT):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, timeout)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    async def evaluate(self, session, expression):
        r = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session,
        )
        if "exceptionDetails" in r:
            raise RuntimeError("page threw: %s" % r["exceptionDetails"].get("text"))
        return r.get("result", {}).get("value")


async def open_page(cdp, url, label):
    # Blank first, so the Network domain is on before the page opens its WebSocket.
    target = (await cdp.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
    session = (await cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
    await cdp.call("Runtime.enable", session=session)
    await cdp.call("Network.enable", session=session)
    await cdp.call("Page.navigate", {"url": url}, session)
    deadline = time.monotonic() + STEP_TIMEOUT
    state = None
    while time.monotonic() < deadline:
        state = await cdp.evaluate(
            session,
            "(() => { const s = document.getElementById('status');"
            " return JSON.stringify({ready: document.readyState,"
            " ids: ['msg','send','log'].filter(i => !document.getElementById(i)),"
            " status: s ? s.textContent : null}); })()",
        )
        state = json.loads(state)
        if state["ready"] == "complete" and not state["ids"] and state["status"] in (None, "open"):
            print("[%s] loaded %s (status: %s)" % (label, url, state["status"] or "no #status element"), flush=True)
            return target, session
        await asyncio.sleep(0.1)
    raise RuntimeError("page %s not ready in %ss: %s" % (label, STEP_TIMEOUT, state))


def negotiated(cdp, session, label):
    """The page's WebSocket handshake as DevTools saw it: permessage-deflate answered."""
    answers = [
        p["response"].get("headers", {})
        for sid, method, p in cdp.events
        if sid == session and method == "Network.webSocketHandshakeResponseReceived"
    ]
    if not answers:
        raise AssertionError("%s: DevTools saw no WebSocket handshake response" % label)
    headers = {k.lower(): v for k, v in answers[-1].items()}
    ext = headers.get("sec-websocket-extensions", "")
    print("[%s] WebSocket answered Sec-WebSocket-Extensions: %r" % (label, ext), flush=True)
    if "permessage-deflate" not in ext:
        raise AssertionError("%s: permessage-deflate was not negotiated (%r)" % (label, ext))


async def read_log(cdp, session):
    text = await cdp.evaluate(session, "document.getElementById('log').innerText")
    return [line for line in (text or "").split("\n") if line.strip()]


async def say(cdp, sender, receiver, names, text):
    """`sender` types `text` and clicks send; wait until `receiver`'s log shows it."""
    typed = (
        "(() => { const i = document.getElementById('msg'); i.value = %s;"
        " i.dispatchEvent(new Event('input', {bubbles: true}));"
        " document.getElementById('send').click(); return true; })()" % json.dumps(text)
    )
    deadline = time.monotonic() + STEP_TIMEOUT
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        await cdp.evaluate(sender, typed)
        print("[%s] typed %r into #msg and clicked #send (attempt %d)" % (names[0], text, attempts), flush=True)
        resend_at = time.monotonic() + 3
        while time.monotonic() < min(resend_at, deadline):
            lines = await read_log(cdp, receiver)
            if any(text in line for line in lines):
                print("[%s] #log now reads %r" % (names[1], lines), flush=True)
                return
            await asyncio.sleep(0.1)
    lines = await read_log(cdp, receiver)
    raise AssertionError("%s never showed %r; its #log: %r" % (names[1], text, lines))


async def drive(endpoint, base, room, screenshot):
    results = []
    async with connect(endpoint, max_size=None, proxy=None, open_timeout=STEP_TIMEOUT, ping_interval=None) as ws:
        cdp = Cdp(ws)
        version = await cdp.call("Browser.getVersion")
        print("[browser] %s over DevTools %s" % (version.get("product"), version.get("protocolVersion")), flush=True)
        url = "%s?room=%s" % (base, room)
        _, a = await open_page(cdp, url, "page A")
        _, b = await open_page(cdp, url, "page B")
        nonce = "%x" % (int(time.time() * 1000) & 0xFFFFFF)
        for name, (s, r, names, text) in [
            ("A to B", (a, b, ("page A", "page B"), "hello from A %s ✓" % nonce)),
            ("B to A", (b, a, ("page B", "page A"), "hello back from B %s" % nonce)),
        ]:
            try:
                await say(cdp, s, r, names, text)
                results.append((name, None))
                print("[%s] ok" % name, flush=True)
            except Exception as e:
                results.append((name, e))
                print("[%s] FAILED: %s" % (name, e), flush=True)
        for label, session in [("page A", a), ("page B", b)]:
            try:
                negotiated(cdp, session, label)
                results.append(("%s deflate" % label, None))
            except Exception as e:
                results.append(("%s deflate" % label, e))
                print("[%s deflate] FAILED: %s" % (label, e), flush=True)
        title = await cdp.evaluate(b, "document.title")
        print("[page B] title %r" % title, flush=True)
        if screenshot:
            shot = await cdp.call("Page.captureScreenshot", {"format": "png"}, b)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print("[page B] screenshot written to %s" % screenshot, flush=True)
        try:
            await cdp.call("Browser.close", timeout=5)
        except Exception:
            pass  # the process group is killed below anyway
        cdp.reader.cancel()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="the chat server's page, http://127.0.0.1:PORT/")
    ap.add_argument("--chromium", help="the browser binary (default: chromium from PATH)")
    ap.add_argument("--screenshot", help="write a PNG of page B there")
    ap.add_argument("--insecure", action="store_true", help="start Chromium with --ignore-certificate-errors")
    ap.add_argument("--room", default="xtask-%d" % os.getpid(), help="room name (default: fresh)")
    args = ap.parse_args()
    parts = urlsplit(args.url)
    base = "%s://%s/" % (parts.scheme or "http", parts.netloc)

    chromium = find_chromium(args.chromium)
    port = free_port()
    profile = tempfile.mkdtemp(prefix="xtask-chromium-")
    flags = CHROMIUM_FLAGS + (["--ignore-certificate-errors"] if args.insecure else [])
    cmd = [chromium, *flags, "--remote-debugging-port=%d" % port, "--user-data-dir=%s" % profile, "about:blank"]
    print("[browser] starting %s" % " ".join(cmd), flush=True)
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    results = []
    try:
        endpoint = devtools_endpoint(port, proc, time.monotonic() + 30)
        results = asyncio.run(asyncio.wait_for(drive(endpoint, base, args.room, args.screenshot), 90))
    except Exception as e:
        results.append(("browser", e))
        print("[browser] FAILED: %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group Popen created for Chromium
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print("[browser] chromium did not exit after SIGKILL", flush=True)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
    failed = [n for n, e in results if e is not None]
    print("browser_driver: %d passed, %d failed" % (len(results) - len(failed), len(failed)), flush=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
