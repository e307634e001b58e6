import type { Socket } from 'node:net';
import { atTurnEnd } from '../../core/turn.ts';

type Slot = { text: string | undefined; then: (() => void) | undefined };

/**
 * Replies of a line protocol, one per line: written in line order although commands finish asynchronously, and
 * those finished in one event-loop turn in one write, since a pipelining backend sends hundreds of lines per
 * packet and a syscall per reply line would cost more than the commands themselves.
 *
 * Replies wait in a FIFO of slots rather than a promise chain: one `then` per reply, no promise per link.
 */
export class ReplyQueue {
  private readonly slots: Slot[] = [];
  /** Index of the oldest unwritten slot; the array is compacted when it drains. */
  private head = 0;
  private out = '';
  private flushScheduled = false;

  /**
   * `turn` writes once per event-loop turn (core/turn.ts `atTurnEnd`), which gathers the most replies: the line protocols.
   * `microtask` writes once the replies settled by the current microtasks are in, before the turn's socket writes
   * to subscribers: an HTTP publisher waiting for each answer gets it one delivery write sooner.
   */
  constructor(
    private readonly socket: Socket,
    private readonly flushAt: 'turn' | 'microtask' = 'turn',
  ) {}

  /** Queues the reply of the next line (`''` for a line that gets no reply). */
  add(reply: Promise<string> | string): void {
    if (typeof reply === 'string' && this.head === this.slots.length) {
      this.buffer(reply);
      return;
    }
    const slot: Slot = { text: undefined, then: undefined };
    this.slots.push(slot);
    if (typeof reply === 'string') slot.text = reply;
    else
      reply.then(
        (text) => this.settle(slot, text),
        () => this.settle(slot, ''),
      );
  }

  /** Runs `fn` once every reply queued so far is written. */
  after(fn: () => void): void {
    if (this.head === this.slots.length) {
      this.flush();
      fn();
      return;
    }
    const last = this.slots[this.slots.length - 1]!;
    const before = last.then;
    last.then = before === undefined ? fn : () => (before(), fn());
  }

  private settle(slot: Slot, text: string): void {
    slot.text = text;
    const { slots } = this;
    while (this.head < slots.length) {
      const s = slots[this.head]!;
      if (s.text === undefined) break;
      this.head++;
      this.buffer(s.text);
      if (s.then !== undefined) {
        this.flush();
        s.then();
      }
    }
    if (this.head === slots.length) {
      slots.length = 0;
      this.head = 0;
    }
  }

  private buffer(text: string): void {
    if (text === '') return;
    this.out += text;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.flushAt === 'turn') atTurnEnd(() => this.flush());
      else queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const text = this.out;
    this.out = '';
    if (text !== '' && !this.socket.destroyed) this.socket.write(text);
  }
}
