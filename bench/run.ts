// `npm run bench`: Herald and its peers (socket.io, a plain `ws` send loop, Bun's uWebSockets `publish` when bun is
// available) on the same workloads, driven by a C epoll load client (bench/load/wsload.c, compiled here with gcc).
// Prints a table with ratios (Herald / peer) and writes bench/results/bench.json and bench.md (bench-quick.* with
// --quick). Then runs the store suite (bench/store.ts) and the cluster suite (bench/cluster.ts). See docs/performance.md.
//
//   npm run bench [-- --quick] [--only herald,ws] [--skip-store] [--skip-cluster] [--no-bun-install] [--profile]
//
// Every loop is bounded by a count and a timeout; all traffic stays on 127.0.0.x; child processes are stopped by PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TokenService } from '../src/auth/tokens.ts';
import { writeReport } from './report.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = flag('--only')?.split(',');
const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(import.meta.dirname, 'results');
const API_KEY = 'bench-api-key-0123456789abcdef';
const TOKEN_SECRET = 'bench-token-secret-0123456789abcdef0123456789';
const TICK_HZ = 100; // USER_HZ for /proc/<pid>/stat
const twoCores = cpus().length >= 2;
const started = Date.now();

const CFG = quick
  ? {
      ns: [500],
      single: { 500: 40 } as Record<number, number>,
      burst10: { 500: 200 } as Record<number, number>,
      rates: [20_000, 100_000],
      pacedSec: 1,
      idleN: 2000,
      unicastCount: 2000,
      unicastN: 500,
      lineCount: 10_000,
      batchCount: 10_000,
    }
  : {
      ns: [1000, 10_000],
      single: { 1000: 500, 10000: 50 } as Record<number, number>,
      burst10: { 1000: 2000, 10000: 200 } as Record<number, number>,
      rates: [25_000, 50_000, 100_000, 200_000, 400_000, 800_000],
      pacedSec: 3,
      idleN: 19_500, // hard fd limit here is 20000 per process
      unicastCount: 20_000,
      unicastN: 10_000,
      lineCount: 100_000,
      batchCount: 100_000,
    };

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
};

// ---------- child processes speaking JSON lines ----------
type Msg = Record<string, unknown> & { event?: string };

const live = new Set<Proc>();

class Proc {
  readonly child: ChildProcess;
  private queue: Msg[] = [];
  private waiters: { event: string; resolve: (m: Msg) => void }[] = [];
  exited = false;
  stderr = '';

