// The comparison table: one row per metric, one column per variant, then ratios (Herald / peer). And the issue-7
// targets (and issue 14's for the Pusher protocol), each with the figure and ratio this run measured; and issue
// 15's for the Workerman profile (herald-compat), next to Workerman 4.2.1's figures.
import { CFG, RUNS } from './lib/config.ts';
import type { BroadcastResult, PacedResult } from './workloads/broadcast.ts';
import type { Repeated } from './lib/median.ts';
import { PUSH_WINDOW, WORKERMAN, workermanRef, type CompatAtN, type TextRun } from './workloads/compat.ts';
import type { EventsResult } from './workloads/events.ts';
import type { IdleResult } from './workloads/idle.ts';
import type { StormResult } from './workloads/storm.ts';
import type { UnicastResults } from './workloads/unicast.ts';

export interface VariantResult {
  name: string;
  idle?: IdleResult;
  broadcast: Record<string, BroadcastResult>;
  unicast?: UnicastResults;
  /** herald-pusher: HTTP `events` triggers and native publishes on the same server. */
  events?: EventsResult;
  /** herald-compat: the Workerman Text-port rows, by N. */
  compat?: Record<string, CompatAtN>;
  error?: string;
}

export const k = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x)
    ? '–'
    : x >= 10_000
      ? `${(x / 1000).toFixed(0)}k`
      : x >= 1000
        ? `${(x / 1000).toFixed(1)}k`
        : x.toFixed(x < 10 ? 2 : 0);
export const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(0));

export function maxSustained(p: PacedResult[] | undefined): PacedResult | undefined {
  return p?.filter((r) => !r.saturated).at(-1);
}

interface Metric {
  label: string;
  better: 'higher' | 'lower';
  get: (r: VariantResult) => number | undefined;
  fmt: (x: number | undefined) => string;
  /** Workerman 4.2.1's figure for this row (issue 15), when it was measured at this row's N. */
  ref?: number;
}

/** The Workerman reference at exactly `n` (main table rows: no reference at another N). */
const refAt = (table: Record<number, number>, n: number): number | undefined => table[n];

/** The paced level reported as "at 50k deliveries/s" (the first level at or above 50k). */
export const rate50 = (): number => CFG.rates.find((x) => x >= 50_000) ?? CFG.rates[0]!;

