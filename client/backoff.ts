// The reconnect policy, apart from the connection it paces so the delays can be reasoned about on their own.

/**
 * Full jitter: each delay is random up to a ceiling that doubles with every failed attempt (up to `maxMs`), so
 * the many clients a server restart drops at once come back spread over the window instead of all together.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  /** The wait before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    // Capped so the exponent cannot overflow the ceiling to Infinity during a long outage.
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.random() * ceiling;
  }

  /** A welcome proves the server is back: the next drop starts from the shortest wait again. */
  reset(): void {
    this.attempt = 0;
  }
}
