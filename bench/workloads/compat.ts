// The Workerman profile's own paths on the herald-compat variant (issue 15, must-have 7): `herald start --profile
// workerman` on its default SQLite store, N pages on the uid websocket (1234: wsload's uid mode sends `u<i>` as
// the first frame), and a backend stand-in on the Text port (5678: wsload's text mode, one TCP connection writing
// JSON lines and reading `ok\n` / `fail\n` in order, pinned with the pages' client to CPU 1).
// - broadcast: `{"broadcast":true,"t":...}` lines (the Text port's broadcast form; a `"uid":"all"` line would go to
//   a user named `all`), one line in flight: the next line is written when the previous one is answered, as a PHP
//   backend doing fwrite/fread per push; deliveries/s and publish->receipt p50/p99 at every N;
// - pushes: `{"uid":"u<k mod N>","t":...}` lines pipelined, PUSH_WINDOW unanswered, at every N; every line must be
//   answered `ok` and delivered once.
// Each runs RUNS times on the same connections after a warm-up; the medians are reported. The idle workload (idle.ts) measures
// memory per connection and the connection rate of this variant the same way as every other.
import { CFG, log, nowUs, quick, RUNS, TICK_HZ } from '../lib/config.ts';
import { medianOf, type Repeated } from '../lib/median.ts';
import { cpuTicks, Proc, type Msg } from '../lib/proc.ts';
import { loadClient, type Server } from '../lib/session.ts';
import { drain } from './broadcast.ts';

/** Lines in flight on the backend's one connection in the pipelined-push rows. */
export const PUSH_WINDOW = 256;

/**
 * Workerman 4.2.1 with pecl event on this machine kind (issue 15's table): the reference each row is compared to.
 * Keyed by the N it was measured at.
 */
export const WORKERMAN = {
  /** Pipelined Text-port pushes to one of 1,000 connected uids, pushes/s. */
  pushesPerSec: { 1000: 74_400 },
  /** Broadcast one at a time, deliveries/s and p99 ms. */
  broadcastPerSec: { 1000: 244_000, 10000: 138_000 },
  broadcastP99ms: { 1000: 4.7, 10000: 82 },
  /** Idle RSS per connection on 1234, KB. */
  idleKb: { 19500: 3.9 },
  /** Time to accept N connections, 256 in flight, s. */
  connectSeconds: { 10000: 0.33 },
} as const satisfies Record<string, Record<number, number>>;

/** The reference measured at `n`, or (quick runs, other sizes) at the nearest N, with the N it belongs to. */
export function workermanRef(table: Record<number, number>, n: number): { n: number; value: number } {
  const at = Object.keys(table)
    .map(Number)
    .sort((a, b) => Math.abs(a - n) - Math.abs(b - n))[0]!;
  return { n: at, value: table[at]! };
}

export interface TextRun {
  /** Lines written to the Text port, and their answers. */
  lines: number;
  ok: number;
  fail: number;
  /** Messages the pages received (broadcast: lines x pages). */
  delivered: number;
  expected: number;
  /** Pushes answered per second (pushes), or deliveries per second from the first line to the last receipt. */
  perSec: number;
  /** Line written -> page received. */
  p50ms: number;
  p99ms: number;
  /** Line written -> `ok` read. */
  answerP99ms: number;
  /** Herald's CPU per push (pushes) or per delivery (broadcast), µs. */
  serverUs: number;
  serverCpu: number;
  /** The Text-port client (the backend stand-in) and the pages' client, fractions of one core. */
  textClientCpu: number;
  pagesClientCpu: number;
}

export interface CompatAtN {
  n: number;
  connected: number;
  /** The pages' connection time: N upgrades (and uid frames), 256 in flight. */
  connectSeconds: number;
  broadcast: Repeated<TextRun>;
  pushes?: Repeated<TextRun>;
}

