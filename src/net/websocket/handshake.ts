// The server side of the WebSocket opening handshake (RFC 6455 section 4.2), on the socket Node's HTTP server
// hands over in its 'upgrade' event (or the HTTP fast lane, for the handshakes it recognises): Herald's replacement for `ws`'s handleUpgrade (see codec.ts for why), used by
// every WebSocket listener. The checks and answers follow `ws`; what a listener accepts beyond that is its
// HandshakeRules.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * What a WebSocket listener reads of the handshake request: Node's `IncomingMessage` from an 'upgrade' event, or
 * the plain object the HTTP fast lane builds for a handshake it recognised (api/http/fast-head.ts), which costs no
 * HTTP parser, stream or message object per connection.
 */
export interface UpgradeRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly httpVersion: string;
  readonly socket: Socket;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A base64-encoded 16-byte nonce. */
const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;
/** An HTTP token (RFC 7230 section 3.2.6), the syntax of a subprotocol name. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** What a listener accepts where listeners differ; every other check is the same for all. */
export interface HandshakeRules {
  /** Sec-WebSocket-Version values accepted, listed in this order in a refusal's Sec-WebSocket-Version header. */
  readonly versions: readonly string[];
  /** Compare the version as a number (so `013` is 13), as `ws` does. */
  readonly numericVersion: boolean;
  /** Refuse a subprotocol offered twice, as `ws` does. */
  readonly uniqueProtocols: boolean;
}

/** Herald's own rules (native `/ws`, and the default for new listeners): version 13, which every current client sends. */
export const HERALD_HANDSHAKE: HandshakeRules = { versions: ['13'], numericVersion: false, uniqueProtocols: false };

/**
 * Exactly what the `ws` package's server accepts (version 13 or the draft's 8, read as a number; no duplicate
 * subprotocol). The Workerman port (1234) ran on `ws` and keeps its acceptance, so no client that connected
 * before is refused now.
 */
export const WS_PACKAGE_HANDSHAKE: HandshakeRules = { versions: ['13', '8'], numericVersion: true, uniqueProtocols: true };

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** Why `req` is not a WebSocket upgrade we accept (status and reason), or the subprotocol to answer ('' none). */
export function checkUpgrade(req: UpgradeRequest, rules: HandshakeRules = HERALD_HANDSHAKE): { status: number; reason: string } | { protocol: string } {
  if (req.method !== 'GET') return { status: 405, reason: 'WebSocket upgrades use GET' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade header must be "websocket"' };
  if (!hasToken(req.headers.connection, 'upgrade')) return { status: 400, reason: 'Connection header must include "Upgrade"' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY_RE.test(key)) return { status: 400, reason: 'missing or invalid Sec-WebSocket-Key header' };
  if (!versionAccepted(req.headers['sec-websocket-version'], rules)) {
    return {
      status: 400,
      reason: `unsupported Sec-WebSocket-Version: only ${rules.versions.join(' or ')} ${rules.versions.length > 1 ? 'are' : 'is'} supported`,
    };
  }
  // Browsers fail a connection whose offered subprotocols get no answer, so the first is echoed (as `ws` does);
  // no protocol of Herald depends on it.
  const offered = req.headers['sec-websocket-protocol'];
  let protocol = '';
  if (offered !== undefined) {
    const names = offered.split(',').map((p) => p.trim());
    if (!names.every((p) => TOKEN_RE.test(p)) || (rules.uniqueProtocols && new Set(names).size !== names.length)) {
      return { status: 400, reason: 'invalid Sec-WebSocket-Protocol header' };
    }
    protocol = names[0]!;
  }
  return { protocol };
}

/**
 * Answers the upgrade: 101 and true when `req` is a valid WebSocket handshake, otherwise an HTTP error whose body
 * says why, and false (the socket is then closed).
 */
export function completeHandshake(req: UpgradeRequest, socket: Duplex, rules: HandshakeRules = HERALD_HANDSHAKE): boolean {
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return false;
  }
  const check = checkUpgrade(req, rules);
  if ('status' in check) {
    const text = check.status === 405 ? 'Method Not Allowed' : 'Bad Request';
    const extra = check.status === 405 ? 'Allow: GET\r\n' : check.reason.includes('Version') ? `Sec-WebSocket-Version: ${rules.versions.join(', ')}\r\n` : '';
    socket.on('error', destroy);
    socket.once('finish', destroy);
    socket.end(
      `HTTP/1.1 ${check.status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n${extra}` +
        `Content-Length: ${Buffer.byteLength(check.reason)}\r\n\r\n${check.reason}`,
    );
    return false;
  }
  // Corked until two event-loop turns later: the transport's first frames (a welcome, a resume's recovery frames,
  // written by the outbox at the end of a turn) then leave with the 101 in one write system call instead of two or
  // three, which is a large part of what a connection costs when thousands reconnect at once.
  socket.cork();
  setImmediate(uncorkNextTurn, socket);
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(req.headers['sec-websocket-key']!)}\r\n` +
      (check.protocol === '' ? '' : `Sec-WebSocket-Protocol: ${check.protocol}\r\n`) +
      '\r\n',
  );
  return true;
}

function versionAccepted(header: string | undefined, rules: HandshakeRules): boolean {
  if (header === undefined) return false;
  if (!rules.numericVersion) return rules.versions.includes(header);
  const v = Number(header);
  return rules.versions.some((r) => Number(r) === v);
}

function uncorkNextTurn(socket: Duplex): void {
  setImmediate(uncork, socket);
}

function uncork(socket: Duplex): void {
  if (socket.writableCorked > 0) socket.uncork();
}

function destroy(this: Duplex): void {
  this.destroy();
}

function hasToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  for (const t of header.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}
