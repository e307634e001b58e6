import { createRequire } from 'node:module';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { HeraldConfig } from '../config.ts';

/** The three connections a node keeps to Redis, whichever way Redis is deployed. */
export interface RedisConnections {
  kind: 'single' | 'sentinel' | 'cluster';
  /** Commands and scripts. Fails at once while Redis is away (no offline queue): publishes answer 503. */
  main: Redis;
  /** The broker's subscriber; queues its (re)subscriptions until Redis is back. */
  sub: Redis;
  /** Control calls' subscriber, so stream channels and calls never share a handler. */
  ctlSub: Redis;
}

// `Cluster` is named so that the cluster implementation can widen these types; it is not constructed yet.
export type AnyRedis = Redis | Cluster;

/**
 * Opens (lazily: `connect()` is the caller's) the connections described by `config.redis`: one server from
 * `url`, or the master that the `sentinels` name `sentinelName`, found again by ioredis after a failover.
 * ioredis is loaded here, not when Herald starts: it costs ~24 MB of RSS that a one-process Herald never uses.
 */
export function openRedis(redis: HeraldConfig['redis'], log: Logger): RedisConnections {
  const { Redis: RedisClass } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const base: RedisOptions = { connectTimeout: 5000, lazyConnect: true };
  const mainOptions: RedisOptions = { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  const subOptions: RedisOptions = { ...base, maxRetriesPerRequest: null };
  let kind: RedisConnections['kind'];
  let open: (options: RedisOptions) => Redis;
  if (redis.cluster !== undefined) {
    throw new Error('redis.cluster is not supported yet');
  } else if (redis.sentinels !== undefined) {
    kind = 'sentinel';
    const sentinels = redis.sentinels.map(hostPort);
    // The failover detector listens for the sentinels' +switch-master and reconnects at once: a demoted master
    // keeps its clients (and takes writes that the resync discards) until Sentinel reconfigures it, seconds later.
    open = (options) => new RedisClass({ ...options, sentinels, name: redis.sentinelName, failoverDetector: true });
  } else if (redis.url !== undefined) {
    kind = 'single';
    const url = redis.url;
    open = (options) => new RedisClass(url, options);
  } else {
    throw new Error('openRedis: no Redis configured');
  }
  const conns: RedisConnections = { kind, main: open(mainOptions), sub: open(subOptions), ctlSub: open(subOptions) };
  for (const [name, conn] of [
    ['main', conns.main],
    ['subscriber', conns.sub],
    ['control subscriber', conns.ctlSub],
  ] as const) {
    conn.on('error', (err: Error) => log.warn({ err: err.message, connection: name }, 'redis connection error'));
  }
  return conns;
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
