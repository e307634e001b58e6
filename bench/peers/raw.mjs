// Peer: the raw-TCP reference of issue 7. A plain `net` server that does the WebSocket handshake by hand (enough
// for bench/load/wsload.c), keeps the sockets in an array, and for each published message builds the frame once
// and writes it to every socket: one socket.write per delivery, no coalescing, no library.
//   node bench/peers/raw.mjs <port>
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { runDriver } from './driver.mjs';

const port = Number(process.argv[2] ?? 0);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC11B41';
/** Open sockets; a closed one is swapped with the last and popped. */
const sockets = [];

/** One unmasked text frame (FIN) around `payload`. */
function frame(text) {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : null;
  if (head === null) {
    const h = Buffer.alloc(10);
    h[0] = 0x81;
    h[1] = 127;
    h.writeBigUInt64BE(BigInt(n), 2);
    return Buffer.concat([h, payload]);
  }
  return Buffer.concat([head, payload]);
}

function remove(socket) {
  const i = socket.slot;
  if (i === undefined || sockets[i] !== socket) return;
  const last = sockets.pop();
  if (last !== socket) {
    sockets[i] = last;
    last.slot = i;
  }
  socket.slot = undefined;
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let head = '';
  const onHandshake = (chunk) => {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 16384) socket.destroy();
      return;
    }
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head.slice(0, end))?.[1];
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.off('data', onHandshake);
    // Client frames (pongs, close) are read and dropped; a close frame or EOF ends the socket.
    socket.on('data', (d) => {
      if (d.length > 0 && (d[0] & 0x0f) === 0x8) socket.destroy();
    });
    socket.slot = sockets.length;
    sockets.push(socket);
  };
  socket.on('data', onHandshake);
  socket.on('close', () => remove(socket));
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.address().port })}\n`);
});
runDriver({
  publish(data) {
    const f = frame(JSON.stringify({ type: 'message', stream: 'broadcast', data }));
    for (let i = 0; i < sockets.length; i++) sockets[i].write(f);
  },
  gc: globalThis.gc,
});
