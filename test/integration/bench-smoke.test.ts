// Smoke test for the side-by-side benchmark: `npm run bench -- --quick` runs end to end (C load client compiled with
// gcc, Herald, its compat Socket.IO listener, its Pusher endpoint, its Workerman profile (uid websocket and Text
// port) and its peers on every workload they have, each timed run 3 times) and writes its JSON and Markdown
// reports, the gateway suite's (webhook and worker round trips, sendToUid pushes, 50 clients) included, and the
// reconnect storm (200 resuming clients, a SIGTERM and a restart: 0 lost, 0 duplicated). Not a performance assertion.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { StormResult } from '../../bench/workloads/storm.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

interface Timed {
  delivered?: number;
  requests?: number;
  bad?: number;
  runs?: unknown[];
}
interface TextRun {
  lines: number;
  ok: number;
  fail: number;
  delivered: number;
  expected: number;
}
interface VariantReport {
  name: string;
  error?: string;
  idle?: unknown;
  broadcast: Record<string, { single: Timed; burst10: Timed; paced: Timed[] }>;
  unicast?: Record<string, Timed>;
  events?: Record<string, Timed>;
  compat?: Record<string, { n: number; connected: number; connectSeconds: number; broadcast: { runs: TextRun[] }; pushes?: { runs: TextRun[] } }>;
}
/** `data.storm` in the report: the workload's result, or the error that stopped it. */
type StormReport = StormResult & { error?: string };

