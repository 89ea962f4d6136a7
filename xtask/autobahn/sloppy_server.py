"""A deliberately sloppy WebSocket echo server: the negative control for `cargo xtask autobahn --verify`.

Usage: sloppy_server.py HOST:PORT

It does the opening handshake and then echoes every frame it receives as one frame
with the same FIN bit, RSV bits, opcode and payload, unmasked. Nothing else:
reserved opcodes and RSV bits are echoed, text is not checked for UTF-8, fragments
are not tracked, control frames are neither length-checked nor answered (a ping is
echoed as a ping, never as a pong), a close frame is echoed whatever its code or
payload and then the TCP connection is closed. A correct conformance harness must
report many FAILED cases against it; if it does not, the harness is broken.

Standard library only (asyncio), so it needs no virtualenv.
"""

import asyncio
import base64
import hashlib
import signal
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16 * 1024


def unmask(data, key):
    n = len(data)
    if n == 0:
        return data
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame_head(b0, length):
    if length < 126:
        return bytes([b0, length])
    if length < 1 << 16:
        return bytes([b0, 126]) + struct.pack("!H", length)
    return bytes([b0, 127]) + struct.pack("!Q", length)


async def handshake(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        return False
    key = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    if key is None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        return False
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()
    return True


async def serve_one(reader, writer):
    try:
        if not await handshake(reader, writer):
            return
        while True:
            b0, b1 = await reader.readexactly(2)
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            key = await reader.readexactly(4) if b1 & 0x80 else None
            payload = await reader.readexactly(length)
            if key is not None:
                payload = unmask(payload, key)
            writer.write(frame_head(b0, len(payload)) + payload)
            await writer.drain()
            if b0 & 0x0F == 0x8:
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return
    finally:
        writer.close()


async def main(addr):
    host, _, port = addr.rpartition(":")
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    server = await asyncio.start_server(serve_one, host, int(port), limit=MAX_HEAD)
    print("sloppy_server: listening on %s:%s" % (host, port), flush=True)
    async with server:
        await stop


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
