// The soak (`npm run bench -- --soak`, or `node --import tsx bench/soak.ts`): one Herald process with the Workerman
// profile, clients over the native protocol (the SDK, which resumes), Socket.IO (2120) and the 1234 port, numbered
// messages published to every client's user while random clients drop and come back. Counts, per transport, lost,
// duplicated and reordered messages, and samples the server's RSS at the start, middle and end.
//
//   --soak-minutes M   duration (default 10)        --soak-clients N   clients over the three transports (default 1000)
//
// What counts as lost: a native client resumes, so every message of its user must arrive, exactly once, in order.
// Socket.IO and 1234 clients do not resume (as with the originals): a message counts for them when the publish
// reply said it was queued on their connection and the client did not drop within 2 s after it (a message in
// flight at a drop is the originals' loss, not a server fault).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { io as ioClient, type Socket as SioSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { Herald } from '../client/index.ts';
import { TokenService } from '../src/auth/tokens.ts';
import { rssKB } from './lib/proc.ts';

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const MINUTES = num('--soak-minutes', 10);
const CLIENTS = num('--soak-clients', 1000);
const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(import.meta.dirname, 'results');
const API_KEY = 'soak-api-key-0123456789abcdef';
const SECRET = 'soak-token-secret-0123456789abcdef0123456789';
/** Messages published per second over all users, and clients dropped per second. */
const RATE = 200;
const DROPS_PER_SEC = Math.max(1, Math.round(CLIENTS / 100));
const GRACE_MS = 2000;

type Kind = 'native' | 'socketio' | 'websocket';

interface Client {
  kind: Kind;
  user: string;
  /** Sequence numbers received, in arrival order. */
  got: number[];
  /** Native: every number published to the user. Others: number -> publish time, when it was queued on this client. */
  expected: Map<number, number>;
  /** Times the client dropped (Socket.IO and 1234). */
  drops: number[];
  connected: boolean;
  drop(): void;
  close(): void;
}

interface Ports {
  http: string;
  socketio: number;
  websocket: number;
}

function startServer(): Promise<{ proc: ChildProcess; ports: Ports; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-soak-'));
  const cfg = join(dir, 'herald.json');
  const any = { host: '127.0.0.1', port: 0 };
  writeFileSync(
    cfg,
    JSON.stringify({
      host: '127.0.0.1',
      port: 0,
      line: { enabled: false },
      compat: { websocket: any, text: { enabled: false }, socketio: any, httpPush: { enabled: false } },
    }),
  );
  const proc = spawn(process.execPath, [join(ROOT, 'bin/herald.js'), 'start', '--profile', 'workerman', '--config', cfg, '--data-dir', join(dir, 'data')], {
    env: { PATH: process.env.PATH, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: SECRET, HERALD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  process.on('exit', () => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('herald did not start')), 20_000);
    let compat: Record<string, { port: number }> | undefined;
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(l) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof j.compat === 'object' && j.compat !== null) compat = j.compat as Record<string, { port: number }>;
      if (typeof j.http === 'string' && compat !== undefined) {
        clearTimeout(timer);
        resolve({ proc, dir, ports: { http: j.http, socketio: compat.socketio!.port, websocket: compat.websocket!.port } });
      }
    });
  });
}

const seqOf = (data: unknown): number | undefined => {
  const v = typeof data === 'string' ? (JSON.parse(data) as unknown) : data;
  return typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number' ? (v as { n: number }).n : undefined;
};

async function nativeClient(ports: Ports, user: string, tokens: TokenService): Promise<Client> {
  const token = await tokens.sign(user, { ttlSeconds: 24 * 3600 });
  // The SDK's socket, so that a drop can cut it without a close handshake.
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.splice(0, sockets.length, this);
    }
  }
  const sdk = new Herald({ url: `${ports.http.replace(/^http/, 'ws')}/ws`, token, WebSocket: Tracked, minBackoffMs: 50, maxBackoffMs: 1000, storage: null });
  const c: Client = {
    kind: 'native',
    user,
    got: [],
    expected: new Map(),
    drops: [],
    connected: true,
    // An abrupt drop (no close handshake): the SDK reconnects and resumes from its positions.
    drop: () => sockets[0]?.terminate(),
    close: () => sdk.close(),
  };
  sdk.on('message', (m) => {
    const n = seqOf(m.data);
    if (n !== undefined) c.got.push(n);
  });
  await sdk.connect();
  return c;
}

/**
 * A Socket.IO or 1234 client's record, with their drop: the socket cut, then opened again within 0.5 s. Not again
 * while its reconnect is pending: two sockets of one client would count every message twice.
 */
function reconnecting(kind: Kind, user: string, cut: () => void, reopen: () => void, close: () => void): Client {
  const c: Client = {
    kind,
    user,
    got: [],
    expected: new Map(),
    drops: [],
    connected: false,
    drop() {
      if (!c.connected) return;
      c.drops.push(Date.now());
      c.connected = false;
      cut();
      setTimeout(reopen, Math.random() * 500).unref();
    },
    close,
  };
  return c;
}

