// `npm run bench`: Herald and its peers (socket.io, a plain `ws` send loop, a raw-TCP reference, Bun's uWebSockets
// `publish` when bun is available) on the same workloads, driven by a C epoll load client (bench/load/wsload.c,
// compiled here with gcc). Herald runs twice more: with the SQLite store, and behind its Workerman-profile
// Socket.IO listener with Engine.IO v3 clients, and with the Pusher protocol (pusher-js clients on one public
// channel; signed HTTP `events` triggers next to native publishes; --skip-pusher leaves it out), and as
// `herald start --profile workerman` on its default SQLite store (herald-compat: uid websocket pages, pushes and
// broadcasts through the Text port, next to Workerman 4.2.1's figures; --skip-compat leaves it out). Prints a table
// with ratios (Herald / peer) and the issue-7 targets (and issue 14's and 15's). Then the reconnect storm
// (workloads/storm.ts, issue 15 must-have 2: `herald start` on SQLite restarted under N resuming native clients while
// numbered messages are published; time from the SIGTERM until every client is back with every missed message,
// lost/duplicated/reordered, against the raw reference's accept time; --skip-storm leaves it out, `--only raw,storm
// --workloads idle` runs it alone with its reference; STORM_DEBUG=1 logs the clients' counts every 2 s),
// and writes bench/results/bench.json and bench.md (bench-quick.* with --quick). Then runs the store suite
// (bench/store.ts), the cluster suite (bench/cluster.ts), the Redis deployment suite (bench/redis-cluster.ts: one
// Redis, a Redis Cluster of 1 and 3 shards, --workers 2; --skip-redis-cluster, or --skip-cluster, leaves it out) and the gateway suite (bench/gateway.ts: webhook and
// GatewayWorker round trips, GatewayClient sendToUid pushes). See docs/performance.md.
//
//   npm run bench [-- --quick] [--only herald,ws] [--workloads http,batch] [--skip-main] [--skip-store] [--skip-cluster] [--skip-redis-cluster] [--skip-gateway] [--skip-pusher] [--skip-compat] [--skip-storm] [--no-bun-install] [--profile] [--soak [--soak-minutes M] [--soak-clients N]]
//
// The Pusher rows alone, with the native figures they are compared to: --only herald,herald-pusher --skip-store
// --skip-cluster --skip-gateway (add --workloads events for the HTTP triggers only).
// The Workerman-profile rows alone: --only herald-compat --skip-store --skip-cluster --skip-gateway (add
// --workloads text for the Text-port rows without the idle one).
//
// Layout: lib/ (config and flags, child processes, tools, sessions, medians), peers.ts (the variants),
// workloads/ (idle, broadcast, unicast, events, compat, storm), table.ts (metrics, ratios, targets), report.ts (JSON and Markdown).
// Every loop is bounded by a count and a timeout; all traffic stays on 127.0.0.x; child processes are stopped by PID.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { BENCH, CFG, FLAGS, log, quick, RESULTS, ROOT, RUNS, sleep, started, twoCores } from './lib/config.ts';
import { stopAll } from './lib/proc.ts';
import { openClients, setLoadClient, startServer } from './lib/session.ts';
import { buildLoadClient, findBun } from './lib/tools.ts';
import { runs, variants, type Variant } from './peers.ts';
import { writeReport } from './report.ts';
import { buildCompatTargets, buildStormRows, buildStormTarget, buildTable, buildTargets, TABLE_NOTES, type VariantResult } from './table.ts';
import { broadcastAt } from './workloads/broadcast.ts';
import { compatAt } from './workloads/compat.ts';
import { eventsAt } from './workloads/events.ts';
import { idle } from './workloads/idle.ts';
import { storm, type StormResult } from './workloads/storm.ts';
import { unicastAt } from './workloads/unicast.ts';

