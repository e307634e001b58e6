// Publish throughput by store: the same publishes through Herald's publish path (validation, store, hub, frames)
// with the memory store, SQLite (fsync normal) and SQLite (fsync full), with and without the HTTP batch API.
// Then the store alone: appends spread over 1,000 and 10,000 streams (a push to one of N users each, the shape
// where SQLite's indexed table used to cost a page write per entry: docs/performance.md, the SQLite append log).
// Run: npm run bench -- store   (or: node --import tsx bench/store.ts [--quick])
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createOperations } from '../src/api/operations.ts';
import type { ConfigInput } from '../src/config.ts';
import { createHerald } from '../src/server.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/store.ts';
import { writeReport } from './report.ts';

const quick = process.argv.includes('--quick');
const MESSAGES = quick ? 5_000 : 50_000;
const USERS = 100;
const CONCURRENCY = 256;
const BATCH = 500;

interface Row {
  store: string;
  path: string;
  messages: number;
  seconds: number;
  perSecond: number;
  delivered: number;
}

/** Calls `op(0)` .. `op(total - 1)`, CONCURRENCY at a time, each awaited before its caller takes the next index. */
async function inFlight(total: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) await op(next++);
    }),
  );
}

async function run(store: ConfigInput['store'], label: string): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const server = createHerald({
    env: {},
    cwd: dataDir,
    logger: pino({ level: 'silent' }),
    overrides: {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      store,
      apiKey: 'bench-api-key-0123456789',
      tokenSecret: 'bench-token-secret-0123456789abcdef012345',
      line: { enabled: false },
    },
  });
  await server.listen();
  // Connected users, so the measured path includes framing and socket writes, not only the store.
  const sockets: WebSocket[] = [];
  let received = 0;
  for (let i = 0; i < USERS; i++) {
    const token = await server.context.tokens.sign(`u${i}`, { ttlSeconds: 3600 });
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.on('message', () => received++);
    sockets.push(ws);
  }
  const ops = createOperations(server.context);
  const rows: Row[] = [];

  // 1. The operation itself, CONCURRENCY publishes in flight (what the line port and the APIs call).
  const t0 = process.hrtime.bigint();
  await inFlight(MESSAGES, (i) => ops.publish!({ to: { user: `u${i % USERS}` }, data: { i, text: 'a typical small message' } }));
  const s1 = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push({ store: label, path: 'publish operation', messages: MESSAGES, seconds: s1, perSecond: MESSAGES / s1, delivered: server.context.hub.deliveries });

  // 2. HTTP batch publish, one request at a time.
  const before = server.context.hub.deliveries;
  const t1 = process.hrtime.bigint();
  for (let b = 0; b < MESSAGES; b += BATCH) {
    const messages = Array.from({ length: BATCH }, (_, k) => ({ to: { user: `u${(b + k) % USERS}` }, data: { i: b + k, text: 'a typical small message' } }));
    const res = await fetch(`${server.url}/api/publish/batch`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench-api-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ messages }),
    });
    if (res.status !== 200) throw new Error(`batch failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
  const s2 = Number(process.hrtime.bigint() - t1) / 1e9;
  rows.push({
    store: label,
    path: `HTTP batch (${BATCH}/request)`,
    messages: MESSAGES,
    seconds: s2,
    perSecond: MESSAGES / s2,
    delivered: server.context.hub.deliveries - before,
  });

  for (const ws of sockets) ws.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  void received;
  return rows;
}

/** Appends per stream-count row: enough for SQLite's table to grow past 100k rows, where page writes used to dominate. */
const APPENDS = quick ? 20_000 : 300_000;

/** APPENDS appends spread round-robin over `streams` streams, CONCURRENCY in flight. */
async function appendsTo(store: Store, label: string, streams: number): Promise<Row> {
  const t0 = process.hrtime.bigint();
  await inFlight(APPENDS, (i) => store.append(`user:u${i % streams}`, `{"i":${i},"text":"a typical small message"}`));
  // Timed with the close: SQLite's close copies what its append log still holds into the indexed table.
  await store.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { store: label, path: `append to ${streams} streams (store alone)`, messages: APPENDS, seconds, perSecond: APPENDS / seconds, delivered: 0 };
}

async function storeAlone(label: string, streams: number): Promise<Row> {
  const retentionFor = () => ({ maxCount: 10_000, maxAgeMs: 7 * 86_400_000 });
  if (label === 'memory') return appendsTo(new MemoryStore(retentionFor), label, streams);
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  try {
    const fsync = label.endsWith('full') ? 'full' : 'normal';
    return await appendsTo(new SqliteStore({ file: join(dir, 'herald.db'), fsync, retentionFor, maxRetentionMs: 7 * 86_400_000 }), label, streams);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const VARIANTS: [ConfigInput['store'], string][] = [
  [{ type: 'memory' }, 'memory'],
  [{ type: 'sqlite', fsync: 'normal' }, 'sqlite, fsync normal'],
  [{ type: 'sqlite', fsync: 'full' }, 'sqlite, fsync full'],
];

/** `--only <substring>` runs the matching variants only (for profiling one of them). */
export async function storeBench(): Promise<Row[]> {
  const only = process.argv[process.argv.indexOf('--only') + 1];
  const rows: Row[] = [];
  for (const [store, label] of VARIANTS) {
    if (process.argv.includes('--only') && only !== undefined && !label.includes(only)) continue;
    rows.push(...(await run(store, label)));
  }
  for (const streams of [1_000, 10_000])
    for (const [, label] of VARIANTS) {
      if (process.argv.includes('--only') && only !== undefined && !label.includes(only)) continue;
      rows.push(await storeAlone(label, streams));
    }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await storeBench();
  const mem = new Map(rows.filter((r) => r.store === 'memory').map((r) => [r.path, r.perSecond]));
  const table = rows.map((r) => ({
    store: r.store,
    path: r.path,
    messages: r.messages,
    'msgs/s': Math.round(r.perSecond),
    'vs memory': `${(r.perSecond / (mem.get(r.path) ?? r.perSecond)).toFixed(2)}x`,
  }));
  console.table(table);
  writeReport('store', { quick, users: USERS, concurrency: CONCURRENCY, rows }, table);
}
