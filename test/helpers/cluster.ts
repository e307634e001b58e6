// Herald nodes as real child processes sharing one Redis, for the cluster tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_KEY, TOKEN_SECRET } from './herald.ts';
import { runHerald, type HeraldProcess } from './process.ts';

export interface Node {
  proc: HeraldProcess;
  url: string;
  ws: string;
}

const dirs: string[] = [];

/** Removes the nodes' data directories (call from `after`). */
export function removeNodeDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Where the nodes find Redis: one server's URL, or the sentinels that name its master. */
export type RedisTarget = string | { sentinels: string[]; name: string };

/** Starts a node on `redis`; `env` adds settings (`HERALD_REDIS_WAIT_REPLICAS`, say). */
export async function startNode(redis: RedisTarget, prefix: string, env: NodeJS.ProcessEnv = {}): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-node-'));
  dirs.push(dataDir);
  const proc = runHerald(['start', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', dataDir], {
    HERALD_API_KEY: API_KEY,
    HERALD_TOKEN_SECRET: TOKEN_SECRET,
    ...(typeof redis === 'string'
      ? { HERALD_REDIS_URL: redis }
      : { HERALD_REDIS_SENTINELS: redis.sentinels.join(','), HERALD_REDIS_SENTINEL_NAME: redis.name }),
    HERALD_REDIS_PREFIX: prefix,
    HERALD_LOG_LEVEL: 'info',
    ...env,
  });
  const ready = await proc.waitLog((l) => typeof l.http === 'string');
  const url = ready.http as string;
  return { proc, url, ws: `${url.replace(/^http/, 'ws')}/ws` };
}

export async function nodeApi(node: Node, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

export async function stopAll(nodes: Node[]): Promise<void> {
  for (const n of nodes) {
    if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) n.proc.child.kill('SIGTERM');
    await n.proc.exited;
  }
}
