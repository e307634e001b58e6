import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { WS_MAX_FRAGMENTS } from '../../net/websocket/codec.ts';
import { CLOSE_TIMEOUT_MS } from '../../net/websocket/socket.ts';
import { OutboxWebSocket } from '../common/outbox-socket.ts';
import { errorFrame } from './frames.ts';
import type { Envelope } from '../../domain/streams.ts';

/** What a connection needs from its endpoint: shared by all connections, so none holds its own callbacks. */
export interface PusherHost {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  /** The app's encoder of Herald messages as Pusher frames (names.ts, frames.ts `frameEncoder`). */
  readonly encode: (env: Envelope) => Buffer;
  onMessage(conn: PusherConnection, data: Buffer, binary: boolean): void;
  onClosed(conn: PusherConnection): void;
}

/** Close code for a slow consumer: 4100 ("over capacity"), after which pusher-js reconnects in 1 s. */
const SLOW_CONSUMER = 4100;

/**
 * A pusher-js client on `/app/<key>`, from the upgrade on: the WebSocket (ServerWebSocket), the `Connection` the
 * hub delivers to (it joins the hub as soon as it is welcomed, anonymous: Herald user ''), and the Pusher state
 * that is per connection: its presence memberships and its client-event budget. One object per client, fields
 * made on first use, because idle connections are the main memory cost.
 */
export class PusherConnection extends OutboxWebSocket implements Connection {
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
  private closed = false;

  constructor(
    private readonly host: PusherHost,
    socket: Duplex,
  ) {
    super(socket, host.maxBufferedBytes);
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
    return this.outbox.push(d.as(this.host.encode));
  }

  send(frame: Buffer): void {
    this.outbox.push(frame);
  }

  /**
   * A backend joined or removed this connection through Herald's API: pusher-js only learns of the former as a
   * subscription it did not ask for, which it ignores, so nothing is sent.
   */
  notifySubscription(): void {}

  close(code: number, reason: string): void {
    if (this.closed) return;
    // A refusal (4000-4099: pusher-js will not reconnect) is announced first, as the protocol asks (§9.1).
    if (code >= 4000 && code < 4100) this.outbox.push(errorFrame(code, reason));
    this.closed = true;
    this.outbox.close();
    this.wsClose(code, reason, CLOSE_TIMEOUT_MS);
  }

  protected get maxPayload(): number {
    return this.host.maxPayload;
  }

  protected override get maxFragments(): number {
    return WS_MAX_FRAGMENTS;
  }

  protected get maxWriteBacklog(): number {
    return this.host.maxBufferedBytes;
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
