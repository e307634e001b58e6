import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
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

// Each stream is a Redis Stream whose entry IDs are `<offset>-0`, so a resume is one XRANGE from the client's
// offset; the counter `top:<stream>` and the XADD run in one script, so offsets are atomic across nodes. The epoch
// is one key: if Redis loses its data, the key is gone, a new epoch starts, and clients are told `recovered: false`.

const ENSURE_EPOCH = `
local e = redis.call('GET', KEYS[1])
if not e then redis.call('SET', KEYS[1], ARGV[1]); e = ARGV[1] end
return e`;

// KEYS[1] = epoch key. ARGV: prefix, fresh epoch, now, n, announce prefix ('' = none), then per item stream, data,
// event ('' = none), maxCount, exclude ('' = none; announced, never stored); then optionally record key and ttl. Returns {epoch, offset1, offset2, ...}, or
// {'=', remembered value} without appending when the record's key is already remembered and not expired: the check
// is inside the script, so a retry on another node, or a script the client library re-sends after a reconnect,
// cannot store the messages twice.
// With an announce prefix, each entry is also PUBLISHed to `<announce><stream>` inside the script: Redis runs
// scripts one at a time, so every subscriber receives a stream's entries in offset order, whichever node
// appended them (docs/guarantees.md, "Across nodes"). The payload is
// `<offset>:<epoch>:<exclude>:<event bytes>:<event><data>` (exclude: a connection id the live delivery skips, or '').
const APPEND = `
local p = ARGV[1]
local epoch = redis.call('GET', KEYS[1])
if not epoch then redis.call('SET', KEYS[1], ARGV[2]); epoch = ARGV[2] end
local now = ARGV[3]
local n = tonumber(ARGV[4])
local announce = ARGV[5]
local rk = ARGV[6 + n * 5]
if rk then
  local known = redis.call('GET', p .. 'idem:' .. rk)
  if known then
    local bar = string.find(known, '|', 1, true)
    if bar and tonumber(string.sub(known, 1, bar - 1)) > tonumber(now) then return {'=', string.sub(known, bar + 1)} end
  end
end
local out = {epoch}
local streams = {}
for i = 0, n - 1 do
  local stream = ARGV[6 + i * 5]
  local data = ARGV[7 + i * 5]
  local ev = ARGV[8 + i * 5]
  local off = redis.call('INCR', p .. 'top:' .. stream)
  local args = {p .. 'h:' .. stream, 'MAXLEN', '~', ARGV[9 + i * 5], off .. '-0', 'd', data, 't', now}
  if ev ~= '' then table.insert(args, 'e'); table.insert(args, ev) end
  redis.call('XADD', unpack(args))
  if announce ~= '' then redis.call('PUBLISH', announce .. stream, off .. ':' .. epoch .. ':' .. ARGV[10 + i * 5] .. ':' .. #ev .. ':' .. ev .. data) end
  out[#out + 1] = off
  streams[#streams + 1] = {stream = stream, offset = off, epoch = epoch}
end
if rk then
  local ttl = tonumber(ARGV[7 + n * 5])
  redis.call('SET', p .. 'idem:' .. rk, (tonumber(now) + ttl) .. '|' .. cjson.encode({delivered = 0, streams = streams, status = 'stored'}), 'PX', ttl)
end
return out`;

// KEYS: epoch, top, stream. ARGV: fresh epoch, minTime. Drops entries older than minTime (age retention), then
// returns {epoch, top, first retained offset or top + 1}.
const POSITION = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then redis.call('SET', KEYS[1], ARGV[1]); epoch = ARGV[1] end
local top = tonumber(redis.call('GET', KEYS[2]) or '0')
local minTime = tonumber(ARGV[2])
while true do
  local head = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
  if #head == 0 then return {epoch, top, top + 1} end
  local id = head[1][1]
  local fields = head[1][2]
  local t = 0
  for i = 1, #fields, 2 do if fields[i] == 't' then t = tonumber(fields[i + 1]) end end
  if t >= minTime then return {epoch, top, tonumber(string.match(id, '^(%d+)'))} end
  redis.call('XDEL', KEYS[3], id)
