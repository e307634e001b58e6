import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpgradeRequest } from '../net/websocket/handshake.ts';
import type { Duplex } from 'node:stream';
import type { Context } from '../context.ts';
import type { TlsFiles } from '../net/servers.ts';
import { OriginPolicy } from './common/origins.ts';
import type { Address, Transport } from './common/transport.ts';
import { NativeEndpoint } from './native/endpoint.ts';
import { createPlainTransport } from './plain/transport.ts';
import { createRawUidTransport } from './raw-uid/transport.ts';
import { createSocketIoTransport } from './socketio/server.ts';
import { createGatewayTransport } from './gateway/transport.ts';
import { createPusherTransport } from './pusher/transport.ts';
import type { GatewayEvents } from './gateway/types.ts';

export interface TransportOptions {
  /** The native endpoint's upgrade path on the main port. */
  nativePath: string;
  /** The compatibility listeners' certificate, when they serve TLS. */
  tls: TlsFiles | undefined;
  /** GatewayWorker mode's gateway (src/gateway/), which the client listener hands its clients' events to. */
  gateway?: GatewayEvents;
}

/** The one place where client-facing protocols are chosen from the config (docs/architecture.md). */
export function createTransports(ctx: Context, opts: TransportOptions): Transports {
  const cfg = ctx.config.compat;
  const origins = new OriginPolicy(cfg.corsOrigins);
  const list: Transport[] = [new NativeEndpoint(ctx, opts.nativePath)];
  if (cfg.websocket.enabled) list.push(createRawUidTransport(ctx, origins, opts.tls));
  if (cfg.socketio.enabled) list.push(createSocketIoTransport(ctx, origins, opts.tls));
  if (ctx.config.swoole.enabled) list.push(createPlainTransport(ctx));
  if (ctx.config.gateway.enabled && opts.gateway !== undefined) list.push(createGatewayTransport(ctx, opts.gateway));
  if (ctx.config.pusher.apps.length > 0) list.push(createPusherTransport(ctx, ctx.config.pusher.apps));
  return new Transports(list, ctx);
}

/** Every transport of a server, started, addressed and shut down as one. */
export class Transports {
  private readonly listening: Transport[] = [];
  /** Some transport serves HTTP requests: without one, requests skip the URL parse here. */
  private readonly serves: boolean;

  constructor(
    private readonly list: readonly Transport[],
    private readonly ctx: Context,
  ) {
    this.serves = list.some((t) => t.request !== undefined);
  }

  /** Hands a main-port upgrade to the transport whose path it is; false, touching nothing, when none takes it. */
  upgrade(req: UpgradeRequest, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://herald');
    for (const t of this.list) if (t.upgrade?.(req, socket, head, url) === true) return true;
    return false;
  }

  /** Hands a main-port HTTP request to the transport whose path it is; false, touching nothing, when none takes it. */
  request(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.serves) return false;
    const url = new URL(req.url ?? '/', 'http://herald');
    for (const t of this.list) if (t.request?.(req, res, url) === true) return true;
    return false;
  }

  /** Binds every transport that has a port of its own. */
  async listen(): Promise<void> {
    for (const t of this.list) {
      if (t.listen === undefined) continue;
      await t.listen();
      this.listening.push(t);
    }
  }

  /** Where each transport with a port of its own listens, by name. */
  addresses(): Record<string, Address> {
    const out: Record<string, Address> = {};
    for (const t of this.list) if (t.address !== undefined) out[t.name] = t.address();
    return out;
  }

  /** Shutdown phase 1 for every transport: accept nothing new. */
  stop(): void {
    for (const t of this.list) t.stop();
  }

  /** Shutdown phase 2: every client told to reconnect; resolves with the connections left open per transport. */
  async drain(timeoutMs: number): Promise<Record<string, number>> {
    const left = await Promise.all(this.list.map((t) => t.drain(timeoutMs)));
    const open: Record<string, number> = {};
    this.list.forEach((t, i) => {
      if ((left[i] ?? 0) > 0) open[t.name] = left[i] ?? 0;
    });
    return open;
  }

  /** Shutdown phase 3: drop what is left, release servers and timers. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.list.map((t) => t.close()));
    for (const r of results) if (r.status === 'rejected') this.ctx.log.error({ err: r.reason as unknown }, 'transport close failed');
  }
}
