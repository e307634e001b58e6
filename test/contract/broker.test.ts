import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryBroker } from '../../src/broker/memory.ts';
import { RedisBroker } from '../../src/broker/redis.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { brokerContract } from './broker.contract.ts';

const retentionFor = () => ({ maxCount: 1000, maxAgeMs: 3_600_000 });

brokerContract('memory', { create: () => Promise.resolve({ broker: new MemoryBroker(), store: new MemoryStore(retentionFor) }), multiNode: false });

const conns: Redis[] = [];
function redisNode(cluster: string, announce = true): { broker: RedisBroker; store: RedisStore; main: Redis } {
  const main = new Redis(REDIS_URL);
  const sub = new Redis(REDIS_URL);
  conns.push(main, sub);
  const prefix = `herald-test:${cluster}:`;
  const store = new RedisStore(main, announce ? { prefix, retentionFor, announce: `${prefix}m:` } : { prefix, retentionFor });
  return { broker: new RedisBroker(sub, store, `${prefix}m:`, pino({ level: 'silent' })), store, main };
}

brokerContract('redis', { multiNode: true, create: (cluster) => Promise.resolve(redisNode(cluster)) });

describe('Redis broker: what pub/sub loses or repeats', () => {
  it('reads entries whose announcement never came from the store, in order, and drops a repeated announcement', async () => {
    const cluster = `c${Math.random()}`;
    const node = redisNode(cluster);
    const silent = redisNode(cluster, false);
    const got: Envelope[] = [];
    let wake = (): void => undefined;
    await node.broker.start((_t, env) => {
      got.push(env);
      wake();
    });
    await node.broker.watch('user:x');
    await node.store.append('user:x', '"1"');
    // 2 and 3 are stored without being announced (as when the subscriber was away), then 4 is announced.
    await silent.store.append('user:x', '"2"');
    await silent.store.append('user:x', '"3"', 'ev');
    await node.store.append('user:x', '"4"');
    const received = (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => void (got.length >= n && resolve());
        wake();
      });
    await received(4);
    assert.deepEqual(
      got.map((e) => [e.offset, e.data, e.event]),
      [
        [1, '"1"', undefined],
        [2, '"2"', undefined],
        [3, '"3"', 'ev'],
        [4, '"4"', undefined],
      ],
    );
    // A repeat of an old announcement (as a duplicated delivery would be) is dropped; the next one passes.
    await node.main.publish(`herald-test:${cluster}:m:{user:x}`, `2:${got[0]!.epoch}:0:"again"`);
    await node.store.append('user:x', '"5"');
    await received(5);
    assert.deepEqual(
      got.map((e) => e.offset),
      [1, 2, 3, 4, 5],
    );
    await node.broker.close();
  });
});

after(() => Promise.all(conns.map((c) => c.quit())));
