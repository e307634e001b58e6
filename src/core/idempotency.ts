import { RecordExists, type Store } from '../store/store.ts';

/**
 * Idempotent publish: the first result for a key is kept for `windowMs` and returned to every retry. Retries that
 * arrive while the first attempt is still running wait for it instead of publishing again.
 * The key is first stored in the same transaction as the messages (`work` passes `record` to the dispatcher), so a
 * crash right after storing cannot make a retry publish twice; the full result replaces it once known.
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
    const known = await this.store.recall(key);
    if (known !== undefined) return { result: known, replayed: true };
    // Checked again: another call may have started while recall() was pending.
    const raced = this.inflight.get(key);
    if (raced !== undefined) return { result: await raced, replayed: true };
    let replayed = false;
    const attempt = (async () => {
      let result: string;
      try {
        result = JSON.stringify(await work({ key, ttlMs: this.windowMs }));
      } catch (err) {
        // Another node, or an earlier attempt of ours, stored it meanwhile: the store refused to store it twice.
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
