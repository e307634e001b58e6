import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { textMessageFrame } from '../common/wire.ts';
import { OutboxWebSocket } from '../common/outbox-socket.ts';

/** Close code for a slow consumer on the compat websocket: 1008 (policy), as the client knows no Herald codes. */
export const SLOW_CONSUMER_CLOSE = 1008;

/**
 * How long a peer gets to answer a close the server starts on its own account (a kick, a slow consumer, shutdown)
 * before its socket is destroyed: one second, as on `ws` before, where Herald armed this timer itself.
 */
const CUT_OFF_MS = 1000;

/** The WebSocket frame of one message for raw-uid clients; module-level so Delivery memoizes it per message. */
export const rawUidFrame = textMessageFrame;

/** What a connection needs from its endpoint: shared by all connections, so none holds its own callbacks. */
export interface RawUidHost {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  onMessage(conn: RawUidConnection, data: Buffer, binary: boolean): void;
  onProtocolError(conn: RawUidConnection, code: number, reason: string): void;
  onClosed(conn: RawUidConnection): void;
}

/** Login states: no frame yet, the first frame is being checked, logged in (in the hub). */
export const LOGIN_WAITING = 0;
export const LOGIN_CHECKING = 1;
export const LOGGED_IN = 2;

/**
 * A Workerman-style websocket client (port 1234), from the upgrade on: the WebSocket itself (ServerWebSocket),
 * the login state, and, once its first frame named its uid, the `Connection` the hub delivers to. It only
 * receives, one text frame per message, through the outbox (one write per socket per turn, bounded bytes).
 * One object per connection, as NativeConnection, because idle connections are the main memory cost.
 *
 * On the wire it behaves as the `ws` server it replaces did: the close frame after a protocol error carries only
 * the code, a message may have at most 16384 fragments, pings are answered while open.
 */
export class RawUidConnection extends OutboxWebSocket<RawUidHost> implements Connection {
  /** Set at login; the hub sees the connection only after that. */
  id = '';
  user = '';
  login = LOGIN_WAITING;
  /** Sent a message or a pong since the last heartbeat round. */
  alive = true;
  /** When the upgrade completed: the deadline for the first frame counts from here. */
  readonly openedAt = Date.now();
  private closed = false;

  constructor(host: RawUidHost, socket: Duplex) {
    super(host, socket);
  }

  get transport(): string {
    return 'websocket';
  }

  loggedIn(id: string, user: string): void {
    this.id = id;
    this.user = user;
    this.login = LOGGED_IN;
  }

  /** The outbox passed its byte limit. */
  overflow(): void {
    this.close(SLOW_CONSUMER_CLOSE, 'slow consumer');
  }

  deliver(d: Delivery): boolean {
    return this.outbox.push(d.as(rawUidFrame));
  }

  /** Channels have no wire form here: a Workerman page only gets messages. */
  notifySubscription(): void {}

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // Frames queued earlier in this turn go before the close frame, and none after it.
    if (code !== SLOW_CONSUMER_CLOSE) this.outbox.close();
    if (this.wsOpen) this.wsClose(code, reason, CUT_OFF_MS);
    // A close handshake already under way (the peer's, or a refused login's) gets the same second.
    else setTimeout(destroy, CUT_OFF_MS, this.socket).unref();
  }

  /** Closes a connection whose login failed or never came, with the usual time for the close handshake (as `ws`). */
  refuseLogin(code: number, reason: string): void {
    this.wsClose(code, reason);
  }

  /** One heartbeat round: a connection silent since the last round is dead and dropped, the others get a ping. */
  beat(): void {
    if (!this.alive) return this.terminate();
    this.alive = false;
    this.wsPing();
  }

  protected override get explainsProtocolErrors(): boolean {
    return false;
  }

  protected onMessage(data: Buffer, binary: boolean): void {
    this.alive = true;
    this.host.onMessage(this, data, binary);
  }

  protected override onPong(): void {
    this.alive = true;
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

function destroy(socket: Duplex): void {
  socket.destroy();
}
