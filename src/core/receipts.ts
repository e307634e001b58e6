/**
 * Publishers waiting for a delivery receipt: "has any connection acknowledged offset N of stream S?".
 * Waiters are registered right after the message is stored and before its frame can be flushed (flushes happen in
 * a later event-loop phase), so an acknowledgement can never arrive before its waiter.
 */
export class Receipts {
  private readonly waiters = new Map<string, { offset: number; done: (acked: boolean) => void }[]>();

  /** Resolves true when acknowledged within `timeoutMs`, false otherwise. */
  wait(stream: string, offset: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let list = this.waiters.get(stream);
      if (list === undefined) this.waiters.set(stream, (list = []));
      const entry = {
        offset,
        done: (acked: boolean) => {
          clearTimeout(timer);
          resolve(acked);
        },
      };
      const timer = setTimeout(() => {
        this.remove(stream, entry);
        resolve(false);
      }, timeoutMs);
      list.push(entry);
    });
  }

  /** A connection acknowledged everything up to `offset` on `stream`. */
  ack(stream: string, offset: number): void {
    const list = this.waiters.get(stream);
    if (list === undefined) return;
    const rest = list.filter((w) => {
      if (w.offset > offset) return true;
      w.done(true);
      return false;
    });
    if (rest.length === 0) this.waiters.delete(stream);
    else this.waiters.set(stream, rest);
  }

  get pending(): number {
    let n = 0;
    for (const l of this.waiters.values()) n += l.length;
    return n;
  }

  private remove(stream: string, entry: { offset: number }): void {
    const list = this.waiters.get(stream);
    if (list === undefined) return;
    const i = list.indexOf(entry as (typeof list)[number]);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiters.delete(stream);
  }
}
