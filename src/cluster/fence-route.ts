import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import type { FenceRoute } from '../store/fenced.ts';

type SlotOf = (key: string) => number;

/**
 * The failover fence's route on a Redis Cluster: a stream's append runs on the master that owns its slot (every key
 * of a stream carries the hash tag `{<stream>}`), through the writer Cluster's own connection to that master, and
 * that is the connection WAIT must run on. The writer is a Cluster client of its own: WAIT blocks the connection
 * it runs on, and the main client's connections carry reads, presence and control calls (and the announcements,
 * RedisStore.announceFenced: `SPUBLISH` in the stream's slot).
 *
 * The slot map is ioredis's (`slots`, refreshed on MOVED and every second): the fence looks the connection up
 * before and after each append and refuses (503) an append whose stream changed master meanwhile. An append sent
 * to a slot's new owner on an ASK redirection during a migration is not seen here: its WAIT runs on the old owner,
 * so a crash of the new owner's master in that moment is the one case the fence does not cover on a Cluster.
 */
export function clusterRoute(writer: Cluster, prefix: string): FenceRoute {
  // ioredis's own slot function (cluster-key-slot), loaded with ioredis only when a Cluster is configured.
  const slotOf = createRequire(import.meta.url)('cluster-key-slot') as SlotOf;
  let byKey = new Map<string, Redis>();
  const connectionFor = (stream: string): Redis | undefined => {
    const key = writer.slots[slotOf(`{${stream}}`)]?.[0];
    if (key === undefined) return undefined;
    let conn = byKey.get(key);
    if (conn === undefined || conn.status !== 'ready') {
      // The pool changes only when the cluster's topology does: rebuilt then, not per append.
      byKey = new Map(writer.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
      conn = byKey.get(key);
    }
    return conn;
  };
  return {
    connectionFor,
    touch: (stream) => writer.set(`${prefix}{${stream}}:fence`, String(Date.now()), 'PX', 60_000),
  };
}
