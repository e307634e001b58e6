import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { countError, type Context } from '../../context.ts';
import { resolveLogin, type LoginErrorCode } from '../common/login.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { RawUidConnection } from './connection.ts';

export interface RawUidOptions {
  requireToken: boolean;
  /** Largest frame a client may send (its uid or token); larger closes that connection with 1009. */
  maxPayload: number;
  /** Time between the upgrade and the first frame. */
  loginTimeoutMs: number;
}

const LOGIN_CLOSE: Record<LoginErrorCode, [number, string]> = {
  bad_login: [1008, 'bad login'],
  invalid_uid: [1008, 'invalid uid'],
  token_required: [1008, 'token required'],
  invalid_token: [CloseCode.InvalidToken, 'invalid token'],
  token_expired: [CloseCode.TokenExpired, 'token expired'],
};

/**
 * The Workerman push example's websocket (`websocket://0.0.0.0:1234`): the first text frame is the uid (or a
 * signed token), later frames are ignored. Unlike the original, every connection of a uid is kept (all tabs
 * receive) and one closing does not unmap the others: the hub holds them all. Dead peers are found with
 * WebSocket ping frames, which browsers answer by themselves.
 */
export class RawUidEndpoint {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Map<WebSocket, { alive: boolean; conn?: RawUidConnection }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: Context,
    private readonly opts: RawUidOptions,
  ) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: opts.maxPayload, clientTracking: false });
    this.timer = setInterval(() => this.heartbeat(), ctx.config.heartbeatMs);
    this.timer.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, socket));
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Stops the heartbeat and closes every connection (graceful shutdown). */
  closeAll(code: number, reason: string): void {
    clearInterval(this.timer);
    for (const [ws, s] of this.sockets) {
      if (s.conn !== undefined) s.conn.close(code, reason);
      else ws.close(code, reason);
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  private onOpen(ws: WebSocket, socket: Duplex): void {
    const { ctx } = this;
    const state: { alive: boolean; conn?: RawUidConnection } = { alive: true };
    this.sockets.set(ws, state);
    let loggingIn = false;
    const loginTimer = setTimeout(() => {
      if (!loggingIn) ws.close(1008, 'no uid in time');
    }, this.opts.loginTimeoutMs);

    ws.on('message', (raw: RawData, isBinary: boolean) => {
      ctx.stats.framesIn++;
      state.alive = true;
      // As in the original, only the first frame means something: later ones are ignored.
      if (loggingIn) return;
      loggingIn = true;
      clearTimeout(loginTimer);
      if (isBinary) {
        countError(ctx, 'bad_login');
        ctx.log.debug('compat websocket: binary first frame refused');
        ws.close(1003, 'first frame must be the uid as text');
        return;
      }
      const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)]).toString('utf8');
      resolveLogin(ctx.tokens, text, this.opts.requireToken).then(
        (res) => {
          if (ws.readyState !== ws.OPEN) return;
          if (!res.ok) {
            countError(ctx, res.code);
            ctx.log.info({ code: res.code }, `compat websocket login refused: ${res.message}`);
            const [code, reason] = LOGIN_CLOSE[res.code];
            ws.close(code, reason);
            return;
          }
          const conn = new RawUidConnection(ctx.nextSessionId(), res.user, ws, socket, ctx.config.limits.maxBufferedBytes);
          state.conn = conn;
          ctx.hub.add(conn);
        },
        (err: unknown) => {
          ctx.log.error({ err }, 'compat websocket login failed');
          ws.close(1011, 'internal error');
        },
      );
    });
    ws.on('pong', () => {
      state.alive = true;
    });
    ws.on('error', (err) => ctx.log.debug({ err: err.message }, 'compat websocket error'));
    ws.on('close', () => {
      clearTimeout(loginTimer);
      this.sockets.delete(ws);
      const conn = state.conn;
      if (conn === undefined) return;
      ctx.hub.remove(conn);
    });
  }

  /** One timer for all: a socket that answered nothing since the last round is dead; the others get a ping. */
  private heartbeat(): void {
    for (const [ws, s] of this.sockets) {
      if (!s.alive) {
        ws.terminate();
        continue;
      }
      s.alive = false;
      try {
        ws.ping();
      } catch {
        // not open (closing): the close event cleans up
      }
    }
  }
}
