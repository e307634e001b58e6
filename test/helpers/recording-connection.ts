import type { Connection } from '../../src/core/connection.ts';
import type { Delivery } from '../../src/core/delivery.ts';
import { nativeFrame } from '../../src/transports/native/connection.ts';

/**
 * A transport of its own for core tests: implements the hub's `Connection` seam and keeps what it was given, the
 * way a real transport takes the shared native frame (`d.as(nativeFrame)`) on delivery. `refusing` makes it answer as a
 * connection whose outbox is full or closed.
 */
export class RecordingConnection implements Connection {
  readonly channels = new Set<string>();
  readonly deliveries: Delivery[] = [];
  /** The native frame of each delivery, taken as `NativeConnection` takes it. */
  readonly frames: Buffer[] = [];
  readonly notified: [string, boolean][] = [];
  closed: [number, string] | undefined;
  refusing = false;
  private waiters: { n: number; resolve: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly id: string,
    readonly user: string,
    readonly transport = 'test',
  ) {}

  deliver(d: Delivery): boolean {
    if (this.refusing) return false;
    this.deliveries.push(d);
    this.frames.push(d.as(nativeFrame));
    for (const w of [...this.waiters]) {
      if (this.deliveries.length >= w.n) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return true;
  }

  notifySubscription(channel: string, subscribed: boolean): void {
    this.notified.push([channel, subscribed]);
  }

  close(code: number, reason: string): void {
    this.closed = [code, reason];
  }

  /** Offsets received, as `stream@offset`, in arrival order. */
  get received(): string[] {
    return this.deliveries.map((d) => `${d.envelope.stream}@${d.envelope.offset}`);
  }

  /** Resolves once `n` messages were delivered here (for deliveries that arrive through another process). */
  until(n: number, timeoutMs = 5000): Promise<void> {
    if (this.deliveries.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id}: ${this.deliveries.length} of ${n} deliveries arrived`)), timeoutMs);
      this.waiters.push({ n, resolve, timer });
    });
  }
}
