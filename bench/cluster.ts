// Cross-node delivery next to single-node: the same broadcast, published through node A's HTTP batch API, received
// by clients on node A (local), on node B (crossing Redis pub/sub), and on an embedded node without Redis; and
// published alternately through A and B (a backend behind a load balancer), which is where per-stream order
// across nodes costs something (docs/guarantees.md, "Across nodes").
// Run: node --import tsx bench/cluster.ts [--quick]   (npm run bench runs it after the main suites)
// Clients are Node `ws` clients in this process: they saturate near 40-60k messages/s, so the figures compare the
// three paths with each other; absolute fan-out limits are in the main table (C load client).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { TokenService } from '../src/auth/tokens.ts';
import { writeReport } from './report.ts';

const quick = process.argv.includes('--quick');
const CLIENTS = quick ? 100 : 500;
const MESSAGES = quick ? 50 : 200;
const BATCH = 10;
const API_KEY = 'bench-api-key-0123456789';
const SECRET = 'bench-token-secret-0123456789abcdef012345';
const REDIS = process.env.HERALD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const ROOT = join(import.meta.dirname, '..');
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

interface Node {
  proc: ChildProcess;
  url: string;
}

function startNode(env: Record<string, string>): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-node-'));
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'bin/herald.js'), 'start', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', dataDir],
    {
      env: { PATH: process.env.PATH, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: SECRET, HERALD_STORE: 'memory', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  proc.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node did not start')), 15_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { http?: string };
        if (j.http) {
          clearTimeout(timer);
          resolve({ proc, url: j.http });
        }
      } catch {
        // not a log line
      }
    });
  });
}

async function clientsOn(node: Node, n: number, onMessage: (latencyUs: number) => void): Promise<WebSocket[]> {
  const tokens = new TokenService(SECRET);
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/ws?token=${await tokens.sign(`b${i}`, { ttlSeconds: 600 })}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (raw) => {
      const text = raw.toString();
      const at = text.indexOf('"t":');
      if (at > 0 && text.startsWith('{"type":"message"')) onMessage(nowUs() - Number(text.slice(at + 4, text.indexOf('}', at))));
    });
    out.push(ws);
  }
  return out;
}

async function measure(label: string, publishTo: Node | Node[], receiveOn: Node): Promise<Record<string, string | number>> {
  const publishers = Array.isArray(publishTo) ? publishTo : [publishTo];
  const lat: number[] = [];
  let done: (() => void) | undefined;
  const expected = CLIENTS * MESSAGES;
  const sockets = await clientsOn(receiveOn, CLIENTS, (us) => {
    lat.push(us);
    if (lat.length >= expected) done?.();
  });
  const all = new Promise<void>((resolve) => (done = resolve));
  const t0 = nowUs();
  for (let b = 0; b < MESSAGES; b += BATCH) {
    const messages = Array.from({ length: BATCH }, () => ({ to: { all: true }, data: { t: nowUs() } }));
    const res = await fetch(`${publishers[(b / BATCH) % publishers.length]!.url}/api/publish/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ messages }),
    });
    await res.arrayBuffer();
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
  clearTimeout(timer); // a pending 60 s timer would keep this process alive after the report
  const seconds = (nowUs() - t0) / 1e6;
  for (const ws of sockets) ws.terminate();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => ((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0) / 1000).toFixed(2);
  return {
    path: label,
    clients: CLIENTS,
    messages: MESSAGES,
    received: lat.length,
    expected,
    'deliveries/s': Math.round(lat.length / seconds),
    'p50 ms': pct(0.5),
    'p99 ms': pct(0.99),
  };
}

/**
 * Latency without queueing: one publish at a time (the next after the previous one's reply), to a few clients, so
 * the figures show the path itself: what routing a node's own publishes through Redis, in stream order, costs.
 */
async function latency(label: string, publishTo: Node[], receiveOn: Node): Promise<Record<string, string | number>> {
  const n = quick ? 200 : 2000;
  const clients = 20;
  const lat: number[] = [];
  let wake: (() => void) | undefined;
  const sockets = await clientsOn(receiveOn, clients, (us) => {
    lat.push(us);
    wake?.();
  });
  for (let i = 0; i < n; i++) {
    const want = (i + 1) * clients;
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${label}: message ${i} reached ${lat.length - i * clients} of ${clients} clients within 10 s`)), 10_000);
      wake = () => {
        if (lat.length < want) return;
        clearTimeout(timer);
        resolve();
      };
    });
    const res = await fetch(`${publishTo[i % publishTo.length]!.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ to: { all: true }, data: { t: nowUs() } }),
    });
    await res.arrayBuffer();
    await arrived;
  }
  for (const ws of sockets) ws.terminate();
  lat.sort((x, y) => x - y);
  const pct = (p: number) => ((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0) / 1000).toFixed(3);
  return { path: label, clients, messages: n, 'p50 ms': pct(0.5), 'p90 ms': pct(0.9), 'p99 ms': pct(0.99) };
}

const prefix = `herald-bench:${randomBytes(4).toString('hex')}:`;
const embedded = await startNode({});
const a = await startNode({ HERALD_REDIS_URL: REDIS, HERALD_REDIS_PREFIX: prefix });
const b = await startNode({ HERALD_REDIS_URL: REDIS, HERALD_REDIS_PREFIX: prefix });
try {
  const rows = [
    await measure('single node, embedded (no Redis)', embedded, embedded),
    await measure('Redis cluster, clients on the publishing node', a, a),
    await measure('Redis cluster, clients on another node (cross-node)', a, b),
    await measure('Redis cluster, publishes alternating between both nodes', [a, b], a),
  ];
  console.table(rows);
  const latencyRows = [
    await latency('latency, one at a time: single node, embedded', [embedded], embedded),
    await latency("latency, one at a time: Redis, published on the clients' node", [a], a),
    await latency('latency, one at a time: Redis, published on another node', [b], a),
    await latency('latency, one at a time: Redis, alternating between both nodes', [a, b], a),
  ];
  console.table(latencyRows);
  writeReport(quick ? 'cluster-quick' : 'cluster', { quick, rows, latencyRows }, rows, {
    sections: [{ title: 'Latency without queueing', table: latencyRows }],
  });
} finally {
  for (const n of [embedded, a, b]) n.proc.kill('SIGTERM');
}
