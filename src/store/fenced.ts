import type { Redis } from 'ioredis';
import {
  RecordExists,
  type AppendItem,
  type AppendRecord,
  type AppendResult,
  type Position,
  type Store,
  type StoredMessage,
  type StreamPosition,
} from './store.ts';
import type { RedisStore } from './redis.ts';

interface RememberedStream {
  stream: string;
  offset: number;
  epoch: string;
}

/** The streams and offsets of a remembered publish result (`provisionalResult` or the full one); none if unreadable. */
function rememberedStreams(remembered: string): RememberedStream[] {
  try {
    const streams = (JSON.parse(remembered) as { streams?: unknown }).streams;
    return Array.isArray(streams) ? (streams as RememberedStream[]).filter((s) => typeof s?.stream === 'string') : [];
  } catch {
    return [];
  }
}

/** The fence on one master (Sentinel or one server): every write on the writer connection. */
export function singleRoute(writer: Redis, prefix: string): FenceRoute {
  return {
    connectionFor: () => writer,
    touch: () => writer.set(`${prefix}fence`, String(Date.now()), 'PX', 60_000),
  };
}

export interface FenceOptions {
  /** Replicas that must hold an append before it is acknowledged (`WAIT <replicas>`). */
  replicas: number;
  timeoutMs: number;
}

/**
 * Where a stream's writes run, for the fence: WAIT counts the writes of the connection it runs on, so it must run
 * on the connection that ran the append. One master: the writer connection. A Cluster: the writer Cluster's
 * connection to the master that owns the stream's slot (cluster/fence-route.ts).
 */
export interface FenceRoute {
  /** The connection the next write of `stream` goes through, if known. */
  connectionFor(stream: string): Redis | undefined;
  /** Writes a key of the fence's own where `stream`'s writes go, so that a WAIT there covers what that master holds. */
  touch(stream: string): Promise<unknown>;
}

/** The replicas did not confirm in time, or the connection changed meanwhile: the publish is answered 503. */
export class NotReplicated extends Error {}

/** The fence's bookkeeping for one connection: WAIT covers only that connection's writes. */
interface Link {
  /** Appends answered on it so far; a WAIT sent after the n-th answer covers the first n. */
  answered: number;
  /** Incremented whenever it closes: a WAIT on a new connection covers nothing written on the old one. */
  closes: number;
  sent: { covers: number; done: Promise<void> } | undefined;
  queued: Promise<void> | undefined;
}

/**
 * The failover fence over the Redis store (docs/guarantees.md, "Redis failover"). Redis replicates
 * asynchronously, so a promoted replica may lack what the old master acknowledged, and it would give those
 * offsets to new messages while clients already hold them. Here nothing leaves the store, neither the caller's
 * answer nor the announcement to the nodes, before `WAIT` says `replicas` replicas hold it: Sentinel (or the
 * Cluster) promotes an up-to-date replica, so an announced or acknowledged offset survives a master crash.
 * Replication is in order, so an entry read back to fill a gap before an announced one is held by that replica too.
 *
 * `writes` runs on connections of their own (the route's): WAIT blocks the connection it runs on, and WAIT counts
 * only that connection's writes. Reads, acks and idempotency look-ups go through `reads`, never behind a WAIT.
 * The announcement is no longer made inside the append script, so two nodes may announce one stream's entries
 * out of offset order; the broker's Sequencer orders them (reading the earlier one back from the store).
 * An append whose stream changed connection while it ran (a failover, a slot moved) is answered 503: the WAIT
 * could not cover it. The caller's retry with its idempotency key finds the record, fences it and announces it.
 */
export class FencedStore implements Store {
  readonly durability: Store['durability'];
  private readonly links = new WeakMap<Redis, Link>();

  constructor(
    /** Appends (`fenced: 'append'`) on the route's connections. */
    private readonly writes: RedisStore,
    /** Everything else (`fenced: 'read'`): reads stop at what the fence has confirmed. */
    private readonly reads: RedisStore,
    private readonly route: FenceRoute,
    private opts: FenceOptions,
    /** What appends go to once the fence is lowered to 0 replicas: the store that announces in its append script. */
    private readonly unfenced?: Store,
  ) {
    this.durability = writes.durability;
  }

  /** Replicas each append waits for. */
  get replicas(): number {
    return this.opts.replicas;
  }

