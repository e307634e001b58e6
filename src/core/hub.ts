import type { Connection } from './connection.ts';
import { Delivery } from './delivery.ts';
import { channelStream, userStream, type Envelope, type Target } from '../domain/streams.ts';

/**
 * Told about every membership change, synchronously: cluster presence keeps its counts with it, and the broker
 * subscribes to a stream while some local connection needs it (`interest`).
 */
export interface HubObserver {
  connected?(conn: Connection): void;
  disconnected?(conn: Connection, channels: readonly string[]): void;
  subscribed?(conn: Connection, channel: string): void;
  unsubscribed?(conn: Connection, channel: string): void;
  /** The connection was bound to another user (`from` and `conn.user` may be '', anonymous) by a backend. */
  rebound?(conn: Connection, from: string): void;
  /** A user or channel got its first local connection (`true`) or lost its last one (`false`). */
  interest?(stream: string, on: boolean): void;
}

/**
 * The local registry: who is connected to this process and to which channels. Two-way maps whose empty entries
 * are deleted, so memory follows live connections and removing a connection costs O(its channels).
 */
export class Hub {
  private readonly all = new Set<Connection>();
  /** Connections by id: backends address one connection (push, bind, join, session, close). */
  private readonly byId = new Map<string, Connection>();
  /** Per-connection session data set by backends; most connections have none, so it is not a connection field. */
  private readonly sessions = new Map<Connection, SessionData>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byChannel = new Map<string, Set<Connection>>();
  /** Monotonic counters read by /metrics; plain numbers so the hot path does no metric-library work. */
  deliveries = 0;
  dropped = 0;
  private readonly observers: HubObserver[] = [];

  observe(o: HubObserver): void {
    this.observers.push(o);
  }

  add(conn: Connection): void {
    this.all.add(conn);
    this.byId.set(conn.id, conn);
    // An anonymous connection (user '') receives broadcasts only: it belongs to no user.
    if (conn.user !== '' && addTo(this.byUser, conn.user, conn)) this.interest(userStream(conn.user), true);
    for (const o of this.observers) o.connected?.(conn);
  }

  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    this.byId.delete(conn.id);
    this.sessions.delete(conn);
    if (conn.user !== '' && removeFrom(this.byUser, conn.user, conn)) this.interest(userStream(conn.user), false);
    // The channel list is copied only for observers (cluster presence); a lone process skips the allocation.
    const channels = this.observers.length > 0 ? [...conn.channels] : EMPTY_LIST;
    for (const ch of conn.channels) if (removeFrom(this.byChannel, ch, conn)) this.interest(channelStream(ch), false);
    conn.channels.clear();
    for (const o of this.observers) o.disconnected?.(conn, channels);
  }

  /** The local connection with this id, if it is here. */
  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  /** Makes the connection `user`'s ('' = anonymous: broadcasts and its channels only). */
  bind(conn: Connection, user: string): void {
    const from = conn.user;
    if (from === user || !this.all.has(conn)) return;
    if (from !== '' && removeFrom(this.byUser, from, conn)) this.interest(userStream(from), false);
    conn.user = user;
    if (user !== '' && addTo(this.byUser, user, conn)) this.interest(userStream(user), true);
    for (const o of this.observers) o.rebound?.(conn, from);
  }

  session(conn: Connection): SessionData | undefined {
    return this.sessions.get(conn);
  }

  setSession(conn: Connection, data: SessionData | undefined): void {
    if (!this.all.has(conn)) return;
    if (data === undefined) this.sessions.delete(conn);
    else this.sessions.set(conn, data);
  }

  private interest(stream: string, on: boolean): void {
    for (const o of this.observers) o.interest?.(stream, on);
  }

  /** Returns false when the connection already has `limit` channels. */
  subscribe(conn: Connection, channel: string, limit: number): boolean {
    if (conn.channels.has(channel)) return true;
    if (conn.channels.size >= limit) return false;
    conn.channels.add(channel);
    if (addTo(this.byChannel, channel, conn)) this.interest(channelStream(channel), true);
    for (const o of this.observers) o.subscribed?.(conn, channel);
    return true;
  }

  unsubscribe(conn: Connection, channel: string): boolean {
    if (!conn.channels.delete(channel)) return false;
    if (removeFrom(this.byChannel, channel, conn)) this.interest(channelStream(channel), false);
    for (const o of this.observers) o.unsubscribed?.(conn, channel);
    return true;
  }

  recipients(target: Target): ReadonlySet<Connection> {
    switch (target.kind) {
      case 'user':
        return this.byUser.get(target.user) ?? EMPTY;
      case 'channel':
        return this.byChannel.get(target.channel) ?? EMPTY;
      case 'all':
        return this.all;
    }
  }

  /** How many local connections a message to `target` goes to. */
  count(target: Target): number {
    return this.recipients(target).size;
  }

  /** Writes one envelope to every local recipient; returns how many connections it was queued on. */
  deliver(target: Target, env: Envelope): number {
    const d = new Delivery(env);
    let n = 0;
    const skip = env.exclude;
    // Two loops so that the common case (no exclusion) pays no comparison per recipient.
    if (skip === undefined) {
      for (const conn of this.recipients(target)) {
        if (conn.deliver(d)) n++;
        else this.dropped++;
      }
    } else {
      for (const conn of this.recipients(target)) {
        if (conn.id === skip) continue;
        if (conn.deliver(d)) n++;
        else this.dropped++;
      }
    }
    this.deliveries += n;
    return n;
  }

  connectionsOf(user: string): ReadonlySet<Connection> {
    return this.byUser.get(user) ?? EMPTY;
  }

  membersOf(channel: string): ReadonlySet<Connection> {
    return this.byChannel.get(channel) ?? EMPTY;
  }

  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  channels(): IterableIterator<[string, ReadonlySet<Connection>]> {
    return this.byChannel.entries();
  }

  get connectionCount(): number {
    return this.all.size;
  }

  get userCount(): number {
    return this.byUser.size;
  }

  get channelCount(): number {
    return this.byChannel.size;
  }

  connections(): IterableIterator<Connection> {
    return this.all.values();
  }
}

/**
 * A connection's session: a JSON object (the HTTP API), or bytes a protocol keeps verbatim (GatewayWorker's
 * PHP-serialized sessions, as a latin1 string so that it crosses nodes as JSON).
 */
export type SessionData = { json: Readonly<Record<string, unknown>> } | { php: string };

const EMPTY: ReadonlySet<Connection> = new Set();
const EMPTY_LIST: readonly string[] = [];

/** Returns true when the key is new (its first connection). */
function addTo(map: Map<string, Set<Connection>>, key: string, conn: Connection): boolean {
  const set = map.get(key);
  if (set === undefined) {
    map.set(key, new Set([conn]));
    return true;
  }
  set.add(conn);
  return false;
}

/** Returns true when the key lost its last connection (and was deleted). */
function removeFrom(map: Map<string, Set<Connection>>, key: string, conn: Connection): boolean {
  const set = map.get(key);
  if (set === undefined) return false;
  set.delete(conn);
  if (set.size > 0) return false;
  map.delete(key);
  return true;
}
