"""Echo server on Python's `websockets` with its defaults, compression included.

Usage: python-websockets-echo.py HOST:PORT

`websockets` negotiates permessage-deflate by default (12-bit windows both ways, zlib's
memLevel 5, context takeover kept): this server leaves that as it is and only lifts the
message limit to our echo example's 64 MiB and turns off keepalive pings (runs are
shorter than their interval). A peer of `cargo xtask bench --compressed`.
"""

import asyncio
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass  # the load generator closes while echoes are in flight


async def main(addr):
    host, _, port = addr.rpartition(":")
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(echo, host, int(port), max_size=64 * 2**20, ping_interval=None):
        print(f"listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
