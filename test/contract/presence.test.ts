import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryPresence } from '../../src/presence/memory.ts';
import { RedisPresence } from '../../src/presence/redis.ts';
import { dropKeysAndQuit, REDIS_URL } from '../helpers/redis.ts';
import { presenceContract } from './presence.contract.ts';

presenceContract('memory', { create: (hub) => Promise.resolve(new MemoryPresence(hub)), multiNode: false });

const conns: Redis[] = [];
const run = randomBytes(4).toString('hex');
presenceContract('redis', {
  multiNode: true,
  async create(hub, cluster) {
    const r = new Redis(REDIS_URL);
    conns.push(r);
    const p = new RedisPresence(r, hub, { prefix: `herald-test:${run}:${cluster}:`, nodeId: randomBytes(4).toString('hex'), heartbeatMs: 60_000 });
    await p.beat();
    return p;
  },
});
after(() => dropKeysAndQuit(conns, `herald-test:${run}:*`));
