import { createRequire } from 'node:module';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { HeraldConfig } from '../config.ts';

/** The three connections a node keeps to Redis, whichever way Redis is deployed. */
export interface RedisConnections {
  kind: 'single' | 'sentinel' | 'cluster';
  /** Commands and scripts. Fails at once while Redis is away (no offline queue): publishes answer 503. */
  main: AnyRedis;
  /** The broker's subscriber; queues its (re)subscriptions until Redis is back. On a Cluster: sharded subscribers. */
  sub: AnyRedis;
  /** Control calls' subscriber, so stream channels and calls never share a handler. */
  ctlSub: AnyRedis;
}

/** A connection to one server (direct or found through Sentinel) or to a Redis Cluster. */
export type AnyRedis = Redis | Cluster;

/**
 * Opens (lazily: `connect()` is the caller's) the connections described by `config.redis`: one server from
 * `url`, or the master that the `sentinels` name `sentinelName`, found again by ioredis after a failover, or a
 * Redis Cluster from its `cluster` seed nodes.
 * ioredis is loaded here, not when Herald starts: it costs ~24 MB of RSS that a one-process Herald never uses.
 */
export function openRedis(redis: HeraldConfig['redis'], log: Logger): RedisConnections {
  const { Redis: RedisClass, Cluster: ClusterClass } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const base: RedisOptions = { connectTimeout: 5000, lazyConnect: true };
  const mainOptions: RedisOptions = { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  const subOptions: RedisOptions = { ...base, maxRetriesPerRequest: null };
  let kind: RedisConnections['kind'];
  let open: (options: RedisOptions) => Redis;
  if (redis.cluster !== undefined) {
    const seeds = redis.cluster.map(hostPort);
    // The main connection queues nothing while the cluster is unreachable (a publish answers 503 and is retried
    // with its idempotency key); a command for a slot whose master just died, MOVED/ASK during a reshard and
    // TRYAGAIN are retried by ioredis itself (up to 32 times, 200 ms apart), so a failover delays those publishes
    // rather than refusing them. The slot map is refreshed every second, so the subscribers follow a moved slot
    // soon. Subscribers use one sharded subscriber per master: a stream's announcements come from the shard that
    // owns it and from no other.
    const cluster = ({ lazyConnect: _lazy, ...redisOptions }: RedisOptions, extra: ClusterOptions) =>
      new ClusterClass(seeds, { lazyConnect: true, redisOptions, ...extra });
    const main = cluster(mainOptions, {
      enableOfflineQueue: false,
      retryDelayOnFailover: 200,
      retryDelayOnTryAgain: 200,
      maxRedirections: 32,
      slotsRefreshInterval: 1000,
    });
    const subscriber = () =>
      cluster(subOptions, {
        shardedSubscribers: true,
        enableOfflineQueue: true,
        retryDelayOnFailover: 200,
        retryDelayOnTryAgain: 200,
        slotsRefreshInterval: 1000,
      });
    return watchErrors({ kind: 'cluster', main, sub: subscriber(), ctlSub: subscriber() }, log);
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
  return watchErrors({ kind, main: open(mainOptions), sub: open(subOptions), ctlSub: open(subOptions) }, log);
}

function watchErrors(conns: RedisConnections, log: Logger): RedisConnections {
  logErrors(conns.main, 'main', log);
  logErrors(conns.sub, 'subscriber', log);
  logErrors(conns.ctlSub, 'control subscriber', log);
  return conns;
}

/** A Redis connection's errors logged under its role (without a listener, ioredis would throw them). */
export function logErrors(conn: AnyRedis, name: string, log: Logger): void {
  conn.on('error', (err: Error) => log.warn({ err: err.message, connection: name }, 'redis connection error'));
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
