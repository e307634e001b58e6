import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { userStream } from '../domain/streams.ts';
import {
  provisionalResult,
  RecordExists,
  type AppendItem,
  type AppendRecord,
  type AppendResult,
  type Position,
  type RetentionPolicy,
  type Store,
  type StoredMessage,
  type StreamPosition,
} from './store.ts';

// Key layout: everything of one stream shares the hash tag `{<stream>}`, so on a Redis Cluster it lives in one hash
// slot and one script reaches all of it (on one server the braces are only characters):
//   <prefix>{<stream>}        hash: `e` epoch, `t` top (the counter that assigns offsets), `a` a user's ack,
//                             `f` the fenced top under the failover fence (store/fenced.ts: what readers may see)
//   <prefix>{<stream>}:h      Stream, entry ID `<offset>-0`, so a resume is one XRANGE from the client's offset
//   <prefix>{<stream>}:i:<k>  the idempotency record of the part of a keyed publish that went to this stream
//   <prefix>idem:<k>          a keyed publish's full result (remember/recall)
// The epoch is per stream: if a stream's keys are lost (Redis lost its data), its next append or position starts a
// new epoch and that stream's clients are told `recovered: false`; the other streams keep theirs.

// KEYS: per distinct stream its hash and its Stream, then (when ARGV[6] is a ttl) the record key. ARGV: fresh epoch,
// now, n, announce prefix ('' = none), publish command, record ttl ('' = none), fenced ('1' or ''), then per item
// the index of its stream's hash in KEYS, stream, data, event ('' = none), maxCount, exclude ('' = none; announced,
// never stored). Fenced (store/fenced.ts): a stream's hash gets its fenced top `f` (what readers may see) when it has
// none, at the offset before this append; the fence raises it once replicas hold the entries (MARK).
// Returns {offset1, epoch1, offset2, epoch2, ...}, or {'=', remembered value} without appending when the record is
// remembered and not expired: the check is inside the script, so a retry on another node, or a script the client
// library re-sends after a reconnect, cannot store the messages twice.
// With an announce prefix, each entry is also published on `<announce>{<stream>}` inside the script (SPUBLISH on a
// Cluster: the channel is in the stream's slot, so only that shard carries it): Redis runs a shard's scripts one at
// a time, so every subscriber receives a stream's entries in offset order, whichever node appended them
// (docs/guarantees.md, "Across nodes"). The payload is `<offset>:<epoch>:<exclude>:<event bytes>:<event><data>`.
const APPEND = `
local fresh, now, n, announce, pub, ttl, fenced = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if ttl ~= '' then
  local known = redis.call('GET', KEYS[#KEYS])
  if known then
    local bar = string.find(known, '|', 1, true)
    if bar and tonumber(string.sub(known, 1, bar - 1)) > tonumber(now) then return {'=', string.sub(known, bar + 1)} end
  end
end
local out = {}
local epochs = {}
local streams = {}
for i = 0, n - 1 do
  local at = 8 + i * 6
  local k = tonumber(ARGV[at])
  local stream, data, ev = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local epoch = epochs[k]
  if not epoch then
    epoch = redis.call('HGET', KEYS[k], 'e')
    if not epoch then redis.call('HSET', KEYS[k], 'e', fresh); epoch = fresh end
    epochs[k] = epoch
  end
  local off = redis.call('HINCRBY', KEYS[k], 't', 1)
  if fenced ~= '' then redis.call('HSETNX', KEYS[k], 'f', off - 1) end
  local args = {KEYS[k + 1], 'MAXLEN', '~', ARGV[at + 4], off .. '-0', 'd', data, 't', now}
  if ev ~= '' then table.insert(args, 'e'); table.insert(args, ev) end
  redis.call('XADD', unpack(args))
  if announce ~= '' then redis.call(pub, announce .. '{' .. stream .. '}', off .. ':' .. epoch .. ':' .. ARGV[at + 5] .. ':' .. #ev .. ':' .. ev .. data) end
  out[#out + 1] = off
  out[#out + 1] = epoch
  streams[#streams + 1] = {stream = stream, offset = off, epoch = epoch}
end
if ttl ~= '' then
  redis.call('SET', KEYS[#KEYS], (tonumber(now) + tonumber(ttl)) .. '|' .. cjson.encode(streams), 'PX', ttl)
end
return out`;

