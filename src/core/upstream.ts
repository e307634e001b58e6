import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/codes.ts';
import type { Hub } from './hub.ts';

export interface UpstreamOptions {
  url?: string;
  secret: string;
  timeoutMs: number;
  events: readonly ('connect' | 'disconnect')[];
}

export class UpstreamError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ConnectionInfo {
  session: string;
  user: string;
  transport: string;
}

/** Signs a webhook body: hex HMAC-SHA256 over `<timestamp>.<body>`, so a captured request cannot be replayed later. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The backend webhook: client `send` frames go up as signed HTTP POSTs and the backend's JSON reply comes back to
 * that client; connect / disconnect events are posted when configured.
 */
export class Upstream {
  constructor(
    private readonly opts: UpstreamOptions,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.opts.url !== undefined;
  }

  /** Posts an upstream message and returns the backend's reply as serialized JSON. */
  async send(conn: ConnectionInfo, data: unknown, event: string | undefined): Promise<string> {
    const { status, text } = await this.exchange(JSON.stringify({ type: 'message', ...conn, event, data, time: Date.now() }));
    if (status < 200 || status > 299) throw new UpstreamError(ErrorCode.UpstreamFailed, `backend answered HTTP ${status}`);
    if (text.trim() === '') return 'null';
    try {
      // Re-serialize so a reply can never break the frame it is embedded in.
      return JSON.stringify(JSON.parse(text));
    } catch {
      throw new UpstreamError(ErrorCode.UpstreamFailed, 'backend reply is not JSON');
    }
  }

  /**
   * Posts an event body (serialized JSON) signed as every webhook call, and returns the backend's status and reply
   * text as they are, whatever the status: for transports whose clients get the reply verbatim. Throws
   * `UpstreamError` when there is no webhook, it is unreachable, or it does not answer within `timeoutMs`.
   */
  async exchange(body: string): Promise<{ status: number; text: string }> {
    if (this.opts.url === undefined) throw new UpstreamError(ErrorCode.NoUpstream, 'no webhook is configured for upstream messages');
    try {
      const res = await this.post(body);
      return { status: res.status, text: await res.text() };
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new UpstreamError(
        timedOut ? ErrorCode.UpstreamTimeout : ErrorCode.UpstreamFailed,
        timedOut ? `backend did not answer within ${this.opts.timeoutMs} ms` : 'backend unreachable',
      );
    }
  }

  /** In-process observers of connection lifecycle events (the dev demo's presence); called whether or not a webhook is set. */
  readonly lifecycle = new Set<(kind: 'connect' | 'disconnect', conn: ConnectionInfo) => void>();

  /** Fire-and-forget lifecycle event; failures are logged, never surfaced to clients. */
  event(kind: 'connect' | 'disconnect', conn: ConnectionInfo, extra: Record<string, unknown> = {}): void {
    for (const fn of this.lifecycle) fn(kind, conn);
    if (this.opts.url === undefined || !this.opts.events.includes(kind)) return;
    const body = JSON.stringify({ type: kind, ...conn, ...extra, time: Date.now() });
    this.post(body)
      .then(async (res) => {
        await res.arrayBuffer();
        if (!res.ok) this.log.warn({ kind, status: res.status }, 'webhook event rejected by backend');
      })
      .catch((err: Error) => this.log.warn({ kind, err: err.message }, 'webhook event failed'));
  }

  private post(body: string): Promise<Response> {
    const ts = String(Math.floor(Date.now() / 1000));
    return fetch(this.opts.url!, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-herald-timestamp': ts,
        'x-herald-signature': signWebhook(this.opts.secret, ts, body),
      },
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
  }
}

/**
 * The `connect` and `disconnect` webhook events of every transport, posted from the hub's observer, so a transport
 * only adds its connections to the hub. Connections without a user yet (a Socket.IO page before its login) are not
 * announced: their login is the connect.
 */
export function announceConnections(hub: Hub, upstream: Upstream): void {
  hub.observe({
    connected: (c) => c.user !== '' && upstream.event('connect', { session: c.id, user: c.user, transport: c.transport }),
    disconnected: (c) => c.user !== '' && upstream.event('disconnect', { session: c.id, user: c.user, transport: c.transport }),
  });
}
