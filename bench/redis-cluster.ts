// Cross-node throughput by Redis deployment: the same broadcast and unicast, published through node A's HTTP batch
// API and received by clients on node B, with Herald on one Redis server, on a Redis Cluster of 1 shard and of 3
// shards (masters only: a replica adds its own CPU, not throughput), and as `--workers 2` (one process, two workers
// behind one port) on one Redis. The Redis servers' CPU is reported beside Herald's.
// Run: node --import tsx bench/redis-cluster.ts [--quick]   (npm run bench runs it after the cluster suite)
// Clients are Node `ws` clients in this process, as in bench/cluster.ts: they saturate near 40-60k messages/s, so
// the rows compare deployments with each other; on a 2-core machine Herald, Redis and the clients share the cores.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { TokenService } from '../src/auth/tokens.ts';
import { startOwnRedis } from '../test/helpers/redis.ts';
import { startRedisCluster } from '../test/helpers/redis-cluster.ts';
import { cpuTicks } from './lib/proc.ts';
import { writeReport } from './report.ts';

const quick = process.argv.includes('--quick');
const BROADCAST_CLIENTS = quick ? 100 : 300;
const BROADCAST_MESSAGES = quick ? 50 : 600;
const UNICAST_USERS = quick ? 200 : 1000;
const UNICAST_MESSAGES = quick ? 2000 : 20_000;
const BATCH = quick ? 20 : 50;
const API_KEY = 'bench-api-key-0123456789';
const SECRET = 'bench-token-secret-0123456789abcdef012345';
const ROOT = join(import.meta.dirname, '..');
const TICK_HZ = 100;
const PUBLISHERS = 8;
/** Every Herald started here, stopped by PID when this process exits, however it exits. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

interface Node {
  proc: ChildProcess;
  url: string;
  /** The processes whose CPU counts as Herald's (with --workers, the primary's children too). */
  pids: () => number[];
}

function startNode(env: Record<string, string>, args: string[] = []): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-rc-'));
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'bin/herald.js'), 'start', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', dataDir, ...args],
    {
      env: { PATH: process.env.PATH, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: SECRET, HERALD_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.add(proc);
  proc.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const workers = new Set<number>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node did not start')), 20_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { http?: string; pid?: number };
        if (j.pid !== undefined && j.pid !== proc.pid) workers.add(j.pid);
        if (j.http) {
          clearTimeout(timer);
          resolve({ proc, url: j.http, pids: () => [proc.pid!, ...workers] });
        }
      } catch {
        // not a log line
      }
    });
  });
}

async function clientsOn(node: Node, users: string[], onMessage: () => void): Promise<WebSocket[]> {
  const tokens = new TokenService(SECRET);
  const out: WebSocket[] = [];
  for (const user of users) {
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/ws?token=${await tokens.sign(user, { ttlSeconds: 600 })}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    // Counted once per offset and socket, so a repeat would show as received < expected rather than hide a loss.
    let last = 0;
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (!text.startsWith('{"type":"message"')) return;
      const at = text.indexOf('"offset":') + 9;
      const offset = Number(text.slice(at, text.indexOf(',', at)));
      if (offset > last) {
        last = offset;
        onMessage();
      }
    });
    out.push(ws);
  }
  return out;
}

