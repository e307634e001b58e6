import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { CLOSE_TIMEOUT_MS } from '../../net/websocket/socket.ts';
import { OutboxWebSocket } from '../common/outbox-socket.ts';
import { errorFrame } from './frames.ts';
import type { Envelope } from '../../domain/streams.ts';
import type { StoredMessage } from '../../store/store.ts';
import { RecoveryHold, type Resumable } from '../common/resume.ts';
import type { PusherResume } from './resume.ts';

/** What a connection needs from its endpoint: shared by all connections, so none holds its own callbacks. */
export interface PusherHost {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  /** The app's encoder of Herald messages as Pusher frames (names.ts, frames.ts `frameEncoder`). */
  readonly encode: (env: Envelope) => Buffer;
  /** The same, with `herald:at` positions, for resumable connections (resume.ts). */
  readonly encodePositioned: (env: Envelope) => Buffer;
  onMessage(conn: PusherConnection, data: Buffer, binary: boolean): void;
  onClosed(conn: PusherConnection): void;
}

/** Close code for a slow consumer: 4100 ("over capacity"), after which pusher-js reconnects in 1 s. */
const SLOW_CONSUMER = 4100;

/** Herald's close codes (protocol/codes.ts) as the Pusher codes with the same effect on pusher-js. */
const FROM_HERALD_CODE: Readonly<Record<number, number>> = {
  [CloseCode.Shutdown]: 4200,
  [CloseCode.HeartbeatTimeout]: 4201,
  [CloseCode.SlowConsumer]: 4100,
  [CloseCode.DisconnectedByServer]: 4200,
  [CloseCode.InternalError]: 4100,
  [CloseCode.Resync]: 4200,
  [CloseCode.AuthTimeout]: 4009,
  [CloseCode.InvalidToken]: 4009,
  [CloseCode.TokenExpired]: 4009,
  [CloseCode.Kicked]: 4009,
  [CloseCode.ProtocolError]: 4009,
};

/**
 * A pusher-js client on `/app/<key>`, from the upgrade on: the WebSocket (ServerWebSocket), the `Connection` the
 * hub delivers to (it joins the hub as soon as it is welcomed, anonymous: Herald user ''), and the Pusher state
 * that is per connection: its presence memberships and its client-event budget. One object per client, fields
 * made on first use, because idle connections are the main memory cost.
 */
export class PusherConnection extends OutboxWebSocket<PusherHost> implements Connection, Resumable {
  /** Set when welcomed; the socket_id is computed from it (names.ts `socketIdOf`). */
  id = '';
  user = '';
  /** When the client last sent anything (ms): the shared activity sweep pings or drops silent clients. */
  lastSeen = Date.now();
  /** A `pusher:ping` went out and nothing came back yet. */
  pinged = false;
  /** Presence channels joined (Herald channel -> the user_id given in its channel_data); made on first use. */
  presence: Map<string, string> | undefined;
  /** The `user_info` of the `user_data` this socket signed in with (its id is the Herald user's); made on sign-in. */
  userInfo: unknown;
  /** Client events in the current one-second window, and the window's start (seconds). */
  eventCount = 0;
  eventWindow = 0;
  /** Set for a connection of Herald's Echo connector (`/herald/app/<key>`, resume.ts); others have none. */
  resume: PusherResume | undefined;
  private closed = false;

  constructor(host: PusherHost, socket: Duplex) {
    super(host, socket);
  }

  get transport(): string {
    return 'pusher';
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  overflow(): void {
    if (this.closed) return;
    // What is queued is what the client could not take: it is dropped, and the close goes out on its own.
    this.closed = true;
    this.wsClose(SLOW_CONSUMER, 'slow consumer', 1000);
  }

  deliver(d: Delivery): boolean {
    const r = this.resume;
    if (r === undefined) return this.outbox.push(d.as(this.host.encode));
    if (r.hold !== undefined && r.hold.intercept(d)) return true;
    return this.outbox.push(d.as(this.host.encodePositioned));
  }

  send(frame: Buffer): void {
    this.outbox.push(frame);
  }

  /** Resumable: the hold of the streams being resumed (only resumable connections resume). */
  recovery(): RecoveryHold {
    return (this.resume!.hold ??= new RecoveryHold());
  }

  recoveryDone(): void {
    if (this.resume?.hold?.idle === true) this.resume.hold = undefined;
  }

  replayFrame(stream: string, epoch: string, m: StoredMessage): Buffer {
    const env: Envelope =
      m.event === undefined ? { stream, offset: m.offset, epoch, data: m.data } : { stream, offset: m.offset, epoch, data: m.data, event: m.event };
    return this.host.encodePositioned(env);
  }

  liveFrame(d: Delivery): Buffer {
    return d.as(this.host.encodePositioned);
  }

  fitsOutbox(bytes: number): boolean {
    return this.outbox.fits(bytes);
  }

  writeFrame(frame: Buffer): void {
    this.outbox.push(frame);
  }

  /** 4200: pusher-js reconnects at once, and the connector resumes after the last message it got. */
  replayTooBig(): void {
    this.closePusher(4200, 'replay continues after a reconnect');
  }

  /** 4100: pusher-js comes back after a second, and resumes then. */
  resumeFailed(): void {
    this.closePusher(4100, 'history unavailable, resume later');
  }

  /**
   * A backend joined or removed this connection through Herald's API: pusher-js only learns of the former as a
   * subscription it did not ask for, which it ignores, so nothing is sent.
   */
  notifySubscription(): void {}

  /**
   * Connection: a close asked by Herald's core or API, with Herald's close code, in the code pusher-js acts on the
   * same way (Herald's 4006 "resync", say, would read as 4006 "refused" to pusher-js and stop it for good).
   */
  close(code: number, reason: string): void {
    this.closePusher(FROM_HERALD_CODE[code] ?? (code < 4000 ? code : 4200), reason);
  }

  /** A close with a Pusher close code (§9.1). */
  closePusher(code: number, reason: string): void {
    if (this.closed) return;
    // A refusal (4000-4099: pusher-js will not reconnect) is announced first, as the protocol asks (§9.1).
    if (code >= 4000 && code < 4100) this.outbox.push(errorFrame(code, reason));
    this.closed = true;
    this.outbox.close();
    this.wsClose(code, reason, CLOSE_TIMEOUT_MS);
  }

  protected onMessage(data: Buffer, binary: boolean): void {
    this.lastSeen = Date.now();
    this.pinged = false;
    this.host.onMessage(this, data, binary);
  }

  protected override onPong(): void {
    this.lastSeen = Date.now();
  }

  protected onSocketClose(): void {
    this.closed = true;
    this.host.onClosed(this);
  }
}
