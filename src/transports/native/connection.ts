import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { Outbox } from '../../core/outbox.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { encodeAck } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';

/** A native-protocol client on /ws. Server frames go through the outbox; ws only parses what the client sends. */
export class NativeConnection implements Connection {
  readonly transport = 'native';
  readonly channels = new Set<string>();
  lastSeen = Date.now();
  inflightSends = 0;
  private readonly outbox: Outbox;
  private closed = false;

  constructor(
    readonly id: string,
    readonly user: string,
    readonly expiresAt: number,
    readonly canSubscribe: (channel: string) => boolean,
    private readonly ws: WebSocket,
    socket: Duplex,
    maxBufferedBytes: number,
  ) {
    this.outbox = new Outbox(socket, maxBufferedBytes, () => this.close(CloseCode.SlowConsumer, 'slow consumer'));
  }

  deliver(d: Delivery): boolean {
    return this.outbox.push(d.native());
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
    // Frames queued earlier in this turn must reach the client before the close frame.
    if (code !== CloseCode.SlowConsumer) this.outbox.close();
    this.ws.close(code, reason);
    // A zombie or a stalled reader will not answer the close handshake; do not hold its slot for ws's 30 s.
    if (code === CloseCode.SlowConsumer || code === CloseCode.HeartbeatTimeout) {
      setTimeout(() => this.ws.terminate(), 1000).unref();
    }
  }
}
