// The failover fence (src/store/fenced.ts) on a real master with one replica: it keeps the Store contract, answers
// only once the replica holds an append, refuses (NotReplicated) when the replica does not confirm in time,
// announces an entry to the nodes only once it is acknowledged, also when a retry finds it stored, and shows readers
// nothing past what the replica confirmed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseAnnouncement } from '../../src/broker/redis.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import { FencedStore, singleRoute, NotReplicated } from '../../src/store/fenced.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { RecordExists, type RetentionPolicy } from '../../src/store/store.ts';
import { startReplicaPair, type ReplicaPair } from '../helpers/redis-sentinel.ts';
import { storeContract } from './store.contract.ts';

const pair: ReplicaPair = await startReplicaPair();
const conns: Redis[] = [];
const connect = () => {
  const c = new Redis({ port: pair.masterPort, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  conns.push(c);
  return c;
};
after(async () => {
  await Promise.all(conns.map((c) => c.quit().catch(() => {})));
  await pair.close();
});

const fenced = (prefix: string, retention: (s: string) => RetentionPolicy, timeoutMs = 2000) => {
  const writer = connect();
  const main = connect();
  return new FencedStore(
    new RedisStore(writer, { prefix, retentionFor: retention, fenced: 'append' }),
    new RedisStore(main, { prefix, retentionFor: retention, announce: `${prefix}m:`, fenced: 'read' }),
    singleRoute(writer, prefix),
    { replicas: 1, timeoutMs },
  );
};

const prefixes = new WeakMap<object, string>();
storeContract('redis, fenced (WAIT 1)', {
  create: (retention) => {
    const prefix = `herald-fenced:${randomBytes(6).toString('hex')}:`;
    const s = fenced(prefix, retention);
    prefixes.set(s, prefix);
    return Promise.resolve(s);
  },
  reopen: (store, retention) => {
    const s = fenced(prefixes.get(store)!, retention);
    prefixes.set(s, prefixes.get(store)!);
    return Promise.resolve(s);
  },
});

describe('failover fence', () => {
  const keep = () => ({ maxCount: 1000, maxAgeMs: 3600_000 });
  const prefix = `herald-fenced:${randomBytes(6).toString('hex')}:`;
  const heard: Envelope[] = [];
  let sub: Redis;
  before(async () => {
    sub = connect();
    sub.on('pmessageBuffer', (_p: Buffer, channel: Buffer, msg: Buffer) => {
      // Channels are `<announce>{<stream>}` (store/redis.ts announceChannel).
      const env = parseAnnouncement(channel.toString().slice(`${prefix}m:{`.length, -1), msg);
      if (env !== undefined) heard.push(env);
    });
    await sub.psubscribe(`${prefix}m:*`);
  });

  it('announces each acknowledged entry in the format the broker reads, after the replica holds it', async () => {
    const s = fenced(prefix, keep);
    const [r] = await s.appendAll([{ stream: 'user:a', data: '{"x":"é"}', event: 'ünï', exclude: 'c1' }]);
    // Acknowledged means on the replica already, not in a moment.
    const replica = new Redis({ port: pair.replicaPort, host: '127.0.0.1' });
    conns.push(replica);
    // The stream's offset counter, field `t` of its hash (store/redis.ts).
    assert.equal(await replica.hget(`${prefix}{user:a}`, 't'), String(r!.offset));
    await poll(() => heard.length === 1);
    assert.deepEqual(heard[0], { stream: 'user:a', offset: r!.offset, epoch: r!.epoch, data: '{"x":"é"}', event: 'ünï', exclude: 'c1' });
  });

  it('refuses an append the replica does not confirm in time, announces nothing, and a retry announces it once it is replicated', async () => {
    const s = fenced(prefix, keep, 200);
    heard.length = 0;
    pair.pauseReplica();
    try {
      await assert.rejects(s.appendAll([{ stream: 'user:b', data: '1' }], { key: 'k1', ttlMs: 60_000 }), NotReplicated);
      await assert.rejects(s.appendAll([{ stream: 'user:b', data: '1' }], { key: 'k1', ttlMs: 60_000 }), NotReplicated);
    } finally {
      pair.resumeReplica();
    }
    assert.equal(heard.length, 0, 'nothing announced while unconfirmed');
    await assert.rejects(s.appendAll([{ stream: 'user:b', data: '1' }], { key: 'k1', ttlMs: 60_000 }), RecordExists);
    await poll(() => heard.length === 1);
    assert.equal(heard[0]!.stream, 'user:b');
    assert.equal(heard[0]!.offset, 1);
  });

  it('hides an entry from readers until its replicas confirm it: position and read stop at the fenced top', async () => {
    const s = fenced(prefix, keep, 200);
    await s.append('user:c', '"one"');
    pair.pauseReplica();
    try {
      // Stored on the master, unconfirmed: a resume or a node catching up reading it now could hand out an offset
      // that a failover gives to another message.
      await assert.rejects(s.append('user:c', '"two"'), NotReplicated);
      assert.equal((await s.position('user:c')).top, 1);
      assert.deepEqual(
        (await s.read('user:c', 0, 10)).map((m) => m.data),
        ['"one"'],
      );
    } finally {
      pair.resumeReplica();
    }
    // The next confirmed append raises the fenced top past both (replication is in order).
    await s.append('user:c', '"three"');
    assert.equal((await s.position('user:c')).top, 3);
    assert.deepEqual(
      (await s.read('user:c', 0, 10)).map((m) => m.data),
      ['"one"', '"two"', '"three"'],
    );
  });
});

async function poll(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, 'timed out');
    // Polling a condition with a deadline.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
