// A Sentinel-watched Redis for failover tests: a master, two replicas and three sentinels, all real redis-server
// processes on free ports, with a temporary directory for the sentinels' config files (Sentinel rewrites them).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { freePort } from './redis.ts';

export const SENTINEL_NAME = 'herald-test';

export interface SentinelSet {
  /** `host:port` of each sentinel, the form `HERALD_REDIS_SENTINELS` takes (comma-separated). */
  sentinels: string[];
  name: string;
  /** The port of the server the sentinels currently name as master. */
  masterPort(): Promise<number>;
  /** `SENTINEL FAILOVER`: a planned failover; resolves with the new master's port once every sentinel names it. */
  failover(): Promise<number>;
  /**
   * SIGKILLs the master: an unplanned failover; resolves with the new master's port once every sentinel names it.
   * Replicas paused with `pauseReplicas` are resumed right after the kill, behind the master they lost.
   */
  killMaster(): Promise<number>;
  /** SIGSTOPs every replica: they stay connected but receive nothing, so the master runs ahead of them (a lagging network). */
  pauseReplicas(): Promise<void>;
  /** Resolves once `port` is master and has `replicas` replicas online. */
  waitReplicas(port: number, replicas: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface Server {
  port: number;
  proc: ChildProcess;
}

const DOWN_AFTER_MS = 1500;

/** Resolves with the first truthy value of `probe`, polling it until `timeoutMs`; never sleeps as synchronisation. */
export async function poll<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // The polling interval of a condition with a deadline.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startServer(args: string[], port: number): Promise<Server> {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => {
      if (l.includes('Ready to accept connections') || l.includes('Sentinel ID is')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}`)));
  });
  return { port, proc };
}

/** Runs one command on a short-lived connection (no retries: a dead server answers with an error at once). */
async function command(port: number, ...args: (string | number)[]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    r.disconnect();
  }
}

/** Starts the master, two replicas and three sentinels, and resolves once the sentinels know each other and see both replicas. */
export async function startSentinelSet(name = SENTINEL_NAME): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sentinel-'));
  const servers = new Map<number, Server>();
  const sentinelProcs: Server[] = [];
  const paused: ChildProcess[] = [];
  const data = async (replicaOf?: number) => {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `dump-${port}.rdb`];
    if (replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(replicaOf));
    servers.set(port, await startServer(args, port));
    return port;
  };
  const close = async () => {
    for (const s of [...sentinelProcs, ...servers.values()]) {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
      s.proc.kill('SIGCONT');
      const exited = once(s.proc, 'exit');
      s.proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const master = await data();
    await data(master);
    await data(master);
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 2`,
          '',
        ].join('\n'),
      );
      sentinelProcs.push(await startServer([conf, '--sentinel'], port));
    }
    const sentinelPorts = sentinelProcs.map((s) => s.port);
    // Every sentinel must see both replicas (to promote one) and the two other sentinels (for the quorum of 2).
    await poll('the sentinels to see the replicas and each other', async () => {
      for (const p of sentinelPorts) {
        const replicas = (await command(p, 'SENTINEL', 'REPLICAS', name)) as string[][];
        const up = replicas.filter((r) => {
          const flags = r[r.indexOf('flags') + 1] ?? '';
          return flags === 'slave' && r[r.indexOf('master-link-status') + 1] === 'ok';
        });
        const others = (await command(p, 'SENTINEL', 'SENTINELS', name)) as unknown[];
        if (up.length < 2 || others.length < 2) return false;
      }
      return true;
    });

    const named = async (): Promise<number[]> =>
      Promise.all(sentinelPorts.map(async (p) => Number(((await command(p, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1])));
    const masterPort = async () => (await named())[0]!;
    const waitReplicas = (port: number, replicas: number, timeoutMs = 30_000) =>
      poll(
        `${port} to be master with ${replicas} replicas online`,
        async () => {
          const role = (await command(port, 'ROLE')) as [string, number, [string, string, string][]];
          return role[0] === 'master' && role[2].length >= replicas;
        },
        timeoutMs,
      ).then(() => undefined);
    const newMaster = async (old: number) => {
      const port = await poll(
        'every sentinel to name a new master',
        async () => {
          const ports = await named();
          return ports.every((p) => p === ports[0] && p !== old) ? ports[0] : undefined;
        },
        30_000,
      );
      await poll(`${port} to take writes`, async () => ((await command(port, 'ROLE')) as string[])[0] === 'master');
      return port;
    };
    return {
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`),
      name,
      masterPort,
      waitReplicas,
      async failover() {
        const old = await masterPort();
        await command(sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', name);
        return newMaster(old);
      },
      async killMaster() {
        const old = await masterPort();
        const s = servers.get(old)!;
        const exited = once(s.proc, 'exit');
        s.proc.kill('SIGKILL');
        await exited;
        for (const p of paused.splice(0)) p.kill('SIGCONT');
        return newMaster(old);
      },
      async pauseReplicas() {
        const master = await masterPort();
        for (const [port, s] of servers) {
          if (port === master || s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
          s.proc.kill('SIGSTOP');
          paused.push(s.proc);
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface ReplicaPair {
  masterPort: number;
  replicaPort: number;
  /** SIGSTOP / SIGCONT of the replica: it stays connected but confirms nothing while stopped. */
  pauseReplica(): void;
  resumeReplica(): void;
  close(): Promise<void>;
}

/** A master and one replica, without sentinels: for the fenced store's own tests. Resolves once the replica is in sync. */
export async function startReplicaPair(): Promise<ReplicaPair> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-replica-'));
  const procs: Server[] = [];
  const close = async () => {
    for (const s of procs) {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
      const exited = once(s.proc, 'exit');
      s.proc.kill('SIGCONT');
      s.proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = [await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `dump-${port}.rdb`];
      if (i === 1) args.push('--replicaof', '127.0.0.1', String(ports[0]));
      procs.push(await startServer(args, port));
    }
    await poll('the replica to be in sync', async () => {
      const role = (await command(ports[0]!, 'ROLE')) as [string, number, [string, string, string][]];
      return role[2].length === 1;
    });
    return {
      masterPort: ports[0]!,
      replicaPort: ports[1]!,
      pauseReplica: () => void procs[1]!.proc.kill('SIGSTOP'),
      resumeReplica: () => void procs[1]!.proc.kill('SIGCONT'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
