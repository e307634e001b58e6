import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { MemoryMembers } from '../../src/presence/members.ts';
import { RedisMembers } from '../../src/presence/redis-members.ts';
import { dropKeysAndQuit, REDIS_URL } from '../helpers/redis.ts';
import { membersContract } from './members.contract.ts';

membersContract('memory', { create: () => Promise.resolve(new MemoryMembers()) });

const conns: Redis[] = [];
const run = randomBytes(4).toString('hex');
const heartbeatMs = 60_000;
const nodeOf = new Map<RedisMembers, { r: Redis; prefix: string; nodeId: string }>();
membersContract('redis', {
  async create(cluster) {
    const r = new Redis(REDIS_URL);
    conns.push(r);
    const opts = { prefix: `herald-test:${run}:${cluster}:`, nodeId: randomBytes(4).toString('hex'), heartbeatMs, log: pino({ level: 'silent' }) };
    const m = new RedisMembers(r, opts);
    nodeOf.set(m, { r, prefix: opts.prefix, nodeId: opts.nodeId });
    await m.beat();
    return m;
  },
  // A crash is a heartbeat that stopped: the node's mark is made older than three heartbeats, and the survivor's
  // next beat reaps it.
  async crash(dead, survivor) {
    const d = nodeOf.get(dead as RedisMembers)!;
    await d.r.zadd(`${d.prefix}members:nodes`, Date.now() - 4 * heartbeatMs, d.nodeId);
    await (survivor as RedisMembers).beat();
  },
});
after(() => dropKeysAndQuit(conns, `herald-test:${run}:*`));
