import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ClientIdentity } from '../../auth/tokens.ts';
import { countError, type Context } from '../../core/context.ts';
import { compileChannelPatterns } from '../../core/names.ts';
import { CloseCode, ErrorCode } from '../../protocol/codes.ts';
import { decodeClientFrame, encodeError, encodeWelcome, PING_FRAME, type SincePosition } from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { NativeConnection } from './connection.ts';
import { handleFrame, resumeImplicitStreams, sendError } from './handlers.ts';

const PING = frameText(PING_FRAME);
/** Frames a client may send while its token is being checked; more is a protocol error. */
const MAX_EARLY_FRAMES = 16;

/** The native protocol on /ws (docs/protocol.md). */
export class NativeEndpoint {
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<NativeConnection>();
  private readonly timer: NodeJS.Timeout;
  private onEmpty: (() => void) | undefined;

  constructor(private readonly ctx: Context) {
    this.wss = new WebSocketServer({
      noServer: true,
      // Frames are built once and written to the raw socket, which permessage-deflate would break.
      perMessageDeflate: false,
      maxPayload: ctx.config.limits.maxFrameBytes,
      clientTracking: false,
    });
    this.timer = setInterval(() => this.heartbeat(), ctx.config.heartbeatMs);
    this.timer.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const token = url.searchParams.get('token');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, socket, token));
  }

  /** Tells every client to reconnect elsewhere (graceful shutdown). */
  closeAll(code: number, reason: string): void {
    for (const c of this.conns) c.close(code, reason);
  }

  get size(): number {
    return this.conns.size;
  }

  /** Resolves once every connection has closed, or after `timeoutMs`; returns how many were still open. */
  drained(timeoutMs: number): Promise<number> {
    if (this.conns.size === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onEmpty = undefined;
        resolve(this.conns.size);
      }, timeoutMs);
      this.onEmpty = () => {
        clearTimeout(timer);
        resolve(0);
      };
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private onOpen(ws: WebSocket, socket: Duplex, token: string | null): void {
    const { ctx } = this;
    let conn: NativeConnection | undefined;
    let early: RawData[] | undefined = [];
    let authStarted = false;

    const authenticate = (t: string, positions?: Record<string, SincePosition>): void => {
      authStarted = true;
      clearTimeout(authTimer);
      ctx.tokens.verify(t).then(
        (res) => {
          if (ws.readyState !== ws.OPEN) return;
          if (!res.ok) {
            countError(ctx, res.expired ? ErrorCode.TokenExpired : ErrorCode.InvalidToken);
            ws.close(res.expired ? CloseCode.TokenExpired : CloseCode.InvalidToken, res.expired ? 'token expired' : 'invalid token');
            return;
          }
          conn = this.accept(ws, socket, res.identity, positions);
          const queued = early ?? [];
          early = undefined;
          for (const raw of queued) this.onFrame(conn, raw);
        },
        (err: Error) => {
          ctx.log.error({ err }, 'token verification failed');
          ws.close(CloseCode.InternalError, 'internal error');
        },
      );
    };

    const authTimer = setTimeout(() => {
      if (!authStarted) ws.close(CloseCode.AuthTimeout, 'auth timeout');
    }, ctx.config.authTimeoutMs);

    ws.on('message', (raw: RawData, isBinary: boolean) => {
      ctx.stats.framesIn++;
      if (conn !== undefined) {
        this.onFrame(conn, raw, isBinary);
        return;
      }
      if (authStarted) {
        if (early !== undefined && early.length < MAX_EARLY_FRAMES) early.push(raw);
        else ws.close(CloseCode.ProtocolError, 'too many frames before welcome');
        return;
      }
      // Without ?token= the first frame must be {"type":"auth","token":...}.
      const decoded = decodeClientFrame(raw.toString());
      if (decoded.ok && decoded.frame.type === 'auth') authenticate(decoded.frame.token, decoded.frame.positions);
      else {
        ws.send(encodeError({ code: ErrorCode.NotAuthenticated, message: 'the first frame must be {"type":"auth","token":"..."}' }));
        countError(ctx, ErrorCode.NotAuthenticated);
      }
    });
    ws.on('error', (err) => ctx.log.debug({ err: err.message }, 'native socket error'));
    ws.on('close', () => {
      clearTimeout(authTimer);
      if (conn !== undefined) this.onClose(conn);
    });
    if (token !== null) authenticate(token);
  }

  private accept(ws: WebSocket, socket: Duplex, id: ClientIdentity, positions: Record<string, SincePosition> | undefined): NativeConnection {
    const { ctx } = this;
    const conn = new NativeConnection(
      ctx.nextSessionId(),
      id.user,
      id.expiresAt,
      compileChannelPatterns(id.channels),
      ws,
      socket,
      ctx.config.limits.maxBufferedBytes,
    );
    this.conns.add(conn);
    conn.sendText(encodeWelcome({ session: conn.id, user: conn.user, heartbeat: ctx.config.heartbeatMs }));
    // Registered after recovery starts holding the user's stream, so inbox replay and live messages stay in order.
    resumeImplicitStreams(ctx, conn, positions);
    ctx.hub.add(conn);
    ctx.upstream.event('connect', { session: conn.id, user: conn.user, transport: conn.transport });
    return conn;
  }

  private onClose(conn: NativeConnection): void {
    conn.markClosed();
    this.conns.delete(conn);
    this.ctx.hub.remove(conn);
    if (this.conns.size === 0) this.onEmpty?.();
    this.ctx.upstream.event('disconnect', { session: conn.id, user: conn.user, transport: conn.transport });
  }

  private onFrame(conn: NativeConnection, raw: RawData, isBinary = false): void {
    conn.lastSeen = Date.now();
    if (isBinary) return sendError(this.ctx, conn, { code: ErrorCode.BadRequest, message: 'binary frames are not supported; send JSON text' });
    const decoded = decodeClientFrame(raw.toString());
    if (!decoded.ok) return sendError(this.ctx, conn, decoded.error);
    handleFrame(this.ctx, conn, decoded.frame);
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
