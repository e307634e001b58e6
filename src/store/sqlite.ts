import { executionAsyncResource } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from './sqlite-driver.ts';
import { INDEX_LOG, prepareStatements, SCHEMA, type Statements } from './sqlite-schema.ts';
import { Unindexed } from './sqlite-unindexed.ts';
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

export interface SqliteOptions {
  file: string;
  /** `normal`: WAL + synchronous=NORMAL, survives kill -9. `full`: fsync per commit, survives power loss. */
  fsync: 'normal' | 'full';
  retentionFor: (stream: string) => RetentionPolicy;
  /** How often space held by trimmed entries is reclaimed; reads apply retention by themselves. */
  trimIntervalMs?: number;
  /** The longest age any policy keeps: idle streams' entries past it are swept now and then. */
  maxRetentionMs: number;
  /**
   * Called after a commit resolved its appends, before their deliveries run (they follow in microtasks): the server
   * has the writes they cause go out before the event loop moves on (core/turn.ts `flushThisTurn`).
   */
  onAppendsCommitted?: () => void;
  /** Entries committed to the log before a pass copies them into the indexed table (see `SqliteStore`). */
  indexAfterRows?: number;
  /** A pass also starts (on the trim timer) when there are entries and none started for this long. */
  indexAfterMs?: number;
}

/** The log's move into `messages`: rows before a pass by default, and at most this many per transaction of a pass. */
const INDEX_AFTER_ROWS = 65_536;
const INDEX_CHUNK_ROWS = 1_024;
/** A pass starts earlier when the entries waiting for it hold this much memory (large messages)... */
const INDEX_AFTER_BYTES = 16 * 1024 * 1024;
/** ...and when the last one started this long ago: a quiet server does not keep a minute's messages in memory. */
const INDEX_AFTER_MS = 60_000;

interface Pending {
  stream: string;
  seq: number;
  data: string;
  event: string | null;
  time: number;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

/** An entry as reads return it, from a `messages` row or a committed append (SQL NULL: no event). */
function stored(r: { seq: number; data: string; event: string | null; time: number }): StoredMessage {
  return r.event === null ? { offset: r.seq, data: r.data, time: r.time } : { offset: r.seq, data: r.data, event: r.event, time: r.time };
}

/** The class of `setImmediate`'s handles, to tell a call made inside an immediate's callback (the check phase). */
const Immediate = (() => {
  const probe = setImmediate(() => {});
  clearImmediate(probe);
  return probe.constructor;
})();

/**
 * The embedded default store: SQLite in WAL mode. Offsets are assigned in memory at call time (so they follow call
 * order), and every append of one event-loop turn is committed in one transaction before any of them resolves:
 * one commit per turn instead of one per message keeps the store off the publish path's critical cost.
 * The epoch is per database: it changes only if the database file is lost.
 *
 * A commit writes its entries to `log`, a rowid table in append order, not to `messages`, the table keyed by
 * (stream, seq) that reads use: a turn's appends to a few hundred different streams (pushes to users) would each
 * dirty a page of their own there, and a commit writes every dirty page whole to the WAL (about 6 KB per entry
 * measured, and the checkpoints that copy it back). Once `indexAfterRows` entries (or 16 MB, or a minute's) are in
 * the log, a pass copies them into `messages` sorted by stream, a quarter of `indexAfterRows` (at most
 * `INDEX_CHUNK_ROWS`) per transaction, one transaction per turn, so a stream's entries land on its pages together,
 * then empties the log. Until then they are read from memory (`Unindexed`). Opening the database (after a crash)
 * and closing it move whatever the log holds.
 */
export class SqliteStore implements Store {
  readonly durability: 'process-crash' | 'power-loss';
  private readonly db: Database.Database;
  private readonly epoch: string;
  /** Highest offset handed out per stream, committed or not: the next append continues from here. */
  private readonly tops = new Map<string, number>();
  /**
   * Highest committed offset per stream, for `position()`: a reader told "top is N" must be able to read N, or a
   * message assigned but not yet committed would be skipped by a resume computed from that answer.
   */
  private readonly committed = new Map<string, number>();
  private queue: Pending[] = [];
  private acks = new Map<string, Position>();
  private remembers: [string, string, number][] = [];
  private waitingAcks: (() => void)[] = [];
  private scheduled = false;
  private closed = false;
  private readonly trimTimer: NodeJS.Timeout;
  private readonly dirty = new Set<string>();
  private trimPasses = 0;
  private readonly q: Statements;
  private readonly unindexed = new Unindexed();
  /** The highest `log` id committed: a move pass empties the log up to the one it started at. */
  private lastLogId = 0;
  private movePass: { streams: string[]; next: number; upTo: number } | undefined;
  private readonly indexAfterRows: number;
  private readonly chunkRows: number;
  private passStarted = Date.now();

