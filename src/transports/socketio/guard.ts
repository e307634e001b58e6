/**
 * Bounds on what one remote address can make the Socket.IO port hold, whatever the client version does: a client
 * that loops on its handshake (socket.io-client 1.3.x did against Engine.IO 6) or a script opening sessions it
 * never uses.
 *
 * - Handshakes (requests without a sid) per address per window: a fixed window, counted from the address's first
 *   handshake in it. Over the bound the handshake is refused with one 403 whose JSON body says why; every client
 *   version treats a failed handshake as a transport error and retries only on its reconnection backoff.
 * - Sessions that have not logged in, per address, at any moment: over the bound, further handshakes are refused
 *   until one logs in or closes.
 *
 * 0 turns a bound off. Addresses are the TCP peers: behind a reverse proxy every client is the proxy, so raise
 * the bounds (or turn them off) there. Memory: one small entry per address with a handshake in the current window
 * or an anonymous session, swept every window.
 */
export interface GuardLimits {
  maxHandshakesPerAddress: number;
  handshakeWindowMs: number;
  maxAnonymousPerAddress: number;
}

interface Entry {
  windowStart: number;
  handshakes: number;
  anonymous: number;
}

export type Refusal = 'handshake_rate' | 'anonymous_sessions';

export class HandshakeGuard {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: GuardLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (limits.maxHandshakesPerAddress > 0 || limits.maxAnonymousPerAddress > 0) {
      this.sweeper = setInterval(() => this.sweep(), limits.handshakeWindowMs);
      this.sweeper.unref();
    }
  }

  /** Number of addresses tracked (a test checks the map does not grow without bound). */
  get size(): number {
    return this.entries.size;
  }

  /** Counts a handshake from `address`; the reason when it must be refused. */
  admit(address: string): Refusal | undefined {
    const { maxHandshakesPerAddress: maxRate, maxAnonymousPerAddress: maxAnon, handshakeWindowMs } = this.limits;
    if (maxRate <= 0 && maxAnon <= 0) return undefined;
    const now = this.now();
    let e = this.entries.get(address);
    if (e === undefined) {
      e = { windowStart: now, handshakes: 0, anonymous: 0 };
      this.entries.set(address, e);
    } else if (now - e.windowStart >= handshakeWindowMs) {
      e.windowStart = now;
      e.handshakes = 0;
    }
    if (maxAnon > 0 && e.anonymous >= maxAnon) return 'anonymous_sessions';
    e.handshakes++;
    if (maxRate > 0 && e.handshakes > maxRate) return 'handshake_rate';
    return undefined;
  }

  /** A session from `address` that has not logged in opened (+1) or logged in / closed (-1). */
  anonymous(address: string, delta: 1 | -1): void {
    if (this.limits.maxAnonymousPerAddress <= 0) return;
    let e = this.entries.get(address);
    if (e === undefined) {
      if (delta < 0) return;
      e = { windowStart: this.now(), handshakes: 0, anonymous: 0 };
      this.entries.set(address, e);
    }
    e.anonymous = Math.max(0, e.anonymous + delta);
  }

  /** Drops entries whose window passed and that hold no anonymous session. */
  sweep(): void {
    const now = this.now();
    for (const [address, e] of this.entries) {
      if (e.anonymous === 0 && now - e.windowStart >= this.limits.handshakeWindowMs) this.entries.delete(address);
    }
  }

  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }
}
