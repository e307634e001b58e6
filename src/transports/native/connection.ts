import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { Envelope } from '../../domain/streams.ts';
import { Outbox } from '../../core/outbox.ts';
import type { Position, StoredMessage } from '../../store/store.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { encodeAck, encodeMessage } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { WS_MAX_FRAGMENTS } from '../../net/websocket/codec.ts';
import { CLOSE_TIMEOUT_MS, ServerWebSocket } from '../../net/websocket/socket.ts';

/** What a connection needs from its endpoint: shared by all connections, so none holds its own callbacks. */
export interface NativeHost {
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;
  onMessage(conn: NativeConnection, data: Buffer, binary: boolean): void;
  onProtocolError(conn: NativeConnection, code: number, reason: string): void;
  onClosed(conn: NativeConnection): void;
}

/** The native protocol's WebSocket frame of one message; module-level so Delivery builds it once per message. */
export const nativeFrame = (e: Envelope): Buffer => frameText(encodeMessage(e.stream, e.offset, e.epoch, e.data, e.event));

/** Until the token is known a connection may subscribe to nothing; shared, so it costs no closure. */
const NOTHING = (): boolean => false;

/** Auth states. */
export const AUTH_WAITING = 0;
export const AUTH_CHECKING = 1;
export const AUTH_DONE = 2;

/**
 * A native-protocol client on /ws, from the upgrade on: the WebSocket itself (ServerWebSocket: frame parsing and
 * close handshake), the authentication state, and, once welcomed, the `Connection` the hub delivers to. One object
 * per connection, on purpose: idle connections are the server's main memory cost (docs/performance.md).
 * Server frames go through the outbox.
 */
export class NativeConnection extends ServerWebSocket implements Connection {
  /** Set when the token is accepted (`authenticated`); the hub sees the connection only after that. */
  id = '';
  user = '';
  expiresAt = 0;
  canSubscribe: (channel: string) => boolean = NOTHING;
  lastSeen = Date.now();
  inflightSends = 0;
  auth = AUTH_WAITING;
  /** Frames received while the token is checked, handled after the welcome. */
  early: Buffer[] | undefined;
  private chans: Set<string> | undefined;
  private readonly outbox: Outbox;
  private closed = false;
  /** Streams being replayed from the store: live deliveries wait here so they follow the replay, in order. */
  private recovering: Map<string, Delivery[]> | undefined;
  /**
   * Streams where the client already has messages this node has not delivered live yet (it resumed with a
   * position from a node that was ahead): live deliveries up to that offset are dropped. Rare, so made on use.
   */
  private ahead: Map<string, { epoch: string; offset: number }> | undefined;

  constructor(
    private readonly host: NativeHost,
    socket: Duplex,
  ) {
    super(socket);
    this.outbox = new Outbox(socket, host.maxBufferedBytes, this);
  }

  /** The outbox passed its byte limit. */
  overflow(): void {
    this.close(CloseCode.SlowConsumer, 'slow consumer');
  }

  get transport(): string {
    return 'native';
  }

  /** Channels this connection is in (owned by the hub); created on first use, as most connections join none. */
  get channels(): Set<string> {
    return (this.chans ??= new Set());
  }

  /** Starts reading frames from the upgraded socket. */
  start(head: Buffer): void {
    this.attach(head);
  }

  authenticated(id: string, user: string, expiresAt: number, canSubscribe: ((channel: string) => boolean) | undefined): void {
    this.id = id;
    this.user = user;
    this.expiresAt = expiresAt;
    if (canSubscribe !== undefined) this.canSubscribe = canSubscribe;
    this.lastSeen = Date.now();
    this.auth = AUTH_DONE;
  }

  deliver(d: Delivery): boolean {
    if (this.ahead !== undefined && this.isAhead(d)) return true;
    if (this.recovering !== undefined) {
      const held = this.recovering.get(d.envelope.stream);
      if (held !== undefined) {
        held.push(d);
        return true;
      }
    }
    return this.outbox.push(d.as(nativeFrame));
  }

  private isAhead(d: Delivery): boolean {
    const { stream, offset, epoch } = d.envelope;
    const a = this.ahead?.get(stream);
    if (a === undefined) return false;
    if (a.epoch === epoch && offset <= a.offset) return true;
    this.ahead!.delete(stream);
    if (this.ahead!.size === 0) this.ahead = undefined;
    return false;
  }

