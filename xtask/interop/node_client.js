// Interop client on Node's `ws` library, against an echo server: `cargo xtask interop`.
//
// Usage: node node_client.js ws://127.0.0.1:PORT/
//        node node_client.js wss://127.0.0.1:PORT/ --ca CA.pem   (the chain is verified
//        against CA.pem)
//
// Checks, each printing what it sent and what came back:
//   text     a UTF-8 text message with non-ASCII characters comes back equal, as text
//   binary   all 256 octet values come back equal, as binary
//   1MiB     a 1 MiB binary message comes back equal
//   ping     a ping with a payload is answered by a pong with the same payload (and
//            not reflected back as a ping)
//   deflate  permessage-deflate (RFC 7692) was negotiated (perMessageDeflate on) and a
//            256 KiB JSON-like text came back compressed: fewer bytes on the wire than
//            a quarter of its length
//   close    a close with code 4001 and a reason is answered with the same code
//
// Every wait has a timeout. Exit status 0 when all pass. The last line is
// "node_client: N passed, N failed".
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

const TIMEOUT_MS = 10000;
const CLOSE_CODE = 4001;
const CLOSE_REASON = 'interop: bye';

function show(data, isBinary) {
  if (!isBinary) {
    const s = data.toString('utf8');
    const cut = s.length > 40 ? s.slice(0, 40) + '...' : s;
    return `text ${JSON.stringify(cut)} (${s.length} chars)`;
  }
  const digest = crypto.createHash('sha256').update(data).digest('hex').slice(0, 16);
  return `binary ${data.length} octets, starts ${data.subarray(0, 8).toString('hex')}, sha256 ${digest}`;
}

function withTimeout(promise, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function nextEvent(ws, name) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => { cleanup(); resolve(args); };
    const onClose = (code) => { cleanup(); reject(new Error(`connection closed (${code}) while waiting for ${name}`)); };
    const cleanup = () => { ws.off(name, onEvent); if (name !== 'close') ws.off('close', onClose); };
    ws.once(name, onEvent);
    if (name !== 'close') ws.once('close', onClose);
  });
}

async function echoCheck(ws, name, payload, isBinary) {
  const shown = show(Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), isBinary);
  console.log(`[${name}] sent     ${shown}`);
  const reply = withTimeout(nextEvent(ws, 'message'), `the echo of ${name}`);
  ws.send(payload, { binary: isBinary });
  const [data, replyBinary] = await reply;
  console.log(`[${name}] received ${show(data, replyBinary)}`);
  if (replyBinary !== isBinary) throw new Error(`sent ${isBinary ? 'binary' : 'text'}, got ${replyBinary ? 'binary' : 'text'} back`);
  const sent = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  if (!sent.equals(data)) throw new Error('the echo differs from what was sent');
}

async function main(url, ca) {
  const results = [];
  const check = async (name, fn) => {
    try {
      await fn();
      results.push([name, null]);
      console.log(`[${name}] ok`);
    } catch (e) {
      results.push([name, e]);
      console.log(`[${name}] FAILED: ${e.message}`);
    }
  };

  const options = { handshakeTimeout: TIMEOUT_MS, maxPayload: 4 * 1024 * 1024, perMessageDeflate: true };
  if (ca) options.ca = fs.readFileSync(ca);
  const ws = new WebSocket(url, options);
  await withTimeout(nextEvent(ws, 'open'), 'the opening handshake');
  console.log(`connected to ${url}`);

  await check('text', () => echoCheck(ws, 'text', 'hello, wörld ✓ from node_client', false));
  await check('binary', () => echoCheck(ws, 'binary', Buffer.from([...Array(256).keys()]), true));
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  await check('1MiB', () => echoCheck(ws, '1MiB', big, true));

  await check('ping', async () => {
    const payload = Buffer.from('xtask-ping');
    console.log(`[ping] sent     ping ${JSON.stringify(payload.toString())}`);
    const t0 = process.hrtime.bigint();
    const pings = [];
    const onPing = (d) => pings.push(d.toString());
    ws.on('ping', onPing);
    const pong = withTimeout(nextEvent(ws, 'pong'), 'a pong');
    ws.ping(payload);
    let data;
    try {
      [data] = await pong;
    } finally {
      ws.off('ping', onPing);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`[ping] received pong ${JSON.stringify(data.toString())} after ${ms.toFixed(1)} ms`);
    if (!data.equals(payload)) throw new Error('the pong payload differs from the ping payload');
    // A server that reflects frames sends our ping back as a ping; ws answers it and the
    // reflected pong looks like an answer. That is not a pong.
    if (pings.length) throw new Error(`the server sent our ping back as a ping (${JSON.stringify(pings[0])})`);
  });

  await check('deflate', async () => {
    console.log(`[deflate] answered ${JSON.stringify(ws.extensions)}`);
    if (!/permessage-deflate/.test(ws.extensions)) throw new Error('permessage-deflate was not negotiated');
    const rows = [];
    for (let i = 0; i < 5000; i++) rows.push(`{"id":${i},"user":"u${i % 50}","text":"message number ${i}"}`);
    const doc = `[${rows.join(',')}]`;
    // The socket's byte count is what crossed the wire: compressed, it is far below the text.
    const before = ws._socket.bytesRead;
    await echoCheck(ws, 'deflate', doc, false);
    const wire = ws._socket.bytesRead - before;
    console.log(`[deflate] ${doc.length} chars came back in ${wire} bytes on the wire`);
    if (wire * 4 > doc.length) throw new Error(`the echo came back uncompressed (${wire} bytes)`);
  });

  await check('close', async () => {
    console.log(`[close] sent     close ${CLOSE_CODE} ${JSON.stringify(CLOSE_REASON)}`);
    const closed = withTimeout(nextEvent(ws, 'close'), 'the closing handshake');
    ws.close(CLOSE_CODE, CLOSE_REASON);
    const [code, reason] = await closed;
    console.log(`[close] received close ${code} ${JSON.stringify(reason.toString())}`);
    if (code !== CLOSE_CODE) throw new Error(`close answered with ${code}, expected ${CLOSE_CODE}`);
  });

  if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  const failed = results.filter(([, e]) => e !== null).length;
  console.log(`node_client: ${results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

let ca = null;
if (process.argv.length === 5 && process.argv[3] === '--ca') {
  ca = process.argv[4];
} else if (process.argv.length !== 3) {
  console.error('usage: node node_client.js ws://127.0.0.1:PORT/ | wss://127.0.0.1:PORT/ --ca CA.pem');
  process.exit(2);
}
const overall = setTimeout(() => {
  console.log('node_client: FAILED: no result within 120 s');
  console.log('node_client: 0 passed, 1 failed');
  process.exit(1);
}, 120000);
main(process.argv[2], ca).then(
  (code) => { clearTimeout(overall); process.exit(code); },
  (e) => {
    console.log(`node_client: FAILED before all checks ran: ${e.message}`);
    console.log('node_client: 0 passed, 1 failed');
    process.exit(1);
  },
);
