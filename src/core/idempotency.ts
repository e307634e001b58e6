import { RecordExists, type Store } from '../store/store.ts';

/**
 * Idempotent publish: the first result for a key is kept for `windowMs` and returned to every retry. Retries that
 * arrive while the first attempt is still running wait for it instead of publishing again.
 * The key is stored in the same transaction as the messages (`work` passes `record` to the dispatcher), and the
 * store checks it there too (`RecordExists`), so neither a crash right after storing nor a retry on another node
 * can publish twice, and a retry costs no separate look-up; the full result replaces the record once known.
 */
export class Idempotency {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly store: Store,
    private readonly windowMs: number,
  ) {}

  /** Runs `work` once per key; returns its serialized result and whether this call was a replay. */
  async run(key: string, work: (record: { key: string; ttlMs: number }) => Promise<unknown>): Promise<{ result: string; replayed: boolean }> {
    const running = this.inflight.get(key);
    if (running !== undefined) return { result: await running, replayed: true };
    let replayed = false;
    const attempt = (async () => {
      let result: string;
      try {
        result = JSON.stringify(await work({ key, ttlMs: this.windowMs }));
      } catch (err) {
        // Stored before (by an earlier attempt, or by another node): the store refused to store it twice.
        if (!(err instanceof RecordExists)) throw err;
        replayed = true;
        return err.value;
      }
      await this.store.remember(key, result, this.windowMs);
      return result;
    })();
    this.inflight.set(key, attempt);
    try {
      return { result: await attempt, replayed };
    } finally {
      this.inflight.delete(key);
    }
  }
}