function metrics(): Metric[] {
  const m: Metric[] = [];
  for (const n of CFG.ns) {
    const b = (r: VariantResult) => r.broadcast[String(n)];
    const one = `broadcast N=${n}, one msg per turn`;
    m.push({ label: `${one}: deliveries/s`, better: 'higher', get: (r) => b(r)?.single.deliveriesPerSec, fmt: k });
    m.push({ label: `${one}: p50 ms`, better: 'lower', get: (r) => b(r)?.single.p50ms, fmt: ms });
    m.push({ label: `${one}: p99 ms`, better: 'lower', get: (r) => b(r)?.single.p99ms, fmt: ms });
    m.push({ label: `${one}: server µs CPU/delivery`, better: 'lower', get: (r) => b(r)?.single.serverUsPerDelivery, fmt: ms });
    m.push({ label: `${one}: client reads/delivery`, better: 'lower', get: (r) => b(r)?.single.readsPerDelivery, fmt: ms });
    m.push({ label: `${one}: load client CPU %`, better: 'lower', get: (r) => (b(r) ? b(r)!.single.clientCpu * 100 : undefined), fmt: ms });
    m.push({ label: `broadcast N=${n}, 10 msgs per turn: deliveries/s`, better: 'higher', get: (r) => b(r)?.burst10.deliveriesPerSec, fmt: k });
    m.push({ label: `broadcast N=${n}, 10 msgs per turn: p99 ms`, better: 'lower', get: (r) => b(r)?.burst10.p99ms, fmt: ms });
    m.push({ label: `sustained N=${n}: highest unsaturated rate, deliveries/s`, better: 'higher', get: (r) => maxSustained(b(r)?.paced)?.achieved, fmt: k });
    m.push({ label: `sustained N=${n}: p99 ms at that rate`, better: 'lower', get: (r) => maxSustained(b(r)?.paced)?.p99ms, fmt: ms });
    const r50 = rate50();
    m.push({
      label: `paced N=${n} at ${r50 / 1000}k deliveries/s: p99 ms`,
      better: 'lower',
      get: (r) => b(r)?.paced.find((p) => p.target === r50)?.p99ms,
      fmt: ms,
    });
  }
  m.push({ label: 'unicast HTTP POST, 1 keep-alive conn: req/s', better: 'higher', get: (r) => r.unicast?.http1?.rps, fmt: k });
  m.push({ label: 'unicast HTTP POST, 1 conn: p99 ms', better: 'lower', get: (r) => r.unicast?.http1?.p99ms, fmt: ms });
  m.push({ label: 'unicast HTTP POST, 8 keep-alive conns: req/s', better: 'higher', get: (r) => r.unicast?.http8?.rps, fmt: k });
  m.push({ label: 'unicast HTTP POST, 8 conns: p99 ms', better: 'lower', get: (r) => r.unicast?.http8?.p99ms, fmt: ms });
  m.push({
    label: 'unicast HTTP POST, 8 conns: server CPU %',
    better: 'lower',
    get: (r) => (r.unicast?.http8 ? r.unicast.http8.serverCpu * 100 : undefined),
    fmt: ms,
  });
  m.push({
    label: 'unicast HTTP POST, 8 conns: loader CPU %',
    better: 'lower',
    get: (r) => (r.unicast?.http8 ? r.unicast.http8.loaderCpu * 100 : undefined),
    fmt: ms,
  });
  m.push({ label: 'unicast, pipelined line port: msgs/s', better: 'higher', get: (r) => r.unicast?.line?.perSec, fmt: k });
  m.push({ label: 'unicast, batch publish (500/request): msgs/s', better: 'higher', get: (r) => r.unicast?.batch?.perSec, fmt: k });
  for (const c of [1, 8] as const) {
    const conns = c === 1 ? '1 keep-alive conn' : '8 keep-alive conns';
    const pusher = (r: VariantResult) => r.events?.[c === 1 ? 'pusher1' : 'pusher8'];
    const native = (r: VariantResult) => r.events?.[c === 1 ? 'native1' : 'native8'];
    m.push({ label: `Pusher HTTP events (signed POST /apps/<id>/events), ${conns}: req/s`, better: 'higher', get: (r) => pusher(r)?.rps, fmt: k });
    m.push({ label: `Pusher HTTP events, ${conns}: p99 ms`, better: 'lower', get: (r) => pusher(r)?.p99ms, fmt: ms });
    m.push({ label: `native POST /api/publish to the same channel and server, ${conns}: req/s`, better: 'higher', get: (r) => native(r)?.rps, fmt: k });
    m.push({
      label: `Pusher HTTP events / native publish, ${conns}`,
      better: 'higher',
      get: (r) => (pusher(r) && native(r) ? pusher(r)!.rps / native(r)!.rps : undefined),
      fmt: times,
    });
  }
  // Issue 15: the Workerman profile's uid websocket (1234) and Text port (5678), herald-compat only.
  const wm = 'Workerman profile (1234 + Text port 5678)';
  for (const n of CFG.ns) {
    const c = (r: VariantResult) => r.compat?.[String(n)];
    const b = `${wm}: broadcast N=${n}, one Text line in flight`;
    m.push({ label: `${b}: deliveries/s`, better: 'higher', get: (r) => c(r)?.broadcast.perSec, fmt: k, ref: refAt(WORKERMAN.broadcastPerSec, n) });
    m.push({ label: `${b}: p50 ms`, better: 'lower', get: (r) => c(r)?.broadcast.p50ms, fmt: ms });
    m.push({ label: `${b}: p99 ms`, better: 'lower', get: (r) => c(r)?.broadcast.p99ms, fmt: ms, ref: refAt(WORKERMAN.broadcastP99ms, n) });
    m.push({ label: `${b}: server µs CPU/delivery`, better: 'lower', get: (r) => c(r)?.broadcast.serverUs, fmt: ms });
    m.push({
      label: `${wm}: time to connect N=${n} pages (uid first frame), 256 in flight: s`,
      better: 'lower',
      get: (r) => c(r)?.connectSeconds,
      fmt: (x) => (x === undefined ? '–' : x.toFixed(3)),
      ref: refAt(WORKERMAN.connectSeconds, n),
    });
  }
  for (const n of CFG.ns) {
    const pushes = (r: VariantResult) => r.compat?.[String(n)]?.pushes;
    const p = `${wm}: pipelined pushes (${PUSH_WINDOW} lines in flight) to one of ${n} uids`;
    m.push({ label: `${p}: pushes/s`, better: 'higher', get: (r) => pushes(r)?.perSec, fmt: k, ref: refAt(WORKERMAN.pushesPerSec, n) });
    m.push({ label: `${p}: server µs CPU/push`, better: 'lower', get: (r) => pushes(r)?.serverUs, fmt: ms });
    m.push({ label: `${p}: line -> page p99 ms`, better: 'lower', get: (r) => pushes(r)?.p99ms, fmt: ms });
    m.push({ label: `${p}: Text-port client CPU %`, better: 'lower', get: (r) => (pushes(r) ? pushes(r)!.textClientCpu * 100 : undefined), fmt: ms });
    m.push({ label: `${p}: pages' client CPU %`, better: 'lower', get: (r) => (pushes(r) ? pushes(r)!.pagesClientCpu * 100 : undefined), fmt: ms });
  }
  m.push({
    label: `idle memory at ${CFG.idleN} connections: KB/connection (RSS)¹`,
    better: 'lower',
    get: (r) => r.idle?.kbPerConnection,
    fmt: ms,
    ref: refAt(WORKERMAN.idleKb, CFG.idleN),
  });
  m.push({ label: `idle server RSS at ${CFG.idleN} connections: MB¹`, better: 'lower', get: (r) => r.idle?.idleMB, fmt: ms });
  m.push({ label: `connection rate (${CFG.idleN} connections, 256 in flight): conn/s¹`, better: 'higher', get: (r) => r.idle?.connectionsPerSec, fmt: k });
  m.push({ label: `connection setup: server µs CPU/connection¹`, better: 'lower', get: (r) => r.idle?.serverUsPerConnection, fmt: ms });
  return m;
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && Number.isFinite(a) && b > 0 ? `${(a / b).toFixed(2)}x` : '–';
const times = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`);

/**
 * Ratio columns: Herald (native) over every peer; and Herald's compat Socket.IO listener (EIO3 clients) over the
 * socket.io peer (socket.io 4, EIO4 clients), the nearest like-for-like.
 */
function ratioPairs(results: VariantResult[]): [string, string][] {
  const names = new Set(results.map((r) => r.name));
  const pairs: [string, string][] = [];
  if (names.has('herald')) for (const r of results) if (!r.name.startsWith('herald')) pairs.push(['herald', r.name]);
  // The fast lane against Herald's own Node-http path (issue 16 keeps the lane only at >= 1.3x).
  if (names.has('herald') && names.has('herald-nodehttp')) pairs.push(['herald', 'herald-nodehttp']);
  if (names.has('herald-eio3') && names.has('socket.io')) pairs.push(['herald-eio3', 'socket.io']);
  // Herald's Pusher endpoint against its native one (issue 14).
  if (names.has('herald-pusher') && names.has('herald')) pairs.push(['herald-pusher', 'herald']);
  return pairs;
}

/** Column of Workerman 4.2.1's reference figures (issue 15), and herald-compat's ratio to them. */
export const WORKERMAN_COLUMN = 'workerman 4.2.1 (ref)';

export function buildTable(results: VariantResult[]): Record<string, string>[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const pairs = ratioPairs(results);
  const compat = byName.get('herald-compat');
  return metrics().map((m) => {
    const row: Record<string, string> = { metric: `${m.label} (${m.better === 'higher' ? '↑' : '↓'})` };
    for (const r of results) row[r.name] = m.fmt(m.get(r));
    if (compat) row[WORKERMAN_COLUMN] = m.fmt(m.ref);
    for (const [a, b] of pairs) row[`${a}/${b}`] = ratio(m.get(byName.get(a)!), m.get(byName.get(b)!));
    if (compat) row['herald-compat/workerman'] = ratio(m.get(compat), m.ref);
    return row;
  });
}

export const TABLE_NOTES = [
  `Timed figures (bursts, paced levels, unicast) are medians of ${RUNS} runs on the same connections; the JSON keeps each run under \`runs\`.`,
  '¹ Measured once per variant: connection setup (connection rate) and idle memory.',
  "A ratio is the first variant's figure divided by the second's. herald-eio3 is Herald's Workerman-profile Socket.IO listener with socket.io-client 2.x clients (Engine.IO v3).",
  `herald-compat is Herald as \`herald start --profile workerman\` on its default SQLite store: pages on the uid websocket (1234; the first frame is the uid u<i>), a backend stand-in (wsload text mode, one TCP connection) writing JSON lines to the Text port (5678): \`{"broadcast":true,...}\` one line in flight (the next written when \`ok\` comes back), and \`{"uid":"u<k>",...}\` pushes ${PUSH_WINDOW} lines in flight. The ${WORKERMAN_COLUMN} column holds Workerman 4.2.1 + pecl event's figures from issue 15 (same machine kind, not measured in this run), where measured at the row's N.`,
  'herald-pusher is Herald with a Pusher app: pusher-js protocol clients on /app/<key>, each subscribed to the public channel `news`, which the driver publishes to (event `tick`); herald broadcasts to all its native clients. Its HTTP rows send one pre-signed `events` call (and one native publish, on the same server) over and over, to one subscriber.',
];