  constructor(cmd: string, args: string[], opts: { cpu?: number; env?: NodeJS.ProcessEnv; cwd?: string }) {
    // Raise the fd limit to the hard limit, and pin to one core when there are two (server on 0, load on 1).
    const pin = twoCores && opts.cpu !== undefined ? ['taskset', '-c', String(opts.cpu)] : [];
    this.child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pin, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? ROOT,
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        return;
      }
      const i = this.waiters.findIndex((w) => w.event === m.event);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.queue.push(m);
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.stdin!.on('error', () => undefined);
    live.add(this);
    this.child.on('exit', () => {
      live.delete(this);
      this.exited = true;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(`${line}\n`);
  }

  wait(event: string, timeoutMs: number): Promise<Msg> {
    const i = this.queue.findIndex((m) => m.event === event);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { event, resolve: (m: Msg) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout waiting for "${event}" from pid ${this.pid}; stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async ask(line: string, event: string, timeoutMs = 10_000): Promise<Msg> {
    this.send(line);
    return this.wait(event, timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.send('quit');
    for (let i = 0; i < 30 && !this.exited; i++) await sleep(100);
    if (!this.exited) this.child.kill('SIGKILL');
    for (let i = 0; i < 20 && !this.exited; i++) await sleep(50);
  }
}

function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

function rssKB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// ---------- tools ----------
function buildLoadClient(): string {
  const bin = join(RESULTS, '.bin', 'wsload');
  mkdirSync(join(RESULTS, '.bin'), { recursive: true });
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, join(import.meta.dirname, 'load', 'wsload.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed (the bench needs gcc): ${r.stderr || r.error}`);
  return bin;
}

function findBun(): { bin?: string; note: string } {
  const candidates = [process.env.BUN, join(ROOT, 'node_modules', '.bin', 'bun'), join(RESULTS, '.tools', 'node_modules', '.bin', 'bun')];
  const onPath = spawnSync('sh', ['-c', 'command -v bun'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.unshift(onPath);
  for (const c of candidates) {
    if (c && existsSync(c) && spawnSync(c, ['--version'], { timeout: 10_000 }).status === 0) return { bin: c, note: `bun ${spawnSync(c, ['--version'], { encoding: 'utf8' }).stdout.trim()}` };
  }
  if (quick || argv.includes('--no-bun-install')) return { note: 'bun not found (not installed in --quick mode; run the full bench or set BUN=/path/to/bun)' };
  log('bun not found: installing it from npm into bench/results/.tools (npm install --no-save bun)');
  const dir = join(RESULTS, '.tools');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"name":"bench-tools","private":true}\n');
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', 'bun'], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  const bin = join(dir, 'node_modules', '.bin', 'bun');
  if (r.status === 0 && existsSync(bin) && spawnSync(bin, ['--version'], { timeout: 10_000 }).status === 0) {
    return { bin, note: `bun ${spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()} (installed from npm for the bench)` };
  }
  return { note: `bun could not be installed here (${(r.stderr || String(r.error)).trim().split('\n').slice(-1)[0]}); Bun skipped` };
}

// ---------- variants ----------
interface Variant {
  name: string;
  /** Native protocol (ws frames) or Engine.IO v4. */
  proto: 'ws' | 'eio4';
  start(port: number, linePort: number): Proc;
  /** Request path for connection i (user u<i>). */
  paths(n: number): Promise<string[]>;
  herald: boolean;
  /** Skipped workloads. */
  skip?: Set<string>;
}

const tokens = new TokenService(TOKEN_SECRET);
const tokenCache: string[] = [];
async function heraldPaths(n: number): Promise<string[]> {
  for (let i = tokenCache.length; i < n; i++) tokenCache.push(`/ws?token=${await tokens.sign(`u${i}`, { ttlSeconds: 6 * 3600 })}`);
  return tokenCache.slice(0, n);
}
const userPaths = (prefix: string) => async (n: number) => Array.from({ length: n }, (_, i) => `${prefix}u${i}`);
const nodeArgs = (name: string): string[] => ['--expose-gc', ...(argv.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles', name)] : [])];

function heraldVariant(store: 'memory' | 'sqlite'): Variant {
  const name = store === 'memory' ? 'herald' : 'herald-sqlite';
  return {
    name,
    proto: 'ws',
    herald: true,
    skip: store === 'sqlite' ? new Set(['idle', 'n10000']) : undefined,
    paths: heraldPaths,
    start(port, linePort) {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
      const env = { ...process.env, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET, HERALD_LOG_LEVEL: 'warn', HERALD_STORE: store };
      return new Proc('node', [...nodeArgs(name), '--import', 'tsx', join(import.meta.dirname, 'peers', 'herald.ts'), String(port), String(linePort), store, dataDir], { cpu: 0, env });
    },
  };
}

function variants(bun: string | undefined): Variant[] {
  const list: Variant[] = [
    heraldVariant('memory'),
    {
      name: 'ws',
      proto: 'ws',
      herald: false,
      paths: userPaths('/ws?user='),
      start: (port) => new Proc('node', [...nodeArgs('ws'), join(import.meta.dirname, 'peers', 'ws.mjs'), String(port)], { cpu: 0 }),
    },
    {
      name: 'socket.io',
      proto: 'eio4',
      herald: false,
      paths: userPaths('/socket.io/?EIO=4&transport=websocket&user='),
      start: (port) => new Proc('node', [...nodeArgs('sio'), join(import.meta.dirname, 'peers', 'sio.mjs'), String(port)], { cpu: 0 }),
    },
  ];
  if (bun) {
    list.push({
      name: 'bun',
      proto: 'ws',
      herald: false,
      paths: userPaths('/ws?user='),
      start: (port) => new Proc(bun, [join(import.meta.dirname, 'peers', 'bun.mjs'), String(port)], { cpu: 0 }),
    });
  }
  if (!quick) list.splice(1, 0, heraldVariant('sqlite'));
  return only ? list.filter((v) => only.includes(v.name)) : list;
}

// ---------- workloads ----------
let wsloadBin = '';
let portSeq = 21000 + Math.floor(Math.random() * 2000) * 10;

async function startServer(v: Variant): Promise<{ srv: Proc; port: number; linePort: number }> {
  const port = portSeq++;
  const linePort = portSeq++;
  const srv = v.start(port, linePort);
  await srv.wait('ready', 30_000);
  // Calibrate the server's clock against ours (a no-op for Node, whose hrtime is CLOCK_MONOTONIC).
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 5; i++) {
    const a = nowUs();
    const m = await srv.ask('clock', 'clock');
    const b = nowUs();
    if (b - a < best.rtt) best = { rtt: b - a, offset: Math.round((a + b) / 2 - Number(m.us)) };
  }
  await srv.ask(`offset ${best.offset}`, 'offset');
  return { srv, port, linePort };
}

async function openClients(v: Variant, port: number, n: number, timeoutMs = 120_000): Promise<{ cli: Proc; connected: Msg }> {
  const file = join(RESULTS, '.bin', `paths-${v.name}-${n}.txt`);
  writeFileSync(file, `${(await v.paths(n)).join('\n')}\n`);
  const cli = new Proc(wsloadBin, [v.proto, '127.0.0.1', String(port), file, String(n), '256'], { cpu: 1 });
  const connected = await cli.wait('connected', timeoutMs);
  await sleep(300); // welcome frames
  return { cli, connected };
}

interface BurstResult {
  messages: number;
  perTurn: number;
  expected: number;
  delivered: number;
  deliveriesPerSec: number;
  p50ms: number;
  p99ms: number;
  serverCpu: number;
  clientCpu: number;
  serverUsPerDelivery: number;
  /** Client read() calls per delivery: below 1 when the server coalesced several frames into one write. */
  readsPerDelivery: number;
}

async function burst(srv: Proc, cli: Proc, n: number, messages: number, perTurn: number): Promise<BurstResult> {
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const c0 = cpuTicks(cli.pid);
  const t0 = nowUs();
  const expected = messages * n;
  srv.send(`burst ${messages} ${perTurn}`);
  const r = await cli.ask(`expect ${expected} ${quick ? 20_000 : 60_000}`, 'expect', 70_000);
  const wall = (nowUs() - t0) / 1e6;
  const sCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ;
  const cCpu = (cpuTicks(cli.pid) - c0) / TICK_HZ;
  const delivered = Number(r.delivered);
  const span = (Number(r.last_rx_us) - t0) / 1e6;
  await srv.wait('burst', 30_000).catch(() => undefined);
  return {
    messages,
    perTurn,
    expected,
    delivered,
    deliveriesPerSec: span > 0 ? delivered / span : 0,
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    serverCpu: sCpu / wall,
    clientCpu: cCpu / wall,
    serverUsPerDelivery: delivered > 0 ? (sCpu * 1e6) / delivered : 0,
    readsPerDelivery: delivered > 0 ? Number(r.reads) / delivered : 0,
  };
}

interface PacedResult {
  target: number;
  achieved: number;
  p50ms: number;
  p99ms: number;
  serverCpu: number;
  clientCpu: number;
  saturated: boolean;
}

async function drain(cli: Proc): Promise<void> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const r = await cli.ask('report', 'report');
    if (Number(r.delivered) === last) return;
    last = Number(r.delivered);
    await sleep(250);
  }
}

async function paced(srv: Proc, cli: Proc, n: number): Promise<PacedResult[]> {
  const out: PacedResult[] = [];
  for (const target of CFG.rates) {
    const msgRate = target / n;
    const total = Math.max(1, Math.round(msgRate * CFG.pacedSec));
    await cli.ask('reset', 'reset');
    const s0 = cpuTicks(srv.pid);
    const c0 = cpuTicks(cli.pid);
    const t0 = nowUs();
    srv.send(`paced ${msgRate} ${CFG.pacedSec}`);
    const r = await cli.ask(`expect ${total * n} ${CFG.pacedSec * 1000 + 5000}`, 'expect', CFG.pacedSec * 1000 + 15_000);
    const wall = (nowUs() - t0) / 1e6;
    await srv.wait('paced', 20_000).catch(() => undefined);
    const delivered = Number(r.delivered);
    // The run starts 1 ms after the command; the window is the scheduled duration or until the last receipt.
    const span = Math.max(CFG.pacedSec, (Number(r.last_rx_us) - t0 - 1000) / 1e6);
    const achieved = delivered / span;
    const p99 = Number(r.p99_ms);
    const saturated = achieved < 0.85 * target || p99 > 500 || delivered < total * n * 0.99;
    out.push({
      target,
      achieved,
      p50ms: Number(r.p50_ms),
      p99ms: p99,
      serverCpu: (cpuTicks(srv.pid) - s0) / TICK_HZ / wall,
      clientCpu: (cpuTicks(cli.pid) - c0) / TICK_HZ / wall,
      saturated,
    });
    log(`  paced ${target / 1000}k/s: achieved ${(achieved / 1000).toFixed(0)}k/s p50 ${r.p50_ms} p99 ${p99} ms${saturated ? ' (saturated)' : ''}`);
    if (saturated) {
      await drain(cli);
      break;
    }
  }
  return out;
}

interface UnicastResult {
  conns: number;
  requests: number;
  bad: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  delivered: number;
  e2eP99ms: number;
  serverCpu: number;
  loaderCpu: number;
}

async function unicastHttp(srv: Proc, cli: Proc, port: number, conns: number, users: number): Promise<UnicastResult> {
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const t0 = nowUs();
  const pub = new Proc(wsloadBin, ['http', '127.0.0.1', String(port), String(conns), String(CFG.unicastCount), String(users), API_KEY, String(quick ? 15_000 : 30_000)], { cpu: 1 });
  const r = await pub.wait('http', 40_000);
  const loaderTicks = cpuTicks(pub.pid);
  const wall = (nowUs() - t0) / 1e6;
  const sCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / wall;
  await pub.stop();
  const d = await cli.ask(`expect ${Number(r.requests)} 5000`, 'expect', 10_000);
  return {
    conns,
    requests: Number(r.requests),
    bad: Number(r.bad),
    rps: Number(r.rps),
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    delivered: Number(d.delivered),
    e2eP99ms: Number(d.p99_ms),
    serverCpu: sCpu,
    loaderCpu: loaderTicks / TICK_HZ / wall,
  };
}

interface ThroughputResult {
  messages: number;
  seconds: number;
  perSec: number;
  delivered: number;
  e2eP99ms: number;
  serverCpu: number;
}

/** Pipelined line port: auth, then publish lines with up to `window` unanswered. */
async function linePort(srv: Proc, cli: Proc, port: number, users: number): Promise<ThroughputResult> {
  await cli.ask('reset', 'reset');
  const total = CFG.lineCount;
  const window = 4000;
  const chunk = 500;
  const sock = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.10' });
  sock.setNoDelay(true);
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  let replies = 0;
  let errors = 0;
  let sent = 0;
  let t0 = 0;
  let s0 = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`line port: ${replies}/${total} replies before timeout`)), quick ? 20_000 : 60_000);
    let authed = false;
    const pump = (): void => {
      while (sent < total && sent - replies < window) {
        const n = Math.min(chunk, total - sent);
        let s = '';
        for (let k = 0; k < n; k++, sent++) s += `{"op":"publish","to":{"user":"u${(sent * 7919) % users}"},"data":{"t":${nowUs()},"text":"a typical small message, about a hundred bytes on the wire"}}\n`;
        sock.write(s);
      }
    };
    sock.on('data', (buf: Buffer) => {
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
        if (!authed) {
          authed = true;
          t0 = nowUs();
          s0 = cpuTicks(srv.pid);
          continue;
        }
        replies++;
      }
      if (!authed) return;
      // Replies are coalesced, and a TCP chunk may start mid-line: count error lines, not chunk starts.
      for (let i = buf.indexOf('ERR '); i !== -1; i = buf.indexOf('ERR ', i + 4)) if (i === 0 || buf[i - 1] === 10) errors++;
      if (replies >= total) {
        clearTimeout(timer);
        resolve();
      } else pump();
    });
    sock.write(`{"op":"auth","key":"${API_KEY}"}\n`);
    sock.once('data', () => pump());
  });
  await done;
  const seconds = (nowUs() - t0) / 1e6;
  const serverCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / seconds;
  sock.destroy();
  const d = await cli.ask(`expect ${total} 5000`, 'expect', 10_000);
  if (errors > 0) log(`  line port: ${errors} ERR replies`);
  return { messages: total, seconds, perSec: total / seconds, delivered: Number(d.delivered), e2eP99ms: Number(d.p99_ms), serverCpu };
}

