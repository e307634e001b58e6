// The dispatcher, the one place that publishes: store first, then the local hub, or, with a broker that delivers
// everything (Redis, several nodes), only a count of local recipients while the broker's copy does the delivering.
// Real stores (memory, SQLite in a temporary directory, Redis), the real hub and brokers; connections are
// RecordingConnections.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Broker } from '../../src/broker/broker.ts';
import { MemoryBroker } from '../../src/broker/memory.ts';
import { RedisBroker } from '../../src/broker/redis.ts';
import type { Envelope, Target } from '../../src/domain/streams.ts';
import { Dispatcher, type PublishRequest } from '../../src/core/dispatcher.ts';
import { Hub } from '../../src/core/hub.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { RecordExists, type AppendItem, type AppendRecord, type AppendResult, type Position, type Store } from '../../src/store/store.ts';
import { RecordingConnection } from '../helpers/recording-connection.ts';
import { REDIS_URL } from '../helpers/redis.ts';

const retentionFor = () => ({ maxCount: 10_000, maxAgeMs: 3_600_000 });

/**
 * A store in front of a real one: counts `appendAll` calls and, while `failure` is set, rejects appends without
 * storing anything, as a store whose disk or connection is gone does.
 */
class FrontStore implements Store {
  readonly appendCalls: number[] = [];
  failure: Error | undefined;

  constructor(readonly inner: Store) {}

  get durability(): Store['durability'] {
    return this.inner.durability;
  }
  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    return this.failure !== undefined ? Promise.reject(this.failure) : this.inner.append(stream, data, event);
  }
  appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    this.appendCalls.push(items.length);
    return this.failure !== undefined ? Promise.reject(this.failure) : this.inner.appendAll(items, record);
  }
  read(stream: string, after: number, limit: number) {
    return this.inner.read(stream, after, limit);
  }
  position(stream: string) {
    return this.inner.position(stream);
  }
  getAck(user: string) {
    return this.inner.getAck(user);
  }
  setAck(user: string, pos: Position) {
    return this.inner.setAck(user, pos);
  }
  recall(key: string) {
    return this.inner.recall(key);
  }
  remember(key: string, value: string, ttlMs: number) {
    return this.inner.remember(key, value, ttlMs);
  }
  close() {
    return this.inner.close();
  }
}

interface Rig {
  hub: Hub;
  store: FrontStore;
  dispatcher: Dispatcher;
  /** Adds a connection of `user` to the hub, in `channels`. */
  connect(id: string, user: string, ...channels: string[]): RecordingConnection;
  close(): Promise<void>;
}

const tmpDirs: string[] = [];
const storeKinds: Record<string, () => Store> = {
  memory: () => new MemoryStore(retentionFor),
  sqlite: () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-dispatcher-'));
    tmpDirs.push(dir);
    return new SqliteStore({ file: join(dir, 'herald.db'), fsync: 'normal', retentionFor, maxRetentionMs: 3_600_000 });
  },
};
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function rig(makeStore: () => Store, broker: Broker = new MemoryBroker()): Rig {
  const hub = new Hub();
  const store = new FrontStore(makeStore());
  return {
    hub,
    store,
    dispatcher: new Dispatcher(hub, store, broker),
    connect(id, user, ...channels) {
      const c = new RecordingConnection(id, user);
      hub.add(c);
      for (const ch of channels) assert.equal(hub.subscribe(c, ch, 100), true);
      return c;
    },
    close: () => store.close(),
  };
}

const req = (to: PublishRequest['to'], n: number, event?: string): PublishRequest =>
  event === undefined ? { to, data: JSON.stringify({ n }) } : { to, data: JSON.stringify({ n }), event };
const offsets = (r: { streams: { stream: string; offset: number }[] }) => r.streams.map((s) => `${s.stream}@${s.offset}`);

