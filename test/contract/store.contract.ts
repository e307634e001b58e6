import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordExists, type RetentionPolicy, type Store } from '../../src/store/store.ts';

export interface StoreFactory {
  /** A fresh, empty store with this retention. */
  create(retention: (stream: string) => RetentionPolicy): Promise<Store>;
  /** Closes and opens the same store again, when the implementation persists (else undefined). */
  reopen?: (store: Store, retention: (stream: string) => RetentionPolicy) => Promise<Store>;
}

const roomy: RetentionPolicy = { maxCount: 10_000, maxAgeMs: 3600_000 };
const keepAll = () => roomy;

/** The Store contract (src/store/store.ts), run against every implementation. */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    it('assigns dense offsets per stream from 1, in call order, under concurrency', async () => {
      const s = await factory.create(keepAll);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.append(i % 2 ? 'a' : 'b', JSON.stringify(i))));
      const a = results.filter((_, i) => i % 2).map((r) => r.offset);
      const b = results.filter((_, i) => !(i % 2)).map((r) => r.offset);
      assert.deepEqual(
        a,
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      assert.deepEqual(
        b,
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
      const rows = await s.read('a', 0, 1000);
      assert.deepEqual(
        rows.map((r) => JSON.parse(r.data)),
        Array.from({ length: 100 }, (_, i) => 2 * i + 1),
      );
      await s.close();
    });

    it('reads after an offset, with a limit, and keeps the event', async () => {
      const s = await factory.create(keepAll);
      for (let i = 1; i <= 10; i++) await s.append('x', String(i), i === 5 ? 'five' : undefined);
      const rows = await s.read('x', 3, 4);
      assert.deepEqual(
        rows.map((r) => r.offset),
        [4, 5, 6, 7],
      );
      assert.equal(rows[1]!.event, 'five');
      assert.equal(rows[0]!.event, undefined);
      assert.deepEqual(await s.read('x', 10, 5), []);
      assert.deepEqual(await s.read('nothing', 0, 5), []);
      const pos = await s.position('x');
      assert.equal(pos.top, 10);
      assert.equal(pos.first, 1);
      const empty = await s.position('nothing');
      assert.equal(empty.top, 0);
      assert.equal(empty.first, 1);
      await s.close();
    });

    it('trims by count without changing offsets, and says where history starts', async () => {
      const s = await factory.create((stream) => (stream === 'small' ? { maxCount: 3, maxAgeMs: 3600_000 } : roomy));
      for (let i = 1; i <= 10; i++) await s.append('small', String(i));
      assert.deepEqual(
        (await s.read('small', 0, 100)).map((r) => r.offset),
        [8, 9, 10],
      );
      const pos = await s.position('small');
      assert.equal(pos.first, 8);
      assert.equal(pos.top, 10);
      assert.equal((await s.append('small', '11')).offset, 11);
      await s.close();
    });

    it('trims by age', async () => {
      const s = await factory.create(() => ({ maxCount: 100, maxAgeMs: 1000 }));
      await s.append('old', '1');
      const realNow = Date.now;
      Date.now = () => realNow() + 5000;
      try {
        assert.deepEqual(await s.read('old', 0, 10), []);
        const pos = await s.position('old');
        assert.equal(pos.first, pos.top + 1, 'nothing retained');
      } finally {
        Date.now = realNow;
      }
      await s.close();
    });

    it('moves acknowledged positions forward only', async () => {
      const s = await factory.create(keepAll);
      assert.equal(await s.getAck('u'), undefined);
      await s.setAck('u', { offset: 5, epoch: 'e1' });
      await s.setAck('u', { offset: 3, epoch: 'e1' });
      assert.deepEqual(await s.getAck('u'), { offset: 5, epoch: 'e1' });
      await s.setAck('u', { offset: 2, epoch: 'e2' });
      assert.deepEqual(await s.getAck('u'), { offset: 2, epoch: 'e2' }, 'a new epoch replaces the position');
      await s.close();
    });

    it('remembers idempotency records until their TTL', async () => {
      const s = await factory.create(keepAll);
      await s.remember('k1', '{"r":1}', 1000);
      assert.equal(await s.recall('k1'), '{"r":1}');
      assert.equal(await s.recall('k2'), undefined);
      const realNow = Date.now;
      Date.now = () => realNow() + 2000;
      try {
        assert.equal(await s.recall('k1'), undefined);
      } finally {
        Date.now = realNow;
      }
      await s.close();
    });

    it('appendAll stores entries of several streams with their record, results in item order', async () => {
      const s = await factory.create(keepAll);
      await s.append('m1', 'x');
      const res = await s.appendAll(
        [
          { stream: 'm1', data: '"a"' },
          { stream: 'm2', data: '"b"', event: 'e' },
        ],
        { key: 'rec', ttlMs: 60_000 },
      );
      assert.deepEqual(
        res.map((r) => r.offset),
        [2, 1],
      );
      const rec = JSON.parse((await s.recall('rec'))!);
      assert.deepEqual(rec, {
        delivered: 0,
        status: 'stored',
        streams: [
          { stream: 'm1', offset: 2, epoch: res[0]!.epoch },
          { stream: 'm2', offset: 1, epoch: res[1]!.epoch },
        ],
      });
      assert.equal((await s.read('m2', 0, 10))[0]!.event, 'e');
      await s.close();
    });

    it('appendAll with a record already remembered appends nothing and rejects with the remembered value', async () => {
      const s = await factory.create(keepAll);
      const first = await s.appendAll([{ stream: 'once', data: '"a"' }], { key: 'k1', ttlMs: 60_000 });
      // Concurrent retries as well as later ones: the check is part of the append itself.
      const retries = await Promise.allSettled([1, 2, 3].map(() => s.appendAll([{ stream: 'once', data: '"a"' }], { key: 'k1', ttlMs: 60_000 })));
      for (const r of retries) {
        assert.equal(r.status, 'rejected');
        const err = (r as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof RecordExists);
        assert.equal(JSON.parse(err.value).streams[0].offset, first[0]!.offset);
      }
      assert.equal((await s.position('once')).top, 1, 'stored once');
      // An expired record no longer blocks the key (expiry is checked against Herald's clock, moved here).
      await s.remember('k2', '{}', 1000);
      const realNow = Date.now;
      Date.now = () => realNow() + 2000;
      try {
        await s.appendAll([{ stream: 'once', data: '"b"' }], { key: 'k2', ttlMs: 60_000 });
      } finally {
        Date.now = realNow;
      }
      assert.equal((await s.position('once')).top, 2);
      await s.close();
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('keeps streams, offsets, epoch, acks and idempotency records across a reopen', async () => {
        const s = await factory.create(keepAll);
        let last = { offset: 0, epoch: '' };
        for (let i = 1; i <= 5; i++) last = await s.append('p', String(i));
        await s.setAck('u', { offset: 4, epoch: last.epoch });
        await s.remember('key', 'value', 60_000);
        const s2 = await reopen(s, keepAll);
        assert.deepEqual(
          (await s2.read('p', 0, 10)).map((r) => r.data),
          ['1', '2', '3', '4', '5'],
        );
        const next = await s2.append('p', '6');
        assert.deepEqual(next, { offset: 6, epoch: last.epoch });
        assert.deepEqual(await s2.getAck('u'), { offset: 4, epoch: last.epoch });
        assert.equal(await s2.recall('key'), 'value');
        await s2.close();
      });
    }
  });
}
