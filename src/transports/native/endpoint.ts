import type { Duplex } from 'node:stream';
import { countError, type Context } from '../../context.ts';
import { compileChannelPatterns } from '../../domain/streams.ts';
import { CloseCode, ErrorCode } from '../../protocol/codes.ts';
import { decodeClientFrame, encodeError, encodeShutdown, encodeWelcome, PING_FRAME, type SincePosition } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { AUTH_CHECKING, AUTH_DONE, AUTH_WAITING, NativeConnection, type NativeHost } from './connection.ts';
import { handleFrame, resumeImplicitStreams, sendError } from './handlers.ts';
import { completeHandshake, type UpgradeRequest } from '../../net/websocket/handshake.ts';
import { OpenConnections } from '../common/open-connections.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';

const PING = frameText(PING_FRAME);
const SHUTDOWN_REASON = 'server shutting down';
/** Frames a client may send while its token is being checked; more is a protocol error. */
const MAX_EARLY_FRAMES = 16;

/**
 * The native protocol on /ws (docs/protocol.md). The WebSocket layer is Herald's own (net/websocket/), not `ws`,
 * to keep idle connections small; every per-connection event lands in a method of this object with the
 * connection as argument, so connections carry no callbacks of their own.
 */
export class NativeEndpoint implements NativeHost, Transport {
  readonly name = 'native';
  private readonly conns = new OpenConnections<NativeConnection>();
  /** Connections waiting for an auth frame, oldest first: one timer for all of them (`authSweep`). */
  private readonly awaitingAuth = new Set<NativeConnection>();
  private authTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;

  constructor(
    private readonly ctx: Context,
    /** The upgrade path on the main port (`/ws`, or the one given when attached to an application's server). */
    readonly path: string,
  ) {
    this.maxFrameBytes = ctx.config.limits.maxFrameBytes;
    this.maxBufferedBytes = ctx.config.limits.maxBufferedBytes;
    this.timer = setInterval(() => this.heartbeat(), ctx.config.heartbeatMs);
    this.timer.unref();
  }

  upgrade(req: UpgradeRequest, socket: Duplex, head: Buffer, url: URL): boolean {
    if (url.pathname !== this.path) return false;
    if (this.stopping) socket.end(STOPPING_RESPONSE);
    else this.handleUpgrade(req, socket, head, url);
    return true;
  }

  private handleUpgrade(req: UpgradeRequest, socket: Duplex, head: Buffer, url: URL): void {
    if (!completeHandshake(req, socket)) return;
    const conn = new NativeConnection(this, socket);
    // A token on the URL is checked before any frame is read: frames that came with the handshake are then early
    // frames, not auth attempts.
    const token = url.searchParams.get('token');
    if (token !== null) this.authenticate(conn, token, undefined);
    conn.start(head);
    if (conn.auth === AUTH_WAITING && conn.wsOpen) this.awaitAuth(conn);
  }

  get size(): number {
    return this.conns.size;
  }

  stop(): void {
    this.stopping = true;
  }

  /**
   * Tells every client, and every one still waiting for its auth frame, to reconnect (4000), each after a random
   * moment within the time this node needs to take all of them in again (`shutdown` frame; the SDK spreads its
   * return over it): the admission control of a restart, done by the clients before they arrive.
   */
  drain(timeoutMs: number): Promise<number> {
    const frame = encodeShutdown(reconnectWindowMs(this.conns.size + this.awaitingAuth.size, this.ctx.config.limits.reconnectRatePerSecond));
    for (const c of this.conns) {
      c.sendText(frame);
      c.close(CloseCode.Shutdown, SHUTDOWN_REASON);
    }
    for (const c of this.awaitingAuth) c.close(CloseCode.Shutdown, SHUTDOWN_REASON);
    return this.conns.drained(timeoutMs);
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
    for (const c of this.conns) c.terminate();
    for (const c of this.awaitingAuth) c.terminate();
    return Promise.resolve();
  }

  /** NativeHost: a complete message from a client, authenticated or not. */
  onMessage(conn: NativeConnection, data: Buffer, binary: boolean): void {
    this.ctx.stats.framesIn++;
    if (conn.auth === AUTH_DONE) return this.onFrame(conn, data, binary);
    if (conn.auth === AUTH_CHECKING) {
      const early = (conn.early ??= []);
      if (early.length < MAX_EARLY_FRAMES) early.push(data);
      else conn.close(CloseCode.ProtocolError, 'too many frames before welcome');
      return;
    }
    // Without ?token= the first frame must be {"type":"auth","token":...}.
    const decoded = decodeClientFrame(data.toString());
    if (decoded.ok && decoded.frame.type === 'auth') this.authenticate(conn, decoded.frame.token, decoded.frame.positions);
    else {
      conn.sendText(encodeError({ code: ErrorCode.NotAuthenticated, message: 'the first frame must be {"type":"auth","token":"..."}' }));
      countError(this.ctx, ErrorCode.NotAuthenticated);
    }
  }