/** Batch publish requests of 500 messages, 2 requests in flight. */
async function batch(srv: Proc, cli: Proc, port: number, users: number): Promise<ThroughputResult> {
  await cli.ask('reset', 'reset');
  const size = 500;
  const total = CFG.batchCount;
  let next = 0;
  const t0 = nowUs();
  const s0 = cpuTicks(srv.pid);
  const deadline = Date.now() + (quick ? 20_000 : 60_000);
  await Promise.all(
    [0, 1].map(async () => {
      while (next < total && Date.now() < deadline) {
        const base = next;
        next += size;
        let body = '{"messages":[';
        for (let k = 0; k < size; k++) body += `${k ? ',' : ''}{"to":{"user":"u${((base + k) * 7919) % users}"},"data":{"t":${nowUs()},"text":"a typical small message, about a hundred bytes on the wire"}}`;
        body += ']}';
        const res = await fetch(`http://127.0.0.1:${port}/api/publish/batch`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`batch publish: HTTP ${res.status}`);
      }
    }),
  );
  const seconds = (nowUs() - t0) / 1e6;
  const serverCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / seconds;
  const d = await cli.ask(`expect ${total} 5000`, 'expect', 10_000);
  return { messages: total, seconds, perSec: total / seconds, delivered: Number(d.delivered), e2eP99ms: Number(d.p99_ms), serverCpu };
}

