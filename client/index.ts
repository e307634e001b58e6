// Herald client SDK for browsers and Node: one WebSocket speaking the native protocol (docs/protocol.md), with
// reconnects, resubscription, heartbeats and request/reply correlation. It must bundle for the browser, so it
// imports nothing from Node and has no dependencies; the only shared code is the protocol's code tables.
// This file is the state machine (idle, connecting, connected, reconnecting, closed) and the public API; what it
// coordinates lives beside it so each rule can be read on its own: link.ts (one socket and its watchdogs),
// backoff.ts (when to reconnect), requests.ts (frames awaiting an answer), subscriptions.ts (channels across
// reconnects), frames.ts (reading server frames), positions.ts (stream positions and acks).
import { channelOfStream, channelStream } from '../src/domain/streams.ts';
import { CloseCode, ErrorCode, isReconnectCode } from '../src/protocol/codes.ts';
import { InOrder } from './order.ts';
import { Positions, type PositionStorage, type StreamPosition } from './positions.ts';
import {
  ClientErrorCode,
  HeraldError,
  type ConnectedInfo,
  type HeraldEvents,
  type HeraldOptions,
  type State,
  type WebSocketConstructor,
  type WebSocketLike,
} from './types.ts';
import { Backoff } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { Link } from './link.ts';
import type { ClientFrame } from '../src/protocol/frames.ts';
import { readFrame, type Recovery, type ServerFrame } from './frames.ts';
import { Requests, type Deferred } from './requests.ts';
import { Subscriptions } from './subscriptions.ts';
import { closeErrorCode, defaultStorage, errorText } from './util.ts';

export { CloseCode, ErrorCode, isReconnectCode };
export type { PositionStorage, StreamPosition };
export * from './types.ts';

/** Added to two heartbeat intervals before a silent connection is declared dead (docs/protocol.md section 5). */
const LIVENESS_MARGIN_MS = 5000;
const noop = (): void => {};

export class Herald extends Emitter<HeraldEvents> {
  private readonly url: string | ((attempt: number) => string);
  private dials = 0;
  private readonly token: HeraldOptions['token'];
  private readonly WS: WebSocketConstructor | undefined;
  private readonly backoff: Backoff;
  private readonly sendTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  private _state: State = 'idle';
  private link: Link | undefined;
  /** Bumped for every connect attempt and on close(), so a stale async continuation can tell it lost. */
  private attemptId = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private info: ConnectedInfo | undefined;
  private readonly subs = new Subscriptions();
  private readonly requests = new Requests();
  private readonly connectWaiters: Deferred<ConnectedInfo>[] = [];
  private readonly pos: Positions;
  private readonly ackIntervalMs: number;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly order: InOrder;

  constructor(opts: HeraldOptions) {
    super();
    this.url = opts.url;
    this.token = opts.token;
    this.WS = opts.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    const minBackoffMs = opts.minBackoffMs ?? 500;
    this.backoff = new Backoff(minBackoffMs, Math.max(opts.maxBackoffMs ?? 30_000, minBackoffMs));
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 10_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    this.ackIntervalMs = opts.ackIntervalMs ?? 100;
    const key = typeof opts.url === 'string' ? opts.url : 'default';
    this.pos = new Positions(opts.storage === undefined ? defaultStorage() : (opts.storage ?? undefined), `herald:positions:${key}`);
    this.order = new InOrder(this.pos, opts.gapTimeoutMs ?? 2000, {
      deliver: (msg) => this.emit('message', msg),
      // Reconnecting resumes every stream from the last message handed on, which replays the missing ones.
      stalled: () => {
        const reason = 'a message is missing: resuming';
        this.link?.close(CloseCode.Resync, reason);
        this.onSocketClose(CloseCode.Resync, reason);
      },
    });
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
    return [...this.subs.wanted];
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
    this.subs.wanted.add(channel);
    if (this.subs.active.has(channel)) return Promise.resolve();
    const p = this.subs.wait(channel);
    if (this._state === 'connected' && !this.subs.isSubscribing(channel)) this.sendSubscribe(channel);
    return p;
  }

  /** Unsubscribes and forgets the channel. Resolves at once when not connected: subscriptions die with the connection. */
  unsubscribe(channel: string): Promise<void> {
    this.subs.drop(channel, new HeraldError(ClientErrorCode.Cancelled, `unsubscribed from ${channel} before the subscribe completed`));
    if (this._state !== 'connected') {
      this.subs.active.delete(channel);
      return Promise.resolve();
    }
    const id = this.requests.id();
    const p = this.requests.unsubscribe(id, channel);
    this.write({ type: 'unsubscribe', channel, id });
    return p;
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
    const id = this.requests.id();
    let text: string;
    try {
      // JSON has no undefined; without `data` the server would refuse the frame.
      text = JSON.stringify(event === undefined ? { type: 'send', id, data: data ?? null } : { type: 'send', id, event, data: data ?? null });
    } catch (err) {
      return Promise.reject(new HeraldError(ErrorCode.BadRequest, `data is not JSON-serializable: ${errorText(err)}`));
    }
    const reply = this.requests.send(id, this.sendTimeoutMs);
    this.writeText(text);
    return reply;
  }

