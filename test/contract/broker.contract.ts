import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker } from '../../src/broker/broker.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import type { Target } from '../../src/domain/streams.ts';
import type { Store } from '../../src/store/store.ts';

/** One node: its broker and the store it appends through (which, with Redis, announces to the brokers). */
export interface BrokerNode {
  broker: Broker;
  store: Store;
}

export interface BrokerFactory {
  /** One node. Nodes made with the same `cluster` value are nodes of one installation. */
  create(cluster: string): Promise<BrokerNode>;
  multiNode: boolean;
}

interface Received {
  target: Target;
  env: Envelope;
}

/** Starts a node's broker and collects what it hands on; `until(n)` waits for n receipts. */
async function listen(node: BrokerNode): Promise<{ got: Received[]; until(n: number): Promise<void> }> {
  const got: Received[] = [];
  let wake: (() => void) | undefined;
  await node.broker.start((target, env) => {
    got.push({ target, env });
    wake?.();
  });
  return {
    got,
    until: (n) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`received ${got.length} of ${n}`)), 5000);
        wake = () => {
          if (got.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      }),
  };
}

const data = (i: number) => JSON.stringify({ i });

/** The Broker contract (src/broker/broker.ts), run against every implementation. */
export function brokerContract(name: string, factory: BrokerFactory): void {
  describe(`Broker contract: ${name}`, () => {
    if (!factory.multiNode) {
      it('leaves delivery to the dispatcher and knows no position', async () => {
        const node = await factory.create(`c${Math.random()}`);
        const { got } = await listen(node);
        await node.broker.watch('user:a');
        await node.store.append('user:a', data(1));
        assert.equal(node.broker.deliversAll, false);
        assert.equal(node.broker.delivered('user:a'), undefined);
        assert.equal(got.length, 0);
        await node.broker.close();
      });
      return;
    }

    it('hands every node each watched stream in offset order, its own appends included, with targets; nothing after unwatch', async () => {
      const cluster = `c${Math.random()}`;
      const a = await factory.create(cluster);
      const b = await factory.create(cluster);
      const atA = await listen(a);
      const atB = await listen(b);
      assert.equal(a.broker.deliversAll, true);
      for (const n of [a, b]) {
        await n.broker.watch('channel:news');
        await n.broker.watch('user:bob');
      }
      for (let i = 1; i <= 100; i++) await (i % 2 ? a : b).store.append('channel:news', data(i));
      await a.store.append('user:bob', data(1));
      await b.store.append('broadcast', data(1));
      await a.store.append('user:nobody-watches', data(1));
      for (const at of [atA, atB]) {
        await at.until(102);
        const news = at.got.filter((r) => r.env.stream === 'channel:news');
        assert.deepEqual(
          news.map((r) => r.env.offset),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.deepEqual(
          news.map((r) => r.env.data),
          Array.from({ length: 100 }, (_, i) => data(i + 1)),
        );
        assert.deepEqual(news[0]!.target, { kind: 'channel', channel: 'news' });
        assert.deepEqual(at.got.find((r) => r.env.stream === 'user:bob')?.target, { kind: 'user', user: 'bob' });
        assert.deepEqual(at.got.find((r) => r.env.stream === 'broadcast')?.target, { kind: 'all' }, 'broadcast is always received');
      }
      assert.deepEqual(b.broker.delivered('channel:news'), { offset: 100, epoch: atB.got[0]!.env.epoch });

      b.broker.unwatch('user:bob');
      await b.broker.watch('channel:marker');
      await a.store.append('user:bob', data(2));
      await a.store.append('channel:marker', data(1));
      await atB.until(103);
      assert.equal(atB.got.filter((r) => r.env.stream === 'user:bob').length, 1, 'nothing after unwatch');
      assert.equal(
        atB.got.some((r) => r.env.stream === 'user:nobody-watches'),
        false,
        'unwatched streams are not received',
      );
      assert.equal(b.broker.delivered('user:bob'), undefined);
      await a.broker.close();
      await b.broker.close();
    });

    it('keeps one stream in offset order while two nodes append to it concurrently', async () => {
      const cluster = `c${Math.random()}`;
      const nodes = [await factory.create(cluster), await factory.create(cluster)];
      const ats = [];
      for (const n of nodes) {
        const at = await listen(n);
        await n.broker.watch('user:u');
        ats.push(at);
      }
      const N = 400;
      await Promise.all(Array.from({ length: N }, (_, i) => nodes[i % 2]!.store.append('user:u', data(i))));
      for (const at of ats) {
        await at.until(N);
        assert.deepEqual(
          at.got.map((r) => r.env.offset),
          Array.from({ length: N }, (_, i) => i + 1),
        );
      }
      for (const n of nodes) await n.broker.close();
    });

    it('starts a stream where its committed history ends, so a joining connection replays up to there', async () => {
      const cluster = `c${Math.random()}`;
      const a = await factory.create(cluster);
      const at = await listen(a);
      for (let i = 1; i <= 5; i++) await a.store.append('channel:late', data(i));
      await a.broker.watch('channel:late');
      const pos = a.broker.delivered('channel:late');
      assert.equal(pos?.offset, 5);
      await a.store.append('channel:late', data(6));
      await at.until(1);
      assert.deepEqual(
        at.got.filter((r) => r.env.stream === 'channel:late').map((r) => r.env.offset),
        [6],
      );
      await a.broker.close();
    });
  });
}
