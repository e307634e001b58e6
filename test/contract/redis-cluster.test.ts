import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Cluster, type ClusterOptions } from 'ioredis';
import { pino } from 'pino';
import { RedisBroker } from '../../src/broker/redis.ts';
import { RedisMembers } from '../../src/presence/redis-members.ts';
import { RedisPresence } from '../../src/presence/redis.ts';
import { RedisStore } from '../../src/store/redis.ts';
import type { RetentionPolicy } from '../../src/store/store.ts';
import { startRedisCluster, type OwnRedisCluster } from '../helpers/redis-cluster.ts';
import { brokerContract } from './broker.contract.ts';
import { membersContract } from './members.contract.ts';
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

const retentionFor = () => ({ maxCount: 1000, maxAgeMs: 3_600_000 });
brokerContract('redis cluster', {
  multiNode: true,
  async create(name) {
    const prefix = `t${run}:${name}:`;
    const s = new RedisStore(await connect(), { prefix, retentionFor, announce: `${prefix}m:` });
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

const heartbeatMs = 60_000;
const nodeOf = new Map<RedisMembers, { r: Cluster; prefix: string; nodeId: string }>();
membersContract('redis cluster', {
  async create(name) {
    const r = await connect();
    const opts = { prefix: `t${run}:${name}:`, nodeId: randomBytes(4).toString('hex'), heartbeatMs, log: silent };
    const m = new RedisMembers(r, opts);
    nodeOf.set(m, { r, prefix: opts.prefix, nodeId: opts.nodeId });
    await m.beat();
    return m;
  },
  async crash(dead, survivor) {
    const d = nodeOf.get(dead as RedisMembers)!;
    await d.r.zadd(`${d.prefix}members:nodes`, Date.now() - 4 * heartbeatMs, d.nodeId);
    await (survivor as RedisMembers).beat();
  },
});

after(async () => {
  for (const c of conns) c.disconnect();
  await (await started)?.close();
});