  /** NativeHost: the connection is already closing with `code` (1002, 1007, 1009). */
  onProtocolError(conn: NativeConnection, code: number, reason: string): void {
    this.ctx.log.debug({ code, reason, session: conn.id || undefined }, 'native protocol error');
  }

  /** NativeHost: the socket is gone. */
  onClosed(conn: NativeConnection): void {
    this.awaitingAuth.delete(conn);
    if (conn.auth !== AUTH_DONE || !this.conns.has(conn)) return;
    this.ctx.hub.remove(conn);
    this.conns.delete(conn);
  }

  private authenticate(conn: NativeConnection, token: string, positions: Record<string, SincePosition> | undefined): void {
    const { ctx } = this;
    conn.auth = AUTH_CHECKING;
    this.awaitingAuth.delete(conn);
    ctx.tokens.verify(token).then(
      (res) => {
        if (!conn.wsOpen || !conn.isOpen) return;
        if (!res.ok) {
          countError(ctx, res.expired ? ErrorCode.TokenExpired : ErrorCode.InvalidToken);
          conn.close(res.expired ? CloseCode.TokenExpired : CloseCode.InvalidToken, res.expired ? 'token expired' : 'invalid token');
          return;
        }
        const { user, channels, expiresAt } = res.identity;
        // A token without channels (the common case) shares one function instead of compiling its own.
        conn.authenticated(ctx.nextSessionId(), user, expiresAt, channels.length > 0 ? compileChannelPatterns(channels) : undefined);
        this.accept(conn, positions);
        const queued = conn.early;
        conn.early = undefined;
        if (queued !== undefined) for (const raw of queued) this.onFrame(conn, raw, false);
      },
      (err: Error) => {
        ctx.log.error({ err }, 'token verification failed');
        conn.close(CloseCode.InternalError, 'internal error');
      },
    );
  }

  private accept(conn: NativeConnection, positions: Record<string, SincePosition> | undefined): void {
    const { ctx } = this;
    // Its token was being checked when the drain began: it is told to reconnect elsewhere like the others.
    if (this.stopping) return conn.close(CloseCode.Shutdown, SHUTDOWN_REASON);
    this.conns.add(conn);
    conn.sendText(encodeWelcome({ session: conn.id, user: conn.user, heartbeat: ctx.config.heartbeatMs }));
    // Registered after recovery starts holding the user's stream, so inbox replay and live messages stay in order.
    resumeImplicitStreams(ctx, conn, positions);
    ctx.hub.add(conn);
  }

  private onFrame(conn: NativeConnection, raw: Buffer, isBinary: boolean): void {
    conn.lastSeen = Date.now();
    if (isBinary) return sendError(this.ctx, conn, { code: ErrorCode.BadRequest, message: 'binary frames are not supported; send JSON text' });
    const decoded = decodeClientFrame(raw.toString());
    if (!decoded.ok) return sendError(this.ctx, conn, decoded.error);
    handleFrame(this.ctx, conn, decoded.frame);
  }

  /**
   * Without a token on the URL the client has `authTimeoutMs` to send its auth frame. Connections join
   * `awaitingAuth` in the order they open, which is the order their time runs out, so one timer for the oldest
   * serves all of them (instead of a timer per connection).
   */
  private awaitAuth(conn: NativeConnection): void {
    this.awaitingAuth.add(conn);
    if (this.authTimer === undefined) this.armAuthTimer(conn.lastSeen);
  }

  private armAuthTimer(openedAt: number): void {
    const delay = Math.max(1, openedAt + this.ctx.config.authTimeoutMs - Date.now());
    this.authTimer = setTimeout(() => this.authSweep(), delay);
    this.authTimer.unref();
  }

  private authSweep(): void {
    this.authTimer = undefined;
    const now = Date.now();
    for (const c of this.awaitingAuth) {
      if (c.lastSeen + this.ctx.config.authTimeoutMs > now) return this.armAuthTimer(c.lastSeen);
      this.awaitingAuth.delete(c);
      c.close(CloseCode.AuthTimeout, 'auth timeout');
    }
  }

  /** One timer for all connections: ping, close zombies, close expired tokens. */
  private heartbeat(): void {
    const now = Date.now();
    const deadline = now - 2 * this.ctx.config.heartbeatMs;
    for (const c of this.conns) {
      if (c.lastSeen < deadline) c.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
      else if (c.expiresAt <= now) c.close(CloseCode.TokenExpired, 'token expired');
      else c.sendFrame(PING);
    }
  }
}

/** The window a restart's clients are spread over: as many as the node takes in per second, half a second at least. */
export function reconnectWindowMs(clients: number, perSecond: number): number {
  return Math.min(120_000, Math.max(500, Math.ceil((clients / perSecond) * 1000)));
}
