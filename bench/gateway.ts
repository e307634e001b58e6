// The gateway suite (issue 13, must-have 6): client message -> backend -> reply round trips per second through the
// Swoole profile's webhook and through the GatewayWorker protocol, and GatewayClient-style `sendToUid` pushes per
// second, each at N = 1,000 connected clients (50 in --quick).
// Run: node --import tsx bench/gateway.ts [--quick]   (npm run bench runs it after the other suites; --skip-gateway)
//
// Every party is its own process: Herald (bench/peers/herald-backend.ts, pinned to CPU 0), the clients (the C load
// client, bench/load/wsload.c, in its `loop` mode: each connection keeps one message in flight and sends the next
// when the reply comes back; pinned to CPU 1), and the backend, unpinned: a Node `http` webhook
// (bench/peers/webhook.ts), a BusinessWorker stand-in (bench/peers/gw-worker.ts) and a GatewayClient stand-in
// (bench/peers/gw-client.ts). Each row reports the CPU of all three, so a reader can tell which one limits it.
// Each timed run repeats RUNS times on the same connections; the tables show medians (the JSON keeps the runs).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_KEY, BENCH, FLAGS, log, nowUs, quick, RESULTS, RUNS, sleep, settle, TICK_HZ, TOKEN_SECRET, twoCores } from './lib/config.ts';
import { repeat, type Repeated } from './lib/median.ts';
import { cpuTicks, Proc, rssKB, stopAll } from './lib/proc.ts';
import { freePort } from './lib/session.ts';
import { buildLoadClient } from './lib/tools.ts';
import { writeReport } from './report.ts';
import { k, ms } from './table.ts';

const N = quick ? 50 : 1000;
const SECONDS = quick ? 0.5 : 5;
/** sendToUid frames per run: a few seconds at the rates seen here. */
const PUSHES = quick ? 2000 : 200_000;
const SECRET = 'bench-gateway-secret-0123456789';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const TIMEOUT_MS = quick ? 20_000 : 60_000;