/** The performance targets of issue 7, with what this run measured (at the largest N of the run). */
export function buildTargets(results: VariantResult[]): Record<string, string>[] {
  const get = (name: string) => results.find((r) => r.name === name);
  const h = get('herald');
  const nBig = String(CFG.ns.at(-1));
  const nSmall = String(CFG.ns[0]);
  const sus = (r: VariantResult | undefined) => maxSustained(r?.broadcast[nBig]?.paced)?.achieved;
  const single = (r: VariantResult | undefined) => r?.broadcast[nBig]?.single.deliveriesPerSec;
  const status = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'met' : 'missed');
  const rows: Record<string, string>[] = [];
  const add = (target: string, measured: string, ok: boolean | undefined) => rows.push({ target, measured, status: status(ok) });
  const rBun = sus(h) !== undefined && sus(get('bun')) ? sus(h)! / sus(get('bun'))! : undefined;
  add(
    `sustained broadcast N=${nBig}: >= 1.0x Bun publish`,
    `${k(sus(h))} vs ${k(sus(get('bun')))}: ${ratio(sus(h), sus(get('bun')))}`,
    rBun === undefined ? undefined : rBun >= 1,
  );
  const rSio = sus(h) !== undefined && sus(get('socket.io')) ? sus(h)! / sus(get('socket.io'))! : undefined;
  add(
    `sustained broadcast N=${nBig}: >= 10x socket.io`,
    `${k(sus(h))} vs ${k(sus(get('socket.io')))}: ${ratio(sus(h), sus(get('socket.io')))}`,
    rSio === undefined ? undefined : rSio >= 10,
  );
  const rRaw = single(h) !== undefined && single(get('raw')) ? single(h)! / single(get('raw'))! : undefined;
  add(
    `one-at-a-time broadcast N=${nBig}: Herald / raw TCP >= 0.9x`,
    `${k(single(h))} vs ${k(single(get('raw')))}: ${ratio(single(h), single(get('raw')))}`,
    rRaw === undefined ? undefined : rRaw >= 0.9,
  );
  const p50k = h?.broadcast[nSmall]?.paced.find((p) => p.target === rate50())?.p99ms;
  add(`p99 at ${rate50() / 1000}k deliveries/s, N=${nSmall}: <= 15 ms`, `${ms(p50k)} ms`, p50k === undefined ? undefined : p50k <= 15);
  const kb = h?.idle?.kbPerConnection;
  add(`idle memory at ${CFG.idleN} connections: <= 4 KB/connection`, `${ms(kb)} KB`, kb === undefined ? undefined : kb <= 4);
  const h1 = h?.unicast?.http1?.rps;
  const h8 = h?.unicast?.http8?.rps;
  add('unicast HTTP, 1 keep-alive conn: >= Workerman (~11-12k/s)', `${k(h1)} req/s`, h1 === undefined ? undefined : h1 >= 11_000);
  add('unicast HTTP, 8 keep-alive conns: >= Workerman (~20k/s)', `${k(h8)} req/s`, h8 === undefined ? undefined : h8 >= 20_000);
  const line = h?.unicast?.line?.perSec;
  const batch = h?.unicast?.batch?.perSec;
  add('pipelined line port: >= 68k msgs/s', `${k(line)} msgs/s`, line === undefined ? undefined : line >= 68_000);
  add('batch publish: >= 100k msgs/s', `${k(batch)} msgs/s`, batch === undefined ? undefined : batch >= 100_000);
  const p = get('herald-pusher');
  if (p === undefined) return rows;
  // Issue 14: the Pusher endpoint against the native one, in the same run.
  for (const n of CFG.ns) {
    const [ps, hs] = [p.broadcast[String(n)]?.single, h?.broadcast[String(n)]?.single];
    const [a, b] = [ps?.deliveriesPerSec, hs?.deliveriesPerSec];
    const r = a !== undefined && b ? a / b : undefined;
    // The server's CPU per delivery beside it: the rate moves with whatever else shares the cores, the CPU less.
    const cpu = `server ${ms(ps?.serverUsPerDelivery)} vs ${ms(hs?.serverUsPerDelivery)} µs CPU/delivery`;
    add(`Pusher broadcast N=${n}, one msg per turn: >= 0.9x native`, `${k(a)} vs ${k(b)}: ${ratio(a, b)} (${cpu})`, r === undefined ? undefined : r >= 0.9);
  }
  const [pk, hk] = [p.idle?.kbPerConnection, h?.idle?.kbPerConnection];
  const extra = pk !== undefined && hk !== undefined ? pk - hk : undefined;
  add(
    `Pusher idle memory at ${CFG.idleN} connections: <= native + 0.5 KB/connection`,
    `${ms(pk)} vs ${ms(hk)} KB (${extra === undefined ? '–' : `${extra >= 0 ? '+' : ''}${extra.toFixed(2)} KB`})`,
    extra === undefined ? undefined : extra <= 0.5,
  );
  return rows;
}

