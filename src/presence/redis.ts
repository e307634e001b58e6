import type { Cluster, Redis } from 'ioredis';
import type { Connection } from '../core/connection.ts';
import type { Hub, HubObserver } from '../core/hub.ts';
import type { ChannelCount, Presence, UserCount } from './presence.ts';

export interface RedisPresenceOptions {
  prefix: string;
  nodeId: string;
  /** How often this node rewrites its counts and heartbeat; a node silent for 3 intervals is dead. */
  heartbeatMs: number;
}

/**
 * Cluster presence in Redis: each node keeps hashes of its own counts (users, channels, channel members),
 * updated on every change and rewritten whole on each heartbeat (which also heals them after a Redis restart),
 * with an expiry, so the counts of a node that died vanish within `staleAfterMs` (3 heartbeats). Queries sum the
 * hashes of the nodes whose heartbeat is fresh.
 * A node's keys share the hash tag `{<node>}` (one slot on a Cluster), so its snapshot is one MULTI; a count is
 * one single-key read per live node, never a cross-slot command.
 */
export class RedisPresence implements Presence, HubObserver {
  readonly staleAfterMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly k: { users: string; channels: string; members: string; conns: string; nodes: string };

  constructor(
    private readonly r: Redis | Cluster,
    private readonly hub: Hub,
    private readonly opts: RedisPresenceOptions,
  ) {
    this.staleAfterMs = 3 * opts.heartbeatMs;
    this.k = this.keysOf(opts.nodeId);
    hub.observe(this);
    this.timer = setInterval(() => void this.beat().catch(() => {}), opts.heartbeatMs);
    this.timer.unref();
  }

  /** Writes this node's full snapshot now (also called at start). */
  async beat(): Promise<void> {
    const users: Record<string, number> = {};
    const channels: Record<string, number> = {};
    const members: Record<string, number> = {};
    for (const user of this.hub.users()) users[user] = this.hub.connectionsOf(user).size;
    for (const [channel, conns] of this.hub.channels()) {
      channels[channel] = conns.size;
      for (const c of conns) if (c.user !== '') members[`${channel}\n${c.user}`] = (members[`${channel}\n${c.user}`] ?? 0) + 1;
    }
    const { k } = this;
    const m = this.r.multi().del(k.users, k.channels, k.members);
    if (Object.keys(users).length > 0) m.hset(k.users, users);
    if (Object.keys(channels).length > 0) m.hset(k.channels, channels);
    if (Object.keys(members).length > 0) m.hset(k.members, members);
    m.set(k.conns, this.hub.connectionCount);
    for (const key of [k.users, k.channels, k.members, k.conns]) m.pexpire(key, this.staleAfterMs);
    await m.exec();
    // The list of nodes is in a slot of its own: marked alive after the snapshot is written.
    await this.r
      .multi()
      .zadd(k.nodes, Date.now(), this.opts.nodeId)
      .zremrangebyscore(k.nodes, 0, Date.now() - this.staleAfterMs)
      .exec();
  }

  connected(conn: Connection): void {
    this.r.incr(this.k.conns).catch(() => {});
    if (conn.user !== '') this.r.hincrby(this.k.users, conn.user, 1).catch(() => {});
  }

  disconnected(conn: Connection, channels: readonly string[]): void {
    this.r.decr(this.k.conns).catch(() => {});
    if (conn.user !== '') this.drop(this.k.users, conn.user);
    for (const ch of channels) this.unsubscribed(conn, ch);
  }

  subscribed(conn: Connection, channel: string): void {
    this.r.hincrby(this.k.channels, channel, 1).catch(() => {});
    if (conn.user !== '') this.r.hincrby(this.k.members, `${channel}\n${conn.user}`, 1).catch(() => {});
  }

  unsubscribed(conn: Connection, channel: string): void {
    this.drop(this.k.channels, channel);
    if (conn.user !== '') this.drop(this.k.members, `${channel}\n${conn.user}`);
  }

