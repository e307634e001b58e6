// The server side of the WebSocket opening handshake (RFC 6455 section 4.2), on the socket Node's HTTP server
// hands over in its 'upgrade' event: Herald's replacement for `ws`'s handleUpgrade (see codec.ts for why), used by
// every WebSocket listener. The checks and answers follow `ws`, except that only version 13 (every current
// client) is accepted.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A base64-encoded 16-byte nonce. */
const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;
/** An HTTP token (RFC 7230 section 3.2.6), the syntax of a subprotocol name. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Why `req` is not a WebSocket upgrade we accept (status and reason), or the subprotocol to answer ('' none). */
export function checkUpgrade(req: IncomingMessage): { status: number; reason: string } | { protocol: string } {
  if (req.method !== 'GET') return { status: 405, reason: 'WebSocket upgrades use GET' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade header must be "websocket"' };
  if (!hasToken(req.headers.connection, 'upgrade')) return { status: 400, reason: 'Connection header must include "Upgrade"' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY_RE.test(key)) return { status: 400, reason: 'missing or invalid Sec-WebSocket-Key header' };
  if (req.headers['sec-websocket-version'] !== '13') return { status: 400, reason: 'unsupported Sec-WebSocket-Version: only 13 is supported' };
  // Browsers fail a connection whose offered subprotocols get no answer, so the first is echoed (as `ws` does);
  // no protocol of Herald depends on it.
  const offered = req.headers['sec-websocket-protocol'];
  let protocol = '';
  if (offered !== undefined) {
    const names = offered.split(',').map((p) => p.trim());
    if (!names.every((p) => TOKEN_RE.test(p))) return { status: 400, reason: 'invalid Sec-WebSocket-Protocol header' };
    protocol = names[0]!;
  }
  return { protocol };
}

/**
 * Answers the upgrade: 101 and true when `req` is a valid WebSocket handshake, otherwise an HTTP error whose body
 * says why, and false (the socket is then closed).
 */
export function completeHandshake(req: IncomingMessage, socket: Duplex): boolean {
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return false;
  }
  const check = checkUpgrade(req);
  if ('status' in check) {
    const text = check.status === 405 ? 'Method Not Allowed' : 'Bad Request';
    const extra = check.status === 405 ? 'Allow: GET\r\n' : check.reason.includes('Version') ? 'Sec-WebSocket-Version: 13\r\n' : '';
    socket.on('error', destroy);
    socket.once('finish', destroy);
    socket.end(
      `HTTP/1.1 ${check.status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n${extra}` +
        `Content-Length: ${Buffer.byteLength(check.reason)}\r\n\r\n${check.reason}`,
    );
    return false;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(req.headers['sec-websocket-key']!)}\r\n` +
      (check.protocol === '' ? '' : `Sec-WebSocket-Protocol: ${check.protocol}\r\n`) +
      '\r\n',
  );
  return true;
}

function destroy(this: Duplex): void {
  this.destroy();
}

function hasToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  for (const t of header.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}