it('npm run bench -- --quick runs and writes bench/results/bench-quick.json', { skip: hasGcc ? false : 'gcc is not installed', timeout: 310_000 }, () => {
  const startedAt = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--no-bun-install'], {
    cwd: ROOT,
    encoding: 'utf8',
    // A ceiling, not a measurement: the quick bench takes 30-40 s on a quiet machine and over 100 s when other
    // suites share its two cores (the gateway suite adds 15-30 s).
    timeout: 300_000,
    env: { ...process.env, BUN: '' },
  });
  assert.equal(r.status, 0, `bench exited with ${r.status} ${r.signal ?? ''}\n${r.stderr.slice(-3000)}`);
  const file = join(ROOT, 'bench', 'results', 'bench-quick.json');
  assert.ok(statSync(file).mtimeMs >= startedAt - 1000, 'the report was written by this run');
  const report = JSON.parse(readFileSync(file, 'utf8')) as { machine: unknown; data: Record<string, unknown> };
  assert.ok(report.machine);
  for (const key of ['quick', 'runs', 'config', 'machine', 'bun', 'variants']) assert.ok(key in report.data, `data.${key}`);
  const runs = report.data.runs as number;
  const variants = report.data.variants as VariantReport[];
  assert.deepEqual(
    variants.map((v) => v.name).filter((n) => n !== 'bun'),
    ['herald', 'herald-nodehttp', 'herald-eio3', 'herald-pusher', 'herald-compat', 'ws', 'socket.io', 'raw'],
  );
  for (const v of variants) {
    assert.equal(v.error, undefined, `${v.name}: ${v.error}`);
    if (v.name === 'herald-nodehttp') {
      // Herald without the fast lane: the HTTP publish workloads only, for the fast lane's ratio.
      assert.deepEqual(v.broadcast, {});
      assert.ok(v.unicast?.http1 && v.unicast.http8 && v.unicast.batch, `${v.name}: unicast and batch`);
      assert.equal(v.unicast.http1.runs?.length, runs, `${v.name}: HTTP unicast repeated`);
      continue;
    }
    if (v.name === 'herald-compat') {
      // The Workerman profile: its own Text-port rows (below) and the idle workload, no driver broadcasts.
      assert.deepEqual(v.broadcast, {});
      assert.ok(v.idle, `${v.name}: idle memory`);
      continue;
    }
    const b = Object.values(v.broadcast)[0]!;
    for (const key of ['single', 'burst10', 'paced'] as const) assert.ok(key in b, `${v.name}: broadcast.${key}`);
    assert.ok(b.single.delivered! > 0, `${v.name}: deliveries counted`);
    assert.equal(b.single.runs?.length, runs, `${v.name}: one-at-a-time repeated`);
    assert.equal(b.burst10.runs?.length, runs, `${v.name}: 10-per-turn repeated`);
    assert.ok(b.paced.length > 0 && b.paced.every((p) => p.runs?.length === runs), `${v.name}: paced levels repeated`);
    // Herald over its compat Socket.IO port measures fan-out only; the raw-TCP reference has no HTTP API; Herald's
    // Pusher endpoint has its own HTTP rows (below).
    const fanoutOnly = v.name === 'herald-eio3' || v.name === 'raw' || v.name === 'herald-pusher';
    if (v.name !== 'herald-eio3') assert.ok(v.idle, `${v.name}: idle memory`);
    if (!fanoutOnly) {
      assert.ok(v.unicast?.http1 && v.unicast.http8, `${v.name}: unicast`);
      assert.equal(v.unicast.http1.runs?.length, runs, `${v.name}: HTTP unicast repeated`);
    }
  }
  const herald = variants.find((v) => v.name === 'herald')!;
  assert.ok(herald.unicast?.line && herald.unicast.batch, 'herald: line port and batch');
  // The Pusher rows (issue 14): signed `events` triggers and native publishes, every request answered 2xx and delivered.
  const pusher = variants.find((v) => v.name === 'herald-pusher')!;
  assert.equal(pusher.unicast, undefined);
  for (const key of ['pusher1', 'native1', 'pusher8', 'native8']) {
    const e = pusher.events?.[key];
    assert.ok(e, `herald-pusher: events.${key}`);
    assert.equal(e.runs?.length, runs, `herald-pusher: events.${key} repeated`);
    for (const r of e.runs as Timed[]) {
      assert.ok(r.requests! > 0 && r.bad === 0, `herald-pusher: events.${key}: ${r.bad} non-2xx of ${r.requests}`);
      assert.equal(r.delivered, r.requests, `herald-pusher: events.${key}: every trigger delivered`);
    }
  }
  // The Workerman profile (issue 15): every Text-port line answered `ok` and delivered, to every page for a broadcast.
  const compat = variants.find((v) => v.name === 'herald-compat')!;
  const byN = Object.values(compat.compat ?? {});
  assert.equal(byN.length, 1, 'herald-compat: one N in --quick');
  for (const c of byN) {
    assert.equal(c.connected, c.n, 'herald-compat: every page connected');
    assert.ok(c.connectSeconds > 0, 'herald-compat: connection time');
    for (const [what, x] of [
      ['broadcast', c.broadcast],
      ['pushes', c.pushes],
    ] as const) {
      assert.ok(x, `herald-compat: ${what} at N=${c.n}`);
      assert.equal(x.runs.length, runs, `herald-compat: ${what} repeated`);
      for (const r of x.runs) {
        assert.ok(r.lines > 0 && r.ok === r.lines && r.fail === 0, `herald-compat: ${what}: ${r.ok} of ${r.lines} lines answered ok`);
        assert.equal(r.expected, what === 'pushes' ? r.lines : r.lines * c.n, `herald-compat: ${what}: expected deliveries`);
        assert.equal(r.delivered, r.expected, `herald-compat: ${what}: every line delivered`);
      }
    }
  }
  // The reconnect storm (issue 15, must-have 2): every client told 4000 by the SIGTERM, back on the restarted server,
  // holding every message accepted while it was away, none twice or out of order.
  const storm = report.data.storm as StormReport | undefined;
  assert.ok(storm, 'data.storm');
  assert.equal(storm.error, undefined, `storm: ${storm.error}`);
  assert.equal(storm.connected, storm.n, 'storm: every client connected');
  assert.equal(storm.close4000, storm.n, 'storm: every client told to reconnect (4000)');
  assert.equal(storm.shutdownFrames, storm.n, 'storm: every client given its window to come back in (shutdown frame)');
  assert.ok(storm.reconnects >= storm.n, 'storm: every client reconnected');
  assert.ok(storm.listeningSeconds > 0 && storm.backSeconds >= storm.listeningSeconds, 'storm: back after the restart');
  assert.ok(Number.isFinite(storm.caughtSeconds) && storm.caughtSeconds >= storm.backSeconds, 'storm: caught up');
  assert.ok(storm.published > storm.markMessages && storm.markMessages > 0, 'storm: publishing before, during and after');
  assert.deepEqual(
    { lost: storm.lost, duplicated: storm.duplicated, reordered: storm.reordered, unrecovered: storm.unrecovered },
    { lost: 0, duplicated: 0, reordered: 0, unrecovered: 0 },
  );
  assert.ok(storm.rawAcceptSeconds! > 0, 'storm: the raw-TCP reference of the same run');

  const md = readFileSync(join(ROOT, 'bench', 'results', 'bench-quick.md'), 'utf8');
  assert.match(md, /## Reconnect storm \(issue 15, must-have 2\)/);
  assert.match(md, /reconnect storm, \d+ clients: back with every missed message <= 2x the raw-TCP accept time, 0 lost \| [^|]+ \| (met|missed) \|/);
  assert.match(
    md,
    /\| metric \| herald \| herald-nodehttp \| herald-eio3 \| herald-pusher \| herald-compat \| ws \| socket\.io \| raw \|( bun \|)? workerman 4\.2\.1 \(ref\) \|/,
  );
  assert.match(md, /herald-compat\/workerman/);
  assert.match(md, /## Workerman profile against Workerman 4\.2\.1 \+ pecl event \(issue 15\)/);
  assert.match(md, /pipelined Text-port pushes to one of \d+ uids: >= 1\.0x Workerman \([^|]+\) \| [^|]+ \| (met|missed) \|/);
  assert.match(md, /broadcast N=\d+ one at a time: >= 1\.0x Workerman \([^|]+\) \| [^|]+ \| (met|missed) \|/);
  assert.match(md, /herald\/raw/);
  assert.match(md, /herald-pusher\/herald/);
  assert.match(md, /Pusher HTTP events \/ native publish, 8 keep-alive conns/);
  assert.match(md, /Pusher broadcast N=\d+, one msg per turn: >= 0\.9x native \| [^|]+ \| (met|missed) \|/);
  assert.match(md, /Pusher idle memory at \d+ connections: <= native \+ 0\.5 KB\/connection \| [^|]+ \| (met|missed) \|/);
  assert.match(md, /herald\/herald-nodehttp/);
  assert.match(md, /Against the targets in issue 7/);

  // The gateway suite (bench/gateway.ts): its three rows, each with replies or pushes counted in every run.
  const gwFile = join(ROOT, 'bench', 'results', 'gateway-quick.json');
  assert.ok(statSync(gwFile).mtimeMs >= startedAt - 1000, 'the gateway report was written by this run');
  const gw = JSON.parse(readFileSync(gwFile, 'utf8')) as { data: { paths: { path: string; connected: number; result: Timed }[] } };
  assert.deepEqual(
    gw.data.paths.map((p) => p.path.split(' (')[0]),
    ['webhook round trip', 'worker protocol round trip', 'GatewayClient sendToUid push'],
  );
  for (const p of gw.data.paths) {
    assert.equal(p.connected, 50, `${p.path}: clients connected`);
    assert.equal(p.result.runs?.length, runs, `${p.path}: repeated`);
    assert.ok(p.result.delivered! > 0, `${p.path}: replies or pushes counted`);
  }
});
