import type { Envelope } from '../domain/streams.ts';
import type { Position, StoredMessage, StreamPosition } from '../store/store.ts';

/** What the sequencer reads to start a stream and to fill a gap: the Store's committed history. */
export interface History {
  position(stream: string): Promise<StreamPosition>;
  read(stream: string, after: number, limit: number): Promise<StoredMessage[]>;
}

interface StreamOrder {
  /** Resolves when `last` is known (the stream's committed top when it was opened or resynced). */
  ready: Promise<void>;
  known: boolean;
  epoch: string;
  /** The last offset handed on: everything up to it, and nothing after it, reached this node's connections. */
  last: number;
  /** The highest offset known to exist (seen arrive); a fill reads up to it. */
  need: number;
  /** Arrivals ahead of `last + 1`, kept so a gap fill need not read them again; only a cache (see `fill`). */
  pending: Envelope[];
  filling: boolean;
}

const PAGE = 1000;
/** Beyond this many early arrivals they are dropped: `need` remembers them and the fill reads them back. */
const MAX_PENDING = 10_000;
const RETRY_MS = 200;

/**
 * Hands each watched stream on in offset order with no gap and no duplicate, whatever order its entries arrive
 * in. With the Redis broker they arrive in order (the append script publishes them), so this normally passes each
 * entry straight on; it earns its place when pub/sub drops entries (a subscriber reconnect, a failover): an entry
 * past `last + 1` makes it read the missing ones from the store first, and an entry at or below `last` is dropped.
 *
 * `last` also tells a connection that joins the stream where live delivery stands, so its replay from the store
 * stops there and the rest follows live (`delivered`).
 */
export class Sequencer {
  private readonly streams = new Map<string, StreamOrder>();

  constructor(
    private readonly history: History,
    private readonly emit: (env: Envelope) => void,
    private readonly onError: (stream: string, err: unknown) => void,
  ) {}

  /**
   * Starts ordering `stream` from its committed top as it was before `subscribe()` took effect: what is committed
   * while subscribing is read from the store and handed on, so a connection that never reads history itself (the
   * compatibility transports) misses nothing published after it joined. Resolves when the position is known.
   */
  open(stream: string, subscribe: () => Promise<unknown>): Promise<void> {
    const cur = this.streams.get(stream);
    if (cur !== undefined) return cur.ready;
    const s: StreamOrder = { ready: Promise.resolve(), known: false, epoch: '', last: 0, need: 0, pending: [], filling: false };
    this.streams.set(stream, s);
    s.ready = this.start(stream, s, subscribe);
    return s.ready;
  }

  /** Forgets the stream: no local connection needs it. */
  close(stream: string): void {
    this.streams.delete(stream);
  }

