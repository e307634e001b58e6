// Idle memory and connection rate: a fresh server's RSS (after gc) before and after CFG.idleN idle connections,
// opened 256 handshakes at a time. Measured once per variant (not repeated: it takes the longest, and RSS per
// connection moves little between runs).
import { CFG, log, settle, TICK_HZ } from '../lib/config.ts';
import { cpuTicks, rssKB } from '../lib/proc.ts';
import { openClients, type Server } from '../lib/session.ts';
import type { Variant } from '../peers.ts';

export interface IdleResult {
  n: number;
  connected: number;
  failed: number;
  connectSeconds: number;
  connectionsPerSec: number;
  /**
   * The server's CPU time (user + system) per connection while they opened: steadier than the rate when the
   * machine is shared, and what the rate is the inverse of when the server is the bottleneck.
   */
  serverUsPerConnection: number;
  baselineMB: number;
  idleMB: number;
  kbPerConnection: number;
}

/** `s` must be a server that has had no connections yet. The idle clients are closed before it returns. */
export async function idle(v: Variant, s: Server): Promise<IdleResult> {
  await s.srv.ask('gc', 'gc');
  await settle(300);
  const base = rssKB(s.srv.pid);
  const ticks = cpuTicks(s.srv.pid);
  const { cli, connected } = await openClients(v, s, CFG.idleN, 180_000);
  const connectTicks = cpuTicks(s.srv.pid) - ticks;
  await settle(1000);
  await s.srv.ask('gc', 'gc', 30_000);
  await settle(500);
  const rss = rssKB(s.srv.pid);
  const ok = Number(connected.ok);
  const r = await cli.ask('report', 'report');
  await cli.stop();
  const secs = Number(connected.ms) / 1000;
  if (Number(r.open) < ok) log(`  idle: ${ok - Number(r.open)} connections closed by the server while idle`);
  return {
    n: CFG.idleN,
    connected: ok,
    failed: Number(connected.failed),
    connectSeconds: secs,
    connectionsPerSec: ok / secs,
    serverUsPerConnection: ok > 0 ? (connectTicks / TICK_HZ / ok) * 1e6 : 0,
    baselineMB: base / 1024,
    idleMB: rss / 1024,
    kbPerConnection: ok > 0 ? (rss - base) / ok : 0,
  };
}