interface IdleResult {
  n: number;
  connected: number;
  failed: number;
  connectSeconds: number;
  connectionsPerSec: number;
  baselineMB: number;
  idleMB: number;
  kbPerConnection: number;
}

async function idle(v: Variant): Promise<IdleResult> {
  const { srv, port } = await startServer(v);
  try {
    await srv.ask('gc', 'gc');
    await sleep(300);
    const base = rssKB(srv.pid);
    const { cli, connected } = await openClients(v, port, CFG.idleN, 180_000);
    await sleep(1000);
    await srv.ask('gc', 'gc', 30_000);
    await sleep(500);
    const rss = rssKB(srv.pid);
    const ok = Number(connected.ok);
    const r = await cli.ask('report', 'report');
    await cli.stop();
    const secs = Number(connected.ms) / 1000;
    if (Number(r.open) < ok) log(`  idle: ${ok - Number(r.open)} connections closed by the server while idle`);
    return { n: CFG.idleN, connected: ok, failed: Number(connected.failed), connectSeconds: secs, connectionsPerSec: ok / secs, baselineMB: base / 1024, idleMB: rss / 1024, kbPerConnection: ok > 0 ? (rss - base) / ok : 0 };
  } finally {
    await srv.stop();
  }
}

interface VariantResult {
  name: string;
  idle?: IdleResult;
  broadcast: Record<string, { n: number; single: BurstResult; burst10: BurstResult; paced: PacedResult[] }>;
  unicast?: { http1: UnicastResult; http8: UnicastResult; line?: ThroughputResult; batch?: ThroughputResult };
  error?: string;
}