for (const [kind, makeStore] of Object.entries(storeKinds)) {
  describe(`Dispatcher with the ${kind} store`, () => {
    it('gives each stream its own offsets, 1, 2, 3 in publish order, in the store epoch', async () => {
      const r = rig(makeStore);
      try {
        const a = r.connect('a', 'alice', 'news');
        const results = [];
        for (const [to, n] of [
          [{ user: 'alice' }, 1],
          [{ channel: 'news' }, 2],
          [{ user: 'alice' }, 3],
          [{ all: true }, 4],
          [{ user: 'bob' }, 5],
          [{ channel: 'news' }, 6],
        ] as const) {
          results.push(await r.dispatcher.publish(req(to, n)));
        }
        assert.deepEqual(results.map(offsets), [['user:alice@1'], ['channel:news@1'], ['user:alice@2'], ['broadcast@1'], ['user:bob@1'], ['channel:news@2']]);
        const { epoch } = await r.store.position('user:alice');
        for (const res of results) assert.equal(res.streams[0]!.epoch, epoch);
        // What the connection got carries the same offsets, data and epoch as what was stored.
        assert.deepEqual(a.received, ['user:alice@1', 'channel:news@1', 'user:alice@2', 'broadcast@1', 'channel:news@2']);
        assert.deepEqual(
          a.deliveries.map((d) => [d.envelope.data, d.envelope.epoch]),
          [1, 2, 3, 4, 6].map((n) => [JSON.stringify({ n }), epoch]),
        );
        assert.deepEqual(
          (await r.store.read('channel:news', 0, 10)).map((m) => [m.offset, m.data]),
          [
            [1, '{"n":2}'],
            [2, '{"n":6}'],
          ],
        );
        assert.equal(r.dispatcher.published, 6);
      } finally {
        await r.close();
      }
    });

    it('a users or channels target is one stream per distinct name, stored in one append', async () => {
      const r = rig(makeStore);
      try {
        const a1 = r.connect('a1', 'alice', 'x', 'y');
        const a2 = r.connect('a2', 'alice');
        const b = r.connect('b', 'bob', 'y');
        const users = await r.dispatcher.publish(req({ users: ['alice', 'bob', 'alice', 'carol'] }, 1));
        assert.deepEqual(offsets(users), ['user:alice@1', 'user:bob@1', 'user:carol@1']);
        assert.equal(users.delivered, 3, 'a1, a2 and b; carol has no local connection');
        const channels = await r.dispatcher.publish(req({ channels: ['y', 'x', 'y'] }, 2));
        assert.deepEqual(offsets(channels), ['channel:y@1', 'channel:x@1']);
        assert.equal(channels.delivered, 3, 'a1 through y and through x, b through y');
        assert.deepEqual(r.store.appendCalls, [3, 2], 'one append per publish, one item per distinct stream');

        assert.deepEqual(a1.received, ['user:alice@1', 'channel:y@1', 'channel:x@1']);
        assert.deepEqual(a2.received, ['user:alice@1']);
        assert.deepEqual(b.received, ['user:bob@1', 'channel:y@1']);
        assert.equal((await r.store.position('user:alice')).top, 1, 'the repeated name was stored once');
        assert.equal((await r.store.read('user:carol', 0, 10)).length, 1, 'stored for a user who is not connected');
      } finally {
        await r.close();
      }
    });

    it('delivers nothing when the store fails, and the failure reaches the caller', async () => {
      const r = rig(makeStore);
      try {
        const a = r.connect('a', 'alice', 'news');
        r.store.failure = new Error('disk gone');
        await assert.rejects(r.dispatcher.publish(req({ user: 'alice' }, 1)), /disk gone/);
        await assert.rejects(r.dispatcher.publish(req({ all: true }, 2)), /disk gone/);
        await assert.rejects(r.dispatcher.publishMany([req({ channel: 'news' }, 3), req({ user: 'alice' }, 4)]), /disk gone/);
        assert.deepEqual(a.received, []);
        assert.equal(r.hub.deliveries, 0);
        assert.equal(r.dispatcher.published, 0);

        // Nothing was stored either: the stream starts at 1 once the store is back.
        r.store.failure = undefined;
        assert.deepEqual(offsets(await r.dispatcher.publish(req({ user: 'alice' }, 5))), ['user:alice@1']);
        assert.deepEqual(a.received, ['user:alice@1']);
      } finally {
        await r.close();
      }
    });

    it('a publish whose idempotency record is already stored is refused and delivers nothing', async () => {
      const r = rig(makeStore);
      try {
        const a = r.connect('a', 'alice');
        const record = { key: 'order-42', ttlMs: 60_000 };
        const first = await r.dispatcher.publish(req({ user: 'alice' }, 1), record);
        const retry = r.dispatcher.publish(req({ user: 'alice' }, 1), record);
        await assert.rejects(retry, (err: unknown) => {
          assert.ok(err instanceof RecordExists);
          // The store hands back what it recorded with the first publish: the same offsets.
          assert.deepEqual(JSON.parse(err.value).streams, first.streams);
          return true;
        });
        assert.deepEqual(a.received, ['user:alice@1']);
        assert.equal((await r.store.position('user:alice')).top, 1);
      } finally {
        await r.close();
      }
    });

    it('publishMany stores everything in one append, with offsets and deliveries in array order', async () => {
      const r = rig(makeStore);
      try {
        const a = r.connect('a', 'alice', 'news');
        const b = r.connect('b', 'bob');
        const reqs = [
          req({ user: 'alice' }, 1),
          req({ channel: 'news' }, 2),
          req({ users: ['alice', 'bob'] }, 3),
          req({ all: true }, 4),
          req({ user: 'alice' }, 5),
          req({ channel: 'news' }, 6),
        ];
        const results = await r.dispatcher.publishMany(reqs);
        assert.deepEqual(r.store.appendCalls, [7], 'one append for all six publishes (seven streams entries)');
        assert.deepEqual(results.map(offsets), [
          ['user:alice@1'],
          ['channel:news@1'],
          ['user:alice@2', 'user:bob@1'],
          ['broadcast@1'],
          ['user:alice@3'],
          ['channel:news@2'],
        ]);
        assert.deepEqual(
          results.map((x) => x.delivered),
          [1, 1, 2, 2, 1, 1],
        );
        assert.deepEqual(a.received, ['user:alice@1', 'channel:news@1', 'user:alice@2', 'broadcast@1', 'user:alice@3', 'channel:news@2']);
        assert.deepEqual(
          a.deliveries.map((d) => d.envelope.data),
          ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}', '{"n":6}'],
        );
        assert.deepEqual(b.received, ['user:bob@1', 'broadcast@1']);
        assert.deepEqual(
          (await r.store.read('user:alice', 0, 10)).map((m) => m.data),
          ['{"n":1}', '{"n":3}', '{"n":5}'],
        );
        assert.equal(r.dispatcher.published, 6);
      } finally {
        await r.close();
      }
    });

    it('delivered counts the local connections that took the message', async () => {
      const r = rig(makeStore);
      try {
        const a1 = r.connect('a1', 'alice');
        const a2 = r.connect('a2', 'alice');
        const full = r.connect('a3', 'alice');
        full.refusing = true;
        r.connect('anon', '');
        assert.equal((await r.dispatcher.publish(req({ user: 'alice' }, 1))).delivered, 2);
        assert.equal((await r.dispatcher.publish(req({ all: true }, 2))).delivered, 3, 'the anonymous connection gets broadcasts');
        const nobody = await r.dispatcher.publish(req({ channel: 'empty' }, 3));
        assert.equal(nobody.delivered, 0);
        assert.deepEqual(offsets(nobody), ['channel:empty@1'], 'stored all the same');
        assert.equal(r.hub.dropped, 2);
        assert.deepEqual(a1.received, ['user:alice@1', 'broadcast@1']);
        assert.deepEqual(a2.received, a1.received);
      } finally {
        await r.close();
      }
    });

    it('carries the event name to the connections and the store, and leaves it out when there is none', async () => {
      const r = rig(makeStore);
      try {
        const a = r.connect('a', 'alice');
        await r.dispatcher.publish(req({ user: 'alice' }, 1, 'order.shipped'));
        await r.dispatcher.publish(req({ user: 'alice' }, 2));
        const [named, plain] = await r.dispatcher.publishMany([req({ user: 'alice' }, 3, 'ping'), req({ user: 'alice' }, 4)]);
        assert.ok(named !== undefined && plain !== undefined);
        const envs = a.deliveries.map((d) => d.envelope);
        assert.deepEqual(
          envs.map((e) => e.event),
          ['order.shipped', undefined, 'ping', undefined],
        );
        assert.equal('event' in envs[1]!, false, 'no event key at all, not an undefined one');
        assert.equal(JSON.parse(a.frames[0]!.subarray(2).toString()).event, 'order.shipped');
        assert.equal(JSON.parse(a.frames[1]!.subarray(2).toString()).event, undefined);
        assert.deepEqual(
          (await r.store.read('user:alice', 0, 10)).map((m) => m.event),
          ['order.shipped', undefined, 'ping', undefined],
        );
      } finally {
        await r.close();
      }
    });
  });
}

