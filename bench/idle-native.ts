// Idle memory per native WebSocket connection: Herald in this process (memory store, as bench/peers/herald.ts),
// N idle clients in a separate process (the C load client, bench/load/wsload.c), RSS growth / N after forced GC.
// Standalone: not part of `npm run bench`.
//
//   node --expose-gc --import tsx bench/idle-native.ts [N=19500] [--snapshot [--keep]] [--uid]
//
// --uid measures the Workerman uid websocket (the 1234 port, on a free port here) instead of /ws: pages that send
// their uid as the first frame (wsload's uid mode).
//
// --snapshot also writes a heap snapshot before and after connecting (files in the temp dir) and prints what each
// connection keeps: the difference per object type (count and self size, divided by N). Use it at ~2000
// connections; at 19,500 the snapshots are large and slow.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { TokenService } from '../src/auth/tokens.ts';
import { createHerald } from '../src/server.ts';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 19_500);
const SNAPSHOT = args.includes('--snapshot');
/** Keeps the snapshots (and prints where) for a closer look in DevTools. */
const KEEP = args.includes('--keep');
const UID = args.includes('--uid');
const SECRET = 'bench-token-secret-0123456789abcdef0123456789';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function rssKB(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await sleep(50);
  }
}

function loadClient(): string {
  const built = join(import.meta.dirname, 'results', '.bin', 'wsload');
  if (existsSync(built)) return built;
  const dir = join(tmpdir(), 'herald-idle-bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, 'wsload');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, join(import.meta.dirname, 'load', 'wsload.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return bin;
}

/** Waits for the next JSON line from the load client with the given event. */
function nextEvent(cli: ChildProcessWithoutNullStreams, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: cli.stdout });
    const timer = setTimeout(() => {
      rl.close();
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    rl.on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.event !== event) return;
      clearTimeout(timer);
      rl.close();
      resolve(o);
    });
  });
}

// ---- heap snapshot summary: nodes grouped by (type, name), compared before/after ----

type Summary = Map<string, { count: number; size: number }>;

function summarise(file: string): Summary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const stride = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out: Summary = new Map();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType]!]!;
    // Strings and code are grouped by type only (their names are their contents).
    let name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code' || type === 'number'
        ? ''
        : snap.strings[snap.nodes[i + iName]!]!;
    if (type === 'closure') name = name || '(anonymous)';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}: ${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + iSize]!;
    out.set(key, e);
  }
  return out;
}

function printDiff(before: Summary, after: Summary, n: number): void {
  const rows: { key: string; count: number; size: number }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    rows.push({ key, count: (a.count - b.count) / n, size: (a.size - b.size) / n });
  }
  rows.sort((x, y) => y.size - x.size);
  const total = rows.reduce((s, r) => s + r.size, 0);
  console.log(`\nJS heap per connection (snapshot diff / ${n}): ${total.toFixed(0)} bytes self size in total`);
  console.log('  bytes/conn  objs/conn  type: name');
  for (const r of rows.slice(0, 40)) {
    if (Math.abs(r.size) < 4) continue;
    console.log(`  ${r.size.toFixed(0).padStart(10)} ${r.count.toFixed(2).padStart(10)}  ${r.key}`);
  }
}

// ---- the run ----

const dir = mkdtempSync(join(tmpdir(), 'herald-idle-'));
const tokens = new TokenService(SECRET);
const lines: string[] = [];
if (UID) lines.push('/');
else for (let i = 0; i < N; i++) lines.push(`/ws?token=${await tokens.sign(`u${i}`, { ttlSeconds: 6 * 3600 })}`);
const pathFile = join(dir, 'paths.txt');
writeFileSync(pathFile, `${lines.join('\n')}\n`);
lines.length = 0;

const server = createHerald({
  env: {},
  cwd: dir,
  logger: pino({ level: 'warn' }),
  overrides: {
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    store: { type: 'memory' },
    tokenSecret: SECRET,
    line: { enabled: false },
    ...(UID ? { compat: { websocket: { enabled: true, host: '127.0.0.1', port: 0 } } } : {}),
  },
});
await server.listen();
const port = UID ? server.addresses().websocket!.port : server.port;

await collect();
await sleep(300);
const snapBefore = SNAPSHOT ? writeHeapSnapshot(join(dir, 'before.heapsnapshot')) : undefined;
if (SNAPSHOT) await collect();
const base = rssKB();
const heapBase = process.memoryUsage();

const cli = spawn(loadClient(), [UID ? 'uid' : 'ws', '127.0.0.1', String(port), pathFile, String(N), '256']);
cli.stderr.on('data', (d: Buffer) => process.stderr.write(d));
const connected = await nextEvent(cli, 'connected', 180_000);
await sleep(1000);
await collect();
await sleep(500);
const rss = rssKB();
const heap = process.memoryUsage();
const ok = Number(connected.ok);

console.log(
  `connections: ${ok} opened (${String(connected.failed)} failed) in ${(Number(connected.ms) / 1000).toFixed(1)} s; ${server.context.hub.connectionCount} in the hub`,
);
console.log(`RSS: ${(base / 1024).toFixed(1)} MB -> ${(rss / 1024).toFixed(1)} MB`);
console.log(`KB per connection (RSS growth / connections): ${((rss - base) / ok).toFixed(2)}`);
console.log(
  `  of which JS heap used: ${((heap.heapUsed - heapBase.heapUsed) / 1024 / ok).toFixed(2)} KB, external+arrayBuffers: ${(
    (heap.external - heapBase.external) /
    1024 /
    ok
  ).toFixed(2)} KB`,
);

if (SNAPSHOT && snapBefore) {
  const snapAfter = writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
  printDiff(summarise(snapBefore), summarise(snapAfter), ok);
}

cli.stdin.write('quit\n');
await new Promise((resolve) => cli.once('exit', resolve));
await server.close();
if (KEEP) console.log(`\nkept: ${dir}`);
else rmSync(dir, { recursive: true, force: true });
