import type { Socket } from 'socket.io';
import type { Connection } from '../../core/connection.ts';
import type { Delivery } from '../../core/delivery.ts';
import type { Envelope } from '../../domain/streams.ts';
import { Outbox } from '../../core/outbox.ts';
import { dataAsText } from '../common/wire.ts';
import { directSocketOf } from './engine-internals.ts';
import { CloseCode, isReconnectCode } from '../../protocol/codes.ts';
import { frameText } from '../../protocol/wsframe.ts';

/**
 * The Socket.IO packet `2["new_msg","<text>"]` (EVENT on the default namespace) for one message. Built once per
 * message through Delivery.as and written to each recipient's Engine.IO connection as is; the packet format is
 * the same for Socket.IO protocol v4 (client 2.x over Engine.IO v3) and v5 (client 3.x/4.x).
 */
export const newMsgPacket = (env: Envelope): string => `2${JSON.stringify(['new_msg', dataAsText(env.data)])}`;

/** The same packet as an Engine.IO message (`4`) in a WebSocket frame: what Engine.IO's websocket transport sends. */
const newMsgFrame = (env: Envelope): Buffer => frameText(`4${newMsgPacket(env)}`);

/** Per socket, shared by its connection objects (anonymous, then logged in). */
export interface Backlog {
  /** Bytes handed to Engine.IO since its connection last drained. */
  bytes: number;
  /** Once the transport is a WebSocket: frames go to the raw socket through this, one write per turn. */
  outbox?: Outbox | undefined;
}

/**
 * Engine.IO writes one packet per WebSocket frame per write; ten messages in a turn are ten syscalls per socket.
 * Once the connection runs on the websocket transport with nothing queued in Engine.IO (so order is kept), new_msg
 * frames go straight to the raw socket through an Outbox, as the native transport's do: coalesced per turn,
 * bounded by bytes. Engine.IO keeps its own packets (pings, acks, online counts); frames interleave whole.
 */
function directOutbox(socket: Socket, backlog: Backlog, maxBufferedBytes: number, owner: { overflow(): void }): Outbox | undefined {
  if (backlog.outbox !== undefined) return backlog.outbox;
  const raw = directSocketOf(socket);
  if (raw === undefined) return undefined;
  backlog.outbox = new Outbox(raw, maxBufferedBytes, owner);
  return backlog.outbox;
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
    public user: string,
    private readonly socket: Socket,
    private readonly backlog: Backlog,
    private readonly maxBufferedBytes: number,
  ) {}

  /** True once messages go out on the single-write path (directly to the socket under Engine.IO). */
  get writesDirect(): boolean {
    return this.backlog.outbox !== undefined;
  }

  deliver(d: Delivery): boolean {
    if (this.closed || !this.socket.connected) return false;
    const direct = directOutbox(this.socket, this.backlog, this.maxBufferedBytes, this);
    if (direct !== undefined) return direct.push(d.as(newMsgFrame));
    const packet = d.as(newMsgPacket);
    this.backlog.bytes += packet.length;
    if (this.backlog.bytes > this.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer);
      return false;
    }
    this.socket.conn.write(packet);
    return true;
  }

  /** The direct outbox passed its byte limit. */
  overflow(): void {
    this.close(CloseCode.SlowConsumer);
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
    // Frames queued in this turn go before Engine.IO's close packet; none may follow the WebSocket close frame.
    if (code !== CloseCode.SlowConsumer) this.backlog.outbox?.close();
    // A slow consumer's backlog is discarded: Engine.IO would otherwise wait for it to drain before closing.
    if (isReconnectCode(code)) this.socket.conn.close(code === CloseCode.SlowConsumer);
    else this.socket.disconnect(true);
  }
}
