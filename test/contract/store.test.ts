import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { openDatabase } from '../../src/store/sqlite-driver.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import type { RetentionPolicy } from '../../src/store/store.ts';
import { storeContract } from './store.contract.ts';

storeContract('memory', {
  create: (retention) => Promise.resolve(new MemoryStore(retention)),
});

const files = new WeakMap<object, string>();
const sqlite = (file: string, retention: (s: string) => RetentionPolicy, indexAfterRows?: number) => {
  const s = new SqliteStore({ file, fsync: 'normal', retentionFor: retention, maxRetentionMs: 3600_000, ...(indexAfterRows ? { indexAfterRows } : {}) });
  files.set(s, file);
  return s;
};
const dbFile = () => join(mkdtempSync(join(tmpdir(), 'herald-store-')), 'herald.db');
storeContract('sqlite', {
  create: (retention) => Promise.resolve(sqlite(dbFile(), retention)),
  reopen: async (store, retention) => {
    await store.close();
    return sqlite(files.get(store)!, retention);
  },
});
// The same contract with the log moved into the indexed table every 3 entries: reads, positions and trims then
// meet entries in the log, in a move pass and in `messages`, in every mix.
storeContract('sqlite, log indexed every 3 entries', {
  create: (retention) => Promise.resolve(sqlite(dbFile(), retention, 3)),
  reopen: async (store, retention) => {
    await store.close();
    return sqlite(files.get(store)!, retention, 3);
  },
});

