// Broadcast server on Node's `ws`, the usual way (its README's "broadcast to all connected
// clients"): every connection is in one room (whatever its path); a text message is sent
// on to every open client. Same room protocol as tokio-tungstenite-broadcast; a fan-out
// peer of `cargo xtask bench-fanout`. No permessage-deflate (the fan-out cases are plain).
//
// Usage: node node-ws-broadcast.js HOST:PORT   (ws from xtask/interop/node_modules)
'use strict';

const path = require('path');
const { WebSocketServer, WebSocket } = require(path.join(__dirname, '../../interop/node_modules/ws'));

const [host, port] = (process.argv[2] || '').split(/:(?=[^:]*$)/);
if (!host || !port) {
  console.error('usage: node node-ws-broadcast.js HOST:PORT');
  process.exit(2);
}
const wss = new WebSocketServer({ host, port: Number(port), perMessageDeflate: false, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
    }
  });
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => console.log(`listening on ${host}:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
