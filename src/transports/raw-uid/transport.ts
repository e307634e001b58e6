import type { Context } from '../../context.ts';
import type { TlsFiles } from '../../net/servers.ts';
import type { OriginPolicy } from '../common/origins.ts';
import type { Transport } from '../common/transport.ts';
import { createWebSocketPort } from '../common/ws-port.ts';
import { RawUidEndpoint } from './endpoint.ts';

/**
 * Port 1234: the Workerman push example's websocket, on a port of its own. Any path upgrades (Workerman ignores
 * the path); a plain HTTP request gets 400, as Workerman answers a bad handshake; a browser Origin off the
 * allowlist gets 403; a stop closes with 1001, as Workerman's websocket does when its process stops.
 */
export function createRawUidTransport(ctx: Context, origins: OriginPolicy, tls: TlsFiles | undefined): Transport {
  const cfg = ctx.config.compat;
  const endpoint = new RawUidEndpoint(ctx, {
    requireToken: cfg.requireToken,
    maxPayload: cfg.maxClientMessageBytes,
    loginTimeoutMs: cfg.handshakeTimeoutMs,
  });
  return createWebSocketPort(ctx, {
    name: 'websocket',
    host: cfg.websocket.host,
    port: cfg.websocket.port,
    tls,
    handshakeTimeoutMs: cfg.handshakeTimeoutMs,
    endpoint,
    drainCode: 1001,
    admit(req, socket) {
      if (origins.admits(req.headers.origin)) return true;
      ctx.log.info({ origin: req.headers.origin }, 'compat websocket: origin not allowed');
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return false;
    },
  });
}