async function runVariant(v: Variant): Promise<VariantResult> {
  const res: VariantResult = { name: v.name, broadcast: {} };
  if (!v.skip?.has('idle')) {
    log(`${v.name}: idle memory, ${CFG.idleN} connections`);
    res.idle = await idle(v);
    log(`  ${res.idle.connected} connected in ${res.idle.connectSeconds.toFixed(1)} s, ${res.idle.kbPerConnection.toFixed(2)} KB/conn`);
  }
  const { srv, port, linePort: lp } = await startServer(v);
  try {
    for (const n of CFG.ns) {
      if (v.skip?.has(`n${n}`)) continue;
      log(`${v.name}: broadcast, N=${n}`);
      const { cli, connected } = await openClients(v, port, n);
      if (Number(connected.ok) < n) log(`  only ${String(connected.ok)}/${n} connected`);
      await burst(srv, cli, n, Math.max(5, Math.round(CFG.single[n]! / 5)), 1); // warm-up
      const single = await burst(srv, cli, n, CFG.single[n]!, 1);
      log(`  one at a time: ${(single.deliveriesPerSec / 1000).toFixed(0)}k deliveries/s, p99 ${single.p99ms} ms, server ${(single.serverCpu * 100).toFixed(0)}% client ${(single.clientCpu * 100).toFixed(0)}%`);
      const burst10 = await burst(srv, cli, n, CFG.burst10[n]!, 10);
      log(`  10 per turn: ${(burst10.deliveriesPerSec / 1000).toFixed(0)}k deliveries/s, p99 ${burst10.p99ms} ms`);
      const sweep = await paced(srv, cli, n);
      res.broadcast[String(n)] = { n, single, burst10, paced: sweep };
      const un = CFG.unicastN;
      if (n === un) {
        log(`${v.name}: unicast via HTTP, ${un} users connected`);
        const http1 = await unicastHttp(srv, cli, port, 1, un);
        const http8 = await unicastHttp(srv, cli, port, 8, un);
        log(`  HTTP 1 conn: ${http1.rps.toFixed(0)} req/s p99 ${http1.p99ms} ms; 8 conns: ${http8.rps.toFixed(0)} req/s p99 ${http8.p99ms} ms`);
        res.unicast = { http1, http8 };
        if (v.herald) {
          res.unicast.line = await linePort(srv, cli, lp, un);
          res.unicast.batch = await batch(srv, cli, port, un);
          log(`  line port: ${res.unicast.line.perSec.toFixed(0)} msgs/s; batch: ${res.unicast.batch.perSec.toFixed(0)} msgs/s`);
        }
      }
      await cli.stop();
      await sleep(500);
    }
  } finally {
    await srv.stop();
  }
  return res;
}

