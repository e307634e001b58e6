import type { Duplex } from 'node:stream';
import { countError, type Context } from '../../context.ts';
import type { TokenCheck } from '../../auth/tokens.ts';
import { completeHandshake, type UpgradeRequest } from '../../net/websocket/handshake.ts';
import { CloseCode } from '../../protocol/codes.ts';
import { OpenConnections } from '../common/open-connections.ts';
import { STOPPING_RESPONSE } from '../common/transport.ts';
import { POLICY_CLOSE, PlainConnection, type PlainHost } from './connection.ts';

export interface PlainOptions {
  /** A signed token as `?token=` is required, and the connection belongs to its user. */
  requireToken: boolean;
  /**
   * Events of one connection waiting for the webhook (the one being posted included); one more message closes it,
   * as does one that would make them hold more than `limits.maxBufferedBytes`.
   */
  maxPending: number;
  /** Largest message a client may send; larger closes that connection with 1009. */
  maxPayload: number;
}

/** The handshake headers a backend has no use for; every other request header goes into the `open` event. */
const HANDSHAKE_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']);

/** At most one "webhook failed" warning per this interval: a dead backend must not flood the log. */
const FAILURE_LOG_MS = 10_000;

/**
 * A Swoole WebSocket server's port, served by Herald (docs/migrating-from-swoole.md): any client connects (or, with
 * `requireToken`, any client with a signed token), is added to the hub at once and so gets broadcasts, and the
 * backend hears of it through webhook events: `open`, every `message`, `close`. A 200 reply with a body goes back
 * to the client as one text frame. Each connection's events are posted one at a time, in order, so replies arrive
 * in the order of the messages and the backend sees open, messages and close in that order; connections do not
 * wait for each other. The chain is the connection's `events` array and one promise callback while a post is out.
 */
export class PlainEndpoint implements PlainHost {
  /** Every upgraded connection, until its socket closed and its last event was posted. */
  private readonly conns = new OpenConnections<PlainConnection>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private closed = false;
  private failures = 0;
  private lastFailureLog = 0;
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;

  constructor(
    private readonly ctx: Context,
    private readonly opts: PlainOptions,
  ) {
    this.maxPayload = opts.maxPayload;
    this.maxBufferedBytes = ctx.config.limits.maxBufferedBytes;
    this.timer = setInterval(() => this.heartbeat(), ctx.config.heartbeatMs);
    this.timer.unref();
  }

  get size(): number {
    return this.conns.size;
  }

  handleUpgrade(req: UpgradeRequest, socket: Duplex, head: Buffer): void {
    if (!this.opts.requireToken) return this.open(req, socket, head, '');
    const token = new URL(req.url ?? '/', 'http://herald').searchParams.get('token');
    if (token === null || token === '') return this.refuse(req, socket, head, 1008, 'token required');
    this.ctx.tokens.verify(token).then(
      (res) => this.checked(req, socket, head, res),
      (err: unknown) => {
        this.ctx.log.error({ err }, 'swoole: token check failed');
        this.refuse(req, socket, head, 1011, 'internal error');
      },
    );
  }

  /** Shutdown phase 1: a handshake whose token check was still running when the port stopped gets 503 too. */
  stop(): void {
    this.stopped = true;
  }

  /** Closes every connection with `code` and resolves once all are gone (their `close` events posted), or after `timeoutMs` with how many are left. */
  drain(code: number, reason: string, timeoutMs: number): Promise<number> {
    for (const c of this.conns) c.close(code, reason);
    return this.conns.drained(timeoutMs);
  }

  /** Stops the timer, drops whatever is still open, and posts nothing more. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const c of this.conns) c.terminate();
  }

  /** PlainHost: a complete message, text or binary. */
  onMessage(conn: PlainConnection, data: Buffer, binary: boolean): void {
    const { ctx } = this;
    ctx.stats.framesIn++;
    if (!conn.admitted || !conn.wsOpen || !ctx.upstream.enabled) return;
    const events = conn.events;
    if (events !== undefined && events.length >= this.opts.maxPending) return this.tooMany(conn, `${events.length} events`);
    const text = binary ? data.toString('base64') : data.toString('utf8');
    const ev = binary
      ? { type: 'message', session: conn.id, user: conn.user, transport: conn.transport, data: text, binary: true, time: Date.now() }
      : { type: 'message', session: conn.id, user: conn.user, transport: conn.transport, data: text, time: Date.now() };
    const body = JSON.stringify(ev);
    // Escaped control characters make a body up to six times its message: bound the bytes held too, as the outbox
    // bounds what waits for the client. Summed here (at most maxPending strings) rather than kept in a field.
    if (events !== undefined) {
      let held = body.length;
      for (const e of events) held += e.length;
      if (held > this.maxBufferedBytes) return this.tooMany(conn, `${held} bytes`);
    }
    this.enqueue(conn, body);
  }