/**
 * Issue 15: herald-compat against Workerman 4.2.1's figures. Rows at another N than the reference (--quick) are
 * compared with the nearest reference (scaled by N for the connection time) and say so.
 */
export function buildCompatTargets(results: VariantResult[]): Record<string, string>[] {
  const c = results.find((r) => r.name === 'herald-compat');
  if (c === undefined) return [];
  const rows: Record<string, string>[] = [];
  const add = (target: string, measured: string, ok: boolean | undefined) =>
    rows.push({ target, measured, status: ok === undefined ? '–' : ok ? 'met' : 'missed' });
  const at = (ref: { n: number }, n: number) => (ref.n === n ? '' : ` at N=${ref.n}`);
  // A row whose lines were not all answered `ok` and delivered (to every page) in every run cannot meet its target.
  const intact = (x: Repeated<TextRun>): boolean => x.runs.every((r) => r.ok === r.lines && r.delivered === r.expected);
  for (const n of CFG.ns) {
    const pu = c.compat?.[String(n)]?.pushes;
    const pRef = workermanRef(WORKERMAN.pushesPerSec, n);
    add(
      `pipelined Text-port pushes to one of ${n} uids: >= 1.0x Workerman (${k(pRef.value)}/s${at(pRef, n)})`,
      pu
        ? `${k(pu.perSec)} pushes/s: ${ratio(pu.perSec, pRef.value)} (Herald ${ms(pu.serverUs)} µs CPU/push, Text client ${ms(pu.textClientCpu * 100)}% CPU; ${pu.delivered} of ${pu.lines} delivered)`
        : '–',
      pu === undefined ? undefined : pu.perSec >= pRef.value && intact(pu),
    );
  }
  for (const n of CFG.ns) {
    const b = c.compat?.[String(n)]?.broadcast;
    const [rate, p99] = [workermanRef(WORKERMAN.broadcastPerSec, n), workermanRef(WORKERMAN.broadcastP99ms, n)];
    const cpu = b ? ` (Herald ${ms(b.serverUs)} µs CPU/delivery)` : '';
    add(
      `broadcast N=${n} one at a time: >= 1.0x Workerman (${k(rate.value)} deliveries/s${at(rate, n)})`,
      b ? `${k(b.perSec)}: ${ratio(b.perSec, rate.value)}${cpu}` : '–',
      b === undefined ? undefined : b.perSec >= rate.value && intact(b),
    );
    add(
      `broadcast N=${n} one at a time, p99: <= 1.0x Workerman (${ms(p99.value)} ms${at(p99, n)})`,
      b ? `${ms(b.p99ms)} ms: ${ratio(b.p99ms, p99.value)}` : '–',
      b === undefined ? undefined : b.p99ms <= p99.value,
    );
  }
  const kb = c.idle?.kbPerConnection;
  const kRef = workermanRef(WORKERMAN.idleKb, CFG.idleN);
  add(
    `idle memory on 1234 at ${CFG.idleN} connections: <= 1.0x Workerman (${kRef.value} KB/connection${at(kRef, CFG.idleN)})`,
    kb === undefined ? '–' : `${ms(kb)} KB: ${ratio(kb, kRef.value)}`,
    kb === undefined ? undefined : kb <= kRef.value,
  );
  const nBig = CFG.ns.at(-1)!;
  const secs = c.compat?.[String(nBig)]?.connectSeconds;
  const sRef = workermanRef(WORKERMAN.connectSeconds, nBig);
  const scaled = (sRef.value * nBig) / sRef.n;
  add(
    `time to connect ${nBig} pages on 1234, 256 in flight: <= 1.0x Workerman (${sRef.value} s for ${sRef.n}${sRef.n === nBig ? '' : `, i.e. ${scaled.toFixed(3)} s for ${nBig}`})`,
    secs === undefined ? '–' : `${secs.toFixed(3)} s: ${ratio(secs, scaled)}`,
    secs === undefined ? undefined : secs <= scaled,
  );
  return rows;
}

