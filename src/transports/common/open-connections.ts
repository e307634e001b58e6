/**
 * A transport's open connections, and a way to wait for the last one to go (graceful shutdown). The set is the
 * endpoint's own registry, so waiting costs no field or listener per connection.
 */
export class OpenConnections<T> implements Iterable<T> {
  private readonly set = new Set<T>();
  private emptied: (() => void) | undefined;

  get size(): number {
    return this.set.size;
  }

  add(conn: T): void {
    this.set.add(conn);
  }

  has(conn: T): boolean {
    return this.set.has(conn);
  }

  /** Returns whether `conn` was open. */
  delete(conn: T): boolean {
    if (!this.set.delete(conn)) return false;
    if (this.set.size === 0) this.emptied?.();
    return true;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.set[Symbol.iterator]();
  }

  /** Resolves once no connection is open, or after `timeoutMs`, with how many were still open. */
  drained(timeoutMs: number): Promise<number> {
    if (this.set.size === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.emptied = undefined;
        resolve(this.set.size);
      }, timeoutMs);
      this.emptied = () => {
        this.emptied = undefined;
        clearTimeout(timer);
        resolve(0);
      };
    });
  }
}