function sioClient(ports: Ports, user: string): Promise<Client> {
  const socket: SioSocket = ioClient(`http://127.0.0.1:${ports.socketio}`, { transports: ['websocket'], forceNew: true, reconnection: true });
  const c = reconnecting(
    'socketio',
    user,
    () => socket.disconnect(),
    () => socket.connect(),
    () => socket.close(),
  );
  socket.on('new_msg', (text: string) => {
    const n = seqOf(text);
    if (n !== undefined) c.got.push(n);
  });
  return new Promise((resolve) => {
    socket.on('connect', () => socket.emit('login', user, () => ((c.connected = true), resolve(c))));
  });
}

function wsClient(ports: Ports, user: string): Promise<Client> {
  let ws: WebSocket;
  const c = reconnecting(
    'websocket',
    user,
    () => ws.terminate(),
    () => void open(),
    () => ws.close(),
  );
  const open = (): Promise<void> =>
    new Promise((resolve) => {
      ws = new WebSocket(`ws://127.0.0.1:${ports.websocket}`);
      ws.on('error', () => {});
      ws.on('message', (raw) => {
        const n = seqOf(raw.toString());
        if (n !== undefined) c.got.push(n);
      });
      ws.on('open', () => {
        ws.send(user);
        // The 1234 port answers nothing to a login: the connection counts once the publisher's reply says so.
        c.connected = true;
        resolve();
      });
    });
  return open().then(() => c);
}

function count(c: Client, end: number): { lost: number; duplicated: number; reordered: number; expected: number } {
  const seen = new Set<number>();
  let duplicated = 0;
  let reordered = 0;
  let last = -1;
  for (const n of c.got) {
    if (seen.has(n)) duplicated++;
    else if (n < last) reordered++;
    seen.add(n);
    last = Math.max(last, n);
  }
  let expected = 0;
  let lost = 0;
  for (const [n, at] of c.expected) {
    if (at > end - GRACE_MS) continue;
    if (c.kind !== 'native' && c.drops.some((d) => d >= at && d <= at + GRACE_MS)) continue;
    expected++;
    if (!seen.has(n)) lost++;
  }
  return { lost, duplicated, reordered, expected };
}

interface MemorySample {
  s: number;
  rssKB: number;
  heapUsedMB: number;
  heapTotalMB: number;
}

/** V8's heap, used and total, from the server's Prometheus metrics (the process's own view, not an estimate). */
async function heapOf(http: string): Promise<{ heapUsedMB: number; heapTotalMB: number }> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  const mb = (bytes: number) => Math.round(bytes / 1048576);
  return { heapUsedMB: mb(read('herald_process_nodejs_heap_size_used_bytes')), heapTotalMB: mb(read('herald_process_nodejs_heap_size_total_bytes')) };
}

const ORDER = ['start', 'warm', 'middle', 'end'];
function order(at: string): number {
  return ORDER.findIndex((o) => at.startsWith(o));
}

