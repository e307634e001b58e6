import type { Duplex } from 'node:stream';
import { countError, type Context } from '../../context.ts';
import { resolveLogin, type LoginErrorCode, type LoginResult } from '../common/login.ts';
import { completeHandshake, WS_PACKAGE_HANDSHAKE, type UpgradeRequest } from '../../net/websocket/handshake.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { OpenConnections } from '../common/open-connections.ts';
import { LOGGED_IN, LOGIN_CHECKING, LOGIN_WAITING, RawUidConnection, type RawUidHost } from './connection.ts';

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
 *
 * Runs on Herald's WebSocket layer (net/websocket/) and accepts exactly the handshakes the `ws` server it
 * replaced did. Every per-connection event lands in a method of this object with the connection as argument, and
 * one timer each serves the heartbeat and the login deadline of all connections.
 */
export class RawUidEndpoint implements RawUidHost {
  /** Every upgraded connection, logged in or not, until its socket closes. */
  private readonly conns = new OpenConnections<RawUidConnection>();
  /** Connections that have not sent their first frame, oldest first (see `awaitLogin`). */
  private readonly awaitingLogin = new Set<RawUidConnection>();
  private loginTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;

  constructor(
    private readonly ctx: Context,
    private readonly opts: RawUidOptions,
  ) {
    this.maxPayload = opts.maxPayload;
    this.maxBufferedBytes = ctx.config.limits.maxBufferedBytes;
    this.timer = setInterval(() => this.heartbeat(), ctx.config.heartbeatMs);
    this.timer.unref();
  }

  handleUpgrade(req: UpgradeRequest, socket: Duplex, head: Buffer): void {
    if (!completeHandshake(req, socket, WS_PACKAGE_HANDSHAKE)) return;
    const conn = new RawUidConnection(this, socket);
    this.conns.add(conn);
    this.awaitLogin(conn);
    // Frames that came with the handshake are parsed now, the uid among them.
    conn.start(head);
  }

  get size(): number {
    return this.conns.size;
  }

  /** Closes every connection with `code` and resolves once all are gone, or after `timeoutMs` with how many are left. */
  drain(code: number, reason: string, timeoutMs: number): Promise<number> {
    for (const c of this.conns) c.close(code, reason);
    return this.conns.drained(timeoutMs);
  }

  /** Stops the timers and drops whatever is still open. */
  close(): void {
    clearInterval(this.timer);
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
    this.awaitingLogin.clear();
    for (const c of this.conns) c.terminate();
  }

  /** RawUidHost: a complete message. As in the original, only the first one means something. */
  onMessage(conn: RawUidConnection, data: Buffer, binary: boolean): void {
    const { ctx } = this;
    ctx.stats.framesIn++;
    if (conn.login !== LOGIN_WAITING) return;
    conn.login = LOGIN_CHECKING;
    this.awaitingLogin.delete(conn);
    if (binary) {
      countError(ctx, 'bad_login');
      ctx.log.debug('compat websocket: binary first frame refused');
      conn.refuseLogin(1003, 'first frame must be the uid as text');
      return;
    }
    resolveLogin(ctx.tokens, data.toString('utf8'), this.opts.requireToken).then(
      (res) => this.login(conn, res),
      (err: unknown) => {
        ctx.log.error({ err }, 'compat websocket login failed');
        conn.refuseLogin(1011, 'internal error');
      },
    );
  }

  /** RawUidHost: the connection is already closing with `code` (1002, 1007, 1008, 1009). */
  onProtocolError(conn: RawUidConnection, code: number, reason: string): void {
    this.ctx.log.debug({ err: reason, code, session: conn.id || undefined }, 'compat websocket error');
  }

  /** RawUidHost: the socket is gone. */
  onClosed(conn: RawUidConnection): void {
    this.awaitingLogin.delete(conn);
    if (conn.login === LOGGED_IN) this.ctx.hub.remove(conn);
    this.conns.delete(conn);
  }

  private login(conn: RawUidConnection, res: LoginResult): void {
    const { ctx } = this;
    if (!conn.wsOpen) return;
    if (!res.ok) {
      countError(ctx, res.code);
      ctx.log.info({ code: res.code }, `compat websocket login refused: ${res.message}`);
      const [code, reason] = LOGIN_CLOSE[res.code];
      conn.refuseLogin(code, reason);
      return;
    }
    conn.loggedIn(ctx.nextSessionId(), res.user);
    ctx.hub.add(conn);
  }

  /**
   * A connection has `loginTimeoutMs` to send its first frame. Connections join `awaitingLogin` in the order they
   * open, which is the order their time runs out, so one timer for the oldest serves all of them.
   */
  private awaitLogin(conn: RawUidConnection): void {
    this.awaitingLogin.add(conn);
    if (this.loginTimer === undefined) this.armLoginTimer(conn.openedAt);
  }

  private armLoginTimer(openedAt: number): void {
    const delay = Math.max(1, openedAt + this.opts.loginTimeoutMs - Date.now());
    this.loginTimer = setTimeout(() => this.loginSweep(), delay);
    this.loginTimer.unref();
  }

  private loginSweep(): void {
    this.loginTimer = undefined;
    const now = Date.now();
    for (const c of this.awaitingLogin) {
      if (c.openedAt + this.opts.loginTimeoutMs > now) return this.armLoginTimer(c.openedAt);
      this.awaitingLogin.delete(c);
      c.refuseLogin(1008, 'no uid in time');
    }
  }

  /** One timer for all: a socket that answered nothing since the last round is dead; the others get a ping. */
  private heartbeat(): void {
    for (const c of this.conns) c.beat();
  }
}
