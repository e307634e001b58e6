// Broadcast to N connections: bursts (one message per event-loop turn, and 10 per turn) and a paced sweep of
// rising rates. The server's driver publishes; the C load client counts deliveries and publish->receipt latency.
// Every timed run is repeated RUNS times on the same connections; the medians are reported.
import { CFG, log, nowUs, quick, RUNS, sleep, TICK_HZ } from '../lib/config.ts';
import { repeat, type Repeated } from '../lib/median.ts';
import { cpuTicks, type Proc } from '../lib/proc.ts';
import { runs, type Variant } from '../peers.ts';

export interface BurstResult {
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

export interface PacedResult {
  target: number;
  achieved: number;
  delivered: number;
  p50ms: number;
  p99ms: number;
  serverCpu: number;
  clientCpu: number;
  saturated: boolean;
}

export interface BroadcastResult {
  n: number;
  connected: number;
  single: Repeated<BurstResult>;
  burst10: Repeated<BurstResult>;
  /** One entry per level, up to the first saturated one (medians of RUNS runs each). */
  paced: Repeated<PacedResult>[];
}

export async function burst(srv: Proc, cli: Proc, n: number, messages: number, perTurn: number): Promise<BurstResult> {
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const c0 = cpuTicks(cli.pid);
  const t0 = nowUs();
  const expected = messages * n;
  srv.send(`burst ${messages} ${perTurn}`);
  const r = await cli.ask(`expect ${expected} ${CFG.timeoutSec * 1000}`, 'expect', CFG.timeoutSec * 1000 + 10_000);
  const wall = (nowUs() - t0) / 1e6;
  const sCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ;
  const cCpu = (cpuTicks(cli.pid) - c0) / TICK_HZ;
  const delivered = Number(r.delivered);
  const span = (Number(r.last_rx_us) - t0) / 1e6;
  await srv.wait('burst', 30_000).catch(() => undefined);
  if (delivered < expected) await drain(cli);
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

/** Waits until the client stops receiving (what a saturated run left queued). */
export async function drain(cli: Proc): Promise<void> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const r = await cli.ask('report', 'report');
    if (Number(r.delivered) === last) return;
    last = Number(r.delivered);
    await sleep(250);
  }
}

const isSaturated = (p: { target: number; achieved: number; p99ms: number; delivered: number }, expected: number): boolean =>
  p.achieved < 0.85 * p.target || p.p99ms > 500 || p.delivered < expected * 0.99;

/** One run of one level: publish at `target` deliveries/s for CFG.pacedSec seconds. */
async function pacedOnce(srv: Proc, cli: Proc, n: number, target: number): Promise<PacedResult> {
  const msgRate = target / n;
  const total = Math.max(1, Math.round(msgRate * CFG.pacedSec));
  const ms = CFG.pacedSec * 1000;
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const c0 = cpuTicks(cli.pid);
  const t0 = nowUs();
  srv.send(`paced ${msgRate} ${CFG.pacedSec}`);
  const r = await cli.ask(`expect ${total * n} ${ms + 5000}`, 'expect', ms + 15_000);
  const wall = (nowUs() - t0) / 1e6;
  await srv.wait('paced', 20_000).catch(() => undefined);
  const delivered = Number(r.delivered);
  // The run starts 1 ms after the command; the window is the scheduled duration or until the last receipt.
  const span = Math.max(CFG.pacedSec, (Number(r.last_rx_us) - t0 - 1000) / 1e6);
  const p: PacedResult = {
    target,
    achieved: delivered / span,
    delivered,
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    serverCpu: (cpuTicks(srv.pid) - s0) / TICK_HZ / wall,
    clientCpu: (cpuTicks(cli.pid) - c0) / TICK_HZ / wall,
    saturated: false,
  };
  p.saturated = isSaturated(p, total * n);
  if (p.saturated) await drain(cli);
  return p;
}

/** The sweep: each level RUNS times; it stops after the first level whose medians are saturated. */
export async function paced(srv: Proc, cli: Proc, n: number): Promise<Repeated<PacedResult>[]> {
  const out: Repeated<PacedResult>[] = [];
  for (const target of CFG.rates) {
    const m = await repeat(RUNS, () => pacedOnce(srv, cli, n, target));
    const expected = Math.max(1, Math.round((target / n) * CFG.pacedSec)) * n;
    m.saturated = isSaturated(m, expected);
    out.push(m);
    log(
      `  paced ${target / 1000}k/s: achieved ${(m.achieved / 1000).toFixed(0)}k/s p50 ${m.p50ms.toFixed(2)} p99 ${m.p99ms.toFixed(2)} ms${m.saturated ? ' (saturated)' : ''}`,
    );
    if (m.saturated) break;
  }
  return out;
}

const kps = (x: number): string => `${(x / 1000).toFixed(0)}k`;

/** Broadcast workloads at one N on connections that are already open. */
export async function broadcastAt(v: Variant, srv: Proc, cli: Proc, n: number, connected: number): Promise<BroadcastResult> {
  const singleN = CFG.single[n]!;
  await burst(srv, cli, n, Math.max(5, Math.round(singleN / 5)), 1); // warm-up
  const single = await repeat(RUNS, () => burst(srv, cli, n, singleN, 1));
  log(
    `  one at a time: ${kps(single.deliveriesPerSec)} deliveries/s (runs ${single.runs.map((r) => kps(r.deliveriesPerSec)).join(' ')}), p99 ${single.p99ms.toFixed(2)} ms, server ${(single.serverCpu * 100).toFixed(0)}% client ${(single.clientCpu * 100).toFixed(0)}%`,
  );
  const burst10 = await repeat(RUNS, () => burst(srv, cli, n, CFG.burst10[n]!, 10));
  log(
    `  10 per turn: ${kps(burst10.deliveriesPerSec)} deliveries/s (runs ${burst10.runs.map((r) => kps(r.deliveriesPerSec)).join(' ')}), p99 ${burst10.p99ms.toFixed(2)} ms`,
  );
  const sweep = runs(v, 'paced') ? await paced(srv, cli, n) : [];
  for (const r of [...single.runs, ...burst10.runs]) {
    if (r.delivered < r.expected)
      log(`  ${r.expected - r.delivered} of ${r.expected} deliveries missing in a ${r.perTurn}-per-turn run${quick ? '' : ' (timeout)'}`);
  }
  return { n, connected, single, burst10, paced: sweep };
}
