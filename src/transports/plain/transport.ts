import type { Context } from '../../context.ts';
import type { Transport } from '../common/transport.ts';
import { createWebSocketPort } from '../common/ws-port.ts';
import { PlainEndpoint } from './endpoint.ts';

/**
 * Port 9501: a Swoole WebSocket server's port (`profile: swoole`), on a port of its own. Any path upgrades (the
 * path and query go to the backend in the `open` event); a plain HTTP request gets 400; a stop closes with 1001,
 * as a Swoole server's clients see when it stops.
 */
export function createPlainTransport(ctx: Context): Transport {
  const cfg = ctx.config.swoole;
  const endpoint = new PlainEndpoint(ctx, { requireToken: cfg.requireToken, maxPending: cfg.maxPending, maxPayload: cfg.maxMessageBytes });
  return createWebSocketPort(ctx, {
    name: 'swoole',
    host: cfg.host,
    port: cfg.port,
    tls: undefined,
    handshakeTimeoutMs: ctx.config.authTimeoutMs,
    endpoint,
    drainCode: 1001,
  });
}
