import type { IncomingMessage } from 'node:http';
import { Socket as NetSocket } from 'node:net';
import type { Socket } from 'socket.io';
import { asciiPayload, binaryPayload, type EnginePacket } from './eio3-payload.ts';

/**
 * The one place Herald reads or changes Engine.IO's private state: for the Socket.IO single-write path
 * (connection.ts), whether a connection runs on the websocket transport with nothing queued in Engine.IO, and the
 * TCP socket under its `ws` WebSocket; for old clients (eio3-payload.ts), the payload encoder of EIO=3 polling
 * transports. Checked against these versions; package.json pins `socket.io` to the one that brings them, and tests
 * fail if a probe stops working (compat-socketio.test.ts "new_msg frames take the single-write path",
 * compat-socketio-versions.test.ts "answers an EIO=3 poll of a binary-capable client ... in binary framing"), instead of Herald falling back
 * unnoticed.
 */
export const CHECKED_WITH = { 'socket.io': '4.8.4', 'engine.io': '6.6.12', ws: '8.21.3' } as const;

interface EngineInternals {
  upgrading?: boolean;
  writeBuffer?: unknown[];
  transport?: { name?: string; socket?: { _socket?: unknown } };
}

/**
 * The connection's TCP socket when frames may be written to it directly: websocket transport, no upgrade under
 * way, nothing waiting in Engine.IO's write buffer (so order is kept). Anything unexpected gives undefined, which
 * keeps the Engine.IO path.
 */
export function directSocketOf(socket: Socket): NetSocket | undefined {
  const conn = socket.conn as unknown as EngineInternals;
  const transport = conn.transport;
  if (transport?.name !== 'websocket' || conn.upgrading !== false || !Array.isArray(conn.writeBuffer) || conn.writeBuffer.length > 0) return undefined;
  const raw = transport.socket?._socket;
  return raw instanceof NetSocket ? raw : undefined;
}

type Encoded = string | Buffer;
interface PayloadParser {
  encodePayload(packets: EnginePacket[], supportsBinary: boolean | null, done: (data: Encoded) => void): void;
}
interface TransportInternals {
  name?: unknown;
  protocol?: unknown;
  parser?: PayloadParser;
}
type EngineRequest = IncomingMessage & { _query?: Record<string, string> };
interface ServerInternals {
  createTransport?: (this: unknown, name: string, req: EngineRequest) => TransportInternals;
}

/** Engine.IO's payload parser with the encoder replaced; decoding and everything else stay Engine.IO's. */
function withOldClientPayloads(parser: PayloadParser, binaryAllowed: boolean): PayloadParser {
  const adapted = Object.create(parser) as PayloadParser;
  adapted.encodePayload = (packets, supportsBinary, done) => {
    const out = supportsBinary === true && binaryAllowed ? binaryPayload(packets) : asciiPayload(packets);
    if (out === undefined) parser.encodePayload(packets, supportsBinary, done);
    else done(out);
  };
  return adapted;
}

/**
 * Makes every EIO=3 polling transport answer as engine.io 1.x did (eio3-payload.ts): binary framing for clients
 * that can read it (no `b64`, not JSONP), ASCII-only text otherwise. Engine.IO creates a transport per session in
 * `createTransport`; wrapping it is the narrowest hook that sees the handshake's own response. False when the
 * hook is not there (the test named above then fails).
 */
export function adaptEio3Polling(engine: unknown): boolean {
  const server = engine as ServerInternals;
  const create = server.createTransport;
  if (typeof create !== 'function') return false;
  server.createTransport = function (name, req) {
    const transport = create.call(this, name, req);
    const parser = transport.parser;
    if (transport.name === 'polling' && transport.protocol === 3 && typeof parser?.encodePayload === 'function') {
      transport.parser = withOldClientPayloads(parser, typeof req._query?.j !== 'string');
    }
    return transport;
  };
  return true;
}

/** The Engine.IO session id (the `sid` of the client's requests); engine.io's typings mark it private. */
export function engineSessionId(socket: Socket): string {
  return (socket.conn as unknown as { id: string }).id;
}