end`;

// KEYS: acks hash. ARGV: user, offset, epoch. Moves forward only (or to a new epoch).
const SET_ACK = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local off, ep = string.match(cur, '^(%d+) (.*)$')
  if ep == ARGV[3] and tonumber(off) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return 1`;

type Commands = {
  heraldEnsureEpoch(key: string, fresh: string): Promise<string>;
  heraldAppend(key: string, ...args: (string | number)[]): Promise<(string | number)[]>;
  heraldPosition(epochKey: string, topKey: string, streamKey: string, fresh: string, minTime: number): Promise<[string, number, number]>;
  heraldSetAck(key: string, user: string, offset: number, epoch: string): Promise<number>;
};

export interface RedisStoreOptions {
  /** Key prefix, so several Herald installations (or tests) can share one Redis. */
  prefix: string;
  retentionFor: (stream: string) => RetentionPolicy;
  /**
   * Channel prefix to announce every appended entry on (see APPEND), for the broker's subscribers; without it
   * nothing is published.
   */
  announce?: string;
}

/** History, inbox positions and idempotency records in Redis: what lets any node resume any client. */
export class RedisStore implements Store {
  /** Redis persistence is Redis's configuration (AOF/RDB); Herald's part is one atomic script per publish. */
  readonly durability = 'process-crash' as const;
  private readonly r: Redis & Commands;
  private readonly fresh = randomBytes(6).toString('hex');

  constructor(
    redis: Redis,
    private readonly opts: RedisStoreOptions,
  ) {
    redis.defineCommand('heraldEnsureEpoch', { numberOfKeys: 1, lua: ENSURE_EPOCH });
    redis.defineCommand('heraldAppend', { numberOfKeys: 1, lua: APPEND });
    redis.defineCommand('heraldPosition', { numberOfKeys: 3, lua: POSITION });
    redis.defineCommand('heraldSetAck', { numberOfKeys: 1, lua: SET_ACK });
    this.r = redis as Redis & Commands;
  }

  private key(kind: string, name = ''): string {
    return `${this.opts.prefix}${kind}${name}`;
  }

  async append(stream: string, data: string, event?: string): Promise<AppendResult> {
    const [r] = await this.appendAll([event === undefined ? { stream, data } : { stream, data, event }]);
    return r!;
  }

  async appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    const args: (string | number)[] = [this.opts.prefix, this.fresh, Date.now(), items.length, this.opts.announce ?? ''];
    for (const i of items) args.push(i.stream, i.data, i.event ?? '', this.opts.retentionFor(i.stream).maxCount, i.exclude ?? '');
    if (record !== undefined) args.push(record.key, record.ttlMs);
    const out = await this.r.heraldAppend(this.key('epoch'), ...args);
    const epoch = String(out[0]);
    if (epoch === '=') throw new RecordExists(String(out[1]));
    return out.slice(1).map((o) => ({ offset: Number(o), epoch }));
  }

  async read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    const p = this.opts.retentionFor(stream);
    const top = Number((await this.r.get(this.key('top:', stream))) ?? 0);
    const minTime = Date.now() - p.maxAgeMs;
    const from = Math.max(after, top - p.maxCount);
    const rows = await this.r.xrange(this.key('h:', stream), `${from + 1}-0`, '+', 'COUNT', limit);
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
    const [epoch, top, first] = await this.r.heraldPosition(
      this.key('epoch'),
      this.key('top:', stream),
      this.key('h:', stream),
      this.fresh,
      Date.now() - p.maxAgeMs,
    );
    return { epoch: String(epoch), top: Number(top), first: Math.max(Number(first), Number(top) - p.maxCount + 1) };
  }

  async getAck(user: string): Promise<Position | undefined> {
    const v = await this.r.hget(this.key('acks'), user);
    if (v === null) return undefined;
    const sp = v.indexOf(' ');
    return { offset: Number(v.slice(0, sp)), epoch: v.slice(sp + 1) };
  }

  async setAck(user: string, pos: Position): Promise<void> {
    await this.r.heraldSetAck(this.key('acks'), user, pos.offset, pos.epoch);
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

  /** The connection belongs to the composition root, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
