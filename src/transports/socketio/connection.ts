import type { Socket } from 'socket.io';
import type { Connection } from '../../core/connection.ts';
import type { Delivery, Envelope } from '../../core/delivery.ts';
import { dataAsText } from '../../compat/wire.ts';
import { CloseCode, isReconnectCode } from '../../protocol/codes.ts';

/**
 * The Socket.IO packet `2["new_msg","<text>"]` (EVENT on the default namespace) for one message. Built once per
 * message through Delivery.as and written to each recipient's Engine.IO connection as is; the packet format is
 * the same for Socket.IO protocol v4 (client 2.x over Engine.IO v3) and v5 (client 3.x/4.x).
 */
export const newMsgPacket = (env: Envelope): string => `2${JSON.stringify(['new_msg', dataAsText(env.data)])}`;

/** Bytes handed to one socket since its Engine.IO connection last drained; shared by a socket's connection objects. */
export interface Backlog {
  bytes: number;
}

/**
 * A web-msg-sender Socket.IO client. Before `login` it is anonymous (user ''), receiving broadcasts only, as the
 * original's sockets do; after login a new SocketIoConnection with the uid replaces it in the hub.
 */
export class SocketIoConnection implements Connection {
  readonly transport = 'socketio';
  readonly channels = new Set<string>();
  private closed = false;

  constructor(
    readonly id: string,
    readonly user: string,
    private readonly socket: Socket,
    private readonly backlog: Backlog,
    private readonly maxBufferedBytes: number,
  ) {}

  deliver(d: Delivery): boolean {
    if (this.closed || !this.socket.connected) return false;
    const packet = d.as(newMsgPacket);
    this.backlog.bytes += packet.length;
    if (this.backlog.bytes > this.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer);
      return false;
    }
    this.socket.conn.write(packet);
    return true;
  }

  /** Socket.IO pages of web-msg-sender know no channels: nothing to tell them. */
  notifySubscription(): void {}

  /**
   * Herald's reconnect codes (shutdown, slow consumer, disconnect with reconnect) close the transport, so the
   * client reconnects and logs in again; final codes (kick) disconnect the socket, which the client does not retry.
   */
  close(code: number): void {
    if (this.closed) return;
    this.closed = true;
    // A slow consumer's backlog is discarded: Engine.IO would otherwise wait for it to drain before closing.
    if (isReconnectCode(code)) this.socket.conn.close(code === CloseCode.SlowConsumer);
    else this.socket.disconnect(true);
  }
}
