import type { Duplex } from 'node:stream';
import type { Context } from '../context.ts';
import { RawUidEndpoint } from '../transports/raw-uid/endpoint.ts';
import type { OriginPolicy } from '../transports/common/origins.ts';
import { boundAddress, closeServer, createWebServer, listenOn, type CompatListener, type TlsFiles } from '../net/servers.ts';

/**
 * Port 1234: the Workerman push example's websocket. Any path upgrades (Workerman ignores the path); a plain HTTP
 * request gets 400, as Workerman answers a bad handshake; a browser Origin off the allowlist gets 403.
 */
export function createWebsocketPort(ctx: Context, origins: OriginPolicy, tls: TlsFiles | undefined): CompatListener & { endpoint: RawUidEndpoint } {
  const cfg = ctx.config.compat;
  const endpoint = new RawUidEndpoint(ctx, {
    requireToken: cfg.requireToken,
    maxPayload: cfg.maxClientMessageBytes,
    loginTimeoutMs: cfg.handshakeTimeoutMs,
  });
  const server = createWebServer(tls, cfg.handshakeTimeoutMs, (_req, res) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('Bad Request: this port speaks WebSocket only\n');
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', destroy);
    if (!origins.admits(req.headers.origin)) {
      ctx.log.info({ origin: req.headers.origin }, 'compat websocket: origin not allowed');
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    endpoint.handleUpgrade(req, socket, head);
  });
  server.on('error', (err) => ctx.log.error({ err }, 'compat websocket port error'));
  return {
    endpoint,
    listen: () => listenOn(server, cfg.websocket.port, cfg.websocket.host),
    address: () => boundAddress(server, cfg.websocket.host, cfg.websocket.port),
    async close() {
      const closed = closeServer(server);
      endpoint.closeAll(1001, 'server shutting down');
      server.closeIdleConnections();
      await closed;
    },
  };
}

// Shared by every socket: a listener per socket would be a closure per idle connection.
function destroy(this: Duplex): void {
  this.destroy();
}