/**
 * The smallest broker that delivers everything: it hands on whatever the test gives it, as the Redis broker hands
 * on what arrives from pub/sub.
 */
class HandingBroker implements Broker {
  readonly deliversAll = true;
  private onMessage: ((target: Target, env: Envelope) => void) | undefined;
  start(onMessage: (target: Target, env: Envelope) => void): Promise<void> {
    this.onMessage = onMessage;
    return Promise.resolve();
  }
  hand(target: Target, env: Envelope): void {
    this.onMessage!(target, env);
  }
  watch(): Promise<void> {
    return Promise.resolve();
  }
  unwatch(): void {}
  delivered(): Position | undefined {
    return undefined;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('Dispatcher with a broker that delivers everything', () => {
  it('stores and counts the local recipients, but leaves delivering to the broker', async () => {
    const broker = new HandingBroker();
    const r = rig(storeKinds.memory!, broker);
    await broker.start((t, e) => r.dispatcher.deliverFromBroker(t, e));
    const a1 = r.connect('a1', 'alice', 'news');
    const a2 = r.connect('a2', 'alice');

    const res = await r.dispatcher.publish(req({ user: 'alice' }, 1, 'hi'));
    const many = await r.dispatcher.publishMany([req({ channel: 'news' }, 2), req({ all: true }, 3)]);
    assert.equal(res.delivered, 2, 'counted: two local connections will get it');
    assert.deepEqual(
      many.map((m) => m.delivered),
      [1, 2],
    );
    assert.deepEqual(offsets(res), ['user:alice@1']);
    assert.deepEqual([...a1.received, ...a2.received], [], 'nothing delivered by the dispatcher itself');
    assert.equal(r.hub.deliveries, 0);

    // The broker's copy is what reaches the connections.
    const { epoch } = res.streams[0]!;
    broker.hand({ kind: 'user', user: 'alice' }, { stream: 'user:alice', offset: 1, epoch, data: '{"n":1}', event: 'hi' });
    assert.deepEqual(a1.received, ['user:alice@1']);
    assert.deepEqual(a2.received, ['user:alice@1']);
    assert.equal(a1.deliveries[0]!.envelope.event, 'hi');
    assert.equal(r.hub.deliveries, 2);
  });
});

describe('Dispatcher with the Redis store and broker', () => {
  const prefix = `herald-test:${randomBytes(6).toString('hex')}:`;
  const main = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  const sub = new Redis(REDIS_URL);
  after(async () => {
    const keys = await main.keys(`${prefix}*`);
    if (keys.length > 0) await main.del(...keys);
    await Promise.all([main.quit(), sub.quit()]);
  });

  it('each connection gets each message once, from the broker, and publish counts the recipients', async () => {
    const announce = `${prefix}m:`;
    const store = new RedisStore(main, { prefix, retentionFor, announce });
    const broker = new RedisBroker(sub, store, announce, pino({ level: 'silent' }));
    const hub = new Hub();
    // As src/backends.ts wires it: a stream is watched while a local connection needs it. A failed watch is not
    // lost: the test awaits the same watches below.
    hub.observe({
      connected() {},
      disconnected() {},
      subscribed() {},
      unsubscribed() {},
      interest: (s, on) => (on ? void broker.watch(s).catch(() => {}) : broker.unwatch(s)),
    });
    const dispatcher = new Dispatcher(hub, store, broker);
    const handed: string[] = [];
    let allHanded: () => void = () => {};
    await broker.start((t, e) => {
      handed.push(`${e.stream}@${e.offset}`);
      dispatcher.deliverFromBroker(t, e);
      if (handed.length === 3) allHanded();
    });
    const brokerDone = new Promise<void>((resolve) => (allHanded = resolve));

    const a1 = new RecordingConnection('a1', 'alice');
    const a2 = new RecordingConnection('a2', 'alice');
    const b = new RecordingConnection('b', 'bob');
    for (const c of [a1, a2, b]) hub.add(c);
    hub.subscribe(b, 'news', 10);
    // The streams must be flowing before publishing, as they are for a connection that finished joining.
    await Promise.all(['user:alice', 'channel:news', 'broadcast'].map((s) => broker.watch(s)));

    const toAlice = await dispatcher.publish(req({ user: 'alice' }, 1));
    const toNews = await dispatcher.publish(req({ channel: 'news' }, 2, 'headline'));
    const toAll = await dispatcher.publish(req({ all: true }, 3));
    assert.deepEqual(
      [toAlice, toNews, toAll].map((x) => x.delivered),
      [2, 1, 3],
    );
    assert.deepEqual([toAlice, toNews, toAll].map(offsets), [['user:alice@1'], ['channel:news@1'], ['broadcast@1']]);

    // Once the broker has handed on all three, everything any path could deliver has been delivered: a copy from
    // the dispatcher itself would have come earlier, synchronously, and shows here as a repeat.
    await brokerDone;
    assert.deepEqual(handed, ['user:alice@1', 'channel:news@1', 'broadcast@1']);
    assert.deepEqual(a1.received, ['user:alice@1', 'broadcast@1']);
    assert.deepEqual(a2.received, ['user:alice@1', 'broadcast@1']);
    assert.deepEqual(b.received, ['channel:news@1', 'broadcast@1']);
    assert.equal(b.deliveries[0]!.envelope.event, 'headline');
    assert.equal(b.deliveries[0]!.envelope.epoch, toNews.streams[0]!.epoch);
    assert.equal(hub.deliveries, 6);
    await broker.close();
  });
});
