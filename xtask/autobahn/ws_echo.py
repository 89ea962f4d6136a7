"""Echo server on the Python `websockets` library: the well-known stand-in for `cargo xtask autobahn --verify`.

Usage: ws_echo.py HOST:PORT

Settings chosen so that the library's resource limits do not hide its protocol behaviour:
no size limit (section 9 sends 16 MiB messages), no cap on fragments per message (the
library's default of 4096 fails 9.3.1-9.3.3 and 9.4.1-9.4.3, which send 4 MiB in 64 to
4096-octet fragments, with 1009 "too many fragments"), no compression (sections 12/13
are excluded), no keepalive pings (they would be extra frames in the fuzzing client's log).
"""

import asyncio
import os
import signal
import sys

# Read by websockets.asyncio.messages at import time.
os.environ.setdefault("WEBSOCKETS_MAX_FRAGMENTS", str(1 << 20))

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(addr):
    host, _, port = addr.rpartition(":")
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        echo,
        host,
        int(port),
        max_size=None,
        max_queue=None,
        compression=None,
        ping_interval=None,
        close_timeout=2,
    ):
        print(f"ws_echo: listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
