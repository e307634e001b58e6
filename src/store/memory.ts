import { randomBytes } from 'node:crypto';
import type { AppendResult, RetentionPolicy, Store, StoredMessage, StreamPosition } from './store.ts';

interface StreamLog {
  top: number;
  entries: StoredMessage[];
  /** Index of the first live entry; trimmed entries are dropped in chunks to keep append O(1) amortised. */
  head: number;
}

/** In-process history: fast, bounded by retention, lost on restart (a new epoch per process). */
export class MemoryStore implements Store {
  private readonly streams = new Map<string, StreamLog>();
  private readonly epoch = randomBytes(6).toString('hex');

  constructor(private readonly retentionFor: (stream: string) => RetentionPolicy) {}

  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    return Promise.resolve(this.appendSync(stream, data, event));
  }

  appendSync(stream: string, data: string, event?: string): AppendResult {
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
    for (let i = log.head; i < log.entries.length && out.length < limit; i++) {
      const e = log.entries[i]!;
      if (e.offset > after) out.push(e);
    }
    return Promise.resolve(out);
  }

  position(stream: string): Promise<StreamPosition> {
    return Promise.resolve({ top: this.streams.get(stream)?.top ?? 0, epoch: this.epoch });
  }

  close(): Promise<void> {
    this.streams.clear();
    return Promise.resolve();
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