// KEYS: the stream's hash, its Stream. ARGV: fresh epoch, minTime, fenced ('1' or ''). Drops entries older than
// minTime (age retention), then returns {epoch, top, first retained offset or top + 1}. Fenced, top is the fenced
// top `f` where the stream has one: entries past it may still be lost in a failover.
const POSITION = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then redis.call('HSET', KEYS[1], 'e', ARGV[1]); epoch = ARGV[1] end
local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if ARGV[3] ~= '' then
  local f = redis.call('HGET', KEYS[1], 'f')
  if f and tonumber(f) < top then top = tonumber(f) end
end
local minTime = tonumber(ARGV[2])
while true do
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if #head == 0 then return {epoch, top, top + 1} end
  local id = head[1][1]
  local fields = head[1][2]
  local t = 0
  for i = 1, #fields, 2 do if fields[i] == 't' then t = tonumber(fields[i + 1]) end end
  if t >= minTime then return {epoch, top, tonumber(string.match(id, '^(%d+)'))} end
  redis.call('XDEL', KEYS[2], id)
end`;

// KEYS: the stream's hash. ARGV: channel, payload, offset, publish command. The failover fence's announcement of an
// entry replicas hold: raises the stream's fenced top to it (never lowers it), then publishes it.
const MARK = `
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if tonumber(ARGV[3]) > f then redis.call('HSET', KEYS[1], 'f', ARGV[3]) end
return redis.call(ARGV[4], ARGV[1], ARGV[2])`;

// KEYS: the user stream's hash. ARGV: offset, epoch. Moves forward only (or to a new epoch).
const SET_ACK = `
local cur = redis.call('HGET', KEYS[1], 'a')
if cur then
  local off, ep = string.match(cur, '^(%d+) (.*)$')
  if ep == ARGV[2] and tonumber(off) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('HSET', KEYS[1], 'a', ARGV[1] .. ' ' .. ARGV[2])