  constructor(private readonly opts: SqliteOptions) {
    mkdirSync(dirname(opts.file), { recursive: true });
    this.db = openDatabase(opts.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.fsync === 'full' ? 'FULL' : 'NORMAL'}`);
    // A checkpoint every 10,000 WAL pages (40 MB) instead of SQLite's 1,000: writes to many streams dirty pages all
    // over the index (fewer since the log, see below, but a move pass still does), so the default checkpointed (and
    // fsynced, on the event loop) every few hundred commits (docs/performance.md).
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.exec(SCHEMA);
    this.durability = opts.fsync === 'full' ? 'power-loss' : 'process-crash';
    this.indexAfterRows = opts.indexAfterRows ?? INDEX_AFTER_ROWS;
    this.chunkRows = Math.min(INDEX_CHUNK_ROWS, Math.ceil(this.indexAfterRows / 4));
    this.q = prepareStatements(this.db);
    let epoch = this.q.getMeta.get('epoch')?.value;
    if (epoch === undefined) {
      epoch = randomBytes(6).toString('hex');
      this.q.setMeta.run('epoch', epoch);
    }
    this.epoch = epoch;
    for (const { stream } of this.q.loggedStreams.all()) this.dirty.add(stream);
    this.indexLog();
    this.trimTimer = setInterval(() => this.trim(), opts.trimIntervalMs ?? 5000);
    this.trimTimer.unref();
  }

  append(stream: string, data: string, event?: string): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return this.enqueue(stream, data, event);
  }

  appendAll(items: readonly AppendItem[], record?: AppendRecord): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const known = record === undefined ? undefined : this.recallNow(record.key);
    if (known !== undefined) return Promise.reject(new RecordExists(known));
    // Everything queued in this synchronous call lands in the same transaction, record included.
    const pending = items.map((i) => this.enqueue(i.stream, i.data, i.event));
    if (record !== undefined) {
      const results = this.queue.slice(this.queue.length - items.length).map((p) => ({ offset: p.seq, epoch: this.epoch }));
      this.remembers.push([record.key, provisionalResult(items, results), Date.now() + record.ttlMs]);
    }
    return Promise.all(pending);
  }

  private enqueue(stream: string, data: string, event: string | undefined): Promise<AppendResult> {
    const seq = this.topOf(stream) + 1;
    this.tops.set(stream, seq);
    return new Promise((resolve, reject) => {
      this.queue.push({ stream, seq, data, event: event ?? null, time: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  read(stream: string, after: number, limit: number): Promise<StoredMessage[]> {
    const { minSeq, minTime } = this.window(stream);
    const rows = this.q.read.all(stream, after, minSeq, minTime, limit);
    const out = rows.map(stored);
    // What the log holds of the stream is newer than anything in `messages`.
    if (out.length < limit) this.unindexed.read(stream, after, minSeq, minTime, limit, out);
    return Promise.resolve(out);
  }

  position(stream: string): Promise<StreamPosition> {
    const top = this.committedTopOf(stream);
    const { minSeq, minTime } = this.window(stream);
    const first = this.q.first.get(stream, minSeq, minTime)?.first ?? this.unindexed.first(stream, minSeq, minTime) ?? top + 1;
    return Promise.resolve({ top, first: Math.min(first, top + 1), epoch: this.epoch });
  }

  getAck(user: string): Promise<Position | undefined> {
    const pending = this.acks.get(user);
    if (pending !== undefined) return Promise.resolve(pending);
    const row = this.q.getAck.get(user);
    return Promise.resolve(row === undefined ? undefined : { offset: row.seq, epoch: row.epoch });
  }

  setAck(user: string, pos: Position): Promise<void> {
    const cur = this.acks.get(user);
    if (cur === undefined || cur.epoch !== pos.epoch || pos.offset > cur.offset) this.acks.set(user, pos);
    return this.afterCommit();
  }

  recall(key: string): Promise<string | undefined> {
    return Promise.resolve(this.recallNow(key));
  }

  /** The newest remembered value: one queued for this turn's commit, else the committed one. */
  private recallNow(key: string): string | undefined {
    for (let i = this.remembers.length - 1; i >= 0; i--) if (this.remembers[i]![0] === key) return this.remembers[i]![1];
    return this.q.recall.get(key, Date.now())?.value;
  }

  remember(key: string, value: string, ttlMs: number): Promise<void> {
    this.remembers.push([key, value, Date.now() + ttlMs]);
    return this.afterCommit();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    clearInterval(this.trimTimer);
    try {
      this.indexLog();
    } catch {
      // Still in the log: the next open moves it.
    }
    this.db.close();
  }

  private topOf(stream: string): number {
    let top = this.tops.get(stream);
    if (top === undefined) {
      top = this.storedTop(stream);
      this.tops.set(stream, top);
    }
    return top;
  }

  private committedTopOf(stream: string): number {
    let top = this.committed.get(stream);
    if (top === undefined) {
      top = this.storedTop(stream);
      this.committed.set(stream, top);
    }
    return top;
  }

  /** The highest committed offset: `streams.top` is raised when entries move out of the log, which may hold newer. */
  private storedTop(stream: string): number {
    return Math.max(this.q.top.get(stream)?.top ?? 0, this.unindexed.last(stream) ?? 0);
  }

  /** Retention as a read filter, so expired entries are never served even before the trimmer runs. */
  private window(stream: string): { minSeq: number; minTime: number } {
    const p = this.opts.retentionFor(stream);
    return { minSeq: this.topOf(stream) - p.maxCount, minTime: Date.now() - p.maxAgeMs };
  }

  private afterCommit(): Promise<void> {
    return new Promise((resolve) => {
      this.waitingAcks.push(resolve);
      this.schedule();
    });
  }

  /**
   * One commit per event-loop turn: from I/O callbacks (requests, socket messages, the poll phase) the commit runs in
   * this iteration's check phase (`setImmediate`) and takes everything the poll phase appended. A call from inside an
   * immediate's callback (the check phase itself: a driver publishing in `setImmediate` loops, as the bench's does)
   * would wait a whole iteration for that; there the commit runs when the callback returns (a microtask), and the
   * deliveries it resolves flush at the turn's end as the memory store's do (issue 15: SQLite 0.49x -> 1.04x the
   * memory store's broadcast deliveries/s, docs/performance.md).
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (executionAsyncResource() instanceof Immediate) queueMicrotask(() => this.commit(false));
    else setImmediate(() => this.commit(true));
  }

  /** `flushNow`: called in the check phase, where the writes the commit causes are flushed before the loop moves on. */
  private commit(flushNow = true): void {
    this.scheduled = false;
    const batch = this.queue;
    const acks = this.acks;
    const remembers = this.remembers;
    const waiting = this.waitingAcks;
    if (batch.length === 0 && acks.size === 0 && remembers.length === 0 && waiting.length === 0) return;
    this.queue = [];
    this.acks = new Map();
    this.remembers = [];
    this.waitingAcks = [];
    const q = this.q;
    let lastLogId = this.lastLogId;
    try {
      this.db.transaction(() => {
        for (const p of batch) lastLogId = Number(q.log.run(p.stream, p.seq, p.data, p.event, p.time).lastInsertRowid);
        for (const [user, pos] of acks) q.setAck.run(user, pos.offset, pos.epoch);
        for (const [key, value, expires] of remembers) q.remember.run(key, value, expires);
      })();
      // Only once committed: a rolled-back id is handed out again, and a pass must not empty the log past its own.
      this.lastLogId = lastLogId;
    } catch (err) {
      // Offsets handed out for this batch were never stored: forget cached tops so numbering restarts from what
      // the database holds, and fail the callers so nothing is reported as stored that is not.
      this.tops.clear();
      this.committed.clear();
      for (const p of batch) p.reject(err as Error);
      for (const w of waiting) w();
      return;
    }
    for (const p of batch) {
      this.unindexed.add(p.stream, stored(p));
      if (p.seq > (this.committed.get(p.stream) ?? 0)) this.committed.set(p.stream, p.seq);
      p.resolve({ offset: p.seq, epoch: this.epoch });
    }
    if (batch.length > 0 && flushNow) this.opts.onAppendsCommitted?.();
    for (const w of waiting) w();
    const u = this.unindexed;
    if (u.rows >= this.indexAfterRows || u.bytes >= INDEX_AFTER_BYTES) this.startPass();
  }

  private startPass(): void {
    if (this.movePass !== undefined || this.unindexed.rows === 0) return;
    this.passStarted = Date.now();
    this.movePass = { streams: this.unindexed.beginMove(), next: 0, upTo: this.lastLogId };
    setImmediate(() => this.moveChunk());
  }

  /**
   * One transaction of a move pass: the next `chunkRows` entries, streams in order, into `messages`; the last
   * one also empties the log up to where the pass started. A failed chunk is retried a second later (its entries
   * stay in the log and in memory, and reads keep finding them).
   */
  private moveChunk(): void {
    const pass = this.movePass;
    if (pass === undefined || this.closed) return;
    let next = pass.next;
    // The entries copied in this transaction, per stream: a stream's oldest first, so a long one spans chunks.
    const copied: [string, number][] = [];
    try {
      this.db.transaction(() => {
        for (let rows = 0; next < pass.streams.length && rows < this.chunkRows;) {
          const stream = pass.streams[next]!;
          const entries = this.unindexed.movingOf(stream);
          const n = Math.min(entries.length, this.chunkRows - rows);
          for (let i = 0; i < n; i++) {
            const m = entries[i]!;
            this.q.index.run(stream, m.offset, m.data, m.event ?? null, m.time);
          }
          if (n > 0) this.q.raiseTop.run(stream, entries[n - 1]!.offset);
          copied.push([stream, n]);
          rows += n;
          if (n === entries.length) next++;
        }
        if (next === pass.streams.length) this.q.dropLog.run(pass.upTo);
      })();
    } catch {
      setTimeout(() => this.moveChunk(), 1000).unref();
      return;
    }
    for (const [stream, n] of copied) {
      this.unindexed.moved(stream, n);
      this.dirty.add(stream);
    }
    pass.next = next;
    if (next < pass.streams.length) {
      setImmediate(() => this.moveChunk());
      return;
    }
    this.movePass = undefined;
    this.unindexed.endMove();
  }

  /** Moves everything the log holds into `messages` at once: at open (what a crash left) and at close. */
  private indexLog(): void {
    this.db.transaction(() => this.db.exec(INDEX_LOG))();
  }

  /** Reclaims space: count and age limits for streams written since the last pass, expired idempotency keys. */
  private trim(): void {
    if (this.closed) return;
    if (Date.now() - this.passStarted >= (this.opts.indexAfterMs ?? INDEX_AFTER_MS)) this.startPass();
    const now = Date.now();
    const streams = [...this.dirty];
    this.dirty.clear();
    this.db.transaction(() => {
      for (const s of streams) {
        const p = this.opts.retentionFor(s);
        this.q.trimCount.run(s, this.topOf(s) - p.maxCount);
        this.q.trimAge.run(s, now - p.maxAgeMs);
      }
      this.q.sweepIdem.run(now);
      // Streams nobody writes to any more are not in `dirty`; an occasional full pass (a table scan) frees them.
      if (++this.trimPasses % 120 === 0) this.q.sweepOld.run(now - this.opts.maxRetentionMs);
    })();
  }
}
