import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The shared Redis the tests use: a real server (`npm test`, through scripts/provision.mjs, starts one when none answers). */
export const REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface OwnRedis {
  url: string;
  /** Stops the server (SHUTDOWN, which writes the append-only file) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory, and waits until it accepts connections. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A private redis-server for fault tests (restarts would disturb other tests on the shared one), with the
 * append-only file fsynced on every write, so a restart keeps everything Herald was told is stored.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: proc.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => {
        if (l.includes('Ready to accept connections')) resolve();
      });
      proc!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  };
  const stop = async () => {
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key under `pattern` (through the first connection) and closes the connections: a contract suite's `after`. */
export async function dropKeysAndQuit(
  conns: readonly { keys(p: string): Promise<string[]>; del(...k: string[]): Promise<number>; quit(): Promise<unknown> }[],
  pattern: string,
): Promise<void> {
  const r = conns[0];
  if (r !== undefined) {
    const keys = await r.keys(pattern);
    if (keys.length > 0) await r.del(...keys);
  }
  await Promise.all(conns.map((c) => c.quit()));
}
