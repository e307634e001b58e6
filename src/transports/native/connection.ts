import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { Envelope } from '../../domain/streams.ts';
import { Outbox } from '../../core/outbox.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { encodeAck, encodeMessage } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { CLOSE_TIMEOUT_MS, ServerWebSocket } from '../../net/websocket/socket.ts';
import { RecoveryHold, type Resumable } from '../common/resume.ts';
import type { StoredMessage } from '../../store/store.ts';

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
export class NativeConnection extends ServerWebSocket implements Connection, Resumable {
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
  /** Streams being resumed (common/resume.ts); made on first use and dropped when idle. */
  private hold: RecoveryHold | undefined;

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
    if (this.hold !== undefined && this.hold.intercept(d)) return true;
    return this.outbox.push(d.as(nativeFrame));
  }

  /** Resumable: the hold of the streams being resumed. */
  recovery(): RecoveryHold {
    return (this.hold ??= new RecoveryHold());
  }

  recoveryDone(): void {
    if (this.hold?.idle === true) this.hold = undefined;
  }

  replayFrame(stream: string, epoch: string, m: StoredMessage): Buffer {
    return frameText(encodeMessage(stream, m.offset, epoch, m.data, m.event));
  }

  liveFrame(d: Delivery): Buffer {
    return d.as(nativeFrame);
  }

  fitsOutbox(bytes: number): boolean {
    return this.outbox.fits(bytes);
  }

  writeFrame(frame: Buffer): void {
    this.outbox.push(frame);
  }

  replayTooBig(): void {
    this.close(CloseCode.Resync, 'replay continues after a reconnect');
  }

  resumeFailed(): void {
    this.close(CloseCode.Resync, 'history unavailable, resume later');
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