  has(stream: string): boolean {
    return this.streams.has(stream);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Where live delivery of `stream` stands on this node, once known. */
  delivered(stream: string): Position | undefined {
    const s = this.streams.get(stream);
    return s?.known === true ? { offset: s.last, epoch: s.epoch } : undefined;
  }

  /**
   * After arrivals may have been lost (the subscriber reconnected): read every open stream's top again, once
   * `subscribed(stream)` says arrivals flow again, and hand on whatever was committed meanwhile, from the store.
   * Resolves true when some stream's history was lost (a new epoch): its clients must resume to learn that.
   */
  resync(subscribed: (stream: string) => Promise<unknown>): Promise<boolean> {
    const all: Promise<boolean>[] = [];
    for (const [stream, s] of this.streams) {
      const caught = this.catchUp(stream, s, subscribed(stream));
      // The caller hears of a failure through the returned promise; `ready` only says when a joining connection may
      // read, and `delivered` is still truthful (the node's own position) if the read failed.
      s.ready = caught.then(
        () => undefined,
        () => undefined,
      );
      all.push(caught);
    }
    return Promise.all(all).then((changed) => changed.includes(true));
  }

  /** One arrival. */
  push(env: Envelope): void {
    const s = this.streams.get(env.stream);
    if (s === undefined) return;
    if (!s.known || s.filling) return this.hold(s, env);
    this.advance(env.stream, s, env);
  }

  private async start(stream: string, s: StreamOrder, subscribe: () => Promise<unknown>): Promise<void> {
    try {
      const before = await this.history.position(stream);
      await subscribe();
      // Everything committed after this read arrives; what was committed since `before` is read from the store.
      const after = await this.history.position(stream);
      if (this.streams.get(stream) !== s) return;
      const same = after.epoch === before.epoch;
      s.epoch = after.epoch;
      s.last = same ? before.top : 0;
      s.need = Math.max(s.need, after.top);
      s.known = true;
      this.drain(stream, s);
    } catch (err) {
      // The next interest in the stream tries again from scratch.
      if (this.streams.get(stream) === s) this.streams.delete(stream);
      throw err;
    }
  }

  /** Resolves true when the stream's epoch changed (its history was lost). */
  private async catchUp(stream: string, s: StreamOrder, subscribed: Promise<unknown>): Promise<boolean> {
    await subscribed;
    const p = await this.history.position(stream);
    if (this.streams.get(stream) !== s) return false;
    const changed = s.known && p.epoch !== s.epoch;
    if (!s.known || p.epoch !== s.epoch) {
      // A new epoch: the history this node followed is gone (Redis lost its data); continue from the new top.
      s.epoch = p.epoch;
      s.last = p.top;
      s.pending = [];
      s.known = true;
    }
    s.need = Math.max(s.need, p.top);
    this.drain(stream, s);
    return changed;
  }

  private hold(s: StreamOrder, env: Envelope): void {
    if (env.epoch === s.epoch || !s.known) s.need = Math.max(s.need, env.offset);
    if (s.pending.length < MAX_PENDING) s.pending.push(env);
  }

  private advance(stream: string, s: StreamOrder, env: Envelope): void {
    if (env.epoch !== s.epoch) {
      // The store started a new epoch; its offsets start again at 1.
      s.epoch = env.epoch;
      s.last = 0;
      s.need = 0;
    }
    if (env.offset <= s.last) return;
    if (env.offset === s.last + 1) {
      s.last = env.offset;
      if (s.need < s.last) s.need = s.last;
      this.emit(env);
      return;
    }
    this.hold(s, env);
    void this.fill(stream, s);
  }

  /** Hands on the held arrivals that now continue the stream; starts a fill if something is still missing. */
  private drain(stream: string, s: StreamOrder): void {
    if (s.pending.length > 0) {
      const held = s.pending.sort((a, b) => a.offset - b.offset);
      s.pending = [];
      for (let i = 0; i < held.length; i++) {
        const env = held[i]!;
        if (env.epoch === s.epoch && env.offset > s.last + 1) {
          // Still a gap: keep this and the rest for after the fill.
          s.pending = held.slice(i);
          break;
        }
        this.advance(stream, s, env);
      }
    }
    if (s.need > s.last) void this.fill(stream, s);
  }

  /**
   * Reads the next page of what is missing between `last` and `need` from the store and hands it on; `drain`
   * then continues with held arrivals, and with another page while something is still missing.
   */
  private async fill(stream: string, s: StreamOrder): Promise<void> {
    if (s.filling || s.need <= s.last) return;
    s.filling = true;
    const upTo = s.need;
    let page: StoredMessage[];
    try {
      page = await this.history.read(stream, s.last, Math.min(PAGE, upTo - s.last));
    } catch (err) {
      s.filling = false;
      this.onError(stream, err);
      setTimeout(() => {
        if (this.streams.get(stream) === s) void this.fill(stream, s);
      }, RETRY_MS).unref();
      return;
    }
    if (this.streams.get(stream) !== s) return;
    s.filling = false;
    for (const m of page) {
      if (m.offset <= s.last) continue;
      if (m.offset > upTo) break;
      s.last = m.offset;
      this.emit(storedEnvelope(stream, s.epoch, m));
    }
    // Nothing retained up to `upTo` (trimmed by retention): it is gone for every reader, and a connection's own
    // resume reports that as `recovered: false`; live delivery goes on after it.
    if (page.length === 0) s.last = Math.max(s.last, upTo);
    this.drain(stream, s);
  }
}

function storedEnvelope(stream: string, epoch: string, m: StoredMessage): Envelope {
  return m.event === undefined ? { stream, offset: m.offset, epoch, data: m.data } : { stream, offset: m.offset, epoch, data: m.data, event: m.event };
}
