import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import { parseGatewayListen } from '../../config/gateway.ts';
import { completeHandshake, WS_PACKAGE_HANDSHAKE } from '../../net/websocket/handshake.ts';
import { boundAddress, closeServer, createWebServer, listenOn } from '../../net/servers.ts';
import { OpenConnections } from '../common/open-connections.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';
import { GatewayTextConnection } from './text-connection.ts';
import { clientAddress, type GatewayConn, type GatewayEvents, type GatewayHost } from './types.ts';
import { upgradeData } from './upgrade-data.ts';
import { GatewayWsConnection } from './ws-connection.ts';

const NO_WORKER_RESPONSE = 'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n';

/**
 * The GatewayWorker client listener (`gateway.listen`: `websocket://` or `text://`), on a port of its own. Every
 * client event goes to the gateway through `GatewayEvents`; one timer runs the heartbeat of all clients (§11.2).
 */
export function createGatewayTransport(ctx: Context, events: GatewayEvents): Transport {
  const cfg = ctx.config.gateway;
  const where = parseGatewayListen(cfg.listen);
  const host: GatewayHost = { events, maxPayload: cfg.maxMessageBytes, maxBufferedBytes: ctx.config.limits.maxBufferedBytes };
  const conns = new OpenConnections<GatewayConn>();
  let stopping = false;
  let noWorkerLogged = 0;

  const refuseNoWorker = (): void => {
    // Logged at most once a minute: a client page reconnecting in a loop would fill the log.
    const now = Date.now();
    if (now - noWorkerLogged > 60_000) {
      noWorkerLogged = now;
      ctx.log.warn('gateway: a client connected while no BusinessWorker is linked; refused, as the original drops it');
    }
  };

  const admit = (conn: GatewayConn): void => {
    conns.add(conn);
    events.opened(conn);
  };
  // The connections report their close through the transport, which forgets them after the gateway's
  // bookkeeping (ON_CLOSE sent, hub updated), so a drain ends only once that is done.
  const relay: GatewayEvents = {
    canAccept: () => events.canAccept(),
    opened: (c) => events.opened(c),
    websocketConnect: (c, b) => events.websocketConnect(c, b),
    message: (c, d) => events.message(c, d),
    closed: (c) => {
      events.closed(c);
      conns.delete(c);
    },
    listening: (p) => events.listening(p),
  };
  const connHost: GatewayHost = { ...host, events: relay };

  let server: NetServer;
  if (where.protocol === 'websocket') {
    const web = createWebServer(undefined, ctx.config.compat.handshakeTimeoutMs, (_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end('Bad Request: this port speaks WebSocket only\n');
    });
    web.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      socket.on('error', destroySelf);
      if (stopping) return void socket.end(STOPPING_RESPONSE);
      if (!events.canAccept()) {
        refuseNoWorker();
        return void socket.end(NO_WORKER_RESPONSE);
      }
      if (!completeHandshake(req, socket, WS_PACKAGE_HANDSHAKE)) return;
      socket.off('error', destroySelf);
      const s = socket as Partial<Socket>;
      const conn = new GatewayWsConnection(connHost, socket, clientAddress(s.remoteAddress), s.remotePort ?? 0);
      // ON_CONNECT, then ON_WEBSOCKET_CONNECT, in this turn: nothing a worker answers can come before the 101.
      admit(conn);
      events.websocketConnect(conn, upgradeData(req));
      conn.start(head);
    });
    server = web;
  } else {
    server = createNetServer({ noDelay: true }, (socket) => {
      if (stopping) return void socket.destroy();
      if (!events.canAccept()) {
        refuseNoWorker();
        return void socket.destroy();
      }
      const conn = new GatewayTextConnection(connHost, socket, clientAddress(socket.remoteAddress));
      conn.start();
      admit(conn);
    });
  }
  server.on('error', (err) => ctx.log.error({ err }, 'gateway client listener error'));

  // §11.2: with a limit L, ticks come every interval / 2 and a client silent for 2L ticks is dropped; pingData goes
  // to idle clients on every tick (L = 0) or every other tick (L > 0), never on the first tick after a message.
  const limit = cfg.pingNotResponseLimit;
  const tickMs = limit > 0 ? (cfg.pingInterval * 1000) / 2 : cfg.pingInterval * 1000;
  const pingData = Buffer.from(cfg.pingData);
  const tick = (): void => {
    for (const c of conns) {
      if (limit > 0 && c.pingCount >= 2 * limit) {
        c.destroy();
        continue;
      }
      c.pingCount++;
      if (pingData.length > 0 && !(c.pingCount === 0 || (limit > 0 && c.pingCount % 2 === 1))) c.send(pingData, false);
    }
  };
  const timer = tickMs > 0 ? setInterval(tick, tickMs) : undefined;
  timer?.unref();

  let closed: Promise<void> | undefined;
  return {
    name: 'gateway',
    async listen() {
      await listenOn(server, where.port, where.host);
      events.listening(boundAddress(server, where.host, where.port).port);
    },
    address: () => boundAddress(server, where.host, where.port),
    stop() {
      stopping = true;
      closed = closeServer(server);
      if ('closeIdleConnections' in server) (server as ReturnType<typeof createWebServer>).closeIdleConnections();
    },
    // The original's clients just lose their connection when a gateway stops; WebSocket clients get 1001 here.
    drain(timeoutMs) {
      for (const c of conns) c.close(1001, 'server shutting down');
      return conns.drained(timeoutMs);
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      for (const c of conns) c.destroy();
      if ('closeAllConnections' in server) (server as ReturnType<typeof createWebServer>).closeAllConnections();
      await (closed ?? closeServer(server));
    },
  };
}

function destroySelf(this: Duplex): void {
  this.destroy();
}
