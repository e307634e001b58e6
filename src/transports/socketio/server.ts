import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'socket.io';
import { countError, type Context } from '../../context.ts';
import { resolveLogin } from '../common/login.ts';
import type { OriginPolicy } from '../common/origins.ts';
import { boundAddress, closeServer, createWebServer, listenOn, type TlsFiles } from '../../net/servers.ts';
import type { Transport } from '../common/transport.ts';
import { SocketIoConnection, type Backlog } from './connection.ts';
import { adaptEio3Polling, engineSessionId } from './engine-internals.ts';
import { HandshakeGuard } from './guard.ts';
import { OnlineCount } from './online-count.ts';
import { PhantomReaper } from './phantoms.ts';

/**
 * Port 2120: web-msg-sender's Socket.IO server, on the `socket.io` package (v4) with Engine.IO v3 accepted, so
 * socket.io-client 1.x/2.x (what the seed pages load) and 3.x/4.x both connect, over polling and WebSocket. EIO3
 * polling payloads are written as engine.io 1.x wrote them (eio3-payload.ts), which 1.x clients need; handshakes
 * per address, sessions that have not logged in per address and sessions whose client never came back are
 * bounded (guard.ts, phantoms.ts), each refusal counted in `errors`.
 *
 * Events: client `login` (uid, or a signed token, or `{token}`); server `new_msg` (one string per message) and
 * `update_online_count` (the original HTML string, on login and each interval when a count changed). A refused
 * login gets `login_error` `{code, message}` (and the ack, when the client passed one); the socket stays connected.
 */
