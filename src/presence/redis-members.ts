import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Members } from './members.ts';

export interface RedisMembersOptions {
  prefix: string;
  nodeId: string;
  /** How often this node marks itself alive; a node silent for 3 intervals is dead and its sockets are removed. */
  heartbeatMs: number;
  log: Logger;
}

// KEYS: counts (user -> sockets), infos (user -> info), this node's sockets (channel\nuser -> sockets).
// ARGV: user, info, channel\nuser. Returns the user's sockets across the cluster after the join.
const JOIN = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
if n == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return n`;

// Same keys and fields as JOIN; returns the sockets left (0: the user's last one left, and the member is gone), or
// -1 when the user was no member (a leave too many changes nothing).
const LEAVE = `
if not redis.call('HGET', KEYS[1], ARGV[1]) then return -1 end
if redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[3]) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[1]); return 0 end
return n`;

// KEYS: nodes (zset), the dead node's sockets. ARGV: key prefix, node id. Removes the dead node's sockets from the
// members once (ZREM decides which node reaps it) and returns channel\nuser of every member left with no socket.
const REAP = `
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return {} end
local gone = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local field = all[i]
  local cut = string.find(field, '\\n', 1, true)
  local channel = string.sub(field, 1, cut - 1)
  local user = string.sub(field, cut + 1)
  local n = redis.call('HINCRBY', ARGV[1] .. 'c:' .. channel, user, -tonumber(all[i + 1]))
  if n <= 0 then
    redis.call('HDEL', ARGV[1] .. 'c:' .. channel, user)
    redis.call('HDEL', ARGV[1] .. 'i:' .. channel, user)
    gone[#gone + 1] = field
  end
end
redis.call('DEL', KEYS[2])
return gone`;

/**
 * Presence members in Redis: per channel, one hash of socket counts by user and one of infos, changed atomically
 * by scripts, so "first socket" and "last socket" are decided once for the whole cluster. Each node also counts
 * its own sockets (a hash per node) and marks itself alive in a sorted set; a node that stops doing so for three
 * heartbeats is reaped by whichever node notices first: its sockets are subtracted and the members left with none
 * are reported to that node's `onVanished` handlers.
 */
export class RedisMembers implements Members {
  private readonly handlers: ((channel: string, user: string) => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly p: string;
  private readonly nodes: string;

  constructor(
    private readonly r: Redis,
    private readonly opts: RedisMembersOptions,
  ) {
    this.p = `${opts.prefix}members:`;
    this.nodes = `${this.p}nodes`;
    this.timer = setInterval(() => void this.beat().catch(() => {}), opts.heartbeatMs);
    this.timer.unref();
  }

  /** Marks this node alive and reaps the nodes that are not. Also called at start. */
  async beat(): Promise<void> {
    const now = Date.now();
    await this.r.zadd(this.nodes, now, this.opts.nodeId);
    const dead = await this.r.zrangebyscore(this.nodes, '-inf', now - 3 * this.opts.heartbeatMs);
    for (const node of dead) if (node !== this.opts.nodeId) await this.reap(node);
  }

  async join(channel: string, user: string, info: string): Promise<boolean> {
    const n = await this.r.eval(JOIN, 3, this.counts(channel), this.infos(channel), this.own(), user, info, `${channel}\n${user}`);
    return Number(n) === 1;
  }

  async leave(channel: string, user: string): Promise<boolean> {
    const n = await this.r.eval(LEAVE, 3, this.counts(channel), this.infos(channel), this.own(), user, '', `${channel}\n${user}`);
    return Number(n) === 0;
  }

  async list(channel: string): Promise<Map<string, string>> {
    const [counts, infos] = await Promise.all([this.r.hgetall(this.counts(channel)), this.r.hgetall(this.infos(channel))]);
    const out = new Map<string, string>();
    for (const [user, n] of Object.entries(counts)) if (Number(n) > 0) out.set(user, infos[user] ?? 'null');
    return out;
  }

  count(channel: string): Promise<number> {
    return this.r.hlen(this.counts(channel));
  }

  async has(channel: string, user: string): Promise<boolean> {
    return Number(await this.r.hget(this.counts(channel), user)) > 0;
  }

  onVanished(handler: (channel: string, user: string) => void): void {
    this.handlers.push(handler);
  }

  /** Leaving cleanly: this node's remaining sockets stop counting at once, and their members are reported here. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reap(this.opts.nodeId).catch(() => {});
  }

  private async reap(node: string): Promise<void> {
    const gone = (await this.r.eval(REAP, 2, this.nodes, `${this.p}n:${node}`, this.p, node)) as string[];
    if (gone.length > 0) this.opts.log.info({ node, members: gone.length }, 'presence: removed the members of a node that stopped');
    for (const field of gone) {
      const cut = field.indexOf('\n');
      for (const h of this.handlers) h(field.slice(0, cut), field.slice(cut + 1));
    }
  }

  private counts(channel: string): string {
    return `${this.p}c:${channel}`;
  }

  private infos(channel: string): string {
    return `${this.p}i:${channel}`;
  }

  private own(): string {
    return `${this.p}n:${this.opts.nodeId}`;
  }
}