async function runVariant(v: Variant): Promise<VariantResult> {
  const res: VariantResult = { name: v.name, broadcast: {} };
  let s = await startServer(v);
  try {
    if (runs(v, 'idle')) {
      log(`${v.name}: idle memory, ${CFG.idleN} connections`);
      res.idle = await idle(v, s);
      log(
        `  ${res.idle.connected} connected in ${res.idle.connectSeconds.toFixed(1)} s (server ${res.idle.serverUsPerConnection.toFixed(0)} µs CPU/conn), ${res.idle.kbPerConnection.toFixed(2)} KB/conn`,
      );
      // The full run measures throughput on a fresh server; --quick reuses this one to save a start.
      if (quick) await sleep(300);
      else {
        await s.srv.stop();
        s = await startServer(v);
      }
    }
    for (const n of CFG.ns) {
      if (!runs(v, `n${n}`)) continue;
      log(`${v.name}: broadcast, N=${n}`);
      const { cli, connected } = await openClients(v, s, n);
      try {
        if (Number(connected.ok) < n) log(`  only ${String(connected.ok)}/${n} connected`);
        if (runs(v, 'broadcast')) res.broadcast[String(n)] = await broadcastAt(v, s.srv, cli, n, Number(connected.ok));
        if (runs(v, 'text')) {
          log(`${v.name}: Workerman Text port (one line in flight: broadcast${n === CFG.ns[0] ? '; pipelined: pushes to one uid each' : ''})`);
          (res.compat ??= {})[String(n)] = await compatAt(s, cli, n, connected);
        }
        if (n === CFG.unicastN) {
          const u = await unicastAt(v, s, cli, n);
          if (u) res.unicast = u;
        }
      } finally {
        await cli.stop();
      }
      await sleep(quick ? 100 : 500);
    }
    if (runs(v, 'events')) {
      log(`${v.name}: HTTP triggers, Pusher events API and native publish, to one subscriber`);
      res.events = await eventsAt(v, s);
    }
  } finally {
    await s.srv.stop();
  }
  return res;
}

function runSuite(file: string, timeoutMs: number): boolean {
  const t0 = Date.now();
  const args = [...(quick ? ['--quick'] : []), ...(FLAGS.profile ? ['--profile'] : [])];
  const r = spawnSync('node', ['--import', 'tsx', join(BENCH, file), ...args], { stdio: 'inherit', cwd: ROOT, timeout: timeoutMs });
  log(`${file} ${r.status === 0 ? 'done' : `failed (status ${r.status})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r.status === 0;
}

/** The variants x workloads table (bench.json / bench.md); returns false when a variant failed. */
async function mainTable(): Promise<boolean> {
  setLoadClient(buildLoadClient());
  const hardNofile = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || 0;
  if (hardNofile && hardNofile < CFG.idleN + 100) {
    log(`fd hard limit is ${hardNofile}: idle test lowered to ${hardNofile - 500} connections`);
    CFG.idleN = hardNofile - 500;
  }
  const bun = findBun();
  log(bun.note);
  const results: VariantResult[] = [];
  for (const v of variants(bun.bin)) {
    try {
      results.push(await runVariant(v));
    } catch (err) {
      log(`${v.name} failed: ${(err as Error).message}`);
      results.push({ name: v.name, broadcast: {}, error: (err as Error).message });
      await stopAll();
    }
  }
  // The storm runs after the variants (it restarts its own server) and compares with the raw reference's accept time.
  let stormResult: StormResult | undefined;
  let stormError: string | undefined;
  if (!FLAGS.skipStorm && (FLAGS.only === undefined || FLAGS.only.includes('storm'))) {
    log('reconnect storm: herald start on SQLite, resuming clients, numbered publishes, SIGTERM and start again');
    try {
      const rawIdle = results.find((r) => r.name === 'raw')?.idle;
      stormResult = await storm(rawIdle && { connected: rawIdle.connected, connectSeconds: rawIdle.connectSeconds });
    } catch (err) {
      stormError = (err as Error).message;
      log(`storm failed: ${stormError}`);
      await stopAll();
    }
  }
  const table = buildTable(results);
  const targets = buildTargets(results);
  const compatTargets = buildCompatTargets(results);
  console.table(table);
  for (const note of TABLE_NOTES) console.log(note);
  console.table(targets);
  if (compatTargets.length > 0) console.table(compatTargets);
  const stormRows = stormResult && buildStormRows(stormResult);
  const stormTarget = stormResult && buildStormTarget(stormResult);
  if (stormRows && stormTarget) {
    console.table(stormRows);
    console.table(stormTarget);
  }
  const benchSeconds = (Date.now() - started) / 1000;
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    node: process.version,
    nofileHard: hardNofile,
    pinned: twoCores ? 'server on CPU 0, load client on CPU 1 (taskset)' : 'not pinned (one core)',
  };
  const storms = stormResult ? { storm: stormResult } : stormError ? { storm: { error: stormError } } : {};
  const data = { quick, runs: RUNS, config: CFG, machine, bun: bun.note, seconds: benchSeconds, variants: results, ...storms };
  writeReport(quick ? 'bench-quick' : 'bench', data, table, {
    notes: [...TABLE_NOTES, `Bench ${benchSeconds.toFixed(0)} s (without the store and cluster suites).`],
    sections: [
      { title: `Against the targets in issue 7${quick ? ' (quick run: smaller N and one paced level, indicative only)' : ''}`, table: targets },
      ...(compatTargets.length > 0
        ? [
            {
              title: `Workerman profile against Workerman 4.2.1 + pecl event (issue 15)${quick ? ' (quick run: smaller N, indicative only)' : ''}`,
              table: compatTargets,
            },
          ]
        : []),
      ...(stormRows && stormTarget
        ? [
            { title: `Reconnect storm (issue 15, must-have 2)${quick ? ' (quick run: 200 clients, indicative only)' : ''}`, table: stormRows },
            { title: 'Reconnect storm against its target', table: stormTarget },
          ]
        : []),
    ],
  });
  return !results.some((r) => r.error) && stormError === undefined;
}

