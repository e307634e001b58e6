import type { Duplex } from 'node:stream';
import { Outbox } from '../../core/outbox.ts';
import { ServerWebSocket } from '../../net/websocket/socket.ts';

/** What an endpoint gives each of its connections, shared by all of them: the frame and write-buffer limits. */
export interface SocketLimits {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
}

/**
 * What every WebSocket transport's connection has besides its protocol: the upgraded socket (ServerWebSocket), its
 * endpoint (`host`: the limits, and whatever else the transport's connections call back), one outbox (one write
 * per socket per turn, bounded bytes, `overflow` on the limit) and the hub's channel set, made on first use since
 * most connections join none. One object per client, as before: a base class, not a field.
 */
export abstract class OutboxWebSocket<H extends SocketLimits = SocketLimits> extends ServerWebSocket {
  protected readonly outbox: Outbox;
  private chans: Set<string> | undefined;

  constructor(
    protected readonly host: H,
    socket: Duplex,
  ) {
    super(socket);
    this.outbox = new Outbox(socket, host.maxBufferedBytes, this);
  }

  protected get maxPayload(): number {
    return this.host.maxPayload;
  }

  protected get maxWriteBacklog(): number {
    return this.host.maxBufferedBytes;
  }

  /** The outbox passed its byte limit: the transport closes the connection as a slow consumer. */
  abstract overflow(): void;

  /** Channels this connection is in; owned by the hub. */
  get channels(): Set<string> {
    return (this.chans ??= new Set());
  }

  /** Starts reading frames from the upgraded socket (`head`: what came with the handshake). */
  start(head: Buffer): void {
    this.attach(head);
  }
}
