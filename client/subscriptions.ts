// Channel state across reconnects. A connection forgets its subscriptions when it closes, the application should
// not have to: this is what lets the client re-subscribe after every welcome and keep subscribe() promises alive.
import type { HeraldError } from './types.ts';
import type { Deferred } from './requests.ts';

export class Subscriptions {
  /** Channels the application asked for: re-sent after every welcome. */
  readonly wanted = new Set<string>();
  /** Channels acknowledged on the current connection. */
  readonly active = new Set<string>();
  /** Latest subscribe id per channel on the current connection; acks for older ids are stale. */
  private readonly subscribing = new Map<string, number>();
  /** subscribe() calls waiting for an ack; they survive reconnects because the subscribe is re-sent. */
  private readonly waiters = new Map<string, Deferred<void>[]>();

  wait(channel: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(channel) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(channel, list);
    });
  }

  isSubscribing(channel: string): boolean {
    return this.subscribing.has(channel);
  }

  sending(channel: string, id: number): void {
    this.subscribing.set(channel, id);
  }

  /** unsubscribe(): forgotten for good, and whoever still waits for its subscribe learns why (`err`). */
  drop(channel: string, err: HeraldError): void {
    this.wanted.delete(channel);
    this.rejectWaiters(channel, err);
    this.subscribing.delete(channel);
  }

  confirmed(channel: string, id: number | undefined): void {
    this.active.add(channel);
    // An ack for an older subscribe (one overtaken by unsubscribe + subscribe) must not settle the newer one.
    const current = id === undefined || this.subscribing.get(channel) === id;
    if (id !== undefined && current) this.subscribing.delete(channel);
    if (current) this.resolveWaiters(channel);
  }

  removed(channel: string, id: number | undefined): void {
    this.active.delete(channel);
    // Without an id the server (via its API) removed the subscription; re-adding it on reconnect would undo that.
    if (id === undefined) this.wanted.delete(channel);
  }

  /**
   * The server refused subscribe `id`. Returns true when nobody hears of it otherwise (the subscribe is current
   * and no subscribe() call waits), so the caller reports it as an event.
   */
  refused(channel: string, id: number, err: HeraldError): boolean {
    if (this.subscribing.get(channel) !== id) return false;
    this.subscribing.delete(channel);
    // Refused once means refused on every reconnect with the same token: stop asking.
    this.wanted.delete(channel);
    return !this.rejectWaiters(channel, err);
  }

  connectionLost(): void {
    this.active.clear();
    this.subscribing.clear();
  }

  closeAll(err: HeraldError): void {
    this.connectionLost();
    for (const channel of [...this.waiters.keys()]) this.rejectWaiters(channel, err);
  }

  private resolveWaiters(channel: string): void {
    const list = this.waiters.get(channel);
    this.waiters.delete(channel);
    for (const w of list ?? []) w.resolve();
  }

  /** Returns whether anyone was waiting. */
  private rejectWaiters(channel: string, err: HeraldError): boolean {
    const list = this.waiters.get(channel);
    this.waiters.delete(channel);
    for (const w of list ?? []) w.reject(err);
    return list !== undefined && list.length > 0;
  }
}
