import type { Duplex } from 'node:stream';
import { countError, type Context } from '../../context.ts';
import type { PusherApp } from '../../config/pusher.ts';
import { completeHandshake, type UpgradeRequest } from '../../net/websocket/handshake.ts';
import { OpenConnections } from '../common/open-connections.ts';
import { PusherConnection, type PusherHost } from './connection.ts';
import { connectionEstablished, errorFrame, frameEncoder, PING, PONG, positionedEncoder, PusherCode } from './frames.ts';
import { PusherResume, takeResume, waitForResume } from './resume.ts';
import type { Envelope } from '../../domain/streams.ts';
import { left, subscribe, unsubscribe, type PusherState } from './handlers.ts';
import { memberGone } from './presence.ts';
import { OCCUPANCY } from './occupancy.ts';
import { PusherWebhooks } from './webhooks.ts';
import { clientEvent, signin } from './user-events.ts';
import { ChannelKind, channelKind, socketIdOf, type AppNames } from './names.ts';

/** Seconds a client has to answer a server `pusher:ping` (the protocol recommends 30). */
const PONG_TIMEOUT_S = 30;
/** How long a resumable connection's subscribes wait for its `herald:resume` (at most the activity timeout). */
const RESUME_WAIT_MS = 10_000;
/** Protocol versions pusher-js has spoken (it sends 7); a missing `protocol` is taken as 7. */
const PROTOCOLS = new Set(['5', '6', '7']);

/**
 * The Pusher protocol's WebSocket side for one app: `/app/<key>` upgrades, the `connection_established`
 * handshake, the frames of §3 of the reference, and the activity check. Every per-connection event lands in a
 * method of this object with the connection as argument, and one timer serves the activity check of all
 * connections, so a connection carries no callbacks or timers of its own.
 */