  private tooMany(conn: PlainConnection, pending: string): void {
    countError(this.ctx, 'too_many_requests');
    this.ctx.log.info({ session: conn.id, pending }, 'swoole: too many messages waiting for the webhook; closing the connection');
    conn.close(POLICY_CLOSE, 'too many messages waiting for the backend');
  }

  /** PlainHost: the connection is already closing with `code` (1002, 1007, 1008, 1009). */
  onProtocolError(conn: PlainConnection, code: number, reason: string): void {
    this.ctx.log.debug({ err: reason, code, session: conn.id || undefined }, 'swoole websocket error');
  }

  /** PlainHost: the socket is gone; the connection leaves the hub now and the endpoint once its `close` is posted. */
  onClosed(conn: PlainConnection): void {
    if (conn.admitted) {
      this.ctx.hub.remove(conn);
      if (this.ctx.upstream.enabled) {
        const ev = { type: 'close', session: conn.id, user: conn.user, transport: conn.transport, code: conn.closeCode, time: Date.now() };
        this.enqueue(conn, JSON.stringify(ev));
      }
    }
    if (conn.events === undefined) this.conns.delete(conn);
  }

  private checked(req: UpgradeRequest, socket: Duplex, head: Buffer, res: TokenCheck): void {
    if (res.ok) return this.open(req, socket, head, res.identity.user);
    countError(this.ctx, res.expired ? 'token_expired' : 'invalid_token');
    this.ctx.log.info({ reason: res.reason }, 'swoole: token refused');
    if (res.expired) this.refuse(req, socket, head, CloseCode.TokenExpired, 'token expired');
    else this.refuse(req, socket, head, CloseCode.InvalidToken, 'invalid token');
  }

  private open(req: UpgradeRequest, socket: Duplex, head: Buffer, user: string): void {
    const { ctx } = this;
    if (socket.destroyed) return;
    if (this.stopped) return void socket.end(STOPPING_RESPONSE);
    if (!completeHandshake(req, socket)) return;
    const conn = new PlainConnection(this, socket);
    conn.id = ctx.nextSessionId();
    conn.user = user;
    conn.admitted = true;
    this.conns.add(conn);
    ctx.hub.add(conn);
    if (ctx.upstream.enabled) this.enqueue(conn, openEvent(conn, req));
    // Frames that came with the handshake are parsed now, after the `open` event is queued.
    conn.start(head);
  }

  /**
   * Completes the handshake and closes at once with `code`: a browser sees a close code, never an HTTP status. The
   * connection is not in the hub and posts no event.
   */
  private refuse(req: UpgradeRequest, socket: Duplex, head: Buffer, code: number, reason: string): void {
    if (socket.destroyed) return;
    if (this.stopped) return void socket.end(STOPPING_RESPONSE);
    if (!completeHandshake(req, socket)) return;
    const conn = new PlainConnection(this, socket);
    this.conns.add(conn);
    conn.start(head);
    conn.close(code, reason);
  }

  private enqueue(conn: PlainConnection, body: string): void {
    if (this.closed) return;
    if (conn.events !== undefined) {
      conn.events.push(body);
      return;
    }
    conn.events = [body];
    this.post(conn, body);
  }

  private post(conn: PlainConnection, body: string): void {
    this.ctx.upstream.exchange(body).then(
      (res) => {
        // A reply to `close` has nowhere to go; the outbox refuses once the socket is gone.
        if (res.status === 200 && res.text !== '' && !conn.socketGone) conn.reply(res.text);
        else if (res.status < 200 || res.status > 299) this.failed(conn, `backend answered HTTP ${res.status}`);
        this.next(conn);
      },
      (err: Error) => {
        this.failed(conn, err.message);
        this.next(conn);
      },
    );
  }

  /** The head event is done: post the next one, or, when none is left and the socket is gone, forget the connection. */
  private next(conn: PlainConnection): void {
    const events = conn.events;
    events?.shift();
    const body = events?.[0];
    if (body !== undefined && !this.closed) return this.post(conn, body);
    conn.events = undefined;
    if (conn.socketGone) this.conns.delete(conn);
  }

  private failed(conn: PlainConnection, err: string): void {
    countError(this.ctx, 'upstream_failed');
    this.failures++;
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_MS) return;
    this.lastFailureLog = now;
    this.ctx.log.warn({ err, session: conn.id, failures: this.failures }, 'swoole: webhook event failed (the next one of this connection is posted anyway)');
    this.failures = 0;
  }

  /** One timer for all: a socket that answered nothing since the last round is dead; the others get a ping. */
  private heartbeat(): void {
    for (const c of this.conns) c.beat();
  }
}

/** The `open` event: what a Swoole `open` handler reads from `$request` (fd, server, header). */
function openEvent(conn: PlainConnection, req: UpgradeRequest): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HANDSHAKE_HEADERS.has(k)) continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const s = req.socket;
  return JSON.stringify({
    type: 'open',
    session: conn.id,
    user: conn.user,
    transport: conn.transport,
    remote: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    headers,
    time: Date.now(),
  });
}