export function createSocketIoTransport(ctx: Context, origins: OriginPolicy, tls: TlsFiles | undefined): Transport {
  const cfg = ctx.config.compat;
  const maxBuffered = ctx.config.limits.maxBufferedBytes;
  let anonymous = 0;
  let stopping = false;
  const online = new OnlineCount(ctx.hub, () => anonymous);
  const guard = new HandshakeGuard(cfg.socketio);
  const reaper = new PhantomReaper(cfg.handshakeTimeoutMs, (socket) => {
    countError(ctx, 'socketio_phantom_session');
    ctx.log.info(
      { sid: engineSessionId(socket), remote: socket.conn.remoteAddress },
      'compat socket.io: client never came back after the handshake, session closed',
    );
    socket.conn.close(true);
  });

  const http = createWebServer(tls, cfg.handshakeTimeoutMs, (_req, res) => {
    // Socket.IO answers its own path; everything else on this port is unknown.
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not Found\n');
  });
  http.on('error', (err) => ctx.log.error({ err }, 'compat socket.io port error'));

  // Loaded here, when the Socket.IO port is configured, not when Herald starts: the library costs ~15 MB of RSS.
  const { Server: SocketIoServer } = createRequire(import.meta.url)('socket.io') as typeof import('socket.io');
  const io = new SocketIoServer(http, {
    path: cfg.socketio.path,
    allowEIO3: true,
    serveClient: false,
    perMessageDeflate: false,
    maxHttpBufferSize: cfg.maxClientMessageBytes,
    connectTimeout: cfg.handshakeTimeoutMs,
    // A refused origin gets no Access-Control-Allow-Origin header (the cors module omits it) ...
    cors: { origin: (origin, cb) => cb(null, origin !== undefined && origins.allows(origin)), credentials: true },
    // ... and is refused outright (403), which also covers the WebSocket upgrade that CORS does not protect.
    allowRequest: (req, cb) => {
      // Once stopping, a page that was told to reconnect must not come back to this process.
      if (stopping) return cb('server shutting down', false);
      if (!origins.admits(req.headers.origin)) {
        ctx.log.info({ origin: req.headers.origin }, 'compat socket.io: origin not allowed');
        return cb('origin not allowed', false);
      }
      // One 403 with a JSON body naming the bound: clients of every version back off and retry, never loop.
      const remote = req.socket.remoteAddress ?? '';
      const refusal = guard.admit(remote);
      if (refusal === undefined) return cb(null, true);
      countError(ctx, `socketio_${refusal}`);
      ctx.log.info({ remote, refusal }, 'compat socket.io: handshake refused');
      const { maxHandshakesPerAddress, handshakeWindowMs, maxAnonymousPerAddress } = cfg.socketio;
      cb(
        refusal === 'handshake_rate'
          ? `too many Socket.IO handshakes from this address (more than ${maxHandshakesPerAddress} in ${handshakeWindowMs} ms)`
          : `too many Socket.IO sessions without login from this address (${maxAnonymousPerAddress})`,
        false,
      );
    },
  });
  if (!adaptEio3Polling(io.engine)) ctx.log.warn('compat socket.io: Engine.IO hook not found; socket.io-client 1.x cannot read polling answers');
  io.engine.on('headers', (_headers: unknown, req: IncomingMessage) => reaper.sawRequest(req));
  io.engine.on('connection_error', (err: { code: number; message: string }) => {
    ctx.log.debug({ code: err.code, err: err.message }, 'compat socket.io connection error');
  });

  io.on('connection', (socket: Socket) => {
    const backlog: Backlog = { bytes: 0 };
    socket.conn.on('drain', () => {
      backlog.bytes = 0;
    });
    reaper.watch(socket);
    // Counted for the guard until it logs in or closes, whether or not it sits in the hub as anonymous.
    const remote = socket.conn.remoteAddress;
    let unauthenticated = true;
    guard.anonymous(remote, 1);
    const authenticated = (): void => {
      if (!unauthenticated) return;
      unauthenticated = false;
      guard.anonymous(remote, -1);
    };
    // Sockets that have not logged in receive broadcasts, as in the original (not when tokens are required).
    let anon: SocketIoConnection | undefined;
    if (!cfg.requireToken) {
      anon = new SocketIoConnection(ctx.nextSessionId(), '', socket, backlog, maxBuffered);
      ctx.hub.add(anon);
      anonymous++;
    }
    let conn: SocketIoConnection | undefined;
    let loggingIn = false;
    const dropAnon = (): void => {
      if (anon === undefined) return;
      ctx.hub.remove(anon);
      anonymous--;
      anon = undefined;
    };

    socket.on('login', (...args: unknown[]) => {
      ctx.stats.framesIn++;
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: unknown) => void) : undefined;
      // As in the original, a second login on the same socket is ignored.
      if (conn !== undefined || loggingIn) return;
      loggingIn = true;
      resolveLogin(ctx.tokens, args[0], cfg.requireToken)
        .then((res) => {
          loggingIn = false;
          if (!socket.connected) return;
          if (!res.ok) {
            countError(ctx, res.code);
            ctx.log.info({ code: res.code, sid: socket.id }, `compat socket.io login refused: ${res.message}`);
            const error = { code: res.code, message: res.message };
            socket.emit('login_error', error);
            ack?.({ ok: false, error });
            return;
          }
          const id = anon?.id ?? ctx.nextSessionId();
          dropAnon();
          authenticated();
          conn = new SocketIoConnection(id, res.user, socket, backlog, maxBuffered);
          ctx.hub.add(conn);
          socket.emit('update_online_count', online.text());
          ack?.({ ok: true, uid: res.user });
        })
        .catch((err: unknown) => {
          loggingIn = false;
          ctx.log.error({ err }, 'compat socket.io login failed');
        });
    });

    socket.on('disconnect', () => {
      dropAnon();
      authenticated();
      if (conn === undefined) return;
      ctx.hub.remove(conn);
    });
    socket.on('error', (err: Error) => ctx.log.debug({ err: err.message }, 'compat socket.io socket error'));
  });

  const timer = setInterval(() => {
    const text = online.changed();
    if (text !== undefined) io.emit('update_online_count', text);
  }, cfg.onlineCountIntervalMs);
  timer.unref();

  let closed: Promise<void> | undefined;
  return {
    name: 'socketio',
    listen: () => listenOn(http, cfg.socketio.port, cfg.socketio.host),
    address: () => boundAddress(http, cfg.socketio.host, cfg.socketio.port),
    stop() {
      stopping = true;
      clearInterval(timer);
      guard.close();
      closed = closeServer(http);
      http.closeIdleConnections();
    },
    drain() {
      // Ends every session at the Engine.IO level: clients see a transport close and reconnect (elsewhere, since
      // this process refuses handshakes now). A Socket.IO disconnect would tell them not to reconnect at all.
      io.engine.close();
      http.closeIdleConnections();
      return Promise.resolve(io.engine.clientsCount);
    },
    async close() {
      http.closeAllConnections();
      // Not earlier: it waits for the HTTP server to close, which waits for every connection to end.
      await io.close();
      await (closed ?? closeServer(http));
    },
  };
}