async function main(): Promise<number> {
  mkdirSync(RESULTS, { recursive: true });
  // The storm, the cluster suites and the soak run `bin/herald.js`, i.e. dist/: built here from the same source the
  // in-process variants run, or they would measure whatever the last build left there.
  log('building dist/ (npm run build)');
  if (spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: ROOT }).status !== 0) return 1;
  // The soak runs alone: it measures one server over minutes, and sharing the cores with the other suites would
  // blur what it counts.
  if (FLAGS.soak) {
    const r = spawnSync('node', ['--import', 'tsx', join(BENCH, 'soak.ts'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: ROOT });
    return r.status ?? 1;
  }
  const mainOk = FLAGS.skipMain || (await mainTable());
  const storeOk = FLAGS.skipStore || (log('store suite (bench/store.ts)'), runSuite('store.ts', quick ? 60_000 : 300_000));
  const clusterOk =
    FLAGS.skipCluster ||
    (log('cluster suite (bench/cluster.ts): cross-node delivery through Redis next to single-node'), runSuite('cluster.ts', quick ? 90_000 : 300_000));
  const redisClusterOk =
    FLAGS.skipCluster ||
    FLAGS.skipRedisCluster ||
    (log('Redis deployment suite (bench/redis-cluster.ts): one Redis, a Redis Cluster of 1 and 3 shards, --workers 2'),
    runSuite('redis-cluster.ts', quick ? 120_000 : 400_000));
  const gatewayOk =
    FLAGS.skipGateway ||
    (log('gateway suite (bench/gateway.ts): webhook and worker-protocol round trips, GatewayClient sendToUid pushes'),
    runSuite('gateway.ts', quick ? 90_000 : 400_000));
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return mainOk && storeOk && clusterOk && redisClusterOk && gatewayOk ? 0 : 1;
}

// A throw from main() skips the exit below and is reported by Node with a non-zero status.
let code: number;
try {
  code = await main();
} finally {
  // Stop whatever is still running (a failed workload may leave its client behind), each by its own PID.
  await stopAll();
}
process.exit(code);
