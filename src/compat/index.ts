import { ApiKeyCheck } from '../auth/api-key.ts';
import type { Context } from '../context.ts';
import type { Operation } from '../api/operations.ts';
import { createSocketIoPort } from '../transports/socketio/server.ts';
import type { CompatListenerName } from '../config/compat.ts';
import { OriginPolicy } from '../transports/common/origins.ts';
import { createHttpPushPort } from './push-http.ts';
import { loadTls, type CompatListener } from '../net/servers.ts';
import { createTextPort } from './text-port.ts';
import { createWebsocketPort } from './websocket-port.ts';
import { insecureDefaults } from './warnings.ts';

/** The compatibility listeners as one unit the composition root starts and stops. */
export interface CompatListeners {
  listen(): Promise<void>;
  /** Stops accepting and closes compat connections (graceful shutdown). */
  close(): Promise<void>;
  /** Where each listener ended up (port 0 in tests resolves to the real port). */
  addresses(): Record<string, { host: string; port: number }>;
}

/**
 * Builds the enabled Workerman / web-msg-sender listeners (docs/migrating-from-workerman.md). They share the
 * native hub and dispatcher: a compat client is a hub connection under its uid, a compat push is a dispatcher
 * publish, so every transport reaches and is reached by every other.
 */
export function createCompat(ctx: Context, _ops: Record<string, Operation>): CompatListeners {
  const cfg = ctx.config.compat;
  const tls = loadTls(cfg);
  const pushTls = cfg.tls.pushPorts ? tls : undefined;
  const origins = new OriginPolicy(cfg.corsOrigins);
  const secret = cfg.secret === undefined ? undefined : new ApiKeyCheck(cfg.secret);
  const listeners = new Map<CompatListenerName, CompatListener>();
  if (cfg.websocket.enabled) listeners.set('websocket', createWebsocketPort(ctx, origins, tls));
  if (cfg.text.enabled) listeners.set('text', createTextPort(ctx, secret, pushTls));
  if (cfg.socketio.enabled) listeners.set('socketio', createSocketIoPort(ctx, origins, tls));
  if (cfg.httpPush.enabled) listeners.set('httpPush', createHttpPushPort(ctx, { ctx, secret, escapeHtml: cfg.escapeHtml }, origins, pushTls));

  const started: CompatListener[] = [];
  return {
    async listen() {
      for (const l of listeners.values()) {
        await l.listen();
        started.push(l);
      }
      if (listeners.size === 0) return;
      const addresses = Object.fromEntries([...listeners].map(([name, l]) => [name, l.address()]));
      ctx.log.info({ compat: addresses, tls: tls !== undefined }, 'Workerman / web-msg-sender compatibility listeners open');
      for (const w of insecureDefaults(ctx.config)) ctx.log.warn({ compat: w.option }, w.message);
    },
    async close() {
      await Promise.all(started.splice(0).map((l) => l.close()));
    },
    addresses() {
      return Object.fromEntries([...listeners].map(([name, l]) => [name, l.address()]));
    },
  };
}
