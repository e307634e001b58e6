import { Socket as NetSocket } from 'node:net';
import type { Socket } from 'socket.io';

/**
 * The one place Herald reads Engine.IO's private state, for the Socket.IO single-write path (connection.ts):
 * whether a connection runs on the websocket transport with nothing queued in Engine.IO, and the TCP socket under
 * its `ws` WebSocket. Checked against these versions; package.json pins `socket.io` to the one that brings them, and
 * test/integration/compat-socketio.test.ts ("new_msg frames take the single-write path") fails if the probe stops
 * finding the socket, instead of Herald falling back to one write per packet unnoticed.
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