/** Publishes `total` messages in batches through `from`, waits for `expected` deliveries at `to`; CPU of both sides. */
async function run(label: string, workload: 'broadcast' | 'unicast', from: Node, to: Node, redisPids: number[]): Promise<Record<string, string | number>> {
  const users = Array.from({ length: workload === 'broadcast' ? BROADCAST_CLIENTS : UNICAST_USERS }, (_, i) => `b${i}`);
  const total = workload === 'broadcast' ? BROADCAST_MESSAGES : UNICAST_MESSAGES;
  const expected = workload === 'broadcast' ? total * users.length : total;
  let got = 0;
  let want = Infinity;
  let done: (() => void) | undefined;
  const sockets = await clientsOn(to, users, () => {
    if (++got >= want) done?.();
  });
  const publishers = workload === 'broadcast' ? 1 : PUBLISHERS;
  // Several batches in flight, as several backends would send them: one at a time would measure the round trip.
  const publish = async (count: number) => {
    let next = 0;
    const publisher = async () => {
      for (let m = next; m < count; m = next) {
        next += BATCH;
        const messages = Array.from({ length: Math.min(BATCH, count - m) }, (_, i) => ({
          to: workload === 'broadcast' ? { all: true } : { user: users[(m + i) % users.length]! },
          data: { m: m + i },
        }));
        const res = await fetch(`${from.url}/api/publish/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify({ messages }),
        });
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: publishers }, publisher));
  };
  const until = (n: number) => {
    want = n;
    return new Promise<void>((resolve) => {
      done = resolve;
      if (got >= n) resolve();
    });
  };
  // A warm-up round first (scripts loaded on every master, connections open), not measured.
  const warm = BATCH * publishers;
  const warmed = until(workload === 'broadcast' ? warm * users.length : warm);
  await publish(warm);
  await warmed;
  got = 0;
  const all = until(expected);
  const heraldPids = [...new Set([...from.pids(), ...to.pids()])];
  const cpu0 = { herald: heraldPids.map(cpuTicks), redis: redisPids.map(cpuTicks) };
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await publish(total);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (before: number[], pids: number[]) => pids.reduce((s, pid, i) => s + cpuTicks(pid) - before[i]!, 0) / TICK_HZ / seconds;
  const ownCores = ((u) => (u.user + u.system) / 1e6 / seconds)(process.cpuUsage(own0));
  const heraldCores = cpu(cpu0.herald, heraldPids);
  const redisCores = cpu(cpu0.redis, redisPids);
  const messages = workload === 'broadcast' ? got / users.length : got;
  const row = {
    deployment: label,
    workload,
    received: got,
    expected,
    'deliveries/s': Math.round(got / seconds),
    'messages/s': Math.round(messages / seconds),
    'Herald CPU (cores)': heraldCores.toFixed(2),
    'Redis CPU (cores)': redisCores.toFixed(2),
    'bench CPU (cores)': ownCores.toFixed(2),
    'Herald µs/delivery': ((heraldCores * seconds * 1e6) / got).toFixed(1),
    'Redis µs/message': ((redisCores * seconds * 1e6) / messages).toFixed(1),
  };
  for (const ws of sockets) ws.terminate();
  console.log(JSON.stringify(row));
  return row;
}

async function pairOn(env: Record<string, string>, redisPids: number[], label: string): Promise<Record<string, string | number>[]> {
  const prefix = `hb${randomBytes(3).toString('hex')}:`;
  const a = await startNode({ ...env, HERALD_REDIS_PREFIX: prefix });
  const b = await startNode({ ...env, HERALD_REDIS_PREFIX: prefix });
  try {
    return [await run(label, 'broadcast', a, b, redisPids), await run(label, 'unicast', a, b, redisPids)];
  } finally {
    for (const n of [a, b]) n.proc.kill('SIGTERM');
  }
}

const rows: Record<string, string | number>[] = [];
const single = await startOwnRedis();
try {
  const pid = Number(
    await new Promise<string>((resolve) => {
      const p = spawn('redis-cli', ['-u', single.url, 'info', 'server']);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', () => resolve(/process_id:(\d+)/.exec(out)?.[1] ?? '0'));
    }),
  );
  rows.push(...(await pairOn({ HERALD_REDIS_URL: single.url }, [pid], 'one Redis, 2 nodes')));
  const workers = await startNode({ HERALD_REDIS_URL: single.url, HERALD_REDIS_PREFIX: `hb${randomBytes(3).toString('hex')}:` }, ['--workers', '2']);
  try {
    rows.push(await run('one Redis, --workers 2 (one port)', 'broadcast', workers, workers, [pid]));
    rows.push(await run('one Redis, --workers 2 (one port)', 'unicast', workers, workers, [pid]));
  } finally {
    workers.proc.kill('SIGTERM');
  }
} finally {
  await single.close();
}
for (const masters of [1, 3]) {
  const cluster = await startRedisCluster({ masters, replicasPerMaster: 0 });
  try {
    const pids = cluster.nodes.map((n) => n.proc.pid!);
    rows.push(...(await pairOn({ HERALD_REDIS_CLUSTER: cluster.seeds.join(',') }, pids, `Redis Cluster, ${masters} shard${masters > 1 ? 's' : ''}, 2 nodes`)));
  } finally {
    await cluster.close();
  }
}
// The failover fence's cost on a Cluster (docs/guarantees.md): the same 3 shards with a replica each, publishes
// acknowledged at once (waitReplicas 0) and after WAIT 1 on each stream's master (the default with replicas).
{
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    const pids = cluster.nodes.map((n) => n.proc.pid!);
    const seeds = cluster.seeds.join(',');
    for (const wait of [0, 1]) {
      const label = `Redis Cluster, 3 shards + 3 replicas, ${wait === 0 ? 'no fence' : 'fence (WAIT 1)'}, 2 nodes`;
      rows.push(...(await pairOn({ HERALD_REDIS_CLUSTER: seeds, HERALD_REDIS_WAIT_REPLICAS: String(wait) }, pids, label)));
    }
  } finally {
    await cluster.close();
  }
}
console.table(rows);
writeReport(quick ? 'redis-cluster-quick' : 'redis-cluster', { quick, rows }, rows, {
  notes: [
    'Published through node A (HTTP batch API), received by `ws` clients in the bench process on node B; `--workers 2` rows publish and receive on one port.',
    'CPU in cores over the run (utime + stime from /proc, 10 ms ticks): Herald = both nodes (or the primary and its workers), Redis = every redis-server of the deployment, bench = the clients and publishers in the bench process. µs per delivery and per message = CPU time / count: what a core costs per unit when nothing is saturated.',
    'A shared 2-core machine: Herald, Redis, the clients and the publisher compete for the cores; compare the rows with each other, not with a dedicated server.',
  ],
});
process.exit(0);
