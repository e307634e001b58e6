// Herald client SDK for browsers and Node: one WebSocket speaking the native protocol (docs/protocol.md), with
// reconnects, resubscription, heartbeats and request/reply correlation. It must bundle for the browser, so it
// imports nothing from Node and has no dependencies; the only shared code is the protocol's code tables.
import { CloseCode, ErrorCode, isReconnectCode } from '../src/protocol/codes.ts';
import { Positions, type PositionStorage, type StreamPosition } from './positions.ts';
import {
  ClientErrorCode,
  HeraldError,
  type ConnectedInfo,
  type HeraldEvents,
  type HeraldMessage,
  type HeraldOptions,
  type State,
  type WebSocketConstructor,
  type WebSocketLike,
} from './types.ts';
import { Emitter } from './emitter.ts';
import { closeErrorCode, defaultStorage, errorText, numberOrUndefined } from './util.ts';

export { CloseCode, ErrorCode, isReconnectCode };
export type { PositionStorage, StreamPosition };
export * from './types.ts';

/** Added to two heartbeat intervals before a silent connection is declared dead (docs/protocol.md section 5). */
const LIVENESS_MARGIN_MS = 5000;
const OPEN = 1;
const noop = (): void => {};

type Deferred<T> = { resolve: (value: T) => void; reject: (err: HeraldError) => void };

type Pending =
  | ({ kind: 'send'; timer: ReturnType<typeof setTimeout> } & Deferred<unknown>)
  | { kind: 'subscribe'; channel: string }
  | ({ kind: 'unsubscribe'; channel: string } & Deferred<void>);

type Frame = Record<string, unknown>;

export class Herald extends Emitter<HeraldEvents> {
  private readonly url: string | ((attempt: number) => string);
  private dials = 0;
  private readonly token: HeraldOptions['token'];
  private readonly WS: WebSocketConstructor | undefined;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sendTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  private _state: State = 'idle';
  private ws: WebSocketLike | undefined;
  /** Bumped for every connect attempt and on close(), so a stale async continuation can tell it lost. */
  private attemptId = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;
  private info: ConnectedInfo | undefined;
  private nextId = 1;

