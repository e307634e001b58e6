import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpgradeRequest } from '../../net/websocket/handshake.ts';
import type { Duplex } from 'node:stream';

export interface Address {
  host: string;
  port: number;
}

/**
 * One client-facing protocol: the seam every folder under `transports/` implements and `transports/registry.ts`
 * composes. A transport either takes WebSocket upgrades of a path on Herald's main port (`upgrade`), or serves a
 * port of its own (`listen` + `address`), or both. It adds its connections to the hub and removes them; the
 * webhook events, presence and the broker's interest follow from the hub's observers, never from the transport.
 *
 * Shutdown runs in three phases over every transport at once, so that no client reconnects to a stopping process:
 * `stop` (accept nothing new), `drain` (tell each client to reconnect elsewhere, wait for them to go), `close`
 * (drop what is left, release servers and timers).
 */
export interface Transport {
  /** The name used in addresses and logs (for a port of its own, its key in the config: `websocket`, `socketio`). */
  readonly name: string;
  /** Takes the upgrade and returns true when `url`'s path is this transport's; returns false touching nothing. */
  upgrade?(req: UpgradeRequest, socket: Duplex, head: Buffer, url: URL): boolean;
  /**
   * Serves an HTTP request of the main port that belongs to the protocol (the Pusher HTTP API's `/apps/…`, signed
   * its own way rather than with Herald's API key) and returns true; returns false touching nothing for any other.
   */
  request?(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** Binds the transport's own port. */
  listen?(): Promise<void>;
  /** Host and real port after `listen` (port 0 resolves to the one the OS chose). */
  address?(): Address;
  /** Phase 1: no new connection, handshake or session from now on; the ones open stay open. */
  stop(): void;
  /** Phase 2: asks every client to reconnect elsewhere; resolves with how many are still open after `timeoutMs`. */
  drain(timeoutMs: number): Promise<number>;
  /** Phase 3: drops whatever is still open and releases the transport's servers and timers. */
  close(): Promise<void>;
}

/** The answer to a handshake that arrives once a transport has stopped accepting: clients retry elsewhere. */
export const STOPPING_RESPONSE = 'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n';
