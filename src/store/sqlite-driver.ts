import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3, loaded on first use rather than when Herald starts: its native library is about 7 MB of resident
 * pages once mapped, which a node on Redis or on the memory store never uses.
 */
export function openDatabase(file: string): BetterSqlite3.Database {
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  return new Database(file);
}
