// Where this client stands in each stream: the last offset delivered to the application, what the server has
// been told (acks), and an optional durable copy (localStorage in browsers) so a page reload resumes too.

import { channelOfStream } from '../src/domain/streams.ts';

export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** The part of the Web Storage API used; `localStorage` fits, and so does any small adapter. */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export class Positions {
  private readonly seen = new Map<string, StreamPosition>();
  private readonly acked = new Map<string, number>();
  private dirty = false;

  constructor(
    private readonly storage: PositionStorage | undefined,
    private readonly key: string,
  ) {
    if (storage === undefined) return;
    try {
      const saved = JSON.parse(storage.getItem(key) ?? '{}') as Record<string, StreamPosition>;
      for (const [stream, p] of Object.entries(saved)) {
        if (typeof p?.offset === 'number' && typeof p.epoch === 'string') this.seen.set(stream, { offset: p.offset, epoch: p.epoch });
      }
    } catch {
      // A corrupt or foreign value only costs a full resume; never fail construction for it.
    }
  }

  get(stream: string): StreamPosition | undefined {
    return this.seen.get(stream);
  }

  /**
   * Where an arriving message stands: `next` continues its stream (or starts it: no position, or a new epoch, whose
   * offsets start again); `seen` is a duplicate, dropped, which makes at-least-once delivery exactly-once for the
   * application; `ahead` means an older message of the stream is still missing, so it must wait.
   */
  check(stream: string, offset: number, epoch: string): 'next' | 'seen' | 'ahead' {
    const last = this.seen.get(stream);
    if (last === undefined || last.epoch !== epoch) return 'next';
    if (offset <= last.offset) return 'seen';
    return offset === last.offset + 1 ? 'next' : 'ahead';
  }

  /** Records a message handed to the application (after `check` said `next`). */
  accept(stream: string, offset: number, epoch: string): void {
    this.seen.set(stream, { offset, epoch });
    this.dirty = true;
  }

  /**
   * The server said where a stream stands before replaying `replay` messages up to `top`. A client with no usable
   * position (none, or another epoch, or behind the retained history, or beyond the top: a corrupted or foreign
   * value the server could not continue from) starts just before the replay, so the replayed messages are accepted
   * and anything older is not expected any more.
   */
  rebase(stream: string, epoch: string, top: number, replay: number, recovered: boolean): void {
    const start = Math.max(0, top - replay);
    const last = this.seen.get(stream);
    // A position the server continued from (same epoch, recovered) is exact; moving it could skip a message. It
    // may lie beyond `top` (several nodes: the rest is on its way to this one), so only `recovered` says it is good.
    if (last !== undefined && last.epoch === epoch && recovered) return;
    // Not continued: the server replays from `start`, whatever this client had. Keeping a position beyond it (one
    // past the top) would drop every new message up to that offset as already seen.
    if (last === undefined || last.epoch !== epoch || last.offset < start || !recovered) {
      this.seen.set(stream, { offset: start, epoch });
      this.acked.set(stream, start);
      this.dirty = true;
    }
  }

  /** Positions to hand the server when connecting: the user's inbox and broadcast (channels go with subscribe). */
  forAuth(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const [stream, p] of this.seen) if (channelOfStream(stream) === undefined) out[stream] = { ...p };
    return out;
  }

  all(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const [stream, p] of this.seen) out[stream] = { ...p };
    return out;
  }

  /** Streams whose delivered offset is ahead of what was acknowledged; marks them acknowledged. */
  takeAcks(): { stream: string; offset: number; epoch: string }[] {
    const out: { stream: string; offset: number; epoch: string }[] = [];
    for (const [stream, p] of this.seen) {
      if ((this.acked.get(stream) ?? -1) < p.offset) {
        out.push({ stream, offset: p.offset, epoch: p.epoch });
        this.acked.set(stream, p.offset);
      }
    }
    return out;
  }

  /** After a reconnect everything must be acknowledged again on the new connection. */
  resetAcks(): void {
    this.acked.clear();
  }

  /** Writes the durable copy if anything changed since the last save. */
  save(): void {
    if (!this.dirty || this.storage === undefined) return;
    this.dirty = false;
    try {
      this.storage.setItem(this.key, JSON.stringify(this.all()));
    } catch {
      // Storage full or denied (private mode): resume then works within this page only.
    }
  }
}
