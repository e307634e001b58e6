import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Broker } from './broker/broker.ts';
import { MemoryBroker } from './broker/memory.ts';
import { CatchUp } from './broker/catch-up.ts';
import { RedisBroker } from './broker/redis.ts';
import { usesRedis, waitReplicas, type HeraldConfig } from './config.ts';
import type { Hub } from './core/hub.ts';
import { LocalBus, type ControlBus } from './core/control-bus.ts';
import type { LocalControl } from './core/control.ts';
import { RedisControlBus } from './cluster/redis-control.ts';
import { logErrors, openRedis, type AnyRedis } from './cluster/redis-connect.ts';
import { MemoryPresence } from './presence/memory.ts';
import type { Presence } from './presence/presence.ts';
import { RedisPresence } from './presence/redis.ts';
import { MemoryMembers, type Members } from './presence/members.ts';
import { RedisMembers } from './presence/redis-members.ts';
import { CloseCode } from './protocol/codes.ts';
import { flushThisTurn } from './core/turn.ts';
import { FencedStore, singleRoute } from './store/fenced.ts';
import { clusterRoute } from './cluster/fence-route.ts';
import { MemoryStore } from './store/memory.ts';
import { RedisStore } from './store/redis.ts';
import { retentionResolver } from './store/retention.ts';
import { SqliteStore } from './store/sqlite.ts';
import type { Store } from './store/store.ts';

