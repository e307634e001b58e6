// Frames waiting for the server's answer, kept apart from the connection so the rules for what a lost connection
// does to each kind of request sit in one place.
import { ErrorCode } from '../src/protocol/codes.ts';
import { ClientErrorCode, HeraldError } from './types.ts';

export type Deferred<T> = { resolve: (value: T) => void; reject: (err: HeraldError) => void };

/** A subscribe is recorded without a promise: its callers wait per channel, across reconnects (subscriptions.ts). */
export type Pending =
  | ({ kind: 'send'; timer: ReturnType<typeof setTimeout> } & Deferred<unknown>)
  | { kind: 'subscribe'; channel: string }
  | ({ kind: 'unsubscribe'; channel: string } & Deferred<void>);

export class Requests {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Ids run on across connections, so a late answer from an old connection cannot settle a newer request. */
  id(): number {
    return this.nextId++;
  }

  /** A send settles on its reply or error frame, or fails after `timeoutMs`: the backend may never answer. */
  send(id: number, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HeraldError(ErrorCode.Timeout, `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { kind: 'send', timer, resolve, reject });
    });
  }

  subscribe(id: number, channel: string): void {
    this.pending.set(id, { kind: 'subscribe', channel });
  }

  unsubscribe(id: number, channel: string): Promise<void> {
    return new Promise<void>((resolve, reject) => this.pending.set(id, { kind: 'unsubscribe', channel, resolve, reject }));
  }

  /** Removes and returns the request an answer names; answers without an id, or with an unknown one, match none. */
  take(id: number | undefined): Pending | undefined {
    if (id === undefined) return undefined;
    const req = this.pending.get(id);
    if (req) this.pending.delete(id);
    return req;
  }

  /** Only a send takes a reply; a reply naming another request leaves that request waiting for its own answer. */
  reply(id: number | undefined, data: unknown): void {
    const req = id === undefined ? undefined : this.pending.get(id);
    if (req?.kind !== 'send' || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(req.timer);
    req.resolve(data);
  }

  /**
   * The connection closed. A send fails and is not retried, since the backend may already have acted on it; an
   * unsubscribe has succeeded, since the subscription died with the connection; a subscribe is re-sent after the
   * next welcome, so it just leaves this map.
   */
  connectionClosed(code: number): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.kind === 'send') {
        clearTimeout(p.timer);
        p.reject(new HeraldError(ClientErrorCode.Disconnected, `connection closed (${code}) before the reply`));
      } else if (p.kind === 'unsubscribe') {
        p.resolve();
      }
    }
  }

  /** The client closed for good: whatever still waits fails with `err`. */
  closeAll(err: HeraldError): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.kind === 'send') clearTimeout(p.timer);
      if (p.kind !== 'subscribe') p.reject(err);
    }
  }
}
