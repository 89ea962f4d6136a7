"""Stand-in for the chat example, on the Python `websockets` library: proves `cargo xtask interop`'s browser test.

Usage: standin_chat.py HOST:PORT

  GET /                 the chat page (below), following the DOM contract of browser_driver.py
  GET /ws?room=NAME     WebSocket: every text message is sent to every connection in the
                        room NAME (default `lobby`), the sender included
  anything else         404

The real chat example (ws-server, example `chat`) is meant to behave the same way as far
as the browser test can see; only the ids of the page and the URL scheme are a contract.
"""

import asyncio
import http
import os
import signal
import sys
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>chat (stand-in)</title>
</head>
<body>
<p>room <b id="room"></b>, <span id="status">connecting</span></p>
<input id="msg" type="text" autocomplete="off" autofocus>
<button id="send">send</button>
<div id="log"></div>
<script>
"use strict";
const room = new URLSearchParams(location.search).get("room") || "lobby";
document.getElementById("room").textContent = room;
const ws = new WebSocket(`ws://${location.host}/ws?room=${encodeURIComponent(room)}`);
const status = document.getElementById("status");
ws.onopen = () => { status.textContent = "open"; };
ws.onclose = (e) => { status.textContent = `closed ${e.code}`; };
ws.onmessage = (e) => {
  const line = document.createElement("div");
  line.textContent = e.data;
  document.getElementById("log").appendChild(line);
};
function send() {
  const input = document.getElementById("msg");
  if (input.value !== "" && ws.readyState === WebSocket.OPEN) {
    ws.send(input.value);
    input.value = "";
  }
}
document.getElementById("send").onclick = send;
document.getElementById("msg").onkeydown = (e) => { if (e.key === "Enter") send(); };
</script>
</body>
</html>
"""

ROOMS = {}


def room_of(path):
    q = parse_qs(urlsplit(path).query)
    return (q.get("room") or ["lobby"])[0] or "lobby"


def http_response(status, body, content_type):
    data = body.encode("utf-8")
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)


def process_request(connection, request):
    path = urlsplit(request.path).path
    if path == "/ws":
        return None  # go on with the WebSocket handshake
    if path == "/":
        return http_response(http.HTTPStatus.OK, PAGE, "text/html; charset=utf-8")
    return http_response(http.HTTPStatus.NOT_FOUND, "not found\n", "text/plain; charset=utf-8")


async def chat(ws):
    name = room_of(ws.request.path)
    members = ROOMS.setdefault(name, set())
    members.add(ws)
    try:
        async for message in ws:
            if isinstance(message, bytes):
                continue
            for peer in list(members):
                try:
                    await asyncio.wait_for(peer.send(message), 5)
                except Exception:
                    members.discard(peer)
    finally:
        members.discard(ws)
        if not members:
            ROOMS.pop(name, None)


async def main(addr):
    host, _, port = addr.rpartition(":")
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with serve(chat, host, int(port), process_request=process_request, ping_interval=None):
        print("standin_chat: listening on http://%s:%s/ (pid %d)" % (host, port, os.getpid()), flush=True)
        await stop


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
