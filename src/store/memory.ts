import { randomBytes } from 'node:crypto';
import {
  provisionalResult,
  RecordExists,
  type AppendItem,
  type AppendRecord,
  type AppendResult,
  type Position,
  type RetentionPolicy,
  type Store,
  type StoredMessage,
  type StreamPosition,
} from './store.ts';

interface StreamLog {
  top: number;
  entries: StoredMessage[];
  /** Index of the first live entry; trimmed entries are dropped in chunks to keep append O(1) amortised. */
  head: number;
}

/** In-process store: fast, bounded by retention, lost on restart (a new epoch per process). */
export class MemoryStore implements Store {
  readonly durability = 'memory' as const;
  private readonly streams = new Map<string, StreamLog>();
  private readonly acks = new Map<string, Position>();
  private readonly remembered = new Map<string, { value: string; expires: number }>();
  private readonly epoch = randomBytes(6).toString('hex');

  constructor(private readonly retentionFor: (stream: string) => RetentionPolicy) {}

  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    return Promise.resolve(this.appendOne(stream, data, event));
  }

  appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    const known = record === undefined ? undefined : this.live(record.key);
    if (known !== undefined) return Promise.reject(new RecordExists(known));
    const results = items.map((i) => this.appendOne(i.stream, i.data, i.event));
    if (record !== undefined) void this.remember(record.key, provisionalResult(items, results), record.ttlMs);
    return Promise.resolve(results);
  }

  private appendOne(stream: string, data: string, event?: string): AppendResult {
    let log = this.streams.get(stream);
    if (log === undefined) {
      log = { top: 0, entries: [], head: 0 };
      this.streams.set(stream, log);
    }
    const time = Date.now();
    const entry: StoredMessage = event === undefined ? { offset: ++log.top, data, time } : { offset: ++log.top, data, event, time };
    log.entries.push(entry);
    this.trim(log, this.retentionFor(stream), time);
    return { offset: entry.offset, epoch: this.epoch };
  }

  read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    const log = this.streams.get(stream);
    if (log === undefined) return Promise.resolve([]);
    this.trim(log, this.retentionFor(stream), Date.now());
    const out: StoredMessage[] = [];
    // Offsets are dense within the live window, so the start index is computed, not searched.
    const firstOffset = log.entries[log.head]?.offset ?? log.top + 1;
    for (let i = log.head + Math.max(0, after + 1 - firstOffset); i < log.entries.length && out.length < limit; i++) out.push(log.entries[i]!);
    return Promise.resolve(out);
  }

  position(stream: string): Promise<StreamPosition> {
    const log = this.streams.get(stream);
    if (log === undefined) return Promise.resolve({ top: 0, first: 1, epoch: this.epoch });
    this.trim(log, this.retentionFor(stream), Date.now());
    return Promise.resolve({ top: log.top, first: log.entries[log.head]?.offset ?? log.top + 1, epoch: this.epoch });
  }

  getAck(user: string): Promise<Position | undefined> {
    return Promise.resolve(this.acks.get(user));
  }

  setAck(user: string, pos: Position): Promise<void> {
    const cur = this.acks.get(user);
    if (cur === undefined || cur.epoch !== pos.epoch || pos.offset > cur.offset) this.acks.set(user, pos);
    return Promise.resolve();
  }

  recall(key: string): Promise<string | undefined> {
    return Promise.resolve(this.live(key));
  }

  private live(key: string): string | undefined {
    const r = this.remembered.get(key);
    if (r === undefined) return undefined;
    if (r.expires <= Date.now()) {
      this.remembered.delete(key);
      return undefined;
    }
    return r.value;
  }

  remember(key: string, value: string, ttlMs: number): Promise<void> {
    this.remembered.set(key, { value, expires: Date.now() + ttlMs });
    if (this.remembered.size % 1024 === 0) this.sweep();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.streams.clear();
    return Promise.resolve();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, r] of this.remembered) if (r.expires <= now) this.remembered.delete(k);
  }

  private trim(log: StreamLog, policy: RetentionPolicy, now: number): void {
    const minTime = now - policy.maxAgeMs;
    const live = () => log.entries.length - log.head;
    while (live() > 0 && (live() > policy.maxCount || log.entries[log.head]!.time < minTime)) log.head++;
    if (log.head > 1024 && log.head * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.head);
      log.head = 0;
    }
  }
}
