import { SESSION_STREAM, type Envelope } from '../domain/streams.ts';
import type { Connection } from './connection.ts';
import { Delivery } from './delivery.ts';
import type { Hub, SessionData } from './hub.ts';
import { mergeReplace } from './merge.ts';

/** A connection as the connection-addressed API describes it. */
export interface ConnectionInfo {
  connection: string;
  /** '' when no user is bound (an anonymous connection). */
  user: string;
  transport: string;
  channels: string[];
}

export type JoinResult = 'joined' | 'not_found' | 'limit';

/** What closing a connection may send first and how it ends (the transport maps the code to its protocol). */
export interface CloseRequest {
  /** A last message, delivered before the close. */
  data?: string;
  event?: string;
  code: number;
  reason: string;
}

/**
 * What a backend can do to the connections of this process, by connection id: push, bind to a user, join and
 * leave channels, keep a session, close, and the queries. Each method touches local connections only and answers
 * for them; the API layer routes a call to the node that holds the connection and merges the nodes' answers.
 * Messages pushed to a connection are not stored: a connection lives on one node, and a client that reconnects is
 * a new connection (the `session` stream in the native protocol).
 */
export class LocalControl {
  /** This node's GatewayWorker inner address, when it runs the gateway (`gatewayAddress`). */
  private gatewayAddressOf: (() => string | undefined) | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly maxChannelsPerConnection: number,
  ) {}

  /** Queues one message on each listed connection that is here; returns the ids it was queued on. */
  push(ids: readonly string[], data: string, event?: string): string[] {
    const env: Envelope =
      event === undefined ? { stream: SESSION_STREAM, offset: 0, epoch: '', data } : { stream: SESSION_STREAM, offset: 0, epoch: '', data, event };
    const d = new Delivery(env);
    const done: string[] = [];
    for (const id of new Set(ids)) {
      const conn = this.hub.get(id);
      if (conn === undefined) continue;
      if (conn.deliver(d)) {
        done.push(id);
        this.hub.deliveries++;
      } else this.hub.dropped++;
    }
    return done;
  }

  describe(id: string): ConnectionInfo | undefined {
    const conn = this.hub.get(id);
    return conn === undefined ? undefined : infoOf(conn);
  }

  /** Binds the connection to `user` ('' unbinds it); false when the connection is not here. */
  bind(id: string, user: string): boolean {
    const conn = this.hub.get(id);
    if (conn === undefined) return false;
    this.hub.bind(conn, user);
    return true;
  }

  join(id: string, channel: string): JoinResult {
    const conn = this.hub.get(id);
    if (conn === undefined) return 'not_found';
    if (conn.channels.has(channel)) return 'joined';
    // Server-side membership is authoritative: it bypasses the token's channel list but not the limit.
    if (!this.hub.subscribe(conn, channel, this.maxChannelsPerConnection)) return 'limit';
    conn.notifySubscription(channel, true);
    return 'joined';
  }

  /** Returns false when the connection is not here; leaving a channel it is not in is not an error. */
  leave(id: string, channel: string): boolean {
    const conn = this.hub.get(id);
    if (conn === undefined) return false;
    if (this.hub.unsubscribe(conn, channel)) conn.notifySubscription(channel, false);
    return true;
  }

  /** Removes every local member from the channel; returns how many left it. */
  dissolve(channel: string): number {
    const members = [...this.hub.membersOf(channel)];
    for (const conn of members) if (this.hub.unsubscribe(conn, channel)) conn.notifySubscription(channel, false);
    return members.length;
  }

  /** The session, `null` when none was set; undefined when the connection is not here. */
  session(id: string): SessionData | null | undefined {
    const conn = this.hub.get(id);
    if (conn === undefined) return undefined;
    return this.hub.session(conn) ?? null;
  }

  /** Replaces the session (undefined clears it); false when the connection is not here. */
  setSession(id: string, data: SessionData | undefined): boolean {
    const conn = this.hub.get(id);
    if (conn === undefined) return false;
    this.hub.setSession(conn, data);
    return true;
  }

  /**
   * Merges `update` into the stored JSON session (`mergeReplace`) here, on the connection's node, so that two
   * merges never lose each other's keys. Returns the result; 'php' when the stored session is PHP-serialized (a
   * GatewayWorker app's); undefined when the connection is not here.
   */
  mergeSession(id: string, update: Readonly<Record<string, unknown>>): Record<string, unknown> | 'php' | undefined {
    const conn = this.hub.get(id);
    if (conn === undefined) return undefined;
    const stored = this.hub.session(conn);
    if (stored !== undefined && 'php' in stored) return 'php';
    const next = mergeReplace(stored?.json ?? {}, update);
    this.hub.setSession(conn, { json: next });
    return next;
  }

  /** Closes the connection after an optional last message; false when it is not here. */
  close(id: string, req: CloseRequest): boolean {
    const conn = this.hub.get(id);
    if (conn === undefined) return false;
    if (req.data !== undefined) this.push([id], req.data, req.event);
    conn.close(req.code, req.reason);
    return true;
  }

  /** Set by the GatewayWorker mode: how other nodes' Registers learn this node's gateway. */
  provideGatewayAddress(of: () => string | undefined): void {
    this.gatewayAddressOf = of;
  }

  /** This node's gateway inner address (`lanIp:port`), or null when it runs none (or has not bound it yet). */
  gatewayAddress(): string | null {
    return this.gatewayAddressOf?.() ?? null;
  }

  /** The ids of the user's connections on this node, in the order they connected or were bound. */
  connectionsOf(user: string): string[] {
    return [...this.hub.connectionsOf(user)].map((c) => c.id);
  }

  /** The channel's members on this node, in the order they joined. */
  membersOf(channel: string): { connection: string; user: string }[] {
    return [...this.hub.membersOf(channel)].map((c) => ({ connection: c.id, user: c.user }));
  }
}

function infoOf(conn: Connection): ConnectionInfo {
  return { connection: conn.id, user: conn.user, transport: conn.transport, channels: [...conn.channels] };
}
