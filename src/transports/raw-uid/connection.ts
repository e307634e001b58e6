import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { Envelope } from '../../domain/streams.ts';
import { Outbox } from '../../core/outbox.ts';
import { dataAsText } from '../common/wire.ts';
import { frameText } from '../../protocol/wsframe.ts';

/** Close code for a slow consumer on the compat websocket: 1008 (policy), as the client knows no Herald codes. */
export const SLOW_CONSUMER_CLOSE = 1008;

/** The WebSocket frame of one message for raw-uid clients; module-level so Delivery memoizes it per message. */
export const rawUidFrame = (env: Envelope): Buffer => frameText(dataAsText(env.data));

/**
 * A Workerman-style websocket client (port 1234) after its first frame named its uid: it only receives, one text
 * frame per message. Frames go through the outbox (one write per socket per turn, bounded bytes).
 */
export class RawUidConnection implements Connection {
  readonly transport = 'websocket';
  readonly channels = new Set<string>();
  private readonly outbox: Outbox;
  private closed = false;

  constructor(
    readonly id: string,
    readonly user: string,
    private readonly ws: WebSocket,
    socket: Duplex,
    maxBufferedBytes: number,
  ) {
    this.outbox = new Outbox(socket, maxBufferedBytes, this);
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
    if (code !== SLOW_CONSUMER_CLOSE) this.outbox.flush();
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }
}