/** Issue 15, must-have 2: the reconnect storm's figures, one row each (workloads/storm.ts). */
export function buildStormRows(s: StormResult): Record<string, string>[] {
  const sec = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)} s`);
  const rows: [string, string][] = [
    ['clients (native, token auth frame, resuming user:u<i>)', `${s.connected} of ${s.n}`],
    ['publishing (round robin over the users, batches retried until accepted)', `${k(s.rate)} msgs/s`],
    [
      "client backoff (the SDK's): after the server's shutdown frame, every attempt in [0, window] until window + 30 s; else full jitter [0, min(max, min x 2^attempt)]",
      `min ${s.backoffMs.min} ms, max ${s.backoffMs.max} ms`,
    ],
    ['SIGTERM -> old process exited', sec(s.exitSeconds)],
    ['SIGTERM -> new process listening (same port and SQLite data dir)', sec(s.listeningSeconds)],
    ['SIGTERM -> every client back (welcomed)', sec(s.backSeconds)],
    ['SIGTERM -> every client has every message accepted before that (storm time)', sec(s.caughtSeconds)],
    [`raw-TCP reference: accepting ${s.n} connections, 256 in flight${s.rawNote ? ` (${s.rawNote})` : ''}`, sec(s.rawAcceptSeconds)],
    ['storm time / raw-TCP accept time', ratio(s.caughtSeconds, s.rawAcceptSeconds)],
    ['messages accepted: at the mark (all back) / in all', `${s.markMessages} / ${s.published}`],
    ['publish batches refused or cut by the restart, retried', String(s.retries)],
    ['lost (accepted, never received)', String(s.lost)],
    ['duplicated', String(s.duplicated)],
    ['out of order', String(s.reordered)],
    ['resumes answered recovered: false', String(s.unrecovered)],
    ['drops (close 4000 / without a close frame)', `${s.drops} (${s.close4000} / ${s.resets})`],
    ['shutdown frames received (the server-given reconnect window, followed as the SDK does)', `${s.shutdownFrames}`],
    ['reconnection attempts that failed (refused while down, reset; of them cut after 20 s without a welcome)', `${s.failedAttempts} (${s.timeouts})`],
    ['listen queue overflows / SYNs dropped (host TcpExt counters, during the storm)', `${s.listenOverflows} / ${s.listenDrops}`],
  ];
  return rows.map(([metric, value]) => ({ metric, value }));
}

export function buildStormTarget(s: StormResult): Record<string, string>[] {
  const r = s.rawAcceptSeconds === undefined ? undefined : s.caughtSeconds / s.rawAcceptSeconds;
  const ok = r === undefined || !Number.isFinite(r) ? undefined : r <= 2 && s.lost === 0;
  return [
    {
      target: `reconnect storm, ${s.n} clients: back with every missed message <= 2x the raw-TCP accept time, 0 lost`,
      measured: `${Number.isFinite(s.caughtSeconds) ? s.caughtSeconds.toFixed(2) : '–'} s vs ${s.rawAcceptSeconds?.toFixed(2) ?? '–'} s: ${ratio(s.caughtSeconds, s.rawAcceptSeconds)}; lost ${s.lost}, duplicated ${s.duplicated}, out of order ${s.reordered}`,
      status: s.lost > 0 ? 'missed' : ok === undefined ? '–' : ok ? 'met' : 'missed',
    },
  ];
}
