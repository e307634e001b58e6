// What the failover fence costs: publish latency (one at a time) and throughput (64 in flight) through Herald's
// publish path on a Sentinel-watched Redis (a master, two replicas, three sentinels on this machine), with
// redis.waitReplicas 0 (no fence), 1 and 2. Run: node --import tsx bench/sentinel-fence.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHerald } from '../src/library.ts';
import { startSentinelSet } from '../test/helpers/redis-sentinel.ts';

const quick = process.argv.includes('--quick');
const SERIAL = quick ? 500 : 3000;
const PARALLEL = quick ? 2000 : 20_000;
const IN_FLIGHT = 64;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const set = await startSentinelSet('herald-bench');
const rows: string[] = [];
try {
  for (const waitReplicas of [0, 1, 2]) {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-fence-'));
    const herald = createHerald({
      host: '127.0.0.1',
      port: 0,
      line: { port: 0 },
      dataDir,
      logLevel: 'warn',
      redis: { sentinels: set.sentinels, sentinelName: set.name, prefix: `herald-fence-${waitReplicas}:`, waitReplicas },
    });
    await herald.listen();
    try {
      const publish = (i: number) => herald.publish({ to: { user: `u${i % 100}` }, data: { i } });
      for (let i = 0; i < 200; i++) await publish(i); // warm-up: scripts loaded, connections settled
      const lat: number[] = [];
      for (let i = 0; i < SERIAL; i++) {
        const t0 = process.hrtime.bigint();
        await publish(i);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      lat.sort((a, b) => a - b);
      let next = 0;
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (let i = next++; i < PARALLEL; i = next++) await publish(i);
        }),
      );
      const perSecond = Math.round(PARALLEL / ((Date.now() - t0) / 1000));
      rows.push(
        `| ${waitReplicas === 0 ? '0 (no fence)' : waitReplicas} | ${percentile(lat, 50).toFixed(2)} | ${percentile(lat, 99).toFixed(2)} | ${perSecond} |`,
      );
    } finally {
      await herald.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
} finally {
  await set.close();
}
console.log(`publishes through Herald on Sentinel (${SERIAL} one at a time, ${PARALLEL} with ${IN_FLIGHT} in flight)\n`);
console.log('| waitReplicas | latency p50 (ms) | latency p99 (ms) | publishes/s, 64 in flight |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
