import type { Logger } from 'pino';

export interface CatchUpOptions {
  /** Failed attempts retried before local clients are asked to resume. */
  retries: number;
  /** The first retry's delay; each next one doubles, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
}

/** 200 ms doubling to 2 s, ten times: ~13 s of failed reads before clients are sent away. */
export const CATCH_UP_DEFAULTS: CatchUpOptions = { retries: 10, firstDelayMs: 200, maxDelayMs: 2000 };

/**
 * After the broker's subscriber was away, reads what every watched stream got meanwhile (`resync`) so connected
 * clients miss nothing and need not reconnect. Only a new epoch (Redis lost the history) or reads failing for
 * longer than the retries make it ask every local client to reconnect and resume (`resumeAll`), which tells them
 * what could not be recovered.
 *
 * A failed read is retried, not answered by closing every client: a connection can drop again right after it came
 * back (on a Sentinel failover, ioredis's failover detector reconnects when the other sentinels announce the new
 * master), and closing would send every client through a reconnect storm for a read that works a moment later,
 * while a client that does not resume by itself (the compatibility protocols) would lose what it missed.
 */
export class CatchUp {
  /** Bumped by each `start`: a newer catch-up supersedes the retries of an older one. */
  private run = 0;

  constructor(
    private readonly resync: () => Promise<boolean>,
    private readonly resumeAll: (reason: string) => void,
    private readonly log: Logger,
    private readonly opts: CatchUpOptions = CATCH_UP_DEFAULTS,
  ) {}

  start(why: string): void {
    this.log.info(why);
    this.attempt(++this.run, 0);
  }

  private attempt(run: number, failed: number): void {
    this.resync().then(
      (epochChanged) => {
        if (epochChanged) this.resumeAll('redis lost the history of a stream (new epoch): asking local clients to resume');
      },
      (err: unknown) => {
        if (run !== this.run) return;
        if (failed >= this.opts.retries) return this.resumeAll('catching up after the redis reconnect failed: asking local clients to resume');
        this.log.warn({ err: (err as Error).message, attempt: failed + 1 }, 'catching up after the redis reconnect failed; retrying');
        const delay = Math.min(this.opts.firstDelayMs * 2 ** failed, this.opts.maxDelayMs);
        setTimeout(() => run === this.run && this.attempt(run, failed + 1), delay).unref();
      },
    );
  }
}