  /** Holds live deliveries of `stream` until `endRecovery`; call before the store is read. */
  beginRecovery(stream: string): void {
    (this.recovering ??= new Map()).set(stream, []);
  }

  /**
   * Where a client with no position in `stream` starts: at `top`, or just before the first live message held since
   * it joined, if that is older (it was published after the client joined, so the client must get it).
   */
  liveStart(stream: string, epoch: string, top: number): number {
    const first = this.recovering?.get(stream)?.[0]?.envelope;
    return first !== undefined && first.epoch === epoch && first.offset <= top ? first.offset - 1 : top;
  }

  /**
   * Writes the replayed messages, then the live ones that arrived meanwhile, skipping any the client already has
   * (offset <= `from`) or that the replay already covered, so the stream continues with no gap and no duplicate.
   * `live` is where this node's live delivery of the stream stands (several nodes); anything the client has
   * beyond it will still arrive live, and is dropped then.
   */
  endRecovery(stream: string, epoch: string, from: number, replay: readonly StoredMessage[], live?: Position): void {
    let last = from;
    const held = this.recovering?.get(stream) ?? [];
    this.recovering?.delete(stream);
    if (this.recovering?.size === 0) this.recovering = undefined;
    for (const m of replay) {
      if (m.offset <= last) continue;
      const frame = frameText(encodeMessage(stream, m.offset, epoch, m.data, m.event));
      // A replay larger than the outbox's limit would overflow it before a byte was sent, and the client would come
      // back for the same replay for ever (a slow consumer's is about that size). Send the part that fits, then ask
      // it to reconnect: it resumes after the last message it got, and each round gets further.
      if (!this.outbox.fits(frame.length)) return this.close(CloseCode.Resync, 'replay continues after a reconnect');
      this.outbox.push(frame);
      last = m.offset;
    }
    for (const d of held) {
      if (d.envelope.epoch !== epoch || d.envelope.offset > last) {
        this.outbox.push(d.as(nativeFrame));
        if (d.envelope.epoch === epoch) last = d.envelope.offset;
      }
    }
    if (live !== undefined && live.epoch === epoch && last > live.offset) (this.ahead ??= new Map()).set(stream, { epoch, offset: last });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  sendText(text: string): void {
    this.outbox.push(frameText(text));
  }

  sendFrame(frame: Buffer): void {
    this.outbox.push(frame);
  }

  notifySubscription(channel: string, subscribed: boolean): void {
    this.sendText(encodeAck(subscribed ? 'subscribed' : 'unsubscribed', channel));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // Frames queued earlier in this turn must reach the client before the close frame, and none after it; a slow
    // consumer's are dropped instead, so that its close frame is not queued behind them (it resumes from its position).
    if (code === CloseCode.SlowConsumer) this.outbox.discard();
    else this.outbox.close();
    // A zombie or a stalled reader will not answer the close handshake; do not hold its slot for 30 s. A slow
    // consumer's close frame is at most a chunk behind what its kernel holds (Outbox): a client that reads again
    // within this second gets it, and once the kernel has it, it arrives even after the socket is closed here.
    const quick = code === CloseCode.SlowConsumer || code === CloseCode.HeartbeatTimeout;
    this.wsClose(code, reason, quick ? 1000 : CLOSE_TIMEOUT_MS);
  }

  protected get maxPayload(): number {
    return this.host.maxFrameBytes;
  }

  /** As on 1234 and in `ws`: without it, empty continuation frames grow a message's fragment list for ever. */
  protected override get maxFragments(): number {
    return WS_MAX_FRAGMENTS;
  }

  protected get maxWriteBacklog(): number {
    return this.host.maxBufferedBytes;
  }

  protected onMessage(data: Buffer, binary: boolean): void {
    this.host.onMessage(this, data, binary);
  }

  protected override onProtocolError(code: number, reason: string): void {
    super.onProtocolError(code, reason);
    this.host.onProtocolError(this, code, reason);
  }

  /** The socket went away (either side): nothing more may be queued. */
  protected onSocketClose(): void {
    this.closed = true;
    this.host.onClosed(this);
  }
}
