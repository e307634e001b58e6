/**
 * Per-stream message history.
 *
 * Contract (every implementation must keep it; test/contract runs the same suite against each):
 * - Offsets are assigned atomically per stream by `append`: strictly increasing by 1, starting at 1, with no gap
 *   and no reuse within one epoch. Concurrent appends to one stream never get the same offset.
 * - Appends to one stream resolve in the order they were called.
 * - `epoch` identifies one incarnation of a stream's history. It changes when history is lost (for the memory
 *   store: when the process restarts), so a client can tell "nothing missed" from "history gone".
 * - `read(stream, after)` returns retained entries with offset > after, ascending, at most `limit`.
 * - Retention trims the oldest entries by count and by age; trimming never changes offsets.
 * - Durability is per implementation: the memory store loses everything on exit.
 */
export interface StoredMessage {
  offset: number;
  /** Serialized JSON of the published data; kept serialized so replay needs no re-encoding. */
  data: string;
  event?: string;
  /** Milliseconds since the epoch at append time. */
  time: number;
}

export interface AppendResult {
  offset: number;
  epoch: string;
}

export interface StreamPosition {
  /** Highest offset ever assigned in this epoch (0 when the stream is empty). */
  top: number;
  epoch: string;
}

export interface Store {
  append(stream: string, data: string, event?: string): Promise<AppendResult>;
  read(stream: string, after: number, limit: number): Promise<StoredMessage[]>;
  position(stream: string): Promise<StreamPosition>;
  close(): Promise<void>;
}

export interface RetentionPolicy {
  /** Entries kept per stream. */
  maxCount: number;
  /** Entries older than this are trimmed (ms). */
  maxAgeMs: number;
}