async function textOnce(s: Server, cli: Proc, lines: number, window: number, users: number, pages: number): Promise<TextRun> {
  const timeoutMs = CFG.timeoutSec * 1000;
  const expected = users > 0 ? lines : lines * pages;
  await cli.ask('reset', 'reset');
  const [s0, c0] = [cpuTicks(s.srv.pid), cpuTicks(cli.pid)];
  const t0 = nowUs();
  const args = ['text', '127.0.0.1', String(s.textPort), String(lines), String(window), String(users), String(timeoutMs)];
  const backend = new Proc(loadClient(), args, { cpu: 1 });
  let r: Msg;
  try {
    r = await backend.wait('text', timeoutMs + 10_000);
  } finally {
    await backend.stop();
  }
  const d = await cli.ask(`expect ${expected} 5000`, 'expect', 10_000);
  const wall = (nowUs() - t0) / 1e6;
  const sCpu = (cpuTicks(s.srv.pid) - s0) / TICK_HZ;
  const delivered = Number(d.delivered);
  const span = (Number(d.last_rx_us) - Number(r.first_us)) / 1e6;
  if (delivered < expected) await drain(cli);
  return {
    lines: Number(r.answered),
    ok: Number(r.ok),
    fail: Number(r.fail) + Number(r.other),
    delivered,
    expected,
    perSec: users > 0 ? Number(r.rate) : span > 0 ? delivered / span : 0,
    p50ms: Number(d.p50_ms),
    p99ms: Number(d.p99_ms),
    answerP99ms: Number(r.p99_ms),
    serverUs: delivered > 0 ? (sCpu * 1e6) / (users > 0 ? Number(r.answered) : delivered) : 0,
    serverCpu: sCpu / wall,
    textClientCpu: Number(r.cpu_s) / Number(r.seconds),
    pagesClientCpu: (cpuTicks(cli.pid) - c0) / TICK_HZ / wall,
  };
}

const k = (x: number): string => `${(x / 1000).toFixed(1)}k`;

function check(what: string, runs: TextRun[]): void {
  for (const r of runs) {
    if (r.ok < r.lines || r.delivered !== r.expected)
      log(`  ${what}: ${r.ok} of ${r.lines} lines answered ok, ${r.delivered} of ${r.expected} deliveries${quick ? '' : ' (timeout?)'}`);
  }
}

/** The Text-port rows with `connected` pages of `cli` up (uids u0..u<n-1>). */
export async function compatAt(s: Server, cli: Proc, n: number, connected: Msg): Promise<CompatAtN> {
  if (s.textPort === undefined) throw new Error('herald-compat: the server named no Text port');
  if (s.store !== 'sqlite') throw new Error(`herald-compat: expected the default SQLite store, the server runs on ${s.store}`);
  const pages = Number(connected.ok);
  if (pages < n || Number(connected.failed) > 0) throw new Error(`herald-compat: ${pages} of ${n} pages connected (${JSON.stringify(connected)})`);
  const messages = CFG.single[n] ?? 20;
  await textOnce(s, cli, Math.max(5, Math.round(messages / 5)), 1, 0, pages); // warm-up
  const bRuns: TextRun[] = [];
  for (let i = 0; i < RUNS; i++) bRuns.push(await textOnce(s, cli, messages, 1, 0, pages));
  check(`broadcast N=${n}`, bRuns);
  const out: CompatAtN = { n, connected: pages, connectSeconds: Number(connected.ms) / 1000, broadcast: medianOf(bRuns) };
  log(
    `  Text-port broadcast N=${n}, one line in flight: ${k(out.broadcast.perSec)} deliveries/s (runs ${bRuns.map((r) => k(r.perSec)).join(' ')}), p99 ${out.broadcast.p99ms} ms`,
  );
  await textOnce(s, cli, Math.round(CFG.lineCount / 10), PUSH_WINDOW, n, pages); // warm-up
  const pRuns: TextRun[] = [];
  for (let i = 0; i < RUNS; i++) pRuns.push(await textOnce(s, cli, CFG.lineCount, PUSH_WINDOW, n, pages));
  check(`pipelined pushes N=${n}`, pRuns);
  out.pushes = medianOf(pRuns);
  log(
    `  Text-port pushes to one of ${n} uids, ${PUSH_WINDOW} in flight: ${k(out.pushes.perSec)}/s (runs ${pRuns.map((r) => k(r.perSec)).join(' ')}), Herald ${out.pushes.serverUs.toFixed(1)} µs CPU/push, Text client ${(out.pushes.textClientCpu * 100).toFixed(0)}% CPU`,
  );
  return out;
}
