import { ApiKeyCheck } from '../auth/api-key.ts';
import type { Context } from '../context.ts';
import type { CompatListener, TlsFiles } from '../net/servers.ts';
import { OriginPolicy } from '../transports/common/origins.ts';
import type { Address } from '../transports/common/transport.ts';
import { createHttpPushPort } from './push-http.ts';
import { createTextPort } from './text-port.ts';

/** The Workerman / web-msg-sender push ports, through which backends publish, as one unit the server starts and stops. */
export interface PushPorts {
  listen(): Promise<void>;
  /** Stops accepting and closes the ports' connections (graceful shutdown). */
  close(): Promise<void>;
  /** Where each port ended up, by its config key (port 0 in tests resolves to the real port). */
  addresses(): Record<string, Address>;
}

/**
 * Builds the enabled backend-facing ports of the Workerman profile (docs/migrating-from-workerman.md): the Text
 * port (5678) and web-msg-sender's HTTP push (2121). A push there is a dispatcher publish, so it reaches clients of
 * every transport; the profile's client-facing ports (1234, 2120) are transports (`transports/registry.ts`).
 */
export function createPushPorts(ctx: Context, tls: TlsFiles | undefined): PushPorts {
  const cfg = ctx.config.compat;
  const pushTls = cfg.tls.pushPorts ? tls : undefined;
  const secret = cfg.secret === undefined ? undefined : new ApiKeyCheck(cfg.secret);
  const ports = new Map<string, CompatListener>();
  if (cfg.text.enabled) ports.set('text', createTextPort(ctx, secret, pushTls));
  if (cfg.httpPush.enabled) {
    const origins = new OriginPolicy(cfg.corsOrigins);
    ports.set('httpPush', createHttpPushPort(ctx, { ctx, secret, escapeHtml: cfg.escapeHtml }, origins, pushTls));
  }
  const started: CompatListener[] = [];
  return {
    async listen() {
      for (const p of ports.values()) {
        await p.listen();
        started.push(p);
      }
    },
    async close() {
      await Promise.all(started.splice(0).map((p) => p.close()));
    },
    addresses() {
      return Object.fromEntries([...ports].map(([name, p]) => [name, p.address()]));
    },
  };
}
