// A server-side WebSocket over an upgraded socket (after handshake.ts answered 101): reads frames through
// FrameParser, answers pings, runs the close handshake, and tells the subclass when the socket is gone.
// It replaces `ws`'s WebSocket for every listener with the same close semantics, at a fraction of the memory
// (see codec.ts): the state is a few fields of the subclass's object (a transport's connection class extends this
// one, so a connection is one object), and the socket listeners are four functions shared by every connection,
// which find their connection through a symbol on the socket, so a connection allocates no closures.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeFrame, controlFrame, FrameParser, OP_PING, OP_PONG } from './codec.ts';

/** How long a close handshake may take before the socket is destroyed (as `ws`). */
export const CLOSE_TIMEOUT_MS = 30_000;

const kWs = Symbol('herald.ws');
type WsDuplex = Duplex & { [kWs]?: ServerWebSocket };

// Flags (one small integer instead of several boolean fields).
const CLOSE_SENT = 1;
const CLOSE_RECEIVED = 2;
/** The peer broke the protocol: after our close frame, end without waiting for theirs (as `ws`). */
const FAILED = 4;
/** The socket emitted 'close'. */
const GONE = 8;
/** The peer ended its side of the socket. */
const ENDED = 16;

/** An empty ping, as `ws`'s ping() sends: built once, written to every socket. */
const PING = controlFrame(OP_PING, Buffer.alloc(0));

export abstract class ServerWebSocket extends FrameParser {
  private flags = 0;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(protected readonly socket: Duplex) {
    super();
  }

  /** The socket is gone (either side, any reason); called once. */
  protected abstract onSocketClose(): void;

  /** Takes over the upgraded socket; `head` is what the client sent after its handshake, if anything. */
  protected attach(head: Buffer): void {
    const s = this.socket as WsDuplex;
    s[kWs] = this;
    // An upgraded socket has no listener left from the HTTP server: without one an 'error' would be thrown.
    s.on('error', onError);
    s.on('close', onClose);
    s.on('end', onEnd);
    s.on('data', onData);
    (s as Partial<Socket>).setTimeout?.(0);
    (s as Partial<Socket>).setNoDelay?.(true);
    if (head.length > 0) this.parse(head);
  }

  /** Neither side has started the close handshake and the socket is up. */
  get wsOpen(): boolean {
    return this.flags === 0 && !this.socket.destroyed;
  }

  /**
   * Starts (or completes) the close handshake: sends a close frame, then ends the socket once the peer's close
   * frame is in. A peer that does not answer within `timeoutMs` is cut off.
   */
  protected wsClose(code: number | undefined, reason: string, timeoutMs = CLOSE_TIMEOUT_MS): void {
    if ((this.flags & GONE) !== 0) return;
    if ((this.flags & CLOSE_SENT) !== 0) {
      if ((this.flags & (CLOSE_RECEIVED | FAILED)) !== 0) this.socket.end();
      return;
    }
    this.flags |= CLOSE_SENT;
    if (!this.socket.writableEnded && !this.socket.destroyed) this.socket.write(closeFrame(code, reason));
    if ((this.flags & (CLOSE_RECEIVED | FAILED)) !== 0) this.socket.end();
    // Arguments instead of a closure: nothing allocated but the timer itself.
    this.closeTimer = setTimeout(destroy, timeoutMs, this.socket);
    this.closeTimer.unref();
  }

  /** Sends an empty ping frame while open; the peer's pong arrives through `onPong`. */
  protected wsPing(): void {
    if (this.wsOpen) this.socket.write(PING);
  }

  /** Drops the connection without a close handshake (also how a shutdown ends what its drain left open). */
  terminate(): void {
    if ((this.flags & GONE) === 0) this.socket.destroy();
  }

  /** Bytes the socket may hold unsent before a pinging client is cut off (see onPing). */
  protected abstract get maxWriteBacklog(): number;

  protected override onPing(data: Buffer): void {
    // Pings are answered while open only (as `ws`); after our close frame nothing else may be sent.
    if (!this.wsOpen) return;
    // A client that pings without reading would grow our buffer without bound (`ws` caps pending pongs too).
    if (this.socket.writableLength > this.maxWriteBacklog) return this.terminate();
    this.socket.write(controlFrame(OP_PONG, data));
  }

  protected override onPong(): void {}

  protected override onCloseFrame(code: number, reason: string): void {
    this.flags |= CLOSE_RECEIVED;
    // Echo the peer's code (an empty close frame for none), or end the socket if our close frame went first.
    this.wsClose(code === 1005 ? undefined : code, reason);
  }

  /**
   * Whether the close frame that answers a protocol error carries the reason (Herald's default: it helps whoever
   * debugs a client) or only the code (as `ws` sends it).
   */
  protected get explainsProtocolErrors(): boolean {
    return true;
  }

  protected override onProtocolError(code: number, reason: string): void {
    this.flags |= FAILED;
    this.wsClose(code, this.explainsProtocolErrors ? reason : '');
  }

  /** @internal socket listener */
  receive(chunk: Buffer): void {
    this.parse(chunk);
  }

  /** @internal socket listener */
  ended(): void {
    this.flags |= ENDED;
  }

  /** @internal socket listener */
  gone(): void {
    if ((this.flags & GONE) !== 0) return;
    this.flags |= GONE;
    this.stop();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.onSocketClose();
  }
}

function destroy(socket: Duplex): void {
  socket.destroy();
}

function onData(this: WsDuplex, chunk: Buffer): void {
  this[kWs]?.receive(chunk);
}

// The HTTP server's sockets allow half-open connections: when the client ends, end our side too (as `ws`).
function onEnd(this: WsDuplex): void {
  this[kWs]?.ended();
  this.end();
}

// Socket errors (reset by peer, write after end) end the connection; 'close' follows and does the cleanup.
function onError(this: WsDuplex): void {
  this.destroy();
}

function onClose(this: WsDuplex): void {
  const ws = this[kWs];
  this[kWs] = undefined;
  ws?.gone();
}