  /** Lowers the replicas waited for (a Cluster whose masters have fewer replicas than the default asks). */
  lowerTo(replicas: number): void {
    this.opts = { ...this.opts, replicas: Math.min(replicas, this.opts.replicas) };
  }

  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    return this.appendAll([event === undefined ? { stream, data } : { stream, data, event }]).then((r) => r[0]!);
  }

  async appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    const unfenced = this.loweredTo();
    if (unfenced !== undefined) return unfenced.appendAll(items, record);
    const streams = [...new Set(items.map((i) => i.stream))];
    const before = streams.map((s) => this.at(s));
    let results: AppendResult[];
    try {
      results = await this.writes.appendAll(items, record);
    } catch (err) {
      if (!(err instanceof RecordExists)) throw err;
      // A retry: the first attempt may have been answered 503 before its replicas confirmed, and never announced.
      // It is acknowledged now only once replicated, and announced again (the nodes drop what they already have).
      const remembered = rememberedStreams(err.value);
      await this.refresh(remembered.length > 0 ? remembered.map((r) => r.stream) : streams);
      await this.reannounce(remembered);
      throw err;
    }
    const fences = new Map<Redis, Promise<void>>();
    streams.forEach((s, i) => {
      const was = before[i];
      const now = this.at(s);
      if (was === undefined || now?.conn !== was.conn || this.link(was.conn).closes !== was.closes) {
        throw new NotReplicated(`the Redis connection for ${s} changed before the replicas confirmed; retry`);
      }
      if (!fences.has(was.conn)) fences.set(was.conn, this.fenced(was.conn, ++this.link(was.conn).answered, was.closes));
    });
    await Promise.all(fences.values());
    await this.announce(items, results);
    return results;
  }

  private at(stream: string): { conn: Redis; closes: number } | undefined {
    const conn = this.route.connectionFor(stream);
    return conn === undefined ? undefined : { conn, closes: this.link(conn).closes };
  }

  private link(conn: Redis): Link {
    let l = this.links.get(conn);
    if (l === undefined) {
      const link: Link = { answered: 0, closes: 0, sent: undefined, queued: undefined };
      conn.on('close', () => link.closes++);
      this.links.set(conn, (l = link));
    }
    return l;
  }

  /**
   * WAIT counts only the writes of its own connection, and a retry that found its record wrote nothing: one small
   * write of our own where each stream's writes go makes the WAIT cover everything that master held when the record
   * was found.
   */
  private async refresh(streams: readonly string[]): Promise<void> {
    const done = new Map<Redis, Promise<void>>();
    for (const s of streams) {
      const at = this.at(s);
      if (at === undefined) throw new NotReplicated(`no Redis connection for ${s} yet; retry`);
      if (done.has(at.conn)) continue;
      done.set(
        at.conn,
        this.route.touch(s).then(() => this.fenced(at.conn, ++this.link(at.conn).answered, at.closes)),
      );
    }
    await Promise.all(done.values());
  }

  /** Resolves once a WAIT sent after the `ticket`-th answer on `conn`, before it closed again, has its replicas. */
  private async fenced(conn: Redis, ticket: number, closes: number): Promise<void> {
    const link = this.link(conn);
    const sent = link.sent;
    await (sent !== undefined && sent.covers >= ticket ? sent.done : this.nextWait(conn, link));
    if (link.closes !== closes) throw new NotReplicated('the Redis connection changed before the replicas confirmed; retry');
  }

  /** One WAIT per connection for every append answered on it in this turn of the event loop (group commit). */
  private nextWait(conn: Redis, link: Link): Promise<void> {
    link.queued ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      link.queued = undefined;
      const { replicas, timeoutMs } = this.opts;
      const done = conn.wait(replicas, timeoutMs).then((n) => {
        if (n < replicas) throw new NotReplicated(`${n} of ${replicas} replicas confirmed within ${timeoutMs} ms; retry`);
      });
      link.sent = { covers: link.answered, done };
      return done;
    });
    return link.queued;
  }

  /**
   * Announces in the format the broker reads (`parseAnnouncement` in broker/redis.ts, written by the append script
   * otherwise), raising each stream's fenced top in the same step: from then on readers see the entry.
   */
  private async announce(items: readonly AppendItem[], results: readonly AppendResult[]): Promise<void> {
    // Stored and replicated: if an announcement is lost, the nodes' catch-up reads it from the store.
    await Promise.all(
      items.map((item, i) => {
        const { offset, epoch } = results[i]!;
        const ev = item.event ?? '';
        const payload = `${offset}:${epoch}:${item.exclude ?? ''}:${Buffer.byteLength(ev)}:${ev}${item.data}`;
        return this.reads.announceFenced(item.stream, offset, payload).catch(() => 0);
      }),
    );
  }

  private async reannounce(streams: readonly RememberedStream[]): Promise<void> {
    for (const s of streams) {
      // Past the fenced top until announced: read where the appends are, which the cap does not apply to.
      const [m] = await this.writes.read(s.stream, s.offset - 1, 1);
      if (m?.offset !== s.offset) continue;
      const item: AppendItem = m.event === undefined ? { stream: s.stream, data: m.data } : { stream: s.stream, data: m.data, event: m.event };
      await this.announce([item], [{ offset: s.offset, epoch: s.epoch }]);
    }
  }

  read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    return this.readsNow().read(stream, after, limit);
  }

  position(stream: string): Promise<StreamPosition> {
    return this.readsNow().position(stream);
  }

  /** Once lowered to 0 replicas nothing raises the fenced tops: reads then see every entry, as without a fence. */
  private readsNow(): Store {
    return this.loweredTo() ?? this.reads;
  }

  /** The store everything goes to once the fence is lowered to 0 replicas; undefined while it fences. */
  private loweredTo(): Store | undefined {
    return this.opts.replicas === 0 ? this.unfenced : undefined;
  }

  getAck(user: string): Promise<Position | undefined> {
    return this.reads.getAck(user);
  }

  setAck(user: string, pos: Position): Promise<void> {
    return this.reads.setAck(user, pos);
  }

  recall(key: string): Promise<string | undefined> {
    return this.reads.recall(key);
  }

  remember(key: string, value: string, ttlMs: number): Promise<void> {
    return this.reads.remember(key, value, ttlMs);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
