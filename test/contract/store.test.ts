import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
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
