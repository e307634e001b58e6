import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker } from '../../src/broker/broker.ts';
import type { Envelope } from '../../src/core/delivery.ts';
import type { Target } from '../../src/core/hub.ts';

export interface BrokerFactory {
  /** One node's broker. Brokers made with the same `cluster` value are nodes of one installation. */
  create(cluster: string): Promise<Broker>;
  multiNode: boolean;
}

interface Received {
  target: Target;
  env: Envelope;
}

const env = (stream: string, offset: number): Envelope => ({ stream, offset, epoch: 'e', data: JSON.stringify({ offset }) });

/** The Broker contract (src/broker/broker.ts), run against every implementation. */
export function brokerContract(name: string, factory: BrokerFactory): void {
  describe(`Broker contract: ${name}`, () => {
    it('never hands a node its own publishes', async () => {
      const cluster = `c${Math.random()}`;
      const b = await factory.create(cluster);
      const got: Received[] = [];
      await b.start((target, e) => got.push({ target, env: e }));
      await b.watch('user:a');
      await b.publish({ kind: 'user', user: 'a' }, env('user:a', 1));
      // A second, watching node proves the message travelled; the publisher itself must not see it.
      if (factory.multiNode) {
        const other = await factory.create(cluster);
        const seen = new Promise<void>((resolve) => void other.start(() => resolve()));
        await other.watch('user:a');
        await b.publish({ kind: 'user', user: 'a' }, env('user:a', 2));
        await seen;
        await other.close();
      }
      assert.equal(got.length, 0);
      await b.close();
    });

    if (factory.multiNode) {
      it('delivers watched streams to other nodes, in publish order, with their targets; stops after unwatch', async () => {
        const cluster = `c${Math.random()}`;
        const pub = await factory.create(cluster);
        const sub = await factory.create(cluster);
        await pub.start(() => {});
        const got: Received[] = [];
        let wake: (() => void) | undefined;
        await sub.start((target, e) => {
          got.push({ target, env: e });
          wake?.();
        });
        const until = (n: number) =>
          new Promise<void>((resolve) => {
            wake = () => {
              if (got.length >= n) resolve();
            };
            wake();
          });
        await sub.watch('channel:news');
        await sub.watch('user:bob');
        for (let i = 1; i <= 100; i++) await pub.publish({ kind: 'channel', channel: 'news' }, env('channel:news', i));
        await pub.publish({ kind: 'user', user: 'bob' }, env('user:bob', 1));
        await pub.publish({ kind: 'all' }, env('broadcast', 1));
        await pub.publish({ kind: 'user', user: 'nobody-watches' }, env('user:nobody-watches', 1));
        await until(102);
        const news = got.filter((r) => r.env.stream === 'channel:news');
        assert.deepEqual(news.map((r) => r.env.offset), Array.from({ length: 100 }, (_, i) => i + 1));
        assert.deepEqual(news[0]!.target, { kind: 'channel', channel: 'news' });
        assert.deepEqual(got.find((r) => r.env.stream === 'user:bob')?.target, { kind: 'user', user: 'bob' });
        assert.deepEqual(got.find((r) => r.env.stream === 'broadcast')?.target, { kind: 'all' }, 'broadcast is always received');

        sub.unwatch('user:bob');
        await sub.watch('channel:marker');
        await pub.publish({ kind: 'user', user: 'bob' }, env('user:bob', 2));
        await pub.publish({ kind: 'channel', channel: 'marker' }, env('channel:marker', 1));
        await until(103);
        assert.equal(got.filter((r) => r.env.stream === 'user:bob').length, 1, 'nothing after unwatch');
        assert.equal(got.some((r) => r.env.stream === 'user:nobody-watches'), false, 'unwatched streams are not received');
        await pub.close();
        await sub.close();
      });
    }
  });
}