  rebound(conn: Connection, from: string): void {
    if (from !== '') this.drop(this.k.users, from);
    if (conn.user !== '') this.r.hincrby(this.k.users, conn.user, 1).catch(() => {});
    for (const ch of conn.channels) {
      if (from !== '') this.drop(this.k.members, `${ch}\n${from}`);
      if (conn.user !== '') this.r.hincrby(this.k.members, `${ch}\n${conn.user}`, 1).catch(() => {});
    }
  }

  interest(): void {}

  async userConnections(user: string): Promise<number> {
    const nodes = await this.liveNodes();
    const counts = await Promise.all(nodes.map((n) => this.r.hget(this.keysOf(n).users, user)));
    return counts.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }

  async users(limit: number): Promise<{ count: number; users: UserCount[] }> {
    const merged = await this.mergeHashes('users');
    const users = [...merged].slice(0, limit).map(([user, connections]) => ({ user, connections }));
    return { count: merged.size, users };
  }

  async channel(channel: string): Promise<{ connections: number; users: string[] }> {
    const nodes = await this.liveNodes();
    const counts = await Promise.all(nodes.map((n) => this.r.hget(this.keysOf(n).channels, channel)));
    const members = await this.mergeHashes('members');
    const users = [...members.keys()].filter((key) => key.startsWith(`${channel}\n`)).map((key) => key.slice(channel.length + 1));
    return { connections: counts.reduce((sum, v) => sum + Number(v ?? 0), 0), users };
  }

  async channels(limit: number): Promise<{ count: number; channels: ChannelCount[] }> {
    const counts = await this.mergeHashes('channels');
    const members = await this.mergeHashes('members');
    const usersPer = new Map<string, number>();
    for (const key of members.keys()) {
      const ch = key.slice(0, key.indexOf('\n'));
      usersPer.set(ch, (usersPer.get(ch) ?? 0) + 1);
    }
    const channels = [...counts].slice(0, limit).map(([channel, connections]) => ({ channel, connections, users: usersPer.get(channel) ?? 0 }));
    return { count: counts.size, channels };
  }

  async totals(): Promise<{ connections: number; users: number; channels: number; nodes: number }> {
    const nodes = await this.liveNodes();
    const conns = await Promise.all(nodes.map((n) => this.r.get(this.keysOf(n).conns)));
    const users = await this.mergeHashes('users');
    const channels = await this.mergeHashes('channels');
    return { connections: conns.reduce((s, v) => s + Math.max(0, Number(v ?? 0)), 0), users: users.size, channels: channels.size, nodes: nodes.length };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    // Leaving cleanly: other nodes stop counting us at once instead of after the expiry.
    await this.r.zrem(this.k.nodes, this.opts.nodeId).catch(() => {});
    await this.r.del(this.k.users, this.k.channels, this.k.members, this.k.conns).catch(() => {});
  }

  private keysOf(node: string) {
    const p = `${this.opts.prefix}presence:`;
    const n = `${p}{${node}}`;
    return { users: `${n}:u`, channels: `${n}:c`, members: `${n}:m`, conns: `${n}:n`, nodes: `${p}nodes` };
  }

  private liveNodes(): Promise<string[]> {
    return this.r.zrangebyscore(this.k.nodes, Date.now() - this.staleAfterMs, '+inf');
  }

  /** Sums one kind of hash over the live nodes, dropping fields that reached zero. */
  private async mergeHashes(kind: 'users' | 'channels' | 'members'): Promise<Map<string, number>> {
    const nodes = await this.liveNodes();
    const all = await Promise.all(nodes.map((n) => this.r.hgetall(this.keysOf(n)[kind])));
    const merged = new Map<string, number>();
    for (const h of all) for (const [key, v] of Object.entries(h)) merged.set(key, (merged.get(key) ?? 0) + Number(v));
    for (const [key, v] of merged) if (v <= 0) merged.delete(key);
    return merged;
  }

  /** Decrements a count and removes the field at zero, atomically. */
  private drop(hash: string, field: string): void {
    this.r
      .eval("local v = redis.call('HINCRBY', KEYS[1], ARGV[1], -1) if v <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end return v", 1, hash, field)
      .catch(() => {});
  }
}
