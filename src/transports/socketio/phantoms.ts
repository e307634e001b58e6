import type { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';
import { engineSessionId } from './engine-internals.ts';

/**
 * Closes Engine.IO v3 polling sessions whose client never came back after the handshake.
 *
 * With Engine.IO v4 a client must send Socket.IO's CONNECT packet before Herald sees a socket (and socket.io's
 * `connectTimeout` closes the session otherwise), so a socket proves its client read the handshake. With v3 the
 * server connects the socket itself, at the handshake: a client that could not read the answer (socket.io-client
 * 1.3.x did, in a loop) leaves a socket that Engine.IO keeps for pingInterval + pingTimeout (45 s), an anonymous
 * connection in the hub. Such a session must show its client within `timeoutMs`: another request with its sid
 * (a poll or a post; Engine.IO announces each one's response headers), or an upgrade. Otherwise it is closed and
 * counted. Per session: one timer and one map entry, only until the client's next request.
 */
export class PhantomReaper {
  private readonly waiting = new Map<string, () => void>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onReap: (socket: Socket) => void,
  ) {}

  /** Sessions still waiting for their client (a test reads it). */
  get pending(): number {
    return this.waiting.size;
  }

  /** For Engine.IO's `headers` event: a request of a session arrived. Cheap when nothing waits. */
  sawRequest(req: IncomingMessage): void {
    if (this.waiting.size === 0 || req.url === undefined) return;
    const sid = new URL(req.url, 'http://x').searchParams.get('sid');
    if (sid !== null) this.waiting.get(sid)?.();
  }

  /** A new Socket.IO socket: watched when it is an Engine.IO v3 session on polling. */
  watch(socket: Socket): void {
    const conn = socket.conn;
    if (conn.protocol !== 3 || conn.transport.name !== 'polling') return;
    const sid = engineSessionId(socket);
    const timer = setTimeout(() => {
      this.waiting.delete(sid);
      this.onReap(socket);
    }, this.timeoutMs);
    timer.unref();
    const seen = (): void => {
      clearTimeout(timer);
      this.waiting.delete(sid);
      conn.off('upgrading', seen);
      conn.off('close', seen);
    };
    this.waiting.set(sid, seen);
    conn.once('upgrading', seen);
    conn.once('close', seen);
  }
}
