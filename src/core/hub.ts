import type { Connection } from './connection.ts';
import { Delivery, type Envelope } from './delivery.ts';

export type Target =
  | { kind: 'user'; user: string }
  | { kind: 'channel'; channel: string }
  | { kind: 'all' };

/**
 * The local registry: who is connected to this process and to which channels. Two-way maps whose empty entries
 * are deleted, so memory follows live connections and removing a connection costs O(its channels).
 */
export class Hub {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byChannel = new Map<string, Set<Connection>>();
  /** Monotonic counters read by /metrics; plain numbers so the hot path does no metric-library work. */
  deliveries = 0;
  dropped = 0;

  add(conn: Connection): void {
    this.all.add(conn);
    // An anonymous connection (user '') receives broadcasts only: it belongs to no user.
    if (conn.user !== '') addTo(this.byUser, conn.user, conn);
  }

  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    removeFrom(this.byUser, conn.user, conn);
    for (const ch of conn.channels) removeFrom(this.byChannel, ch, conn);
    conn.channels.clear();
  }

  /** Returns false when the connection already has `limit` channels. */
  subscribe(conn: Connection, channel: string, limit: number): boolean {
    if (conn.channels.has(channel)) return true;
    if (conn.channels.size >= limit) return false;
    conn.channels.add(channel);
    addTo(this.byChannel, channel, conn);
    return true;
  }

  unsubscribe(conn: Connection, channel: string): boolean {
    if (!conn.channels.delete(channel)) return false;
    removeFrom(this.byChannel, channel, conn);
    return true;
  }

  recipients(target: Target): Iterable<Connection> {
    switch (target.kind) {
      case 'user':
        return this.byUser.get(target.user) ?? EMPTY;
      case 'channel':
        return this.byChannel.get(target.channel) ?? EMPTY;
      case 'all':
        return this.all;
    }
  }

  /** Writes one envelope to every local recipient; returns how many connections it was queued on. */
  deliver(target: Target, env: Envelope): number {
    const d = new Delivery(env);
    let n = 0;
    for (const conn of this.recipients(target)) {
      if (conn.deliver(d)) n++;
      else this.dropped++;
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

const EMPTY: ReadonlySet<Connection> = new Set();

function addTo(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([conn]));
  else set.add(conn);
}

function removeFrom(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(conn);
  if (set.size === 0) map.delete(key);
}