  /** Closes for good: no reconnect, pending requests reject with `closed`. */
  close(): void {
    if (this._state === 'closed') return;
    this.attemptId++;
    this.link?.close(1000, 'client closed');
    this.link = undefined;
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
    this.link = new Link(
      sock,
      {
        open: () => this.write({ type: 'auth', token, positions: this.pos.forAuth() }),
        frame: (text) => this.onFrame(text),
        close: (code, reason) => this.onSocketClose(code, reason),
        dead: (reason) => this.onSocketClose(CloseCode.HeartbeatTimeout, reason),
      },
      this.connectTimeoutMs,
    );
  }

  private onSocketClose(code: number, reason: string): void {
    this.link = undefined;
    this.stopAcks();
    this.order.reset();
    this.info = undefined;
    this.subs.connectionLost();
    this.requests.connectionClosed(code);
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
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.dial();
    }, this.backoff.next());
  }

  private finish(err: HeraldError): void {
    this.attemptId++;
    this.stopAcks();
    this.order.reset();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.info = undefined;
    this.requests.closeAll(err);
    this.subs.closeAll(err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.setState('closed');
  }

  // ---- frames ----

  private write(frame: ClientFrame): void {
    this.writeText(JSON.stringify(frame));
  }

  private writeText(text: string): void {
    this.link?.write(text);
  }

  private sendSubscribe(channel: string): void {
    const id = this.requests.id();
    this.subs.sending(channel, id);
    this.requests.subscribe(id, channel);
    const since = this.pos.get(channelStream(channel));
    this.write(since === undefined ? { type: 'subscribe', channel, id } : { type: 'subscribe', channel, id, since });
  }

  private onFrame(text: string): void {
    const f = readFrame(text);
    if (f === undefined) return;
    switch (f.type) {
      case 'welcome':
        return this.onWelcome(f.info);
      case 'ping':
        return this.write({ type: 'pong' });
      case 'pong':
        return;
      case 'message':
        if (this.order.receive(f.message)) this.scheduleAcks();
        return;
      case 'subscribed':
      case 'unsubscribed':
        // A subscribed frame answering our own subscribe says where the channel stands; rebase before the replay.
        if (f.recovery !== undefined) this.onRecovery(f.recovery);
        this.onAck(f.type, f.channel, f.id);
        return;
      case 'recovery':
        return this.onRecovery(f.recovery);
      case 'reply':
        return this.requests.reply(f.id, f.data);
      case 'error':
        return this.onError(f);
      case 'shutdown':
        return this.backoff.restarting(f.reconnectWithin);
    }
  }

  private onWelcome(info: ConnectedInfo): void {
    if (this._state === 'connected') return;
    this.info = info;
    this.backoff.reset();
    this.pos.resetAcks();
    this.link?.watch(2 * info.heartbeat + LIVENESS_MARGIN_MS);
    this.setState('connected');
    for (const channel of this.subs.wanted) this.sendSubscribe(channel);
    for (const w of this.connectWaiters.splice(0)) w.resolve(info);
    this.emit('connected', info);
  }

  private onRecovery(r: Recovery): void {
    this.pos.rebase(r.stream, r.epoch, r.top, r.replay, r.recovered);
    if (this.order.release(r.stream)) this.scheduleAcks();
    const info: HeraldEvents['recovery'] = { stream: r.stream, recovered: r.recovered };
    const channel = channelOfStream(r.stream);
    if (channel !== undefined) info.channel = channel;
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
    const req = this.requests.take(id);
    if (type === 'subscribed') {
      this.subs.confirmed(channel, id);
    } else {
      this.subs.removed(channel, id);
      if (req?.kind === 'unsubscribe') req.resolve();
    }
    this.emit(type, { channel });
  }

  private onError(f: Extract<ServerFrame, { type: 'error' }>): void {
    const { code, message, id } = f;
    const req = this.requests.take(id);
    if (req === undefined || id === undefined) {
      this.emit('error', { code, message });
      return;
    }
    const err = new HeraldError(code, message);
    if (req.kind === 'send') {
      clearTimeout(req.timer);
      req.reject(err);
    } else if (req.kind === 'unsubscribe') {
      req.reject(err);
    } else if (this.subs.refused(req.channel, id, err)) {
      this.emit('error', { code, message, channel: req.channel });
    }
  }

  // ---- events ----

  private setState(state: State): void {
    const previous = this._state;
    if (previous === state) return;
    this._state = state;
    this.emit('state', { state, previous });
  }
}
