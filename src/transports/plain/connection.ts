import type { Duplex } from 'node:stream';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { OutboxWebSocket } from '../common/outbox-socket.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { textMessageFrame } from '../common/wire.ts';

/** 1008 (policy) for a slow consumer and for too many messages waiting: a plain client knows no Herald codes. */
export const POLICY_CLOSE = 1008;
/** The close code a `close` event reports when the socket went without a close frame (RFC 6455's 1006). */
export const ABNORMAL_CLOSE = 1006;

/**
 * How long a peer gets to answer a close the server starts (a kick, a refused token, shutdown) before its socket
 * is destroyed, as on the 1234 port.
 */
const CUT_OFF_MS = 1000;

/** What a connection needs from its endpoint: shared by all connections, so none holds its own callbacks. */
export interface PlainHost {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  onMessage(conn: PlainConnection, data: Buffer, binary: boolean): void;
  onProtocolError(conn: PlainConnection, code: number, reason: string): void;
  onClosed(conn: PlainConnection): void;
}

/**
 * A plain WebSocket client (a Swoole server's page, port 9501), from the upgrade on: the WebSocket itself
 * (ServerWebSocket), the `Connection` the hub delivers to (one text frame per message, through the outbox), and
 * the connection's queue of webhook events. One object per connection, with no closure or timer of its own,
 * because idle connections are the main memory cost: an idle one holds no event array.
 */
export class PlainConnection extends OutboxWebSocket<PlainHost> implements Connection {
  id = '';
  user = '';
  /** In the hub (its token, if one is required, was good): its messages go to the webhook. */
  admitted = false;
  /** Sent a message or a pong since the last heartbeat round. */
  alive = true;
  /** The socket is gone; the connection lingers (outside the hub) only until its last event is posted. */
  socketGone = false;
  /**
   * Webhook event bodies waiting, oldest first; the first is being posted. Undefined when none is, so that the
   * endpoint knows whether to start posting, and an idle connection holds no array.
   */
  events: string[] | undefined;
  /** The first close code: the server's when it closed first, else the client's; 0 while open. */
  closeCode = 0;
  private closing = false;

  constructor(host: PlainHost, socket: Duplex) {
    super(host, socket);
  }

  get transport(): string {
    return 'swoole';
  }

  deliver(d: Delivery): boolean {
    return this.outbox.push(d.as(textMessageFrame));
  }

  /** The webhook's reply to one of this connection's events: one text frame, the body unchanged. */
  reply(text: string): boolean {
    return this.outbox.push(frameText(text));
  }

  /** Channels have no wire form here: a plain page only gets messages. */
  notifySubscription(): void {}

  /** The outbox passed its byte limit: nothing queued can be sent any more. */
  overflow(): void {
    this.shut(POLICY_CLOSE, 'slow consumer');
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    // Frames queued earlier in this turn go before the close frame, and none after it.
    this.outbox.close();
    this.shut(code, reason);
  }

  /** One heartbeat round: a connection silent since the last round is dead and dropped, the others get a ping. */
  beat(): void {
    if (this.socketGone) return;
    if (!this.alive) return this.terminate();
    this.alive = false;
    this.wsPing();
  }

  private shut(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (this.closeCode === 0) this.closeCode = code;
    if (this.wsOpen) this.wsClose(code, reason, CUT_OFF_MS);
    // A close handshake already under way (the peer's) gets the same time.
    else setTimeout(destroy, CUT_OFF_MS, this.socket).unref();
  }

  protected onMessage(data: Buffer, binary: boolean): void {
    this.alive = true;
    this.host.onMessage(this, data, binary);
  }

  protected override onPong(): void {
    this.alive = true;
  }

  protected override onCloseFrame(code: number, reason: string): void {
    if (this.closeCode === 0) this.closeCode = code;
    this.closing = true;
    super.onCloseFrame(code, reason);
  }

  protected override onProtocolError(code: number, reason: string): void {
    if (this.closeCode === 0) this.closeCode = code;
    this.closing = true;
    super.onProtocolError(code, reason);
    this.host.onProtocolError(this, code, reason);
  }

  /** The socket went away (either side): nothing more may be queued. */
  protected onSocketClose(): void {
    this.socketGone = true;
    this.closing = true;
    if (this.closeCode === 0) this.closeCode = ABNORMAL_CLOSE;
    this.host.onClosed(this);
  }
}

function destroy(socket: Duplex): void {
  socket.destroy();
}
