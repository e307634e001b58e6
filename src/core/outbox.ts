import type { Duplex } from 'node:stream';
import { atTurnEnd } from './turn.ts';

/**
 * At most this much (whole frames, so one frame may pass it) is handed to the socket in one write. What a socket
 * holds that its kernel has not taken yet can never be taken back, so this, plus the socket's own high-water mark
 * and one frame, is all that can stand between a slow consumer and its close frame (see `Outbox`).
 */
export const WRITE_CHUNK = 64 * 1024;

const kOutbox = Symbol('herald.outbox');
type DrainTarget = Duplex & { [kOutbox]?: Outbox };

/**
 * Per-connection write queue that coalesces everything due to one socket within one event-loop turn into one
 * write: a syscall costs ~6-8 µs on loopback whatever its size, so under load this is the main throughput lever,
 * and at low load a turn holds one frame, so nothing waits.
 *
 * Frames stay here, whole, while the socket is backed up (its kernel buffer full: `writableNeedDrain`), and go
 * out on its 'drain' in writes of `WRITE_CHUNK`. A frame handed to the socket cannot be withdrawn; a frame still
 * here can. So when the connection overflows, everything queued here is dropped and the close frame that follows
 * is at most `WRITE_CHUNK` + one frame + the socket's high-water mark behind what the kernel holds: a client that
 * stopped reading gets it as soon as it reads again, where it used to sit behind megabytes that died with the
 * socket (docs/protocol.md, close code 4002).
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
      // Dropped, not written: the close frame the owner sends next must not queue behind them (see above).
      this.discard();
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

  /** Whether a frame of `bytes` would be accepted now (a replay stops at the limit instead of overflowing). */
  fits(bytes: number): boolean {
    return !this.refusing && this.socket.writableLength + this.pendingBytes + bytes <= this.maxBufferedBytes;
  }

  /** Drops what is pending and refuses everything after: the caller closes a slow consumer (see above). */
  discard(): void {
    this.refusing = true;
    this.pending = null;
    this.pendingBytes = 0;
  }

  /** Writes everything pending, backed up or not, then refuses everything after: the caller is about to send a Close frame. */
  close(): void {
    const p = this.pending;
    this.refusing = true;
    if (p === null) return;
    this.pending = null;
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.socket.writableEnded || this.socket.destroyed) return;
    this.socket.write(Array.isArray(p) ? Buffer.concat(p, bytes) : p);
  }

  /**
   * Hands what is pending to the socket while it is not backed up, `WRITE_CHUNK` at a time; called by the turn
   * flusher and on the socket's 'drain'. A write of the high-water mark or more reports backed up even when the
   * kernel took it all; its 'drain' then follows on the next tick, so a big turn costs a tick per chunk, no more.
   */
  flush(): void {
    while (this.pending !== null) {
      if (this.socket.writableEnded || this.socket.destroyed) {
        this.pending = null;
        this.pendingBytes = 0;
        return;
      }
      if (this.socket.writableNeedDrain) return this.awaitDrain();
      this.writeChunk();
    }
  }

  private writeChunk(): void {
    const p = this.pending!;
    if (!Array.isArray(p) || this.pendingBytes <= WRITE_CHUNK) {
      const bytes = this.pendingBytes;
      this.pending = null;
      this.pendingBytes = 0;
      this.socket.write(Array.isArray(p) ? Buffer.concat(p, bytes) : p);
      return;
    }
    let n = 0;
    let bytes = 0;
    while (bytes < WRITE_CHUNK) bytes += p[n++]!.length;
    this.pendingBytes -= bytes;
    const chunk = Buffer.concat(p.splice(0, n), bytes);
    if (p.length === 0) this.pending = null;
    this.socket.write(chunk);
  }

  /** Hooks the shared 'drain' listener the first time the socket backs up (no field for it: a fast socket never is). */
  private awaitDrain(): void {
    const s = this.socket as DrainTarget;
    if (s[kOutbox] === this) return;
    s[kOutbox] = this;
    s.on('drain', onDrain);
  }
}

/** Shared by every socket, which finds its outbox through a symbol: no closure per connection. */
function onDrain(this: DrainTarget): void {
  this[kOutbox]?.flush();
}

let dirty: Outbox[] = [];
let scheduled = false;

function scheduleFlush(o: Outbox): void {
  dirty.push(o);
  if (!scheduled) {
    scheduled = true;
    atTurnEnd(flushAll);
  }
}

function flushAll(): void {
  const list = dirty;
  dirty = [];
  scheduled = false;
  for (let i = 0; i < list.length; i++) list[i]!.flush();
}
