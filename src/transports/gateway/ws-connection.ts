import type { Duplex } from 'node:stream';
import type { Delivery } from '../../core/delivery.ts';
import { OutboxWebSocket } from '../common/outbox-socket.ts';
import { frameTextBytes } from '../../protocol/wsframe.ts';
import { textMessageFrame } from '../common/wire.ts';
import { GATEWAY_TRANSPORT, type GatewayConn, type GatewayHost, type WorkerRef } from './types.ts';

/** How long a peer gets to close after a kick or a server-side close before its socket is destroyed. */
const CUT_OFF_MS = 1000;

/**
 * A GatewayWorker client on the websocket listener: the WebSocket (ServerWebSocket), the hub `Connection` and the
 * gateway's fields, in one object. Every write goes through the outbox, so what a worker sends in one turn is one
 * socket write, in order, and a client that does not read is bounded.
 */
export class GatewayWsConnection extends OutboxWebSocket<GatewayHost> implements GatewayConn {
  id = '';
  user = '';
  num = 0;
  worker: WorkerRef | undefined = undefined;
  grouped = false;
  pingCount = -1;
  pending = 0;
  readonly clientIp: number;
  readonly clientPort: number;
  private ending = false;

  constructor(host: GatewayHost, socket: Duplex, clientIp: number, clientPort: number) {
    super(host, socket);
    this.clientIp = clientIp;
    this.clientPort = clientPort;
  }

  get transport(): string {
    return GATEWAY_TRANSPORT;
  }

  deliver(d: Delivery): boolean {
    return this.outbox.push(d.as(textMessageFrame));
  }

  send(body: Buffer, raw: boolean): boolean {
    if (this.ending || !this.wsOpen) return false;
    // The original frames whatever a worker sends as text, UTF-8 or not, so this does too.
    return this.outbox.push(raw ? body : frameTextBytes(body));
  }

  notifySubscription(): void {}

  /** The outbox passed its byte limit: the client does not read what it is sent. */
  overflow(): void {
    this.close(1008, 'slow consumer');
  }

  kick(last: Buffer | undefined): void {
    if (this.ending) return;
    if (last !== undefined) this.send(last, false);
    this.ending = true;
    this.outbox.close();
    // No close frame (browsers report 1006, as with the original): FIN once the queued bytes are written.
    this.socket.end();
    setTimeout(cutOff, CUT_OFF_MS, this.socket).unref();
  }

  destroy(): void {
    this.ending = true;
    this.terminate();
  }

  /** The hub's close (the HTTP connection API, shutdown, a flooding client): a WebSocket close frame. */
  close(code: number, reason: string): void {
    if (this.ending) return;
    this.ending = true;
    this.outbox.close();
    if (this.wsOpen) this.wsClose(code, reason, CUT_OFF_MS);
    else setTimeout(cutOff, CUT_OFF_MS, this.socket).unref();
  }

  protected onMessage(data: Buffer): void {
    if (this.ending) return;
    this.pingCount = -1;
    this.host.events.message(this, data);
  }

  protected onSocketClose(): void {
    this.ending = true;
    this.host.events.closed(this);
  }
}

function cutOff(socket: Duplex): void {
  socket.destroy();
}