export class PusherEndpoint implements PusherHost, PusherState {
  private readonly conns = new OpenConnections<PusherConnection>();
  readonly webhooks: PusherWebhooks | undefined;
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  /** This app's frames of Herald messages: one encoder per app, so each message is framed once per app. */
  readonly encode: (env: Envelope) => Buffer;
  readonly encodePositioned: (env: Envelope) => Buffer;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly ctx: Context,
    readonly app: PusherApp,
    readonly names: AppNames,
  ) {
    this.encode = frameEncoder(names);
    this.encodePositioned = positionedEncoder(names);
    this.webhooks = app.webhookUrl === undefined ? undefined : new PusherWebhooks({ key: app.key, secret: app.secret, webhookUrl: app.webhookUrl }, ctx.log);
    ctx.members.onVanished((herald, user) => this.vanished(herald, user));
    // A subscribe carries a channel name and a presence channel_data; a client event its data: room for both.
    this.maxPayload = Math.max(ctx.config.limits.maxFrameBytes, app.maxMessageBytes + 1024);
    this.maxBufferedBytes = ctx.config.limits.maxBufferedBytes;
    // Checking four times per activity timeout keeps a ping within a quarter of it of being due.
    this.timer = setInterval(() => this.sweep(), Math.max(250, (app.activityTimeout * 1000) / 4));
    this.timer.unref();
  }

  get size(): number {
    return this.conns.size;
  }

  /**
   * Completes the handshake for this app, or, with `known` false (no app has the key in the path), refuses it the
   * way pusher-js expects after it; an unsupported protocol version is refused too, and a connection over the app's
   * limit is closed with 4100, after which pusher-js retries in a second.
   */
  handleUpgrade(req: UpgradeRequest, socket: Duplex, head: Buffer, url: URL, known: boolean, resumable: boolean): void {
    if (!completeHandshake(req, socket)) return;
    const conn = new PusherConnection(this, socket);
    const protocol = url.searchParams.get('protocol');
    if (!known) return this.refuse(conn, head, PusherCode.UnknownApp, `no app with key ${url.pathname.slice(url.pathname.indexOf('/app/') + 5).slice(0, 128)}`);
    if (protocol !== null && !PROTOCOLS.has(protocol)) {
      return this.refuse(conn, head, PusherCode.UnsupportedProtocol, `unsupported protocol version ${protocol}`);
    }
    const max = this.app.maxConnections;
    if (max > 0 && this.conns.size >= max) return this.refuse(conn, head, PusherCode.OverCapacity, `over this app's limit of ${max} connections`);
    conn.id = this.ctx.nextSessionId();
    if (resumable) conn.resume = new PusherResume();
    this.conns.add(conn);
    this.ctx.hub.add(conn);
    conn.send(connectionEstablished(socketIdOf(conn.id), this.app.activityTimeout));
    conn.start(head);
  }

  /** A fatal error: `pusher:error` with the code, then a close with the same code (§9.1), as pusher-js expects. */
  private refuse(conn: PusherConnection, head: Buffer, code: number, message: string): void {
    countError(this.ctx, 'pusher_refused');
    this.ctx.log.info({ code }, `pusher connection refused: ${message}`);
    if (code >= 4100) conn.send(errorFrame(code, message));
    conn.start(head);
    conn.closePusher(code, message);
  }

  /** Shutdown: 4200, after which pusher-js reconnects at once (to another node, or to this one restarted). */
  drain(timeoutMs: number): Promise<number> {
    for (const c of this.conns) c.closePusher(PusherCode.Reconnect, 'server shutting down');
    return this.conns.drained(timeoutMs);
  }

  /** Drops what is still open; the webhooks queued meanwhile get `timeoutMs` to go out. */
  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    for (const c of this.conns) c.terminate();
    await this.webhooks?.close(timeoutMs);
  }

  /** PusherHost: one text frame, `{"event", "data", "channel"?}`. */
  onMessage(conn: PusherConnection, raw: Buffer, binary: boolean): void {
    this.ctx.stats.framesIn++;
    if (!this.conns.has(conn)) return;
    if (binary) return this.bad(conn, 'binary frames are not part of the Pusher protocol; send JSON text');
    let msg: unknown;
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      return this.bad(conn, 'the frame is not JSON');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.bad(conn, 'the frame must be a JSON object');
    const { event, data, channel } = msg as { event?: unknown; data?: unknown; channel?: unknown };
    if (typeof event !== 'string') return this.bad(conn, 'the frame has no event');
    if (conn.resume !== undefined) {
      if (event === 'herald:resume') return takeResume(this, conn, data, (r) => this.onMessage(conn, r, false));
      if (waitForResume(this, conn, raw, event)) return;
    }
    switch (event) {
      case 'pusher:ping':
        return conn.send(PONG);
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        return subscribe(this, conn, data);
      case 'pusher:unsubscribe':
        return unsubscribe(this, conn, data);
      case 'pusher:signin':
        return signin(this, conn, data);
    }
    if (event.startsWith('client-')) return clientEvent(this, conn, event, channel, data, raw.length);
    this.bad(conn, `unknown event ${event.slice(0, 64)}`);
  }

  private bad(conn: PusherConnection, message: string): void {
    countError(this.ctx, 'pusher_bad_message');
    conn.send(errorFrame(PusherCode.BadMessage, message));
  }

  /** PusherHost: the socket is gone; it leaves its channels as an unsubscribe would, after the hub forgot it. */
  onClosed(conn: PusherConnection): void {
    if (!this.conns.has(conn)) return;
    const channels = conn.channels.size === 0 ? [] : [...conn.channels];
    this.ctx.hub.remove(conn);
    this.conns.delete(conn);
    for (const herald of channels) left(this, conn, herald);
  }

  /** Members (or, with webhooks, channel sockets) whose node died: the others learn it from the node that noticed. */
  private vanished(herald: string, user: string): void {
    if (herald.startsWith(OCCUPANCY)) {
      const channel = this.names.pusher(herald.slice(OCCUPANCY.length));
      if (channel !== undefined) this.webhooks?.emit({ name: 'channel_vacated', channel });
      return;
    }
    const channel = this.names.pusher(herald);
    if (channel !== undefined && channelKind(channel) === ChannelKind.Presence) memberGone(this, herald, channel, user);
  }

  /**
   * One timer for all: a client silent for the activity timeout gets a `pusher:ping`; one still silent
   * `PONG_TIMEOUT_S` later is closed with 4201, after which pusher-js reconnects at once.
   */
  private sweep(): void {
    const now = Date.now();
    const idle = now - this.app.activityTimeout * 1000;
    const dead = idle - PONG_TIMEOUT_S * 1000;
    // A resumable client that never said `herald:resume` gets its waiting subscribes taken without positions, so a
    // hand-made client on /herald/app/<key> is not left without its channels for good.
    const unresumed = now - Math.min(RESUME_WAIT_MS, this.app.activityTimeout * 1000);
    for (const c of this.conns) {
      const r = c.resume;
      if (r?.waiting !== undefined && r.since <= unresumed) takeResume(this, c, undefined, (raw) => this.onMessage(c, raw, false));
      if (c.lastSeen > idle) continue;
      if (c.pinged && c.lastSeen <= dead) c.closePusher(PusherCode.PongTimeout, 'pong not received');
      else if (!c.pinged) {
        c.pinged = true;
        c.send(PING);
      }
    }
  }
}
