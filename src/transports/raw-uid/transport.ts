import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import { boundAddress, closeServer, createWebServer, listenOn, type TlsFiles } from '../../net/servers.ts';
import type { OriginPolicy } from '../common/origins.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';
import { RawUidEndpoint } from './endpoint.ts';

/**
 * Port 1234: the Workerman push example's websocket, on a port of its own. Any path upgrades (Workerman ignores
 * the path); a plain HTTP request gets 400, as Workerman answers a bad handshake; a browser Origin off the
 * allowlist gets 403.
 */
export function createRawUidTransport(ctx: Context, origins: OriginPolicy, tls: TlsFiles | undefined): Transport {
  const cfg = ctx.config.compat;
  const endpoint = new RawUidEndpoint(ctx, {
    requireToken: cfg.requireToken,
    maxPayload: cfg.maxClientMessageBytes,
    loginTimeoutMs: cfg.handshakeTimeoutMs,
  });
  let stopping = false;
  const server = createWebServer(tls, cfg.handshakeTimeoutMs, (_req, res) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('Bad Request: this port speaks WebSocket only\n');
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', destroy);
    if (stopping) return void socket.end(STOPPING_RESPONSE);
    if (!origins.admits(req.headers.origin)) {
      ctx.log.info({ origin: req.headers.origin }, 'compat websocket: origin not allowed');
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    endpoint.handleUpgrade(req, socket, head);
  });
  server.on('error', (err) => ctx.log.error({ err }, 'compat websocket port error'));
  let closed: Promise<void> | undefined;
  return {
    name: 'websocket',
    listen: () => listenOn(server, cfg.websocket.port, cfg.websocket.host),
    address: () => boundAddress(server, cfg.websocket.host, cfg.websocket.port),
    stop() {
      stopping = true;
      closed = closeServer(server);
      server.closeIdleConnections();
    },
    // 1001 "going away", as Workerman's websocket does when its process stops.
    drain: (timeoutMs) => endpoint.drain(1001, 'server shutting down', timeoutMs),
    async close() {
      endpoint.close();
      server.closeAllConnections();
      await (closed ?? closeServer(server));
    },
  };
}

// Shared by every socket: a listener per socket would be a closure per idle connection.
function destroy(this: Duplex): void {
  this.destroy();
}
