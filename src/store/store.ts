/**
 * Per-stream message history, users' acknowledged positions (the inbox cursor), and idempotency records.
 *
 * Contract (test/contract/store.contract.ts runs the same suite against every implementation):
 * - Offsets are assigned atomically per stream by `append`: 1, 2, 3, ... with no gap and no reuse within one
 *   epoch, also under concurrent appends.
 * - Appends to one stream resolve in the order they were called, and an append resolves only once the entry is
 *   as durable as the implementation promises (SQLite: committed; see `durability`).
 * - `epoch` identifies one incarnation of a stream's history. It changes only when that history is lost (memory
 *   store: on every process start; SQLite: if the database is deleted), so "same epoch" means "offsets comparable".
 * - `read(stream, after, limit)` returns retained entries with offset > after, ascending, at most `limit`.
 * - Retention trims the oldest entries by count and by age; trimming never changes offsets. `position().first`
 *   is the lowest retained offset (top + 1 when nothing is retained), so a reader can tell whether history
 *   still reaches back to where it left off.
 * - `setAck` only moves a user's position forward (a stale ack never moves it back).
 * - `remember`/`recall`: a remembered key is recalled until its TTL passes.
 * - `appendAll` is atomic: its entries and its record are all stored, or none is. With a record whose key is
 *   already remembered (and not expired), it appends nothing and rejects with `RecordExists`: checked in the same
 *   atomic step, so a retried or re-sent append (another node, a client library resending after a reconnect)
 *   cannot store a message twice. (On a Redis Cluster, `RedisStore` is atomic per stream: a retry with the same
 *   record stores only the parts that are missing.)
 * Nothing here assumes SQL: a Redis implementation keeps the same contract with Streams and keys.
 */
export interface StoredMessage {
  offset: number;
  /** Serialized JSON of the published data; kept serialized so replay needs no re-encoding. */
  data: string;
  event?: string;
  /** Milliseconds since the Unix epoch at append time. */
  time: number;
}

export interface AppendResult {
  offset: number;
  epoch: string;
}

export interface StreamPosition {
  /** Highest offset assigned in this epoch (0 when the stream never had a message). */
  top: number;
  /** Lowest retained offset; `top + 1` when nothing is retained. */
  first: number;
  epoch: string;
}

export interface Position {
  offset: number;
  epoch: string;
}

export interface AppendItem {
  stream: string;
  data: string;
  event?: string;
  /** A connection the live delivery skips (`Envelope.exclude`): announced to the other nodes with the entry, not stored. */
  exclude?: string;
}

/**
 * An idempotency record written atomically with the appends it describes (see `appendAll`). The store remembers
 * `provisionalResult(items, results)` under `key`; the caller may later replace it with a fuller result.
 */
export interface AppendRecord {
  key: string;
  ttlMs: number;
}

/**
 * What a retry finds when Herald died between storing a publish and recording its full result: the same offsets,
 * and `delivered: 0` because the retry itself delivered nothing. One format for every store (the Redis store
 * builds the same JSON inside its script).
 */
export function provisionalResult(items: readonly AppendItem[], results: readonly AppendResult[]): string {
  return JSON.stringify({ delivered: 0, streams: results.map((r, i) => ({ stream: items[i]!.stream, offset: r.offset, epoch: r.epoch })), status: 'stored' });
}

/** `appendAll` found its record's key already remembered: nothing was appended; `value` is what was remembered. */
export class RecordExists extends Error {
  constructor(readonly value: string) {
    super('idempotency key already recorded');
  }
}

export interface Store {
  /** `memory`: lost on exit. `process-crash`: survives kill -9. `power-loss`: survives an OS crash too. */
  readonly durability: 'memory' | 'process-crash' | 'power-loss';
  append(stream: string, data: string, event?: string): Promise<AppendResult>;
  /**
   * Appends several entries (to one or more streams) and, when `record` is given, remembers it, all or nothing:
   * a crash cannot leave the messages stored without their idempotency record. Results are in item order.
   */
  appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]>;
  read(stream: string, after: number, limit: number): Promise<StoredMessage[]>;
  position(stream: string): Promise<StreamPosition>;
  /** A user's acknowledged position in their personal stream, if any. */
  getAck(user: string): Promise<Position | undefined>;
  setAck(user: string, pos: Position): Promise<void>;
  recall(key: string): Promise<string | undefined>;
  remember(key: string, value: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface RetentionPolicy {
  /** Entries kept per stream. */
  maxCount: number;
  /** Entries older than this are trimmed (ms). */
  maxAgeMs: number;
}
