import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryBroker } from '../../src/broker/memory.ts';
import { RedisBroker } from '../../src/broker/redis.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { brokerContract } from './broker.contract.ts';

brokerContract('memory', { create: () => Promise.resolve(new MemoryBroker()), multiNode: false });

const conns: Redis[] = [];
brokerContract('redis', {
  multiNode: true,
  create(cluster) {
    const pub = new Redis(REDIS_URL);
    const sub = new Redis(REDIS_URL);
    conns.push(pub, sub);
    return Promise.resolve(new RedisBroker(pub, sub, `herald-test:${cluster}:`, randomBytes(4).toString('hex'), pino({ level: 'silent' })));
  },
});
after(() => Promise.all(conns.map((c) => c.quit())));