// ---------- table ----------
const k = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(x < 10 ? 2 : 0));
const ms = (x: number | undefined): string => (x === undefined ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(0));

function maxSustained(p: PacedResult[] | undefined): PacedResult | undefined {
  return p?.filter((r) => !r.saturated).at(-1);
}

interface Metric {
  label: string;
  better: 'higher' | 'lower';
  get: (r: VariantResult) => number | undefined;
  fmt: (x: number | undefined) => string;
}

function metrics(): Metric[] {
  const m: Metric[] = [];
  for (const n of CFG.ns) {
    const b = (r: VariantResult) => r.broadcast[String(n)];
    m.push({ label: `broadcast N=${n}, one msg per turn: deliveries/s`, better: 'higher', get: (r) => b(r)?.single.deliveriesPerSec, fmt: k });
    m.push({ label: `broadcast N=${n}, one msg per turn: p99 ms`, better: 'lower', get: (r) => b(r)?.single.p99ms, fmt: ms });
    m.push({ label: `broadcast N=${n}, one msg per turn: server µs CPU/delivery`, better: 'lower', get: (r) => b(r)?.single.serverUsPerDelivery, fmt: ms });
    m.push({ label: `broadcast N=${n}, one msg per turn: client reads/delivery`, better: 'lower', get: (r) => b(r)?.single.readsPerDelivery, fmt: ms });
    m.push({ label: `broadcast N=${n}, one msg per turn: load client CPU %`, better: 'lower', get: (r) => (b(r) ? b(r)!.single.clientCpu * 100 : undefined), fmt: ms });
    m.push({ label: `broadcast N=${n}, 10 msgs per turn: deliveries/s`, better: 'higher', get: (r) => b(r)?.burst10.deliveriesPerSec, fmt: k });
    m.push({ label: `broadcast N=${n}, 10 msgs per turn: p99 ms`, better: 'lower', get: (r) => b(r)?.burst10.p99ms, fmt: ms });
    m.push({ label: `sustained N=${n}: highest unsaturated rate, deliveries/s`, better: 'higher', get: (r) => maxSustained(b(r)?.paced)?.achieved, fmt: k });
    m.push({ label: `sustained N=${n}: p99 ms at that rate`, better: 'lower', get: (r) => maxSustained(b(r)?.paced)?.p99ms, fmt: ms });
    const r50 = CFG.rates.find((x) => x >= 50_000) ?? CFG.rates[0]!;
    m.push({ label: `paced N=${n} at ${r50 / 1000}k deliveries/s: p99 ms`, better: 'lower', get: (r) => b(r)?.paced.find((p) => p.target === r50)?.p99ms, fmt: ms });
  }
  m.push({ label: 'unicast HTTP POST, 1 keep-alive conn: req/s', better: 'higher', get: (r) => r.unicast?.http1.rps, fmt: k });
  m.push({ label: 'unicast HTTP POST, 1 conn: p99 ms', better: 'lower', get: (r) => r.unicast?.http1.p99ms, fmt: ms });
  m.push({ label: 'unicast HTTP POST, 8 keep-alive conns: req/s', better: 'higher', get: (r) => r.unicast?.http8.rps, fmt: k });
  m.push({ label: 'unicast HTTP POST, 8 conns: p99 ms', better: 'lower', get: (r) => r.unicast?.http8.p99ms, fmt: ms });
  m.push({ label: 'unicast HTTP POST, 8 conns: server CPU %', better: 'lower', get: (r) => (r.unicast ? r.unicast.http8.serverCpu * 100 : undefined), fmt: ms });
  m.push({ label: 'unicast HTTP POST, 8 conns: loader CPU %', better: 'lower', get: (r) => (r.unicast ? r.unicast.http8.loaderCpu * 100 : undefined), fmt: ms });
  m.push({ label: 'unicast, pipelined line port: msgs/s', better: 'higher', get: (r) => r.unicast?.line?.perSec, fmt: k });
  m.push({ label: 'unicast, batch publish (500/request): msgs/s', better: 'higher', get: (r) => r.unicast?.batch?.perSec, fmt: k });
  m.push({ label: `idle memory at ${CFG.idleN} connections: KB/connection (RSS)`, better: 'lower', get: (r) => r.idle?.kbPerConnection, fmt: ms });
  m.push({ label: `idle server RSS at ${CFG.idleN} connections: MB`, better: 'lower', get: (r) => r.idle?.idleMB, fmt: ms });
  m.push({ label: `connection rate (${CFG.idleN} connections, 256 in flight): conn/s`, better: 'higher', get: (r) => r.idle?.connectionsPerSec, fmt: k });
  return m;
}

