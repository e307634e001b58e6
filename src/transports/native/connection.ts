import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import { Outbox } from '../../core/outbox.ts';
import type { StoredMessage } from '../../store/store.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { encodeAck, encodeMessage } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';

/** A native-protocol client on /ws. Server frames go through the outbox; ws only parses what the client sends. */
export class NativeConnection implements Connection {
  readonly transport = 'native';
  readonly channels = new Set<string>();
  lastSeen = Date.now();
  inflightSends = 0;
  private readonly outbox: Outbox;
  private closed = false;
  /** Streams being replayed from the store: live deliveries wait here so they follow the replay, in order. */
  private recovering: Map<string, Delivery[]> | undefined;

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
    if (this.recovering !== undefined) {
      const held = this.recovering.get(d.envelope.stream);
      if (held !== undefined) {
        held.push(d);
        return true;
      }
    }
    return this.outbox.push(d.native());
  }

  /** Holds live deliveries of `stream` until `endRecovery`; call before the store is read. */
  beginRecovery(stream: string): void {
    (this.recovering ??= new Map()).set(stream, []);
  }

  /**
   * Writes the replayed messages, then the live ones that arrived meanwhile, skipping any the client already has
   * (offset <= `from`) or that the replay already covered, so the stream continues with no gap and no duplicate.
   */
  endRecovery(stream: string, epoch: string, from: number, replay: readonly StoredMessage[]): void {
    let last = from;
    for (const m of replay) {
      if (m.offset <= last) continue;
      this.outbox.push(frameText(encodeMessage(stream, m.offset, epoch, m.data, m.event)));
      last = m.offset;
    }
    const held = this.recovering?.get(stream) ?? [];
    this.recovering?.delete(stream);
    if (this.recovering?.size === 0) this.recovering = undefined;
    for (const d of held) {
      if (d.envelope.epoch !== epoch || d.envelope.offset > last) this.outbox.push(d.native());
    }
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
    // Frames queued earlier in this turn must reach the client before the close frame, and none after it.
    if (code !== CloseCode.SlowConsumer) this.outbox.close();
    this.ws.close(code, reason);
    // A zombie or a stalled reader will not answer the close handshake; do not hold its slot for ws's 30 s.
    if (code === CloseCode.SlowConsumer || code === CloseCode.HeartbeatTimeout) {
      setTimeout(() => this.ws.terminate(), 1000).unref();
    }
  }

  /** The socket went away (either side): nothing more may be queued. */
  markClosed(): void {
    this.closed = true;
  }
}
