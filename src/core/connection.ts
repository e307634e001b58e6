import type { Delivery } from './delivery.ts';

/**
 * The narrow seam between transports and the hub. The hub never imports a socket library: each transport wraps
 * its socket in a Connection.
 */
export interface Connection {
  readonly id: string;
  /**
   * The user id; '' for an anonymous connection (a compat Socket.IO socket that has not logged in), which is in
   * the hub's connection set (broadcasts reach it) but belongs to no user. Set by the transport before `hub.add`;
   * after that only the hub changes it (`Hub.bind`, a backend binding the connection to a user).
   */
  user: string;
  /** Transport name for stats: `native`, `socketio`, ... */
  readonly transport: string;
  /** Channels this connection is in; owned and mutated by the hub only. */
  readonly channels: Set<string>;
  /** Queues one message for this connection. Returns false when it could not be queued. */
  deliver(d: Delivery): boolean;
  /** Tells the client it was subscribed or unsubscribed by the server. */
  notifySubscription(channel: string, subscribed: boolean): void;
  close(code: number, reason: string): void;
}
