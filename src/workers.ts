import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { ensureSecrets } from './auth/secrets.ts';
import { ConfigError, usesRedis, type HeraldConfig } from './config.ts';

/**
 * `herald start --workers N`: a primary process forks N Herald workers that share the listening ports (node:cluster
 * hands connections out round-robin) and meet in Redis, which carries messages, history and presence between
 * them. Without Redis each worker would be a separate server that cannot see the others' clients, so it is refused.
 */
export async function runPrimary(workers: number, config: HeraldConfig, log: Logger): Promise<void> {
  if (!usesRedis(config)) {
    throw new ConfigError(
      `--workers ${workers} needs Redis (HERALD_REDIS_URL, HERALD_REDIS_CLUSTER or HERALD_REDIS_SENTINELS): workers share nothing else, so without it a client on one worker could not be reached from another`,
    );
  }
  // Generated once here, not raced by N workers writing the same file.
  ensureSecrets(config);
  let stopping = false;
  const fork = () => cluster.fork({ HERALD_WORKER: '1' });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'worker died: starting another (its clients reconnect and resume)');
    fork();
  });
  for (let i = 0; i < workers; i++) fork();
  log.info({ workers }, `primary ${process.pid} started ${workers} workers`);
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 3000);
    force.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
