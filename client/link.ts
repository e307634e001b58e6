// One WebSocket and its watchdogs. The client's state machine then deals in "the current connection", and a
// socket it has given up on cannot reach it again: a detached link forwards nothing, even a late close.
import type { WebSocketLike } from './types.ts';

const OPEN = 1;
const noop = (): void => {};

export interface LinkEvents {
  open(): void;
  frame(text: string): void;
  close(code: number, reason: string): void;
  /** No welcome in time, or silence after it. The link is already closed and detached: nothing follows. */
  dead(reason: string): void;
}

export class Link {
  private events: LinkEvents | undefined;
  /** The connect timeout until the welcome, then the liveness check. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;

  constructor(
    private readonly sock: WebSocketLike,
    events: LinkEvents,
    connectTimeoutMs: number,
  ) {
    this.events = events;
    sock.onopen = () => this.events?.open();
    // A close event always follows an error event and carries the useful code; an error listener must still
    // exist, or the `ws` package would throw the error.
    sock.onerror = noop;
    sock.onmessage = (ev) => {
      if (this.events === undefined || typeof ev.data !== 'string') return;
      this.lastFrameAt = Date.now();
      this.events.frame(ev.data);
    };
    sock.onclose = (ev) => {
      const to = this.events;
      this.detach();
      to?.close(ev.code, ev.reason);
    };
    this.timer = setTimeout(() => this.giveUp('no welcome in time'), connectTimeoutMs);
  }

  write(text: string): void {
    if (this.events === undefined || this.sock.readyState !== OPEN) return;
    try {
      this.sock.send(text);
    } catch {
      // The socket is going away; its close event settles whatever was waiting on this frame.
    }
  }

  /**
   * After the welcome: the server sends something at least every heartbeat, so `limitMs` of silence means the
   * connection is gone even if TCP has not noticed. Checked lazily instead of re-arming a timer on every frame,
   * which would cost a timer per message.
   */
  watch(limitMs: number): void {
    clearTimeout(this.timer);
    const idle = Date.now() - this.lastFrameAt;
    if (idle >= limitMs) return this.giveUp('no frame from the server within two heartbeats');
    this.timer = setTimeout(() => this.watch(limitMs), limitMs - idle);
  }

  close(code: number, reason: string): void {
    this.detach();
    try {
      this.sock.close(code, reason);
    } catch {
      // Closing a socket that is still connecting can throw in some implementations; it is abandoned anyway.
    }
  }

  private detach(): void {
    this.events = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sock.onopen = noop;
    this.sock.onmessage = noop;
    this.sock.onclose = noop;
  }

  /** A socket that stopped answering: its close handshake may never finish, so nobody waits for it. */
  private giveUp(reason: string): void {
    const to = this.events;
    if (to === undefined) return;
    this.close(4000, reason);
    to.dead(reason);
  }
}