/** Herald's process gets --expose-gc (for RSS after gc) and, with --profile, a V8 CPU profile per server. */
const heraldFlags = (name: string): string[] => ['--expose-gc', ...(FLAGS.profile ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles', name)] : [])];

const node = (file: string, args: string[], cpu?: number, flags: string[] = []): Proc =>
  new Proc('node', [...flags, '--import', 'tsx', join(BENCH, 'peers', file), ...args], {
    ...(cpu === undefined ? {} : { cpu }),
    env: { ...process.env, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET, HERALD_WEBHOOK_SECRET: WEBHOOK_SECRET, HERALD_LOG_LEVEL: 'warn' },
  });

interface Parties {
  srv: Proc;
  backend: Proc;
  cli: Proc;
}

/** CPU seconds of each party since `since` (a snapshot of their ticks), as fractions of one core over `wall` s. */
const ticksOf = (p: Parties): number[] => [cpuTicks(p.srv.pid), cpuTicks(p.backend.pid), cpuTicks(p.cli.pid)];

export interface RunResult {
  /** Replies (or pushes) received by the clients. */
  delivered: number;
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** Herald's CPU per reply or push, µs. */
  serverUsPerMsg: number;
  serverCpu: number;
  backendCpu: number;
  loaderCpu: number;
}

function runResult(p: Parties, t0: number[], wall: number, delivered: number, seconds: number, r: Record<string, unknown>): RunResult {
  const [s, b, c] = ticksOf(p).map((t, i) => (t - t0[i]!) / TICK_HZ);
  return {
    delivered,
    perSec: delivered / seconds,
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    serverUsPerMsg: delivered > 0 ? (s! * 1e6) / delivered : Number.NaN,
    serverCpu: s! / wall,
    backendCpu: b! / wall,
    loaderCpu: c! / wall,
  };
}

/** One closed-loop run: every client keeps one message in flight for SECONDS; replies counted and timed. */
async function loopOnce(p: Parties, seconds: number): Promise<RunResult> {
  await p.cli.ask('reset', 'reset');
  const t0 = ticksOf(p);
  const w0 = nowUs();
  const start = await p.cli.ask('loop 1', 'loop');
  await sleep(seconds * 1000);
  const r = await p.cli.ask('report', 'report');
  const wall = (nowUs() - w0) / 1e6;
  const res = runResult(p, t0, wall, Number(r.delivered), (Number(r.now_us) - Number(start.us)) / 1e6, r);
  await p.cli.ask('stop', 'stop');
  await settle(400); // the replies still in flight arrive before the next run's reset
  return res;
}

async function pushOnce(p: Parties): Promise<RunResult> {
  await p.cli.ask('reset', 'reset');
  const t0 = ticksOf(p);
  const w0 = nowUs();
  const sent = await p.backend.ask(`send ${PUSHES} ${N}`, 'sent', TIMEOUT_MS);
  const r = await p.cli.ask(`expect ${PUSHES} ${TIMEOUT_MS}`, 'expect', TIMEOUT_MS + 5000);
  const wall = (nowUs() - w0) / 1e6;
  const delivered = Number(r.delivered);
  if (delivered < PUSHES) log(`  sendToUid: ${delivered} of ${PUSHES} pushes arrived`);
  return runResult(p, t0, wall, delivered, (Number(r.last_rx_us) - Number(sent.firstUs)) / 1e6, r);
}

/** The load client with N plain WebSocket connections to `port` (path `/`, as `new WebSocket("ws://host:port")`). */
async function openClients(wsload: string, port: number): Promise<{ cli: Proc; ok: number }> {
  const file = join(RESULTS, '.bin', 'paths-gateway.txt');
  writeFileSync(file, '/\n');
  const cli = new Proc(wsload, ['ws', '127.0.0.1', String(port), file, String(N), '256'], { cpu: 1 });
  const c = await cli.wait('connected', 60_000);
  if (Number(c.ok) < N) log(`  only ${String(c.ok)}/${N} connected`);
  await settle(500); // the backend's open / ON_CONNECT work
  return { cli, ok: Number(c.ok) };
}

async function gcRss(srv: Proc): Promise<number> {
  await srv.ask('gc', 'gc', 30_000);
  await settle(300);
  return rssKB(srv.pid);
}

export interface PathResult {
  path: string;
  connected: number;
  /** Herald's RSS per connection, KB: idle (after the connections opened) and after the timed runs, each after gc. */
  kbPerConnIdle: number;
  kbPerConnAfter: number;
  result: Repeated<RunResult>;
}

interface Phase {
  path: string;
  backend: Proc;
  once: (p: Parties) => Promise<RunResult>;
}

/** Opens the clients on a started server, then runs each phase on them: a warm-up, then RUNS timed runs. */
async function measure(srv: Proc, wsload: string, port: number, phases: Phase[]): Promise<PathResult[]> {
  const base = await gcRss(srv);
  const { cli, ok } = await openClients(wsload, port);
  const perConn = (kb: number): number => (ok > 0 ? (kb - base) / ok : 0);
  const out: PathResult[] = [];
  try {
    const idle = perConn(await gcRss(srv));
    for (const { path, backend, once } of phases) {
      const p = { srv, backend, cli };
      log(`${path}: ${ok} clients, warm-up`);
      await once(p);
      const result = await repeat(RUNS, () => once(p));
      const after = perConn(await gcRss(srv));
      log(`  ${k(result.perSec)}/s, p99 ${ms(result.p99ms)} ms, Herald ${ms(result.serverUsPerMsg)} µs CPU each`);
      out.push({ path, connected: ok, kbPerConnIdle: idle, kbPerConnAfter: after, result });
    }
    return out;
  } finally {
    await cli.stop();
  }
}

async function swoolePath(wsload: string, dataDir: string): Promise<PathResult> {
  const hook = node('webhook.ts', [WEBHOOK_SECRET]);
  const { port: hookPort } = await hook.wait('ready', 30_000);
  const srv = node(
    'herald-backend.ts',
    ['swoole', String(await freePort()), `http://127.0.0.1:${String(hookPort)}/events`, dataDir],
    0,
    heraldFlags('gateway-swoole'),
  );
  try {
    const { clientPort } = await srv.wait('ready', 30_000);
    const phase = { path: 'webhook round trip (--profile swoole)', backend: hook, once: (p: Parties) => loopOnce(p, SECONDS) };
    return (await measure(srv, wsload, Number(clientPort), [phase]))[0]!;
  } finally {
    await srv.stop();
    await hook.stop();
  }
}

async function gatewayPaths(wsload: string, dataDir: string): Promise<PathResult[]> {
  const srv = node(
    'herald-backend.ts',
    ['gatewayworker', String(await freePort()), String(await freePort()), dataDir, SECRET],
    0,
    heraldFlags('gateway-gatewayworker'),
  );
  let worker: Proc | undefined;
  let client: Proc | undefined;
  try {
    const ready = await srv.wait('ready', 30_000);
    worker = node('gw-worker.ts', [String(ready.register), SECRET]);
    await worker.wait('ready', 30_000);
    client = node('gw-client.ts', [String(ready.register), SECRET]);
    await client.wait('ready', 30_000);
    // One set of clients for both rows: the worker binds each to uid u<connection id> (1..N on a fresh gateway),
    // the uids the GatewayClient sends to.
    return await measure(srv, wsload, Number(ready.clientPort), [
      { path: 'worker protocol round trip (--profile gatewayworker)', backend: worker, once: (p) => loopOnce(p, SECONDS) },
      { path: 'GatewayClient sendToUid push (--profile gatewayworker)', backend: client, once: pushOnce },
    ]);
  } finally {
    await client?.stop();
    await worker?.stop();
    await srv.stop();
  }
}

function row(r: PathResult): Record<string, string | number> {
  const x = r.result;
  return {
    path: r.path,
    clients: r.connected,
    'msgs/s (↑)': k(x.perSec),
    'p50 ms': ms(x.p50ms),
    'p99 ms': ms(x.p99ms),
    'Herald µs CPU/msg (↓)': ms(x.serverUsPerMsg),
    'Herald CPU %': ms(x.serverCpu * 100),
    'backend CPU %': ms(x.backendCpu * 100),
    'load client CPU %': ms(x.loaderCpu * 100),
    'Herald KB/conn idle': ms(r.kbPerConnIdle),
    'Herald KB/conn after': ms(r.kbPerConnAfter),
  };
}

const NOTES = [
  `N = ${N} plain WebSocket clients from the C load client; round trips: one message in flight per client, ${SECONDS} s per run; sendToUid: ${PUSHES} SEND_TO_UID frames pipelined on one inner-port connection, one uid per client in turn. Medians of ${RUNS} runs after a warm-up.`,
  'msgs/s: replies (round trips) or pushes received by the clients per second; p50/p99: client send -> reply (round trips) or GatewayClient send -> client receipt (pushes, queueing in the pipelined connection included).',
  `Herald pinned to CPU 0 and the load client to CPU 1${twoCores ? '' : ' (not pinned: one core)'}; the backend (webhook, BusinessWorker or GatewayClient stand-in, Node) is not pinned and shares both cores. CPU % is of one core.`,
  'KB/conn: Herald RSS after gc, minus the RSS before the clients, per client; "after": at the end of the timed runs (the webhook path then also holds its keep-alive connections to the webhook).',
];

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const wsload = buildLoadClient();
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-gw-'));
  try {
    const results = [await swoolePath(wsload, dataDir), ...(await gatewayPaths(wsload, dataDir))];
    const table = results.map(row);
    console.table(table);
    writeReport(quick ? 'gateway-quick' : 'gateway', { quick, runs: RUNS, n: N, seconds: SECONDS, pushes: PUSHES, paths: results }, table, { notes: NOTES });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

try {
  await main();
} finally {
  await stopAll();
}