async function main(): Promise<void> {
  const { proc, ports, dir } = await startServer();
  const tokens = new TokenService(SECRET);
  const clients: Client[] = [];
  const third = Math.floor(CLIENTS / 3);
  for (let i = 0; i < CLIENTS; i++) {
    const kind: Kind = i < third ? 'native' : i < 2 * third ? 'socketio' : 'websocket';
    const user = `${kind[0]}${i}`;
    clients.push(await (kind === 'native' ? nativeClient(ports, user, tokens) : kind === 'socketio' ? sioClient(ports, user) : wsClient(ports, user)));
  }
  const rss: { at: string; kb: number }[] = [{ at: 'start', kb: rssKB(proc.pid!) }];
  console.log(`soak: ${CLIENTS} clients connected, ${MINUTES} min, ${RATE} msg/s, ${DROPS_PER_SEC} drops/s; RSS ${rss[0]!.kb} KB`);
  // Memory every 30 s: RSS and V8's heap (used / total) from the server's own /metrics, so that growth can be told
  // apart from the heap and allocator sizing themselves to the traffic in its first minute.
  const series: MemorySample[] = [];
  const sample = async (): Promise<void> => {
    series.push({ s: Math.round((Date.now() - startedAt) / 1000), rssKB: rssKB(proc.pid!), ...(await heapOf(ports.http)) });
    const x = series[series.length - 1]!;
    console.log(`soak: ${x.s} s, RSS ${(x.rssKB / 1024).toFixed(1)} MB, heap used ${x.heapUsedMB} MB of ${x.heapTotalMB} MB`);
  };
  const startedAt = Date.now();
  await sample();
  const sampler = setInterval(() => void sample().catch(() => {}), 30_000);

  const endAt = Date.now() + MINUTES * 60_000;
  let seq = 0;
  let published = 0;
  let failed = 0;
  const publish = async (c: Client): Promise<void> => {
    const n = ++seq;
    const at = Date.now();
    if (c.kind === 'native') c.expected.set(n, at);
    try {
      const res = await fetch(`${ports.http}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: c.user }, data: { n } }),
      });
      const body = (await res.json()) as { delivered?: number };
      published++;
      if (c.kind !== 'native' && (body.delivered ?? 0) > 0) c.expected.set(n, at);
    } catch {
      failed++;
    }
  };
  const tick = setInterval(() => {
    for (let k = 0; k < RATE / 10; k++) void publish(clients[Math.floor(Math.random() * clients.length)]!);
  }, 100);
  const drops = setInterval(() => {
    for (let k = 0; k < DROPS_PER_SEC; k++) clients[Math.floor(Math.random() * clients.length)]!.drop();
  }, 1000);
  const middle = setTimeout(() => rss.push({ at: 'middle', kb: rssKB(proc.pid!) }), (MINUTES * 60_000) / 2);
  // V8 grows its young generation (up to 3 x 16 MB semi-spaces) while the traffic's allocation rate asks for it,
  // which takes the first minutes; from then on, growth would be held memory.
  const warm = setTimeout(() => rss.push({ at: 'warm (2 min of traffic)', kb: rssKB(proc.pid!) }), Math.min(120_000, (MINUTES * 60_000) / 4));
  await new Promise((r) => setTimeout(r, endAt - Date.now()));
  clearInterval(tick);
  clearInterval(drops);
  clearTimeout(middle);
  clearTimeout(warm);
  clearInterval(sampler);
  // Let the last messages and resumes arrive before counting (the last GRACE_MS of publishes are not counted).
  await new Promise((r) => setTimeout(r, 5000));
  rss.push({ at: 'end', kb: rssKB(proc.pid!) });
  await sample();
  const end = Date.now() - 5000;
  rss.sort((a, b) => order(a.at) - order(b.at));

  const totals: Record<Kind, { clients: number; expected: number; lost: number; duplicated: number; reordered: number }> = {
    native: { clients: 0, expected: 0, lost: 0, duplicated: 0, reordered: 0 },
    socketio: { clients: 0, expected: 0, lost: 0, duplicated: 0, reordered: 0 },
    websocket: { clients: 0, expected: 0, lost: 0, duplicated: 0, reordered: 0 },
  };
  for (const c of clients) {
    const r = count(c, end);
    const t = totals[c.kind];
    t.clients++;
    t.expected += r.expected;
    t.lost += r.lost;
    t.duplicated += r.duplicated;
    t.reordered += r.reordered;
  }
  for (const c of clients) c.close();
  proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });

  const warmKB = rss.find((r) => r.at.startsWith('warm'))?.kb ?? rss[0]!.kb;
  const endKB = rss[rss.length - 1]!.kb;
  const growth = (endKB - warmKB) / warmKB;
  const result = {
    minutes: MINUTES,
    clients: CLIENTS,
    ratePerSec: RATE,
    dropsPerSec: DROPS_PER_SEC,
    published,
    failedPublishes: failed,
    totals,
    rss,
    series,
    growthAfterWarm: growth,
  };
  const md = [
    `# Soak: ${MINUTES} min, ${CLIENTS} clients, ${RATE} messages/s, ${DROPS_PER_SEC} drops/s`,
    '',
    '| transport | clients | messages counted | lost | duplicated | reordered |',
    '|---|---|---|---|---|---|',
    ...(Object.entries(totals) as [Kind, (typeof totals)[Kind]][]).map(
      ([k, t]) => `| ${k} | ${t.clients} | ${t.expected} | ${t.lost} | ${t.duplicated} | ${t.reordered} |`,
    ),
    '',
    `Server RSS: ${rss.map((r) => `${r.at} ${(r.kb / 1024).toFixed(1)} MB`).join(', ')}. Published ${published}, failed publishes ${failed}.`,
    '',
    `From the warm sample to the end: ${(growth * 100).toFixed(1)}% (flat within 10%: ${Math.abs(growth) <= 0.1 ? 'yes' : 'no'}).`,
    '',
    '| s | RSS MB | heap used MB | heap total MB | RSS outside the heap MB |',
    '|---|---|---|---|---|',
    ...series.map((x) => `| ${x.s} | ${(x.rssKB / 1024).toFixed(1)} | ${x.heapUsedMB} | ${x.heapTotalMB} | ${(x.rssKB / 1024 - x.heapTotalMB).toFixed(1)} |`),
    '',
  ].join('\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS, 'soak.md'), md);
  console.log(md);
  const bad = Object.values(totals).some((t) => t.lost + t.duplicated + t.reordered > 0);
  process.exit(bad ? 1 : 0);
}

await main();
