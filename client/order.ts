// Messages that arrived ahead of an older one still missing in their stream. The server sends each stream in
// offset order, so this is a safety net: a message is handed to the application only once every older one of its
// stream was, so the position (and the acks built on it) never passes a message the application did not get.
import { SESSION_STREAM } from '../src/domain/streams.ts';
import type { Positions } from './positions.ts';
import type { HeraldMessage } from './types.ts';

/** Messages waiting for an older one of their stream, sorted per stream. */
class Held {
  private readonly byStream = new Map<string, HeraldMessage[]>();
  /** When the oldest gap still open was first seen (0 when none is open). */
  private since = 0;

  add(msg: HeraldMessage, now: number): void {
    let list = this.byStream.get(msg.stream);
    if (list === undefined) this.byStream.set(msg.stream, (list = []));
    if (list.some((m) => m.offset === msg.offset && m.epoch === msg.epoch)) return;
    list.push(msg);
    list.sort((a, b) => a.offset - b.offset);
    if (this.since === 0) this.since = now;
  }

  /**
   * The held messages of `stream` that now continue it after `offset`, in order, removed from the hold;
   * held messages at or below it (covered meanwhile) are dropped.
   */
  takeAfter(stream: string, offset: number, epoch: string): HeraldMessage[] {
    const list = this.byStream.get(stream);
    if (list === undefined) return [];
    const out: HeraldMessage[] = [];
    let next = offset + 1;
    let i = 0;
    for (; i < list.length; i++) {
      const m = list[i]!;
      if (m.epoch !== epoch || m.offset < next) continue;
      if (m.offset > next) break;
      out.push(m);
      next++;
    }
    const rest = list.slice(i).filter((m) => m.epoch === epoch && m.offset >= next);
    if (rest.length === 0) this.byStream.delete(stream);
    else this.byStream.set(stream, rest);
    if (this.byStream.size === 0) this.since = 0;
    return out;
  }

  /** How long the oldest open gap has been waiting, in ms (0 when there is none). */
  waiting(now: number): number {
    return this.since === 0 ? 0 : now - this.since;
  }

  get size(): number {
    let n = 0;
    for (const l of this.byStream.values()) n += l.length;
    return n;
  }

  /** The connection is gone: its resume replays everything after the positions, these included. */
  clear(): void {
    this.byStream.clear();
    this.since = 0;
  }
}

export interface InOrderEvents {
  /** Hand the message to the application (its position is already recorded). */
  deliver(msg: HeraldMessage): void;
  /** A gap stayed open past the timeout: the missing message is not coming on this connection. */
  stalled(): void;
}

/** Decides, per arriving message, whether the application gets it now, later, or never (a duplicate). */
export class InOrder {
  private readonly held = new Held();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pos: Positions,
    private readonly timeoutMs: number,
    private readonly events: InOrderEvents,
  ) {}

  /** Returns true when something was handed on (so there is something to acknowledge). */
  receive(msg: HeraldMessage): boolean {
    // Pushed to this connection alone: not stored, no offset to order by or acknowledge.
    if (msg.stream === SESSION_STREAM) {
      this.events.deliver(msg);
      return false;
    }
    switch (this.pos.check(msg.stream, msg.offset, msg.epoch)) {
      case 'seen':
        return false;
      case 'ahead':
        this.held.add(msg, Date.now());
        this.watch();
        return false;
      case 'next':
        this.handOn(msg);
        this.release(msg.stream);
        return true;
    }
  }

  /** The position of `stream` moved (the server said where it stands): held messages may continue it now. */
  release(stream: string): boolean {
    if (this.held.size === 0) return false;
    const p = this.pos.get(stream);
    if (p === undefined) return false;
    const next = this.held.takeAfter(stream, p.offset, p.epoch);
    for (const m of next) this.handOn(m);
    return next.length > 0;
  }

  /** The connection is gone: its resume replays everything after the positions, the held messages included. */
  reset(): void {
    this.held.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private handOn(msg: HeraldMessage): void {
    this.pos.accept(msg.stream, msg.offset, msg.epoch);
    this.events.deliver(msg);
  }

  private watch(): void {
    if (this.timer !== undefined) return;
    const check = () => {
      this.timer = undefined;
      const waited = this.held.waiting(Date.now());
      if (waited === 0) return;
      if (waited < this.timeoutMs) this.timer = setTimeout(check, this.timeoutMs - waited);
      else this.events.stalled();
    };
    this.timer = setTimeout(check, this.timeoutMs);
  }
}
