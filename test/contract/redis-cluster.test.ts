import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Cluster, type ClusterOptions } from 'ioredis';
import { pino } from 'pino';
import { RedisBroker } from '../../src/broker/redis.ts';
import { RedisPresence } from '../../src/presence/redis.ts';
import { clusterRoute } from '../../src/cluster/fence-route.ts';
import { FencedStore } from '../../src/store/fenced.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { RecordExists, type RetentionPolicy } from '../../src/store/store.ts';
import { startRedisCluster, type OwnRedisCluster } from '../helpers/redis-cluster.ts';
import { brokerContract } from './broker.contract.ts';
import { membersContract, redisMembersFactory } from './members.contract.ts';
import { presenceContract } from './presence.contract.ts';
import { storeContract } from './store.contract.ts';

// The Store, Broker, Presence and Members contracts against the Redis implementations on a real Redis Cluster
// (3 masters, 3 replicas, started here once for the whole file): the same suites the single server passes.
let started: Promise<OwnRedisCluster> | undefined;
const cluster = () => (started ??= startRedisCluster());
const conns: Cluster[] = [];
async function connect(options: ClusterOptions = {}): Promise<Cluster> {
  const c = new Cluster(
    (await cluster()).nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    options,
  );
  conns.push(c);
  return c;
}
const run = randomBytes(4).toString('hex');
const silent = pino({ level: 'silent' });

const prefixes = new WeakMap<object, string>();
const store = async (prefix: string, retention: (s: string) => RetentionPolicy) => {
  const s = new RedisStore(await connect(), { prefix, retentionFor: retention });
  prefixes.set(s, prefix);
  return s;
};
storeContract('redis cluster', {
  create: (retention) => store(`t${run}:${randomBytes(6).toString('hex')}:`, retention),
  reopen: (s, retention) => store(prefixes.get(s)!, retention),
});

// The failover fence on the Cluster (store/fenced.ts over cluster/fence-route.ts): appends on a writer Cluster of
// their own, WAIT 1 on the connection to each stream's master, announced with SPUBLISH once replicated.
async function ready(c: Cluster): Promise<Cluster> {
  if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
  return c;
}
const fenced = async (prefix: string, retention: (s: string) => RetentionPolicy) => {
  const [writer, main] = [await ready(await connect()), await ready(await connect())];
  const s = new FencedStore(
    new RedisStore(writer, { prefix, retentionFor: retention, fenced: 'append' }),
    new RedisStore(main, { prefix, retentionFor: retention, announce: `${prefix}m:`, fenced: 'read' }),
    clusterRoute(writer, prefix),
    { replicas: 1, timeoutMs: 2000 },
  );
  prefixes.set(s, prefix);
  return s;
};
storeContract('redis cluster, fenced (WAIT 1)', {
  create: (retention) => fenced(`t${run}:${randomBytes(6).toString('hex')}:`, retention),
  reopen: (s, retention) => fenced(prefixes.get(s)!, retention),
});

const retentionFor = () => ({ maxCount: 1000, maxAgeMs: 3_600_000 });
brokerContract('redis cluster', {
  multiNode: true,
  async create(name) {
    const prefix = `t${run}:${name}:`;
    const s = new RedisStore(await connect(), { prefix, retentionFor, announce: `${prefix}m:` });
    return { store: s, broker: new RedisBroker(await connect({ shardedSubscribers: true }), s, `${prefix}m:`, silent) };
  },
});

brokerContract('redis cluster, fenced (WAIT 1)', {
  multiNode: true,
  async create(name) {
    const prefix = `t${run}:f${name}:`;
    const s = await fenced(prefix, retentionFor);
    return { store: s, broker: new RedisBroker(await connect({ shardedSubscribers: true }), s, `${prefix}m:`, silent) };
  },
});

presenceContract('redis cluster', {
  multiNode: true,
  async create(hub, name) {
    const p = new RedisPresence(await connect(), hub, { prefix: `t${run}:${name}:`, nodeId: randomBytes(4).toString('hex'), heartbeatMs: 60_000 });
    await p.beat();
    return p;
  },
});

membersContract(
  'redis cluster',
  redisMembersFactory(connect, (name) => `t${run}:${name}:`),
);

describe('Redis store on a Cluster: a publish to several streams is one script per stream', () => {
  it('a retry of a half-applied keyed publish stores only the missing parts; the stored part answers its offset', async () => {
    const s = await store(`t${run}:${randomBytes(6).toString('hex')}:`, () => ({ maxCount: 100, maxAgeMs: 3_600_000 }));
    const items = [
      { stream: 'user:a', data: '"x"' },
      { stream: 'user:b', data: '"x"' },
      { stream: 'channel:c', data: '"x"' },
    ];
    await s.append('user:b', '"before"');
    // The first attempt reached one stream only (its other scripts failed with the shard they ran on).
    const [first] = await s.appendAll([items[0]!], { key: 'k', ttlMs: 60_000 });
    const retry = await s.appendAll(items, { key: 'k', ttlMs: 60_000 });
    assert.deepEqual(
      retry.map((r) => r.offset),
      [first!.offset, 2, 1],
    );
    assert.equal((await s.position('user:a')).top, 1, 'the stored part was not stored again');
    // Once every part is stored, a further retry is refused with the whole publish's record.
    const again = await s.appendAll(items, { key: 'k', ttlMs: 60_000 }).catch((err: unknown) => err);
    assert.ok(again instanceof RecordExists);
    assert.deepEqual(
      (JSON.parse(again.value) as { streams: { offset: number }[] }).streams.map((x) => x.offset),
      [1, 2, 1],
    );
    for (const stream of ['user:a', 'user:b', 'channel:c']) assert.equal((await s.read(stream, 0, 10)).filter((m) => m.data === '"x"').length, 1, stream);
  });
});

after(async () => {
  for (const c of conns) c.disconnect();
  await (await started)?.close();
});
