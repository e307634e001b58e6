import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort } from './redis.ts';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  /** `host:port`, as `HERALD_REDIS_CLUSTER` takes it. */
  address: string;
  proc: ChildProcess;
}

export interface OwnRedisCluster {
  nodes: ClusterNode[];
  /** Every node's `host:port`: the seed list. */
  seeds: string[];
  /** Runs redis-cli against one node and returns its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The masters that serve slots, with their node ids and slot ranges, as CLUSTER NODES says on a live node. */
  masters(): Promise<{ port: number; id: string; slots: string[] }[]>;
  /** The live node's view of who replicates whom: replica port -> master id. */
  replicas(): Promise<{ port: number; masterId: string }[]>;
  /** SIGKILLs one node and waits for its exit. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again on its port and config; resolves once it is a replica in sync with its master. */
  restart(port: number): Promise<void>;
  /** Polls until every live node reports `cluster_state:ok` and agrees on the masters (deadline `ms`). */
  waitHealthy(ms?: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterShape {
  masters?: number;
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a master may be unreachable before its replica is promoted. */
  nodeTimeoutMs?: number;
}

/**
 * A private Redis Cluster of real `redis-server --cluster-enabled yes` processes on free ports (3 masters with a
 * replica each by default, made with `redis-cli --cluster create`; fewer than 3 masters, which redis-cli refuses,
 * are joined with CLUSTER ADDSLOTSRANGE/MEET/REPLICATE instead), ready when every node says `cluster_state:ok`.
 */
export async function startRedisCluster(shape: ClusterShape = {}): Promise<OwnRedisCluster> {
  const masters = shape.masters ?? 3;
  const replicas = shape.replicasPerMaster ?? 1;
  const timeout = shape.nodeTimeoutMs ?? 1500;
  const dir = mkdtempSync(join(tmpdir(), 'herald-rcluster-'));
  const nodes: ClusterNode[] = [];
  const alive = new Set<number>();
  const buses = new Map<number, number>();
  const spawnNode = async (port: number, bus: number): Promise<ChildProcess> => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-port',
        String(bus),
        '--bind',
        '127.0.0.1',
        // A node that met no other (a 1-shard cluster) does not know its own address and would announce none.
        '--cluster-announce-ip',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        String(timeout),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--cluster-replica-validity-factor',
        '0',
        '--repl-diskless-sync',
        'yes',
        '--repl-diskless-sync-delay',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: proc.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => {
        if (l.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    lines.removeAllListeners('line');
    proc.stdout!.resume();
    alive.add(port);
    proc.once('exit', () => alive.delete(port));
    buses.set(port, bus);
    return proc;
  };
  for (let i = 0; i < masters * (1 + replicas); i++) {
    const port = await freePort();
    const proc = await spawnNode(port, await freePort());
    nodes.push({ port, address: `127.0.0.1:${port}`, proc });
  }
  const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-p', String(port), ...args])).stdout;
  const live = () => nodes.find((n) => alive.has(n.port))!.port;
  const clusterNodes = async () =>
    (await cli(live(), 'cluster', 'nodes'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '));

  if (masters >= 3) {
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicas), '--cluster-yes']);
  } else {
    const per = Math.ceil(16384 / masters);
    for (let m = 0; m < masters; m++) await cli(nodes[m]!.port, 'cluster', 'addslotsrange', String(m * per), String(Math.min(16383, (m + 1) * per - 1)));
    for (const n of nodes.slice(1)) await cli(n.port, 'cluster', 'meet', '127.0.0.1', String(nodes[0]!.port));
    for (let r = masters; r < nodes.length; r++) {
      const masterPort = nodes[(r - masters) % masters]!.port;
      const id = (await cli(masterPort, 'cluster', 'myid')).trim();
      await poll(async () => (await cli(nodes[r]!.port, 'cluster', 'nodes')).includes(id), 10_000, 'replica sees its master');
      await cli(nodes[r]!.port, 'cluster', 'replicate', id);
    }
  }

  const cluster: OwnRedisCluster = {
    nodes,
    seeds: nodes.map((n) => n.address),
    cli,
    async masters() {
      return (await clusterNodes())
        .filter((f) => f[2]!.includes('master') && !f[2]!.includes('fail') && f.length > 8)
        .map((f) => ({ port: Number(f[1]!.split(':')[1]!.split('@')[0]), id: f[0]!, slots: f.slice(8) }));
    },
    async replicas() {
      return (await clusterNodes())
        .filter((f) => f[2]!.includes('slave') && !f[2]!.includes('fail'))
        .map((f) => ({ port: Number(f[1]!.split(':')[1]!.split('@')[0]), masterId: f[3]! }));
    },
    async kill(port) {
      const n = nodes.find((x) => x.port === port)!;
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
      const exited = once(n.proc, 'exit');
      n.proc.kill('SIGKILL');
      await exited;
    },
    async restart(port) {
      const n = nodes.find((x) => x.port === port)!;
      n.proc = await spawnNode(port, buses.get(port)!);
      // Its cluster config file brings it back; a master whose slots were taken over rejoins as a replica.
      await poll(
        async () => /role:slave[\s\S]*master_link_status:up/.test(await cli(port, 'info', 'replication')),
        30_000,
        `node ${port} back as a replica in sync`,
      );
    },
    async waitHealthy(ms = 20_000) {
      await poll(
        async () => {
          const views = await Promise.all([...alive].map((p) => cli(p, 'cluster', 'info')));
          if (!views.every((v) => v.includes('cluster_state:ok') && v.includes('cluster_slots_ok:16384'))) return false;
          const ms = await cluster.masters();
          return ms.length === masters && ms.every((m) => alive.has(m.port));
        },
        ms,
        'cluster_state:ok on every node',
      );
    },
    async close() {
      await Promise.all(nodes.map((n) => cluster.kill(n.port)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.waitHealthy();
  // Replicas must be in sync before a failover test relies on them.
  if (replicas > 0) {
    await poll(
      async () => {
        const infos = await Promise.all(nodes.slice(0).map((n) => cli(n.port, 'info', 'replication')));
        return infos.filter((i) => i.includes('role:slave')).every((i) => i.includes('master_link_status:up'));
      },
      20_000,
      'replicas in sync',
    );
  }
  return cluster;
}

/** Polls `check` every 50 ms until it is true, or rejects after `ms`. */
export async function poll(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
