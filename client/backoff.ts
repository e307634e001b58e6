// The reconnect policy, apart from the connection it paces so the delays can be reasoned about on their own.

/**
 * Full jitter: each delay is random up to a ceiling that doubles with every failed attempt (up to `maxMs`), so
 * the many clients a server restart drops at once come back spread over the window instead of all together.
 *
 * After a server announced its shutdown (`shutdown` frame, `restarting`), the window is the server's: each attempt
 * waits a random moment within it (the server sized it to what it takes in per second), the first one and every
 * one that fails while the server is not back yet. Exponential backoff over the second or two of refused
 * connections of a restart would leave clients waiting long after the server is back; retrying after a short fixed
 * wait would bring all of those back at the same instant, the burst the window exists to avoid. Redrawn within the
 * window, the retries stay spread. This lasts for the window plus `RESTART_GRACE_MS`, then the doubling resumes,
 * so a server that does not come back is not hammered.
 */
export class Backoff {
  private attempt = 0;
  /** The window of a restart announced by the server, and until when it applies. */
  private restartWithin = 0;
  private restartUntil = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** The server is shutting down and asks its clients to return within `withinMs`. */
  restarting(withinMs: number): void {
    this.restartWithin = withinMs;
    this.restartUntil = this.now() + withinMs + RESTART_GRACE_MS;
  }

  /** The wait before the next attempt; each call counts one more failure. */
  next(): number {
    if (this.now() < this.restartUntil) return this.random() * this.restartWithin;
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    // Capped so the exponent cannot overflow the ceiling to Infinity during a long outage.
    this.attempt = Math.min(this.attempt + 1, 30);
    return this.random() * ceiling;
  }

  /** A welcome proves the server is back: the next drop starts from the shortest wait again. */
  reset(): void {
    this.attempt = 0;
    this.restartWithin = 0;
    this.restartUntil = 0;
  }
}

/** How long after a restart window fast retries go on (a restart that takes longer than this is an outage). */
export const RESTART_GRACE_MS = 30_000;
