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
import { announceChannel } from './redis.ts';

export interface FenceOptions {
  /** Replicas that must hold an append before it is acknowledged (`WAIT <replicas>`). */
  replicas: number;
  timeoutMs: number;
  /** The broker's channel prefix (`RedisStoreOptions.announce`): entries are announced here once fenced. */
  announce: string;
  /** Key prefix, for the one key the fence writes (see `refresh`). */
  prefix: string;
}

/** The replicas did not confirm in time, or the connection changed meanwhile: the publish is answered 503. */
export class NotReplicated extends Error {}

/**
 * The failover fence over the Redis store (docs/guarantees.md, "Redis failover"). Redis replicates
 * asynchronously, so a promoted replica may lack what the old master acknowledged, and it would give those
 * offsets to new messages while clients already hold them. Here nothing leaves the store, neither the caller's
 * answer nor the announcement to the nodes, before `WAIT` says `replicas` replicas hold it: Sentinel promotes
 * the most up-to-date replica, so an announced or acknowledged offset survives a master crash. Replication is
 * in order, so an entry read back to fill a gap before an announced one is held by that replica too.
 *
 * `writes` runs on a connection of its own (`writer`): WAIT blocks the connection it runs on, and WAIT counts
 * only that connection's writes. Reads, acks and idempotency look-ups go through `reads`, never behind a WAIT.
 * The announcement is no longer made inside the append script, so two nodes may announce one stream's entries
 * out of offset order; the broker's Sequencer orders them (reading the earlier one back from the store).
 */
export class FencedStore implements Store {
  readonly durability: Store['durability'];
  /** Appends answered on the writer so far; a WAIT sent after the n-th answer covers the first n. */
  private answered = 0;
  /** Incremented whenever the writer's connection closes: a WAIT covers only writes on its own connection. */
  private connection = 0;
  private sent: { covers: number; done: Promise<void> } | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly writes: Store,
    private readonly reads: Store,
    private readonly writer: Redis,
    private readonly announcer: Redis,
    private readonly opts: FenceOptions,
  ) {
    this.durability = writes.durability;
    writer.on('close', () => this.connection++);
  }

  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    return this.appendAll([event === undefined ? { stream, data } : { stream, data, event }]).then((r) => r[0]!);
  }

  async appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    let results: AppendResult[];
    try {
      results = await this.writes.appendAll(items, record);
    } catch (err) {
      if (!(err instanceof RecordExists)) throw err;
      // A retry: the first attempt may have been answered 503 before its replicas confirmed, and never announced.
      // It is acknowledged now only once replicated, and announced again (the nodes drop what they already have).
      await this.refresh();
      await this.reannounce(err.value);
      throw err;
    }
    await this.fenced(++this.answered, this.connection);
    await this.announce(items, results);
    return results;
  }

  /**
   * WAIT counts only the writes of its own connection, and a retry that found its record wrote nothing: one small
   * write of our own makes the WAIT cover everything the master held when the record was found.
   */
  private async refresh(): Promise<void> {
    await this.writer.set(`${this.opts.prefix}fence`, String(Date.now()), 'PX', 60_000);
    await this.fenced(++this.answered, this.connection);
  }

  /** Resolves once a WAIT sent after the `ticket`-th answer, on the same connection, has its replicas. */
  private async fenced(ticket: number, connection: number): Promise<void> {
    const sent = this.sent;
    await (sent !== undefined && sent.covers >= ticket ? sent.done : this.nextWait());
    if (this.connection !== connection) throw new NotReplicated('the Redis connection changed before the replicas confirmed; retry');
  }

  /** One WAIT for every append answered in this turn of the event loop (group commit), not one each. */
  private nextWait(): Promise<void> {
    this.queued ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.queued = undefined;
      const { replicas, timeoutMs } = this.opts;
      const done = this.writer.wait(replicas, timeoutMs).then((n) => {
        if (n < replicas) throw new NotReplicated(`${n} of ${replicas} replicas confirmed within ${timeoutMs} ms; retry`);
      });
      this.sent = { covers: this.answered, done };
      return done;
    });
    return this.queued;
  }

  /** Announces in the format the broker reads (`parseAnnouncement` in broker/redis.ts, written by the append script otherwise). */
  private async announce(items: readonly AppendItem[], results: readonly AppendResult[]): Promise<void> {
    // Stored and replicated: if an announcement is lost, the nodes' catch-up reads it from the store.
    await Promise.all(
      items.map((item, i) => {
        const { offset, epoch } = results[i]!;
        const ev = item.event ?? '';
        const payload = `${offset}:${epoch}:${item.exclude ?? ''}:${Buffer.byteLength(ev)}:${ev}${item.data}`;
        // Classic PUBLISH: the fence is for one master (Sentinel), never a Cluster (config.ts refuses that).
        return this.announcer.publish(announceChannel(this.opts.announce, item.stream), payload).catch(() => 0);
      }),
    );
  }

  private async reannounce(remembered: string): Promise<void> {
    let streams: { stream: string; offset: number; epoch: string }[];
    try {
      streams = (JSON.parse(remembered) as { streams: { stream: string; offset: number; epoch: string }[] }).streams;
    } catch {
      return;
    }
    for (const s of streams) {
      const [m] = await this.reads.read(s.stream, s.offset - 1, 1);
      if (m?.offset !== s.offset) continue;
      const item: AppendItem = m.event === undefined ? { stream: s.stream, data: m.data } : { stream: s.stream, data: m.data, event: m.event };
      await this.announce([item], [{ offset: s.offset, epoch: s.epoch }]);
    }
  }

  read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    return this.reads.read(stream, after, limit);
  }

  position(stream: string): Promise<StreamPosition> {
    return this.reads.position(stream);
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
