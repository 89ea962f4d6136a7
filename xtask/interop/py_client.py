"""Interop client on the Python `websockets` library, against an echo server: `cargo xtask interop`.

Usage: py_client.py ws://127.0.0.1:PORT/
       py_client.py wss://127.0.0.1:PORT/ --ca CA.pem

Over wss the server's chain is verified against CA.pem (and the name against the URL's
host); an extra first check, "untrusted", makes sure a client that does not trust CA.pem
is refused, so the verification is real.

Checks, each printing what it sent and what came back:
  text     a UTF-8 text message with non-ASCII characters comes back equal, as text
  binary   all 256 octet values come back equal, as binary
  1MiB     a 1 MiB binary message comes back equal
  ping     a ping with a payload is answered by a pong (and not reflected as a ping)
  deflate  permessage-deflate (RFC 7692) was negotiated (websockets offers it by
           default) and a 256 KiB JSON-like text came back compressed (RSV1 set)
  close    a close with code 4001 and a reason is answered with the same code

Every wait has a timeout. Exit status 0 when all pass. The last line is
"py_client: N passed, N failed".
"""

import asyncio
import hashlib
import logging
import ssl
import sys
import time

from websockets.asyncio.client import connect

TIMEOUT = 10.0
CLOSE_CODE = 4001
CLOSE_REASON = "interop: bye"


class FrameLog(logging.Handler):
    """Keeps the frames websockets logs at DEBUG level ("< PING ..." for received ones)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.received = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("< "):
            self.received.append(msg[2:])


def show(data, limit=40):
    """A short, printable picture of a message."""
    if isinstance(data, str):
        s = data if len(data) <= limit else data[:limit] + "..."
        return "text %r (%d chars)" % (s, len(data))
    digest = hashlib.sha256(data).hexdigest()[:16]
    head = data[:8].hex()
    return "binary %d octets, starts %s, sha256 %s" % (len(data), head, digest)


async def echo_check(ws, name, message):
    await asyncio.wait_for(ws.send(message), TIMEOUT)
    print("[%s] sent     %s" % (name, show(message)), flush=True)
    reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
    print("[%s] received %s" % (name, show(reply)), flush=True)
    if type(reply) is not type(message):
        raise AssertionError("sent %s, got %s back" % (type(message).__name__, type(reply).__name__))
    if reply != message:
        raise AssertionError("the echo differs from what was sent")


async def main(url, ca=None):
    results = []
    tls = {}
    if ca is not None:
        tls["ssl"] = ssl.create_default_context(cafile=ca)

    async def check(name, coro):
        try:
            await coro
            results.append((name, None))
            print("[%s] ok" % name, flush=True)
        except Exception as e:  # report every failure, keep going
            results.append((name, e))
            print("[%s] FAILED: %s: %s" % (name, type(e).__name__, e or "(no detail)"), flush=True)

    frames = FrameLog()
    logger = logging.getLogger("py_client.frames")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(frames)

    if ca is not None:

        async def untrusted():
            # The system's roots only: the throwaway CA is not among them.
            try:
                async with connect(url, ssl=ssl.create_default_context(), proxy=None, open_timeout=TIMEOUT):
                    pass
            except ssl.SSLCertVerificationError as e:
                print("[untrusted] refused as expected: %s" % e.verify_message, flush=True)
                return
            raise AssertionError("a client without the test CA was let in")

        await check("untrusted", untrusted())

    async with connect(
        url,
        **tls,
        logger=logger,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        max_size=4 * 2**20,
    ) as ws:
        print("connected to %s" % url, flush=True)
        await check("text", echo_check(ws, "text", "hello, wörld ✓ from py_client"))
        await check("binary", echo_check(ws, "binary", bytes(range(256))))
        big = bytes((i * 7 + 3) & 0xFF for i in range(2**20))
        await check("1MiB", echo_check(ws, "1MiB", big))

        async def ping():
            payload = b"xtask-ping"
            print("[ping] sent     ping %r" % payload, flush=True)
            t0 = time.monotonic()
            seen = len(frames.received)
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, TIMEOUT)
            print("[ping] received pong after %.1f ms" % ((time.monotonic() - t0) * 1000), flush=True)
            pings = [f for f in frames.received[seen:] if f.startswith("PING")]
            if pings:
                # A server that reflects frames sends our ping back as a ping; our library
                # answers it and the reflected pong looks like an answer. Not a pong.
                raise AssertionError("the server sent our ping back as a ping: %s" % pings[0])

        await check("ping", ping())

        async def deflate():
            offered = ws.request.headers.get("Sec-WebSocket-Extensions")
            answer = ws.response.headers.get("Sec-WebSocket-Extensions")
            print("[deflate] offered  %s" % offered, flush=True)
            print("[deflate] answered %s" % answer, flush=True)
            pmd = [e for e in ws.protocol.extensions if e.name == "permessage-deflate"]
            if not pmd:
                raise AssertionError("permessage-deflate was not negotiated")
            # Count the frames that arrive compressed: the extension sees RSV1 before it
            # inflates (websockets' own frame log shows frames after that).
            ext, compressed = pmd[0], []
            inflate = ext.decode

            def counting(frame, *, max_size=None):
                compressed.append(frame.rsv1)
                return inflate(frame, max_size=max_size)

            ext.decode = counting
            try:
                doc = "".join('{"id":%d,"user":"u%d","text":"message number %d"},' % (i, i % 50, i) for i in range(5000))
                await echo_check(ws, "deflate", "[" + doc[:-1] + "]")
            finally:
                ext.decode = inflate
            print("[deflate] frames received with RSV1: %s" % compressed, flush=True)
            if not any(compressed):
                raise AssertionError("the echo came back uncompressed")

        await check("deflate", deflate())

        async def close():
            print("[close] sent     close %d %r" % (CLOSE_CODE, CLOSE_REASON), flush=True)
            await asyncio.wait_for(ws.close(CLOSE_CODE, CLOSE_REASON), TIMEOUT + 1)
            rcvd = ws.protocol.close_rcvd
            if rcvd is None:
                raise AssertionError("no close frame came back (connection dropped)")
            print("[close] received close %d %r" % (rcvd.code, rcvd.reason), flush=True)
            if rcvd.code != CLOSE_CODE:
                raise AssertionError("close answered with %d, expected %d" % (rcvd.code, CLOSE_CODE))

        await check("close", close())

    failed = [n for n, e in results if e is not None]
    print("py_client: %d passed, %d failed" % (len(results) - len(failed), len(failed)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--ca":
        args = (sys.argv[1], sys.argv[3])
    elif len(sys.argv) == 2:
        args = (sys.argv[1],)
    else:
        sys.exit(__doc__)
    try:
        sys.exit(asyncio.run(asyncio.wait_for(main(*args), 120)))
    except Exception as e:
        print("py_client: FAILED before all checks ran: %s: %s" % (type(e).__name__, e), flush=True)
        print("py_client: 0 passed, 1 failed", flush=True)
        sys.exit(1)