function buildTable(results: VariantResult[]): Record<string, string>[] {
  const herald = results.find((r) => r.name === 'herald');
  const peers = results.filter((r) => r.name !== 'herald');
  return metrics().map((m) => {
    const row: Record<string, string> = { metric: `${m.label} (${m.better === 'higher' ? '↑' : '↓'})` };
    for (const r of results) row[r.name] = m.fmt(m.get(r));
    const h = herald ? m.get(herald) : undefined;
    for (const p of peers) {
      if (p.name.startsWith('herald')) continue;
      const x = m.get(p);
      row[`herald/${p.name}`] = h !== undefined && x !== undefined && x > 0 ? `${(h / x).toFixed(2)}x` : '–';
    }
    return row;
  });
}

// ---------- main ----------
async function main(): Promise<number> {
  mkdirSync(RESULTS, { recursive: true });
  wsloadBin = buildLoadClient();
  const hardNofile = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || 0;
  if (hardNofile && hardNofile < CFG.idleN + 100) {
    log(`fd hard limit is ${hardNofile}: idle test lowered to ${hardNofile - 500} connections`);
    CFG.idleN = hardNofile - 500;
  }
  const bun = findBun();
  log(bun.note);
  const list = variants(bun.bin);
  const results: VariantResult[] = [];
  for (const v of list) {
    try {
      results.push(await runVariant(v));
    } catch (err) {
      log(`${v.name} failed: ${(err as Error).message}`);
      results.push({ name: v.name, broadcast: {}, error: (err as Error).message });
    }
  }
  const table = buildTable(results);
  console.table(table);
  const name = quick ? 'bench-quick' : 'bench';
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    node: process.version,
    nofileHard: hardNofile,
    pinned: twoCores ? 'server on CPU 0, load client on CPU 1 (taskset)' : 'not pinned (one core)',
  };
  writeReport(name, { quick, config: CFG, machine, bun: bun.note, seconds: (Date.now() - started) / 1000, variants: results }, table);

  let storeOk = true;
  if (!argv.includes('--skip-store')) {
    log('store suite (bench/store.ts)');
    const r = spawnSync('node', ['--import', 'tsx', join(import.meta.dirname, 'store.ts'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit', cwd: ROOT, timeout: quick ? 60_000 : 300_000 });
    storeOk = r.status === 0;
    if (!storeOk) log(`store suite failed (status ${r.status})`);
  }
  let clusterOk = true;
  if (!argv.includes('--skip-cluster')) {
    log('cluster suite (bench/cluster.ts): cross-node delivery through Redis next to single-node');
    const r = spawnSync('node', ['--import', 'tsx', join(import.meta.dirname, 'cluster.ts'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit', cwd: ROOT, timeout: quick ? 90_000 : 300_000 });
    clusterOk = r.status === 0;
    if (!clusterOk) log(`cluster suite failed (status ${r.status})`);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const failed = results.filter((r) => r.error);
  return failed.length > 0 || !storeOk || !clusterOk ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} finally {
  // Stop whatever is still running (a failed workload may leave its client behind), each by its own PID.
  await Promise.all([...live].map((p) => p.stop()));
}
process.exit(code);