export interface Backends {
  store: Store;
  broker: Broker;
  presence: Presence;
  /** Presence-channel members by user id across nodes (the Pusher protocol's presence channels). */
  members: Members;
  /** Connection-addressed calls: local, or over Redis to the node that holds the connection. */
  control: ControlBus;
  /** Resolves when the backends are reachable (Redis connected). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Chooses Store, Broker and Presence from the configuration: embedded (SQLite or memory store, in-process broker
 * and presence) by default; all on Redis when `redis.url`, `redis.cluster` or `redis.sentinels` is set, so any node can serve any client.
 */
export function createBackends(config: HeraldConfig, hub: Hub, log: Logger, nodeId: string, local: LocalControl): Backends {
  const retentionFor = retentionResolver(config.history);
  if (!usesRedis(config)) {
    const store = config.store.type === 'memory' ? new MemoryStore(retentionFor) : sqliteStore(config, retentionFor);
    return {
      store,
      broker: new MemoryBroker(),
      presence: new MemoryPresence(hub),
      members: new MemoryMembers(),
      control: new LocalBus(local),
      ready: () => Promise.resolve(),
      close: () => store.close(),
    };
  }
  // While Redis is away, publishes fail at once (503: the caller retries, with its idempotency key) instead of
  // queueing; the subscriber queues its (re)subscriptions until Redis is back.
  const { kind, main, sub, ctlSub } = openRedis(config.redis, log);
  const prefix = config.redis.prefix;
  const announce = `${prefix}m:`;
  // With the failover fence, appends and their WAITs get connections of their own (see store/fenced.ts).
  const replicas = waitReplicas(config);
  // (Narrowed first: the two classes' `duplicate` signatures do not unite into one callable.)
  const writer: AnyRedis | undefined = replicas <= 0 ? undefined : isSingle(main) ? main.duplicate() : main.duplicate();
  if (writer !== undefined) logErrors(writer, 'writer', log);
  const fence =
    writer === undefined
      ? undefined
      : new FencedStore(
          new RedisStore(writer, { prefix, retentionFor, fenced: 'append' }),
          new RedisStore(main, { prefix, retentionFor, announce, fenced: 'read' }),
          isSingle(writer) ? singleRoute(writer, prefix) : clusterRoute(writer, prefix),
          { replicas, timeoutMs: config.redis.waitTimeoutMs },
          new RedisStore(main, { prefix, retentionFor, announce }),
        );
  const store: Store = fence ?? new RedisStore(main, { prefix, retentionFor, announce });
  const broker = new RedisBroker(sub, store, announce, log);
  const presence = new RedisPresence(main, hub, { prefix, nodeId, heartbeatMs: config.redis.presenceHeartbeatMs });
  const control = new RedisControlBus(main, ctlSub, local, { prefix, nodeId, timeoutMs: config.redis.controlTimeoutMs, log });
  const members = new RedisMembers(main, { prefix, nodeId, heartbeatMs: config.redis.presenceHeartbeatMs, log });
  hub.observe({
    interest: (stream, on) => (on ? void broker.watch(stream).catch(() => {}) : broker.unwatch(stream)),
  });
  // Announcements made while our subscriber was away never reach us: once both connections are back, the broker
  // reads what every watched stream got meanwhile from the store and hands it on in order (broker/catch-up.ts).
  const catchUps = new CatchUp(
    () => broker.resync(),
    (reason) => {
      log.warn(reason);
      for (const c of hub.connections()) c.close(CloseCode.Resync, 'resync after broker reconnect');
    },
    log,
  );
  const catchUp = (why: string) => {
    catchUps.start(why);
    void presence.beat().catch(() => {});
  };
  let outage = false;
  for (const conn of [main, sub]) {
    conn.on('close', () => {
      if (conn.status !== 'end') outage = true;
    });
    conn.on('ready', () => {
      if (!outage || main.status !== 'ready' || sub.status !== 'ready') return;
      outage = false;
      catchUp('redis reconnected: catching up on the streams local clients follow');
    });
  }
  let started = false;
  if (kind === 'cluster') {
    // On a Cluster the connection as a whole stays up while one shard fails over or a slot moves: ioredis then
    // replaces that shard's subscriber or resubscribes the slot's channels on its new owner, and says so here.
    // Announcements made in between never reached this node, so it catches up on every watched stream.
    sub.on('subscribersReady', () => {
      if (started) catchUp('redis cluster topology changed: catching up on the streams local clients follow');
    });
  }
  return {
    store,
    broker,
    presence,
    members,
    control,
    async ready() {
      await Promise.all([main.connect(), sub.connect(), ctlSub.connect(), writer?.connect()]);
      if (fence !== undefined) await checkReplicas(writer!, fence, config.redis.waitReplicas === undefined, log);
      await control.start();
      await presence.beat();
      await members.beat();
      started = true;
    },
    async close() {
      await members.close();
      await control.close();
      await presence.close();
      await broker.close();
      // disconnect() after QUIT: only it stops the sentinel connections of ioredis's failover detector.
      await Promise.all(
        [main, sub, ctlSub, writer].map((c) =>
          c
            ?.quit()
            .catch(() => {})
            .finally(() => c.disconnect()),
        ),
      );
    },
  };
}

function isSingle(r: AnyRedis): r is Redis {
  return !r.isCluster;
}

/**
 * A fence asking for more replicas than a master has refuses every publish: said once at startup, not per 503. On a
 * Cluster the fence is on by default, but a cluster without replicas has no failover to guard against: there the
 * default fence is lowered to 0, and the log says what that means.
 */
async function checkReplicas(writer: AnyRedis, fence: FencedStore, byDefault: boolean, log: Logger): Promise<void> {
  const replicas = fence.replicas;
  const fewest = isSingle(writer)
    ? Number(/^connected_slaves:(\d+)/m.exec(await writer.info('replication'))?.[1] ?? 0)
    : Math.min(...((await writer.cluster('SLOTS')) as unknown[][]).map((range) => range.length - 3));
  if (fewest >= replicas) return;
  if (byDefault && writer.isCluster) {
    fence.lowerTo(fewest);
    log.warn(
      { waitReplicas: fewest, fewestReplicas: fewest },
      'redis cluster: a master has no replica, so the failover fence is off (redis.waitReplicas 0): add replicas and restart, or a failover can lose acknowledged publishes',
    );
    return;
  }
  log.warn(
    { waitReplicas: replicas, connected: fewest },
    'redis.waitReplicas is more than the replicas a master has: publishes are refused (503) until enough are connected',
  );
}

function sqliteStore(config: HeraldConfig, retentionFor: ReturnType<typeof retentionResolver>): SqliteStore {
  const h = config.history;
  return new SqliteStore({
    file: config.store.file ?? join(resolve(config.dataDir), 'herald.db'),
    fsync: config.store.fsync,
    indexAfterRows: config.store.indexAfterRows,
    retentionFor,
    maxRetentionMs: Math.max(h.userMaxAgeMs, h.channelMaxAgeMs, ...h.rules.map((r) => r.maxAgeMs ?? 0)),
    onAppendsCommitted: flushThisTurn,
  });
}
