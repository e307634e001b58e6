import type { UpgradeRequest } from '../../net/websocket/handshake.ts';
import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import { boundAddress, closeServer, createWebServer, listenOn, type TlsFiles } from '../../net/servers.ts';
import { STOPPING_RESPONSE, type Transport } from './transport.ts';

/** What a WebSocket port's endpoint does for the port's shutdown phases. */
export interface PortEndpoint {
  handleUpgrade(req: UpgradeRequest, socket: Duplex, head: Buffer): void;
  /** Shutdown phase 1, beyond refusing handshakes (optional). */
  stop?(): void;
  drain(code: number, reason: string, timeoutMs: number): Promise<number>;
  close(): void;
}

export interface WebSocketPortOptions {
  /** The transport's name: its config key. */
  name: string;
  host: string;
  port: number;
  tls: TlsFiles | undefined;
  handshakeTimeoutMs: number;
  endpoint: PortEndpoint;
  /** Checked before the endpoint sees an upgrade; false once it answered the socket itself (a refused Origin). */
  admit?(req: UpgradeRequest, socket: Duplex): boolean;
  /** The close code a drain sends (1001 "going away": what the originals' clients see when their server stops). */
  drainCode: number;
}

/**
 * A WebSocket listener on a port of its own (the compatibility ports): any path upgrades, a plain HTTP request gets
 * 400, handshakes are refused with 503 once stopping, and the shutdown phases go to the endpoint.
 */
export function createWebSocketPort(ctx: Context, o: WebSocketPortOptions): Transport {
  let stopping = false;
  const server = createWebServer(o.tls, o.handshakeTimeoutMs, (_req, res) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('Bad Request: this port speaks WebSocket only\n');
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', destroy);
    if (stopping) return void socket.end(STOPPING_RESPONSE);
    if (o.admit !== undefined && !o.admit(req, socket)) return;
    o.endpoint.handleUpgrade(req, socket, head);
  });
  server.on('error', (err) => ctx.log.error({ err }, `${o.name} port error`));
  let closed: Promise<void> | undefined;
  return {
    name: o.name,
    listen: () => listenOn(server, o.port, o.host),
    address: () => boundAddress(server, o.host, o.port),
    stop() {
      stopping = true;
      o.endpoint.stop?.();
      closed = closeServer(server);
      server.closeIdleConnections();
    },
    drain: (timeoutMs) => o.endpoint.drain(o.drainCode, 'server shutting down', timeoutMs),
    async close() {
      o.endpoint.close();
      server.closeAllConnections();
      await (closed ?? closeServer(server));
    },
  };
}

// Shared by every socket: a listener per socket would be a closure per idle connection.
function destroy(this: Duplex): void {
  this.destroy();
}
