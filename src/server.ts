import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { UpgradeRequest } from './net/websocket/handshake.ts';
import { Server as TlsServer } from 'node:tls';
import { pino, type Logger } from 'pino';
import { ApiKeyCheck } from './auth/api-key.ts';
import { createBackends } from './backends.ts';
import { listenOn } from './net/listen.ts';
import { ensureSecrets, type Secrets } from './auth/secrets.ts';
import { TokenService } from './auth/tokens.ts';
import { loadConfig, type ConfigSources, type HeraldConfig } from './config.ts';
import type { Context } from './context.ts';
import { Dispatcher } from './core/dispatcher.ts';
import { Hub } from './core/hub.ts';
import { LocalControl } from './core/control.ts';
import { Idempotency } from './core/idempotency.ts';
import { Receipts } from './core/receipts.ts';
import { announceConnections, Upstream } from './core/upstream.ts';
import { attachFastLane } from './api/http/fast-lane.ts';
import { createHttpHandler } from './api/http/handler.ts';
import { createLineServer } from './api/line/server.ts';
import { createOperations } from './api/operations.ts';
import { createPushPorts } from './compat/index.ts';
import { gatewayWarnings } from './config/gateway.ts';
import { createGateway } from './gateway/index.ts';
import { insecureDefaults } from './compat/warnings.ts';
import { swooleWarnings } from './config/swoole.ts';
import { loadTls } from './net/servers.ts';
import { createDemo, demoEnabled } from './demo/index.ts';
import { createMetrics } from './observability/metrics.ts';
import type { Address } from './transports/common/transport.ts';
import { createTransports } from './transports/registry.ts';

export interface HeraldServer {
  readonly config: HeraldConfig;
  readonly secrets: Secrets;
  readonly log: Logger;
  /** Base HTTP URL, e.g. http://127.0.0.1:8080 (valid after listen; attached: once the application's server listens). */
  readonly url: string;
  /** The native WebSocket endpoint's URL, e.g. ws://127.0.0.1:8080/ws. */
  readonly wsUrl: string;
  readonly port: number;
  /** Line port number, or undefined when disabled. */
  readonly linePort: number | undefined;
  /** The HTTP server Herald serves on: its own, or the application's it is attached to. */
  readonly http: Server;
  readonly context: Context;
  /** Where each listener with a port of its own listens, by its config key: `line`, and the compatibility ports. */
  addresses(): Record<string, Address>;
  listen(): Promise<void>;
  /** `POST /api/publish` without HTTP: the same operation, so the same validation, reply and `ApiError`s. */
  publish(message: object): Promise<unknown>;
  /**
   * Serves `/api/*` (the HTTP API) and a transport's own routes (the Pusher API's `/apps/…`, when an app is
   * configured) and returns true; returns false, touching nothing, for any other path.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes a WebSocket upgrade of the native endpoint's path and returns true; false, touching nothing, otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * Graceful, in three logged phases: stop accepting on every listener; tell every client to reconnect elsewhere
   * (4000 on /ws) and wait up to shutdownTimeoutMs for them to go; then drop what is left and close the backends.
   */
  close(): Promise<void>;
}

export interface CreateOptions extends ConfigSources {
  /** A ready logger (tests pass a silent one). */
  logger?: Logger;
  /**
   * Serve on the application's HTTP(S) server instead of a server of Herald's own (docs/library.md): Herald takes
   * the upgrades of `path` and leaves every other upgrade and request to the application, which mounts
   * `handleRequest` for the HTTP API and listens itself. Without a server of its own there is no fast lane.
   */
  attach?: { server: Server; path: string };
}

