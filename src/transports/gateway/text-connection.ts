import type { Socket } from 'node:net';
import type { Delivery } from '../../core/delivery.ts';
import { Outbox } from '../../core/outbox.ts';
import type { Envelope } from '../../domain/streams.ts';
import { LineReader } from '../../protocol/gatewayworker/register.ts';
import { dataAsText } from '../common/wire.ts';
import { GATEWAY_TRANSPORT, type GatewayConn, type GatewayHost, type WorkerRef } from './types.ts';

/** A published message as a text client gets it: its text and one LF (common/wire.ts). */
export const gatewayTextLine = (env: Envelope): Buffer => Buffer.from(`${dataAsText(env.data)}\n`);

const LF = Buffer.from('\n');
const kConn = Symbol('herald.gateway.text');
type TextSocket = Socket & { [kConn]?: GatewayTextConnection };

/**
 * A client of a `text://` listener (§11.4): LF-terminated lines in, each send one line out (LF appended unless
 * raw). The socket listeners are shared functions that find their connection through a symbol, as
 * ServerWebSocket's do, so a connection allocates no closures.
 */
export class GatewayTextConnection implements GatewayConn {
  id = '';
  user = '';
  num = 0;
  worker: WorkerRef | undefined = undefined;
  grouped = false;
  pingCount = -1;
  pending = 0;
  readonly clientIp: number;
  readonly clientPort: number;
  private chans: Set<string> | undefined;
  private readonly outbox: Outbox;
  private readonly lines: LineReader;
  private ending = false;
  private gone = false;

  constructor(
    private readonly host: GatewayHost,
    private readonly socket: Socket,
    clientIp: number,
  ) {
    this.clientIp = clientIp;
    this.clientPort = socket.remotePort ?? 0;
    this.outbox = new Outbox(socket, host.maxBufferedBytes, this);
    this.lines = new LineReader(host.maxPayload);
  }

  get transport(): string {
    return GATEWAY_TRANSPORT;
  }

  get channels(): Set<string> {
    return (this.chans ??= new Set());
  }

  start(): void {
    const s = this.socket as TextSocket;
    s[kConn] = this;
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
    s.setNoDelay(true);
  }

  deliver(d: Delivery): boolean {
    return this.outbox.push(d.as(gatewayTextLine));
  }

  send(body: Buffer, raw: boolean): boolean {
    if (this.ending) return false;
    return this.outbox.push(raw ? body : Buffer.concat([body, LF]));
  }

  notifySubscription(): void {}

  overflow(): void {
    this.destroy();
  }

  kick(last: Buffer | undefined): void {
    if (this.ending) return;
    if (last !== undefined) this.send(last, false);
    this.ending = true;
    this.outbox.close();
    this.socket.end();
  }

  destroy(): void {
    this.ending = true;
    this.socket.destroy();
  }

  /** A text client has no close frame: the connection ends after what was queued. */
  close(): void {
    this.kick(undefined);
  }

  /** @internal socket listener */
  receive(chunk: Buffer): void {
    if (this.ending) return;
    const { lines, error } = this.lines.push(chunk);
    for (const line of lines) {
      if (this.ending) return;
      this.pingCount = -1;
      this.host.events.message(this, line);
    }
    // A line beyond the limit: the original closes the connection (workerman's package limit).
    if (error !== undefined) this.destroy();
  }

  /** @internal socket listener */
  closed(): void {
    if (this.gone) return;
    this.gone = true;
    this.ending = true;
    this.host.events.closed(this);
  }
}

function onData(this: TextSocket, chunk: Buffer): void {
  this[kConn]?.receive(chunk);
}

function onError(this: TextSocket): void {
  this.destroy();
}

function onClose(this: TextSocket): void {
  const c = this[kConn];
  this[kConn] = undefined;
  c?.closed();
}
