// Echo server on Node's `ws` with permessage-deflate on, as its users turn it on:
// `perMessageDeflate: true` (the library's defaults: zlib's default level, windows of
// 15 bits, a 1024-byte threshold below which messages go out uncompressed), and the
// 64 MiB message limit of our echo example. A peer of `cargo xtask bench --compressed`.
//
// Usage: node node-ws-echo.js HOST:PORT   (ws from xtask/interop/node_modules)
'use strict';

const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '../../interop/node_modules/ws'));

const [host, port] = (process.argv[2] || '').split(/:(?=[^:]*$)/);
if (!host || !port) {
  console.error('usage: node node-ws-echo.js HOST:PORT');
  process.exit(2);
}
const wss = new WebSocketServer({
  host,
  port: Number(port),
  perMessageDeflate: true,
  maxPayload: 64 * 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => console.log(`listening on ${host}:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