/** The composition root: config -> implementations -> listeners. */
export function createHerald(opts: CreateOptions = {}): HeraldServer {
  const config = loadConfig(opts);
  const log = opts.logger ?? pino({ level: config.logLevel, base: { service: 'herald', pid: process.pid } });
  const secrets = ensureSecrets(config);
  const nodeId = randomBytes(4).toString('hex');
  let seq = 0;

  const hub = new Hub();
  const backends = createBackends(config, hub, log, nodeId, new LocalControl(hub, config.limits.maxChannelsPerConnection));
  const { store, broker, presence } = backends;
  const dispatcher = new Dispatcher(hub, store, broker);
  const upstream = new Upstream(
    { url: config.webhook.url, secret: config.webhook.secret ?? secrets.apiKey, timeoutMs: config.webhook.timeoutMs, events: config.webhook.events },
    log,
  );
  announceConnections(hub, upstream);
  const ctx: Context = {
    config,
    hub,
    dispatcher,
    store,
    broker,
    presence,
    receipts: new Receipts(),
    idempotency: new Idempotency(store, config.idempotency.windowMs),
    tokens: new TokenService(secrets.tokenSecret),
    upstream,
    control: backends.control,
    members: backends.members,
    log,
    nextSessionId: () => `${nodeId}.${(++seq).toString(36)}`,
    stats: { framesIn: 0, errors: new Map() },
  };
  const apiKey = new ApiKeyCheck(secrets.apiKey);
  const ops = createOperations(ctx);
  const metrics = createMetrics(ctx);
  const demo = demoEnabled(ctx) ? createDemo(ctx, ops) : undefined;
  const handler = createHttpHandler({ ctx, ops, apiKey, metrics, ...(demo ? { demo } : {}) });
  const wsPath = opts.attach?.path ?? '/ws';
  const tls = loadTls(config.compat);
  const gateway = config.gateway.enabled ? createGateway(ctx) : undefined;
  const transports = createTransports(ctx, { nativePath: wsPath, tls, ...(gateway ? { gateway: gateway.events } : {}) });
  const handleUpgrade = (req: UpgradeRequest, socket: Duplex, head: Buffer): boolean => transports.upgrade(req, socket, head);
  const handleRequest = (req: IncomingMessage, res: ServerResponse): boolean => {
    // A transport's own HTTP routes first (the Pusher API's `/apps/…`, signed its own way), then `/api/*`.
    if (transports.request(req, res)) return true;
    const path = new URL(req.url ?? '/', 'http://herald').pathname;
    if (path !== '/api' && !path.startsWith('/api/')) return false;
    handler(req, res);
    return true;
  };
  const owned = opts.attach === undefined;
  const http =
    opts.attach?.server ??
    createHttpServer((req, res) => {
      if (!transports.request(req, res)) handler(req, res);
    });
  const onOwnedUpgrade = (req: UpgradeRequest, socket: Duplex, head: Buffer): void => {
    if (!handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  };
  const fastLane = owned && config.http.fastLane ? attachFastLane(http, { ctx, ops, apiKey, upgrade: onOwnedUpgrade }) : undefined;
  // Attached, the application owns the server: other upgrade paths may belong to its own WebSocket servers, so
  // they are left alone rather than answered 404, and the server's connections and 'request' event stay its own.
  const onAttachedUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => void handleUpgrade(req, socket, head);
  if (owned) {
    http.on('upgrade', onOwnedUpgrade);
    http.on('clientError', (err: Error & { code?: string }, socket) => {
      log.debug({ err: err.message }, 'bad HTTP request');
      // The statuses Node's own handler would give: a request past headersTimeout or requestTimeout is a 408 (the
      // fast lane answers the same), a head past maxHeaderSize a 431, anything else a 400.
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
  }
  const line = config.line.enabled ? createLineServer(ctx, ops, apiKey) : undefined;
  const pushPorts = createPushPorts(ctx, tls);

  let closing: Promise<void> | undefined;
  const server: HeraldServer = {
    config,
    secrets,
    log,
    http,
    context: ctx,
    addresses() {
      const out: Record<string, Address> = { ...transports.addresses(), ...pushPorts.addresses(), ...gateway?.addresses() };
      if (server.linePort !== undefined) out.line = { host: config.line.host, port: server.linePort };
      return out;
    },
    get port() {
      return (http.address() as AddressInfo | null)?.port ?? (owned ? config.port : 0);
    },
    get url() {
      // Attached, the application chose the address (and maybe TLS); config.host and config.port are not used.
      const bound = owned ? config.host : ((http.address() as AddressInfo | null)?.address ?? '127.0.0.1');
      const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;
      const scheme = http instanceof TlsServer ? 'https' : 'http';
      return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
    },
    get wsUrl() {
      return `${server.url.replace(/^http/, 'ws')}${wsPath}`;
    },
    get linePort() {
      return line ? ((line.address() as AddressInfo | null)?.port ?? config.line.port) : undefined;
    },
    async listen() {
      await backends.ready();
      await broker.start((target, env) => dispatcher.deliverFromBroker(target, env));
      if (owned) await listenOn(http, config.port, config.host);
      else http.on('upgrade', onAttachedUpgrade);
      if (line) await listenOn(line, config.line.port, config.line.host);
      // The Register and inner port first: a client that arrives before any worker could link would be refused.
      await gateway?.listen();
      await transports.listen();
      await pushPorts.listen();
      if (gateway) {
        log.info(
          { gateway: { ...gateway.addresses(), listen: transports.addresses().gateway } },
          'GatewayWorker mode: Register, inner port and client listener open',
        );
        for (const w of gatewayWarnings(config.gateway)) log.warn({ gateway: 'secret' }, w);
      }
      const { gateway: _gatewayListener, ...compat } = { ...transports.addresses(), ...pushPorts.addresses() };
      if (Object.keys(compat).length === 0) return;
      log.info({ compat, tls: tls !== undefined }, 'compatibility listeners open (Workerman / web-msg-sender / Swoole)');
      for (const w of [...insecureDefaults(config), ...swooleWarnings(config)]) log.warn({ compat: w.option }, w.message);
    },
    close() {
      closing ??= (async () => {
        if (owned) {
          http.close();
          fastLane?.closeIdle();
        } else http.off('upgrade', onAttachedUpgrade);
        line?.close();
        transports.stop();
        log.info('shutdown: no new connections accepted');
        const left = await transports.drain(config.shutdownTimeoutMs);
        if (Object.keys(left).length > 0) log.warn({ open: left }, 'shutdown timeout: dropping connections that did not close');
        else log.info('shutdown: every client told to reconnect has gone');
        await transports.close();
        await pushPorts.close();
        // After the client listener: the ON_CLOSE of every client it dropped has gone to the workers.
        await gateway?.close();
        if (owned) {
          http.closeAllConnections();
          fastLane?.closeAll();
        }
        demo?.close();
        await backends.close();
        log.info('shutdown: complete');
      })();
      return closing;
    },
    publish: (message) => ops.publish(message),
    handleRequest,
    handleUpgrade,
  };
  return server;
}