describe('sqlite: the append log', () => {
  const keep = () => ({ maxCount: 100_000, maxAgeMs: 3600_000 });
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('reads every entry once, in order, while move passes run between appends', async () => {
    const s = sqlite(dbFile(), keep, 50);
    const streams = Array.from({ length: 7 }, (_, i) => `user:u${i}`);
    const sent = new Map(streams.map((st) => [st, [] as string[]]));
    const { epoch } = await s.append('other', '0');
    for (let round = 0; round < 60; round++) {
      const appends = Array.from({ length: 13 }, (_, i) => {
        const st = streams[(round * 13 + i) % streams.length]!;
        const data = JSON.stringify(`${round}.${i}`);
        sent.get(st)!.push(data);
        return s.append(st, data);
      });
      await Promise.all(appends);
      // Each check lands at a different point of a pass: reads must see messages, moving and recent entries as one.
      const st = streams[round % streams.length]!;
      const all = await s.read(st, 0, 10_000);
      assert.deepEqual(
        all.map((m) => m.data),
        sent.get(st),
      );
      assert.deepEqual(
        all.map((m) => m.offset),
        all.map((_, i) => i + 1),
      );
      const mid = Math.floor(all.length / 2);
      assert.deepEqual(
        (await s.read(st, mid, 5)).map((m) => m.offset),
        all.slice(mid, mid + 5).map((m) => m.offset),
      );
      assert.deepEqual(await s.position(st), { top: all.length, first: 1, epoch });
      if (round % 3 === 0) await turn();
    }
    await s.close();
    const again = sqlite(files.get(s)!, keep);
    for (const st of streams)
      assert.deepEqual(
        (await again.read(st, 0, 10_000)).map((m) => m.data),
        sent.get(st),
      );
    await again.close();
  });

  it('starts a move pass early when the entries waiting in memory are large', async () => {
    const file = dbFile();
    const s = sqlite(file, keep, 1000);
    const big = JSON.stringify('x'.repeat(6 * 1024 * 1024));
    await Promise.all([s.append('user:a', big), s.append('user:a', big), s.append('user:a', big)]);
    const raw = openDatabase(file);
    const count = (table: string) => raw.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()!.n;
    // 18 MB waiting, 3 of 1,000 rows: the pass starts on the commit and its one chunk runs in the next turn.
    await turn();
    await turn();
    assert.deepEqual([count('log'), count('messages')], [0, 3]);
    assert.equal((await s.read('user:a', 2, 10))[0]!.data.length, big.length);
    raw.close();
    await s.close();
  });

  it('starts a move pass on the trim timer when entries have waited long enough, however few', async () => {
    const file = dbFile();
    const s = new SqliteStore({
      file,
      fsync: 'normal',
      retentionFor: keep,
      maxRetentionMs: 3600_000,
      indexAfterRows: 1000,
      indexAfterMs: 0,
      trimIntervalMs: 5,
    });
    await s.append('user:a', '"1"');
    const raw = openDatabase(file);
    const logRows = () => raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM log').get()!.n;
    assert.equal(logRows(), 1);
    // The next trim tick starts the pass: wait for its effect, the log emptied.
    const deadline = Date.now() + 5000;
    while (logRows() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(logRows(), 0);
    assert.deepEqual(
      (await s.read('user:a', 0, 10)).map((m) => m.data),
      ['"1"'],
    );
    raw.close();
    await s.close();
  });

  it('after a crash, moves what the log held into the table, once, and numbering goes on from there', async () => {
    const file = dbFile();
    const s = sqlite(file, keep);
    for (let i = 1; i <= 4; i++) await s.append('user:a', `"${i}"`);
    await s.close(); // 1-4 now in the indexed table, the log empty
    // What a process killed in the middle of a move pass leaves: the log holds entries 3-6 of user:a (3 and 4 were
    // already copied to the table, the log not yet emptied) and 1-2 of user:b, and `streams` says nothing of 5-6.
    const raw = openDatabase(file);
    const put = raw.prepare('INSERT INTO log (stream, seq, data, event, time) VALUES (?, ?, ?, ?, ?)');
    for (const seq of [3, 4, 5, 6]) put.run('user:a', seq, `"${seq}"`, seq === 6 ? 'ev' : null, Date.now());
    for (const seq of [1, 2]) put.run('user:b', seq, `"b${seq}"`, null, Date.now());
    raw.close();
    const s2 = sqlite(file, keep);
    assert.deepEqual(
      (await s2.read('user:a', 0, 100)).map((m) => [m.offset, m.data, m.event]),
      [
        [1, '"1"', undefined],
        [2, '"2"', undefined],
        [3, '"3"', undefined],
        [4, '"4"', undefined],
        [5, '"5"', undefined],
        [6, '"6"', 'ev'],
      ],
    );
    assert.equal((await s2.position('user:b')).top, 2);
    assert.equal((await s2.append('user:a', '"7"')).offset, 7);
    assert.equal((await s2.append('user:b', '"b3"')).offset, 3);
    await s2.close();
    const raw2 = openDatabase(file);
    assert.equal(raw2.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM log').get()!.n, 0, 'close empties the log');
    raw2.close();
  });
});

describe("sqlite: when a turn's appends are committed", () => {
  const keep = () => ({ maxCount: 100, maxAgeMs: 3600_000 });
  it('from an I/O or timer callback: in the check phase of the same iteration, after the other callbacks appended', async () => {
    const s = sqlite(join(mkdtempSync(join(tmpdir(), 'herald-store-')), 'herald.db'), keep);
    const appended = new Promise<unknown>((resolve) => setTimeout(() => resolve(s.append('user:t', '"a"')), 0));
    // Due together, so they run in the same timers phase: the second still sees nothing committed (the commit waits
    // for the check phase, to take every callback's appends at once).
    const seen = new Promise<number>((resolve) => setTimeout(() => void s.position('user:t').then((p) => resolve(p.top)), 0));
    // Node stamps each timer with a fresh clock reading: the two can be a millisecond apart. Holding the thread a few
    // milliseconds makes both due when the timers phase comes, whichever millisecond each was stamped in.
    for (const until = performance.now() + 5; performance.now() < until;);
    assert.equal(await seen, 0);
    await appended;
    assert.equal((await s.position('user:t')).top, 1);
    await s.close();
  });

  it('from an immediate (the check phase): when that callback returns, before the next immediate runs', async () => {
    const s = sqlite(join(mkdtempSync(join(tmpdir(), 'herald-store-')), 'herald.db'), keep);
    const seen = await new Promise<number>((resolve) => {
      // Both queued now, so they run in the same check phase: the second sees what the first appended committed, where
      // a commit queued with setImmediate would come only in the next iteration.
      setImmediate(() => void s.append('user:t', '"a"'));
      setImmediate(() => void s.position('user:t').then((p) => resolve(p.top)));
    });
    assert.equal(seen, 1);
    await s.close();
  });
});

// Real Redis (`npm test` starts one on 127.0.0.1:6379 when none answers); each store gets its own key prefix.
const redisConns: Redis[] = [];
const prefixes = new WeakMap<object, string>();
const redisStore = (prefix: string, retention: (s: string) => RetentionPolicy) => {
  const conn = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
  redisConns.push(conn);
  const s = new RedisStore(conn, { prefix, retentionFor: retention });
  prefixes.set(s, prefix);
  return s;
};
storeContract('redis', {
  create: (retention) => Promise.resolve(redisStore(`herald-test:${randomBytes(6).toString('hex')}:`, retention)),
  reopen: (store, retention) => Promise.resolve(redisStore(prefixes.get(store)!, retention)),
});
after(async () => {
  const conn = redisConns[0];
  if (conn !== undefined) {
    const keys = await conn.keys('herald-test:*');
    if (keys.length > 0) await conn.del(...keys);
  }
  await Promise.all(redisConns.map((c) => c.quit()));
});
