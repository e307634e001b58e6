import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Members } from './members.ts';

export interface RedisMembersOptions {
  prefix: string;
  nodeId: string;
  /** How often this node marks itself alive; a node silent for 3 intervals is dead and its sockets are removed. */
  heartbeatMs: number;
  log: Logger;
}

// Keys: per channel (hash tag `{<channel>}`, one slot on a Cluster) `c` (user -> sockets), `i` (user -> info) and
// `n:<node>` (that node's sockets by user); per node (tag `{<node>}`) the set of channels it has sockets in, which
// is how a reaper finds them; `nodes`, the heartbeats. Every script touches one channel's keys only.

// KEYS: counts, infos, this node's sockets in the channel. ARGV: user, info. Returns the user's sockets across the
// cluster after the join.
const JOIN = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
if n == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return n`;

// Same keys as JOIN, ARGV: user. Returns the sockets left (0: the user's last one left, and the member is gone), or
// -1 when the user was no member (a leave too many changes nothing).
const LEAVE = `
if not redis.call('HGET', KEYS[1], ARGV[1]) then return -1 end
if redis.call('HINCRBY', KEYS[3], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[1]); return 0 end
return n`;

// KEYS: counts, infos, the dead node's sockets in the channel. Subtracts them and returns the users left with none.
const REAP = `
local gone = {}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local user = all[i]
  local n = redis.call('HINCRBY', KEYS[1], user, -tonumber(all[i + 1]))
  if n <= 0 then
    redis.call('HDEL', KEYS[1], user)
    redis.call('HDEL', KEYS[2], user)
    gone[#gone + 1] = user
  end
end
redis.call('DEL', KEYS[3])
return gone`;

/**
 * Presence members in Redis: per channel, one hash of socket counts by user and one of infos, changed atomically
 * by scripts, so "first socket" and "last socket" are decided once for the whole cluster. Each node also counts
 * its own sockets per channel and lists the channels it has sockets in, and marks itself alive in a sorted set; a
 * node that stops doing so for three heartbeats is reaped by whichever node notices first (ZREM decides which):
 * its sockets are subtracted channel by channel and the members left with none are reported to that node's
 * `onVanished` handlers.
 */
export class RedisMembers implements Members {
  private readonly handlers: ((channel: string, user: string) => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly p: string;
  private readonly nodes: string;
  /** This node's sockets per channel: the first one adds the channel to the node's list, the last removes it. */
  private readonly mine = new Map<string, number>();

  constructor(
    private readonly r: Redis | Cluster,
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
    const had = this.mine.get(channel) ?? 0;
    this.mine.set(channel, had + 1);
    // Listed before the socket counts, so a reaper that finds the counts also finds the channel.
    if (had === 0) await this.r.sadd(this.channelsOf(this.opts.nodeId), channel);
    const n = await this.r.eval(JOIN, 3, this.counts(channel), this.infos(channel), this.socketsOf(channel, this.opts.nodeId), user, info);
    return Number(n) === 1;
  }

  async leave(channel: string, user: string): Promise<boolean> {
    const n = Number(await this.r.eval(LEAVE, 3, this.counts(channel), this.infos(channel), this.socketsOf(channel, this.opts.nodeId), user));
    if (n >= 0) {
      const left = (this.mine.get(channel) ?? 1) - 1;
      if (left > 0) this.mine.set(channel, left);
      else {
        this.mine.delete(channel);
        await this.r.srem(this.channelsOf(this.opts.nodeId), channel);
      }
    }
    return n === 0;
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
    if ((await this.r.zrem(this.nodes, node)) === 0) return;
    let count = 0;
    for (const channel of await this.r.smembers(this.channelsOf(node))) {
      const gone = (await this.r.eval(REAP, 3, this.counts(channel), this.infos(channel), this.socketsOf(channel, node))) as string[];
      count += gone.length;
      for (const user of gone) for (const h of this.handlers) h(channel, user);
    }
    await this.r.del(this.channelsOf(node));
    if (node === this.opts.nodeId) this.mine.clear();
    if (count > 0) this.opts.log.info({ node, members: count }, 'presence: removed the members of a node that stopped');
  }

  private counts(channel: string): string {
    return `${this.p}{${channel}}:c`;
  }

  private infos(channel: string): string {
    return `${this.p}{${channel}}:i`;
  }

  private socketsOf(channel: string, node: string): string {
    return `${this.p}{${channel}}:n:${node}`;
  }

  private channelsOf(node: string): string {
    return `${this.p}node:{${node}}`;
  }
}
