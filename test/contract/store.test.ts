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
import { REDIS_URL } from '../helpers/redis.ts';
import type { RetentionPolicy } from '../../src/store/store.ts';
import { storeContract } from './store.contract.ts';

storeContract('memory', {
  create: (retention) => Promise.resolve(new MemoryStore(retention)),
});

const files = new WeakMap<object, string>();
const sqlite = (file: string, retention: (s: string) => RetentionPolicy) => {
  const s = new SqliteStore({ file, fsync: 'normal', retentionFor: retention, maxRetentionMs: 3600_000 });
  files.set(s, file);
  return s;
};
storeContract('sqlite', {
  create: (retention) => Promise.resolve(sqlite(join(mkdtempSync(join(tmpdir(), 'herald-store-')), 'herald.db'), retention)),
  reopen: async (store, retention) => {
    await store.close();
    return sqlite(files.get(store)!, retention);
  },
});

describe("sqlite: when a turn's appends are committed", () => {
  const keep = () => ({ maxCount: 100, maxAgeMs: 3600_000 });
  it('from an I/O or timer callback: in the check phase of the same iteration, after the other callbacks appended', async () => {
    const s = sqlite(join(mkdtempSync(join(tmpdir(), 'herald-store-')), 'herald.db'), keep);
    const appended = new Promise<unknown>((resolve) => setTimeout(() => resolve(s.append('user:t', '"a"')), 0));
    // Due together, so they run in the same timers phase: the second still sees nothing committed (the commit waits
    // for the check phase, to take every callback's appends at once).
    const seen = await new Promise<number>((resolve) => setTimeout(() => void s.position('user:t').then((p) => resolve(p.top)), 0));
    await appended;
    assert.equal(seen, 0);
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
