// Server-to-client WebSocket framing (RFC 6455 section 5.2): a final, unmasked text frame.
// Built here rather than through ws.send so a message is framed once and the same Buffer is written to every
// recipient. Client frames are parsed by net/websocket/codec.ts, on every WebSocket listener.
// Requires permessage-deflate to be off on the connection (neither negotiates it).

export function frameText(payload: string): Buffer {
  const len = Buffer.byteLength(payload);
  const buf = frameWithHead(len);
  buf.write(payload, buf.length - len, 'utf8');
  return buf;
}

/** The same frame around bytes that are already text (a body relayed as received, never re-encoded). */
export function frameTextBytes(payload: Buffer): Buffer {
  const buf = frameWithHead(payload.length);
  payload.copy(buf, buf.length - payload.length);
  return buf;
}

/** A buffer for a text frame of `len` payload bytes, its head written, the payload left to the caller. */
function frameWithHead(len: number): Buffer {
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const buf = Buffer.allocUnsafe(head + len);
  buf[0] = 0x81;
  if (head === 2) {
    buf[1] = len;
  } else if (head === 4) {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    buf.writeUInt32BE(len >>> 0, 6);
  }
  return buf;
}