  /** Channels the application asked for: re-sent after every reconnect. */
  private readonly wanted = new Set<string>();
  /** Channels acknowledged on the current connection. */
  private readonly active = new Set<string>();
  /** Latest subscribe id per channel on the current connection; acks for older ids are stale. */
  private readonly subscribing = new Map<string, number>();
  /** subscribe() calls waiting for an ack; they survive reconnects because the subscribe is re-sent. */
  private readonly subWaiters = new Map<string, Deferred<void>[]>();
  private readonly pending = new Map<number, Pending>();
  private readonly connectWaiters: Deferred<ConnectedInfo>[] = [];
  private readonly pos: Positions;
  private readonly ackIntervalMs: number;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: HeraldOptions) {
    super();
    this.url = opts.url;
    this.token = opts.token;
    this.WS = opts.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(opts.maxBackoffMs ?? 30_000, this.minBackoffMs);
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 10_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    this.ackIntervalMs = opts.ackIntervalMs ?? 100;
    const key = typeof opts.url === 'string' ? opts.url : 'default';
    this.pos = new Positions(opts.storage === undefined ? defaultStorage() : (opts.storage ?? undefined), `herald:positions:${key}`);
  }

  get state(): State {
    return this._state;
  }

  /** The welcome of the current connection (session id, user, heartbeat), while connected. */
  get welcome(): ConnectedInfo | undefined {
    return this._state === 'connected' ? this.info : undefined;
  }

  /** Channels this client keeps subscribed across reconnects. */
  subscriptions(): string[] {
    return [...this.wanted];
  }

  /** Last offset and epoch seen per stream, for resuming after a reconnect. */
  positions(): Record<string, StreamPosition> {
    return this.pos.all();
  }

  /**
   * Starts connecting (or, while waiting to reconnect, retries at once). Resolves on the next welcome; rejects
   * when the client closes first. Ignoring the promise is fine: failures are also reported as `error` events.
   */
  connect(): Promise<ConnectedInfo> {
    const p = new Promise<ConnectedInfo>((resolve, reject) => {
      if (this._state === 'closed') return reject(new HeraldError(ClientErrorCode.Closed, 'client is closed'));
      if (this._state === 'connected' && this.info) return resolve(this.info);
      this.connectWaiters.push({ resolve, reject });
    });
    p.catch(noop);
    if (this._state === 'idle') {
      this.setState('connecting');
      void this.dial();
    } else if (this._state === 'reconnecting' && this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      void this.dial();
    }
    return p;
  }

  /**
   * Subscribes to a channel and keeps it subscribed across reconnects. Resolves when the server confirms (after
   * the next connect when not connected now); rejects with the server's code (`forbidden`, ...) and then
   * forgets the channel.
   */
  subscribe(channel: string): Promise<void> {
    if (this._state === 'closed') return Promise.reject(new HeraldError(ClientErrorCode.Closed, 'client is closed'));
    this.wanted.add(channel);
    if (this.active.has(channel)) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      const list = this.subWaiters.get(channel) ?? [];
      list.push({ resolve, reject });
      this.subWaiters.set(channel, list);
    });
    if (this._state === 'connected' && !this.subscribing.has(channel)) this.sendSubscribe(channel);
    return p;
  }

  /** Unsubscribes and forgets the channel. Resolves at once when not connected: subscriptions die with the connection. */
  unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    this.rejectSubWaiters(channel, new HeraldError(ClientErrorCode.Cancelled, `unsubscribed from ${channel} before the subscribe completed`));
    this.subscribing.delete(channel);
    if (this._state !== 'connected') {
      this.active.delete(channel);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { kind: 'unsubscribe', channel, resolve, reject });
      this.write({ type: 'unsubscribe', channel, id });
    });
  }

  /**
   * Sends a message up to the backend's webhook and resolves with its reply's `data`. Rejects with a
   * `HeraldError` whose `code` is the server's (`no_upstream`, `upstream_failed`, ...), `timeout`,
   * `disconnected` or `not_connected`. Not retried: the backend may already have acted on it.
   */
  send(data: unknown, event?: string): Promise<unknown> {
    if (this._state !== 'connected') {
      const code = this._state === 'closed' ? ClientErrorCode.Closed : ClientErrorCode.NotConnected;
      return Promise.reject(new HeraldError(code, `cannot send while ${this._state}`));
    }
    const id = this.nextId++;
    let text: string;
    try {
      // JSON has no undefined; without `data` the server would refuse the frame.
      text = JSON.stringify(event === undefined ? { type: 'send', id, data: data ?? null } : { type: 'send', id, event, data: data ?? null });
    } catch (err) {
      return Promise.reject(new HeraldError(ErrorCode.BadRequest, `data is not JSON-serializable: ${errorText(err)}`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HeraldError(ErrorCode.Timeout, `no reply within ${this.sendTimeoutMs} ms`));
      }, this.sendTimeoutMs);
      this.pending.set(id, { kind: 'send', timer, resolve, reject });
      this.writeText(text);
    });
  }

  /** Closes for good: no reconnect, pending requests reject with `closed`. */
  close(): void {
    if (this._state === 'closed') return;
    this.attemptId++;
    const sock = this.detach();
    if (sock) {
      try {
        sock.close(1000, 'client closed');
      } catch {
        // Already closing; nothing left to release.
      }
    }
    this.finish(new HeraldError(ClientErrorCode.Closed, 'client closed'));
  }

  // ---- connection lifecycle ----

  private async dial(): Promise<void> {
    const id = ++this.attemptId;
    let token: string;
    try {
      token = typeof this.token === 'function' ? await this.token() : this.token;
    } catch (err) {
      if (id !== this.attemptId) return;
      this.emit('error', { code: ClientErrorCode.TokenFailed, message: `token function failed: ${errorText(err)}` });
      this.scheduleReconnect();
      return;
    }
    if (id !== this.attemptId) return;
    let sock: WebSocketLike;
    try {
      if (this.WS === undefined) throw new Error('no WebSocket implementation: pass options.WebSocket');
      // The token goes in the first frame, not the URL: URLs end up in proxy logs, and the frame also carries
      // the positions the server resumes from.
      sock = new this.WS(typeof this.url === 'function' ? this.url(this.dials++) : this.url);
    } catch (err) {
      // Retrying cannot fix a malformed URL or a missing WebSocket, so this is final.
      const e = new HeraldError(ClientErrorCode.ConnectFailed, `cannot open WebSocket: ${errorText(err)}`);
      this.emit('error', { code: e.code, message: e.message });
      this.finish(e);
      return;
    }
    this.ws = sock;
    sock.onopen = () => {
      if (this.ws === sock) this.write({ type: 'auth', token, positions: this.pos.forAuth() });
    };
    // A close event always follows an error event and carries the useful code; an error listener must still
    // exist, or the `ws` package would throw the error.
    sock.onerror = noop;
    sock.onmessage = (ev) => {
      if (this.ws === sock && typeof ev.data === 'string') this.onFrame(ev.data);
    };
    sock.onclose = (ev) => {
      if (this.ws === sock) this.onSocketClose(ev.code, ev.reason);
    };
    this.connectTimer = setTimeout(() => this.drop(CloseCode.HeartbeatTimeout, 'no welcome in time'), this.connectTimeoutMs);
  }

  /** Gives up on a socket that stopped answering; its close handshake may never finish, so do not wait for it. */
  private drop(code: number, reason: string): void {
    const sock = this.detach();
    if (!sock) return;
    try {
      sock.close(4000, reason);
    } catch {
      // Closing a socket that is still connecting can throw in some implementations; it is abandoned anyway.
    }
    this.onSocketClose(code, reason, sock);
  }

  private detach(): WebSocketLike | undefined {
    const sock = this.ws;
    this.ws = undefined;
    if (sock) {
      sock.onopen = noop;
      sock.onmessage = noop;
      sock.onclose = noop;
    }
    return sock;
  }

  private onSocketClose(code: number, reason: string, already?: WebSocketLike): void {
    if (!already) this.detach();
    this.clearConnectionTimers();
    this.stopAcks();
    this.info = undefined;
    this.active.clear();
    this.subscribing.clear();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.kind === 'send') {
        clearTimeout(p.timer);
        p.reject(new HeraldError(ClientErrorCode.Disconnected, `connection closed (${code}) before the reply`));
      } else if (p.kind === 'unsubscribe') {
        p.resolve();
      }
    }
    if (this._state === 'closed') return;
    // A function can fetch a fresh token, so an expired one is recoverable only then.
    const willReconnect = isReconnectCode(code) || (code === CloseCode.TokenExpired && typeof this.token === 'function');
    this.emit('disconnected', { code, reason, willReconnect });
    if (willReconnect) {
      this.scheduleReconnect();
      return;
    }
    const e = new HeraldError(closeErrorCode(code), reason || `connection closed with code ${code}`, code);
    this.emit('error', { code: e.code, message: e.message, closeCode: code });
    this.finish(e);
  }

  private scheduleReconnect(): void {
    if (this._state === 'closed') return;
    this.setState('reconnecting');
    // Full jitter spreads the reconnects of many clients dropped at once (e.g. by a restart) over the window.
    const ceiling = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.dial();
    }, Math.random() * ceiling);
  }

  private finish(err: HeraldError): void {
    this.attemptId++;
    this.clearConnectionTimers();
    this.stopAcks();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.info = undefined;
    this.active.clear();
    this.subscribing.clear();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.kind === 'send') clearTimeout(p.timer);
      if (p.kind !== 'subscribe') p.reject(err);
    }
    for (const channel of [...this.subWaiters.keys()]) this.rejectSubWaiters(channel, err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.setState('closed');
  }

  private clearConnectionTimers(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.livenessTimer);
    this.connectTimer = undefined;
    this.livenessTimer = undefined;
  }

  /** Checks silence lazily instead of re-arming a timer on every frame, which would cost a timer per message. */
  private watchLiveness(limitMs: number): void {
    const idle = Date.now() - this.lastFrameAt;
    if (idle >= limitMs) {
      this.drop(CloseCode.HeartbeatTimeout, 'no frame from the server within two heartbeats');
      return;
    }
    this.livenessTimer = setTimeout(() => this.watchLiveness(limitMs), limitMs - idle);
  }

  // ---- frames ----

  private write(frame: Frame): void {
    this.writeText(JSON.stringify(frame));
  }

  private writeText(text: string): void {
    const sock = this.ws;
    if (!sock || sock.readyState !== OPEN) return;
    try {
      sock.send(text);
    } catch {
      // The socket is going away; its close event settles whatever was waiting on this frame.
    }
  }

  private sendSubscribe(channel: string): void {
    const id = this.nextId++;
    this.subscribing.set(channel, id);
    this.pending.set(id, { kind: 'subscribe', channel });
    const since = this.pos.get(`channel:${channel}`);
    this.write(since === undefined ? { type: 'subscribe', channel, id } : { type: 'subscribe', channel, id, since });
  }

  private onFrame(text: string): void {
    this.lastFrameAt = Date.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
    const f = parsed as Frame;
    switch (f.type) {
      case 'welcome':
        return this.onWelcome(f);
      case 'ping':
        return this.write({ type: 'pong' });
      case 'message':
        return this.onMessage(f);
      case 'subscribed':
      case 'unsubscribed':
        if (typeof f.channel !== 'string') return;
        // A subscribed frame answering our own subscribe says where the channel stands; rebase before the replay.
        if (f.type === 'subscribed') this.onRecovery(f);
        this.onAck(f.type, f.channel, numberOrUndefined(f.id));
        return;
      case 'recovery':
        return this.onRecovery(f);
      case 'reply':
        return this.onReply(numberOrUndefined(f.id), f.data);
      case 'error':
        return this.onError(f);
      default:
        // pong, and frame types added by later protocol versions.
        return;
    }
  }

  private onWelcome(f: Frame): void {
    if (this._state === 'connected') return;
    const heartbeat = typeof f.heartbeat === 'number' && f.heartbeat > 0 ? f.heartbeat : 25_000;
    const info: ConnectedInfo = { session: String(f.session ?? ''), user: String(f.user ?? ''), heartbeat };
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.info = info;
    this.attempt = 0;
    this.pos.resetAcks();
    this.watchLiveness(2 * heartbeat + LIVENESS_MARGIN_MS);
    this.setState('connected');
    for (const channel of this.wanted) this.sendSubscribe(channel);
    for (const w of this.connectWaiters.splice(0)) w.resolve(info);
    this.emit('connected', info);
  }

  private onMessage(f: Frame): void {
    const { stream, offset, epoch } = f;
    if (typeof stream !== 'string' || typeof offset !== 'number' || typeof epoch !== 'string') return;
    // Same epoch and not newer: a duplicate (e.g. replayed on resume). A new epoch restarts offsets.
    if (!this.pos.accept(stream, offset, epoch)) return;
    this.scheduleAcks();
    const msg: HeraldMessage = { stream, offset, epoch, data: f.data };
    if (stream.startsWith('channel:')) msg.channel = stream.slice('channel:'.length);
    if (typeof f.event === 'string') msg.event = f.event;
    this.emit('message', msg);
  }

  private onRecovery(f: Frame): void {
    const { stream, epoch, top, replay, recovered } = f;
    if (typeof stream !== 'string' || typeof epoch !== 'string' || typeof top !== 'number' || typeof replay !== 'number') return;
    this.pos.rebase(stream, epoch, top, replay, recovered === true);
    const info: HeraldEvents['recovery'] = { stream, recovered: recovered === true };
    if (stream.startsWith('channel:')) info.channel = stream.slice('channel:'.length);
    this.emit('recovery', info);
  }

  /** Acks are batched per interval: the inbox position and delivery receipts need them, not one per message. */
  private scheduleAcks(): void {
    if (this.ackTimer !== undefined) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.flushAcks();
    }, this.ackIntervalMs);
  }

  private flushAcks(): void {
    if (this._state !== 'connected') return;
    for (const a of this.pos.takeAcks()) this.write({ type: 'ack', stream: a.stream, offset: a.offset, epoch: a.epoch });
    this.pos.save();
  }

  private stopAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.pos.save();
  }

  private onAck(type: 'subscribed' | 'unsubscribed', channel: string, id: number | undefined): void {
    const req = id === undefined ? undefined : this.pending.get(id);
    if (req && id !== undefined) this.pending.delete(id);
    if (type === 'subscribed') {
      this.active.add(channel);
      // An ack for an older subscribe (one overtaken by unsubscribe + subscribe) must not settle the newer one.
      const current = id === undefined || this.subscribing.get(channel) === id;
      if (id !== undefined && current) this.subscribing.delete(channel);
      if (current) this.resolveSubWaiters(channel);
    } else {
      this.active.delete(channel);
      // Without an id the server (via its API) removed the subscription; re-adding it on reconnect would undo that.
      if (id === undefined) this.wanted.delete(channel);
      if (req?.kind === 'unsubscribe') req.resolve();
    }
    this.emit(type, { channel });
  }

  private onReply(id: number | undefined, data: unknown): void {
    const req = id === undefined ? undefined : this.pending.get(id);
    if (req?.kind !== 'send' || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(req.timer);
    req.resolve(data);
  }

  private onError(f: Frame): void {
    const code = typeof f.code === 'string' ? f.code : 'unknown';
    const message = typeof f.message === 'string' ? f.message : code;
    const id = numberOrUndefined(f.id);
    const req = id === undefined ? undefined : this.pending.get(id);
    if (req === undefined || id === undefined) {
      this.emit('error', { code, message });
      return;
    }
    this.pending.delete(id);
    const err = new HeraldError(code, message);
    if (req.kind === 'send') {
      clearTimeout(req.timer);
      req.reject(err);
    } else if (req.kind === 'unsubscribe') {
      req.reject(err);
    } else if (this.subscribing.get(req.channel) === id) {
      this.subscribing.delete(req.channel);
      // Refused once means refused on every reconnect with the same token: stop asking.
      this.wanted.delete(req.channel);
      if (!this.rejectSubWaiters(req.channel, err)) this.emit('error', { code, message, channel: req.channel });
    }
  }

  private resolveSubWaiters(channel: string): void {
    const list = this.subWaiters.get(channel);
    this.subWaiters.delete(channel);
    for (const w of list ?? []) w.resolve();
  }

  /** Returns whether anyone was waiting, so an unobserved failure can be reported as an event instead. */
  private rejectSubWaiters(channel: string, err: HeraldError): boolean {
    const list = this.subWaiters.get(channel);
    this.subWaiters.delete(channel);
    for (const w of list ?? []) w.reject(err);
    return list !== undefined && list.length > 0;
  }

  // ---- events ----

  private setState(state: State): void {
    const previous = this._state;
    if (previous === state) return;
    this._state = state;
    this.emit('state', { state, previous });
  }

}
