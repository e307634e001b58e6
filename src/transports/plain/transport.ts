import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import { boundAddress, closeServer, createWebServer, listenOn } from '../../net/servers.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';
import { PlainEndpoint } from './endpoint.ts';

/**
 * Port 9501: a Swoole WebSocket server's port (`profile: swoole`), on a port of its own. Any path upgrades (the
 * path and query go to the backend in the `open` event); a plain HTTP request gets 400.
 */
export function createPlainTransport(ctx: Context): Transport {
  const cfg = ctx.config.swoole;
  const endpoint = new PlainEndpoint(ctx, { requireToken: cfg.requireToken, maxPending: cfg.maxPending, maxPayload: cfg.maxMessageBytes });
  let stopping = false;
  const server = createWebServer(undefined, ctx.config.authTimeoutMs, (_req, res) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('Bad Request: this port speaks WebSocket only\n');
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', destroy);
    if (stopping) return void socket.end(STOPPING_RESPONSE);
    endpoint.handleUpgrade(req, socket, head);
  });
  server.on('error', (err) => ctx.log.error({ err }, 'swoole port error'));
  let closed: Promise<void> | undefined;
  return {
    name: 'swoole',
    listen: () => listenOn(server, cfg.port, cfg.host),
    address: () => boundAddress(server, cfg.host, cfg.port),
    stop() {
      stopping = true;
      endpoint.stop();
      closed = closeServer(server);
      server.closeIdleConnections();
    },
    // 1001 "going away", as a Swoole server's clients see when it stops.
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