return 1`;

type Commands = {
  heraldAppend(...keysThenArgs: (string | number)[]): Promise<(string | number)[]>;
  heraldPosition(hash: string, history: string, fresh: string, minTime: number, fenced: string): Promise<[string, number, number]>;
  heraldMark(hash: string, channel: string, payload: string, offset: number, pub: string): Promise<unknown>;
  heraldSetAck(hash: string, offset: number, epoch: string): Promise<number>;
};

/**
 * The pub/sub channel a stream's entries are announced on: in the stream's own hash slot, so on a Cluster a sharded
 * channel is carried by the shard that owns the stream only. Read by the broker, written by the append script (and
 * by the failover fence, store/fenced.ts, which announces after WAIT).
 */
export function announceChannel(announce: string, stream: string): string {
  return `${announce}{${stream}}`;
}

export interface RedisStoreOptions {
  /** Key prefix, so several Herald installations (or tests) can share one Redis. */
  prefix: string;
  retentionFor: (stream: string) => RetentionPolicy;
  /**
   * Channel prefix to announce every appended entry on (see APPEND), for the broker's subscribers; without it
   * nothing is published.
   */
  announce?: string;
  /**
   * Under the failover fence (store/fenced.ts): `append` gives each stream a fenced top, `read` stops at it, so
   * readers (resumes, a node catching up) never see an entry whose replicas have not confirmed it.
   */
  fenced?: 'append' | 'read';
}

/** One script call: the items of one slot (on a Cluster, one stream; on one server, all of them). */
interface Part {
  items: AppendItem[];
  /** Each item's index in the caller's list. */
  at: number[];
}

/** History, inbox positions and idempotency records in Redis: what lets any node resume any client. */
export class RedisStore implements Store {
  /** Redis persistence is Redis's configuration (AOF/RDB); Herald's part is one atomic script per publish and slot. */
  readonly durability = 'process-crash' as const;
  private readonly r: (Redis | Cluster) & Commands;
  private readonly fresh = randomBytes(6).toString('hex');
  private readonly cluster: boolean;

  constructor(
    redis: Redis | Cluster,
    private readonly opts: RedisStoreOptions,
  ) {
    // The script's number of keys varies with the number of streams, so it is given with each call (`numberOfKeys`
    // undefined): ioredis still routes it by its keys and falls back from EVALSHA to EVAL on a node that lacks it.
    redis.defineCommand('heraldAppend', { lua: APPEND });
    redis.defineCommand('heraldPosition', { numberOfKeys: 2, lua: POSITION });
    redis.defineCommand('heraldSetAck', { numberOfKeys: 1, lua: SET_ACK });
    redis.defineCommand('heraldMark', { numberOfKeys: 1, lua: MARK });
    this.r = redis as (Redis | Cluster) & Commands;
    this.cluster = redis.isCluster;
  }

  private meta(stream: string): string {
    return `${this.opts.prefix}{${stream}}`;
  }

  async append(stream: string, data: string, event?: string): Promise<AppendResult> {
    const [r] = await this.appendAll([event === undefined ? { stream, data } : { stream, data, event }]);
    return r!;
  }

  /**
   * On one server, one script for everything: all or nothing. On a Cluster, a script can only reach one slot, so
   * the items go as one script per stream, each atomic with its own part of the record: a publish to several
   * streams that failed half-way has stored some parts, and its retry (same key) stores the rest while each stored
   * part answers the offsets it remembers, so no part is stored twice.
   */
  async appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    const parts = this.partsOf(items);
    const results: AppendResult[] = new Array<AppendResult>(items.length);
    const remembered = await Promise.all(parts.map((p) => this.appendPart(p, record, results)));
    if (record === undefined) return results;
    if (remembered.every(Boolean)) {
      // Every part was stored before: this is a retry of a publish that completed. Its full result, if recorded.
      throw new RecordExists((await this.recall(record.key)) ?? provisionalResult(items, results));
    }
    await this.r.set(this.key('idem:', record.key), `${Date.now() + record.ttlMs}|${provisionalResult(items, results)}`, 'PX', record.ttlMs);
    return results;
  }

  private partsOf(items: readonly AppendItem[]): Part[] {
    if (!this.cluster) return [{ items: [...items], at: items.map((_, i) => i) }];
    const byStream = new Map<string, Part>();
    items.forEach((item, i) => {
      let p = byStream.get(item.stream);
      if (p === undefined) byStream.set(item.stream, (p = { items: [], at: [] }));
      p.items.push(item);
      p.at.push(i);
    });
    return [...byStream.values()];
  }

  /** Runs one part's script, fills its results; true when the part's record was already remembered. */
  private async appendPart(part: Part, record: AppendRecord | undefined, results: AppendResult[]): Promise<boolean> {
    const keys: string[] = [];
    const keyAt = new Map<string, number>();
    const args: (string | number)[] = [
      this.fresh,
      Date.now(),
      part.items.length,
      this.opts.announce ?? '',
      this.cluster ? 'SPUBLISH' : 'PUBLISH',
      record?.ttlMs ?? '',
      this.opts.fenced === 'append' ? '1' : '',
    ];
    for (const i of part.items) {
      let k = keyAt.get(i.stream);
      if (k === undefined) {
        keys.push(this.meta(i.stream), `${this.meta(i.stream)}:h`);
        keyAt.set(i.stream, (k = keys.length - 1));
      }
      args.push(k, i.stream, i.data, i.event ?? '', this.opts.retentionFor(i.stream).maxCount, i.exclude ?? '');
    }
    // The record of this part lives in the slot of its first stream (on one server: the only part).
    if (record !== undefined) keys.push(`${this.meta(part.items[0]!.stream)}:i:${record.key}`);
    const out = await this.r.heraldAppend(keys.length, ...keys, ...args);
    if (out[0] === '=') {
      const known = JSON.parse(String(out[1])) as { offset: number; epoch: string }[];
      part.at.forEach((at, j) => (results[at] = { offset: Number(known[j]?.offset ?? 0), epoch: String(known[j]?.epoch ?? '') }));
      return true;
    }
    part.at.forEach((at, j) => (results[at] = { offset: Number(out[2 * j]), epoch: String(out[2 * j + 1]) }));
    return false;
  }

  async read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    const p = this.opts.retentionFor(stream);
    const [t, f] = await this.r.hmget(this.meta(stream), 't', 'f');
    const top = Number(t ?? 0);
    const minTime = Date.now() - p.maxAgeMs;
    const from = Math.max(after, top - p.maxCount);
    const upTo = this.opts.fenced === 'read' && f !== null ? `${f}-0` : '+';
    const rows = await this.r.xrange(`${this.meta(stream)}:h`, `${from + 1}-0`, upTo, 'COUNT', limit);
    const out: StoredMessage[] = [];
    for (const [id, fields] of rows) {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const time = Number(f.t);
      if (time < minTime) continue;
      const m: StoredMessage = { offset: Number(id.split('-')[0]), data: f.d ?? 'null', time };
      if (f.e !== undefined) m.event = f.e;
      out.push(m);
    }
    return out;
  }

  async position(stream: string): Promise<StreamPosition> {
    const p = this.opts.retentionFor(stream);
    const fenced = this.opts.fenced === 'read' ? '1' : '';
    const [epoch, t, first] = await this.r.heraldPosition(this.meta(stream), `${this.meta(stream)}:h`, this.fresh, Date.now() - p.maxAgeMs, fenced);
    const top = Number(t);
    return { epoch: String(epoch), top, first: Math.min(Math.max(Number(first), top - p.maxCount + 1), top + 1) };
  }

  /** The failover fence's announcement of an entry its replicas hold: raises the stream's fenced top, publishes. */
  async announceFenced(stream: string, offset: number, payload: string): Promise<void> {
    const channel = announceChannel(this.opts.announce ?? '', stream);
    await this.r.heraldMark(this.meta(stream), channel, payload, offset, this.cluster ? 'SPUBLISH' : 'PUBLISH');
  }

  // A user's ack sits in the hash of the user's stream, whose epoch it names.
  async getAck(user: string): Promise<Position | undefined> {
    const v = await this.r.hget(this.meta(userStream(user)), 'a');
    if (v === null) return undefined;
    const sp = v.indexOf(' ');
    return { offset: Number(v.slice(0, sp)), epoch: v.slice(sp + 1) };
  }

  async setAck(user: string, pos: Position): Promise<void> {
    await this.r.heraldSetAck(this.meta(userStream(user)), pos.offset, pos.epoch);
  }

  // Values carry their own expiry (`<ms>|<value>`), checked against Herald's clock like the other stores; Redis's
  // PX only reclaims the space.
  async recall(key: string): Promise<string | undefined> {
    const v = await this.r.get(this.key('idem:', key));
    if (v === null) return undefined;
    const bar = v.indexOf('|');
    return Number(v.slice(0, bar)) > Date.now() ? v.slice(bar + 1) : undefined;
  }

  async remember(key: string, value: string, ttlMs: number): Promise<void> {
    await this.r.set(this.key('idem:', key), `${Date.now() + ttlMs}|${value}`, 'PX', ttlMs);
  }

  private key(kind: string, name: string): string {
    return `${this.opts.prefix}${kind}${name}`;
  }

  /** The connection belongs to the composition root, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
