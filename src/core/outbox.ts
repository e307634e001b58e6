import type { Duplex } from 'node:stream';

/**
 * Per-connection write queue that coalesces everything due to one socket within one event-loop turn into one
 * write: a syscall costs ~6-8 µs on loopback whatever its size, so under load this is the main throughput lever,
 * and at low load a turn holds one frame, so nothing waits.
 *
 * Backpressure is by bytes: when what the kernel has not taken yet plus what is pending passes `maxBufferedBytes`,
 * the outbox stops accepting and calls its owner's `overflow` once (the transport closes the connection as a slow consumer).
 */
export class Outbox {
  private pending: Buffer | Buffer[] | null = null;
  private pendingBytes = 0;
  /** Set on overflow or close: nothing more may be written (RFC 6455 forbids data after a Close frame). */
  private refusing = false;

  /** `owner.overflow()` is called once on overflow; an owner object rather than a callback, so that an idle
   * connection does not carry a closure for it. */
  constructor(
    private readonly socket: Duplex,
    private readonly maxBufferedBytes: number,
    private readonly owner: { overflow(): void },
  ) {}

  /** Queues a complete frame. Returns false when the frame was refused (slow consumer or closed socket). */
  push(frame: Buffer): boolean {
    if (this.refusing || this.socket.writableEnded || this.socket.destroyed) return false;
    if (this.socket.writableLength + this.pendingBytes + frame.length > this.maxBufferedBytes) {
      this.refusing = true;
      this.pending = null;
      this.pendingBytes = 0;
      this.owner.overflow();
      return false;
    }
    const p = this.pending;
    if (p === null) {
      this.pending = frame;
      scheduleFlush(this);
    } else if (Array.isArray(p)) {
      p.push(frame);
    } else {
      this.pending = [p, frame];
    }
    this.pendingBytes += frame.length;
    return true;
  }

  /** Writes what is pending, then refuses everything after: the caller is about to send a Close frame. */
  close(): void {
    this.flush();
    this.refusing = true;
  }

  /** Writes what is pending now; called by the turn flusher, and before closing so queued frames go first. */
  flush(): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.socket.writableEnded || this.socket.destroyed) return;
    this.socket.write(Array.isArray(p) ? Buffer.concat(p, bytes) : p);
  }
}

let dirty: Outbox[] = [];
let scheduled = false;

function scheduleFlush(o: Outbox): void {
  dirty.push(o);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

function flushAll(): void {
  const list = dirty;
  dirty = [];
  scheduled = false;
  for (let i = 0; i < list.length; i++) list[i]!.flush();
}
