import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ConfigInput, HeraldConfig } from './config.ts';
import type { StreamResult } from './core/dispatcher.ts';
import { isValidUser, type PublishTarget } from './domain/streams.ts';
import { createHerald as compose } from './server.ts';

/**
 * Herald embedded in a Node.js application (`import { createHerald } from 'herald'`, docs/library.md). A thin
 * layer over the composition root in server.ts, which the CLI uses too: the options are the config file's shape,
 * so one set of defaults and checks serves the file, the environment, the flags and the library.
 */
export type HeraldOptions = ConfigInput & {
  /** A pino logger; default: a new one at `logLevel`. */
  logger?: Logger;
  /**
   * The application's HTTP or HTTPS server to attach to, instead of listening on `port`: Herald takes the
   * WebSocket upgrades of `path` on it, and serves the HTTP API through `handleRequest`, which the application
   * calls from its request handler.
   */
  server?: Server;
  /** The native WebSocket endpoint's path on an attached `server`; default `/ws` (Herald's own server: always `/ws`). */
  path?: string;
};

/** What `herald.publish()` takes: the body of `POST /api/publish` (docs/api.md). */
export interface PublishMessage {
  to: PublishTarget;
  /** Any JSON value; clients receive it unchanged. */
  data: unknown;
  event?: string;
  idempotencyKey?: string;
  waitMs?: number;
}

/** What `herald.publish()` resolves with: the reply of `POST /api/publish`. */
export interface PublishReply {
  /** Connections on this node the message was queued on. */
  delivered: number;
  /** One entry per stream written; with `waitMs`, each has its own receipt `status`. */
  streams: (StreamResult & { status?: 'stored' | 'delivered' })[];
  status: 'stored' | 'delivered';
  /** Set on a retry with an `idempotencyKey` already used: nothing was published again. */
  duplicate?: true;
}

export interface Herald {
  /** The resolved configuration: the options over the defaults. */
  readonly config: HeraldConfig;
  /** The key the HTTP API and the line port accept: `apiKey`, or the one in (or generated into) `<dataDir>/secrets.json`. */
  readonly apiKey: string;
  /** e.g. `http://127.0.0.1:8080`; known once listening (attached: once the application's server listens). */
  readonly url: string;
  /** The native WebSocket endpoint, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly wsUrl: string;
  /** The HTTP port: Herald's own, or the attached server's. */
  readonly port: number;
  /** The line port, or undefined when `line.enabled` is false. */
  readonly linePort: number | undefined;
  /** Starts: the store, then Herald's HTTP server (not when attached), the line port and any compat listeners. */
  listen(): Promise<void>;
  /** Publishes as `POST /api/publish` does; rejects with an `ApiError` (its `code` as in docs/api.md). */
  publish(message: PublishMessage): Promise<PublishReply>;
  /**
   * A client token (HS256 JWT) for `user`, valid `ttlSeconds` (default 3600), allowing `channels` (names or `*`
   * patterns; default none: the user's own stream and broadcasts only).
   */
  token(user: string, options?: { channels?: string[]; ttlSeconds?: number }): Promise<string>;
  /** Serves `/api/*` and returns true; returns false, touching nothing, for any other path. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes a WebSocket upgrade of `path` and returns true; returns false, touching nothing, for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Graceful: clients are told to reconnect (close code 4000), then the store closes. An attached server stays open. */
  close(): Promise<void>;
}

/**
 * Options only: unlike the CLI, the library reads no `herald.json` and no `HERALD_*` variables, so what a program
 * passes is all there is (spread `loadConfig()` into the options to get the CLI's layering).
 */
export function createHerald(options: HeraldOptions = {}): Herald {
  const { logger, server, path, ...overrides } = options;
  const s = compose({
    configFile: false,
    env: {},
    overrides,
    ...(logger === undefined ? {} : { logger }),
    ...(server === undefined ? {} : { attach: { server, path: path ?? '/ws' } }),
  });
  return {
    config: s.config,
    apiKey: s.secrets.apiKey,
    get url() {
      return s.url;
    },
    get wsUrl() {
      return s.wsUrl;
    },
    get port() {
      return s.port;
    },
    get linePort() {
      return s.linePort;
    },
    listen: () => s.listen(),
    // The operation's reply is built for JSON; PublishReply is its documented shape.
    publish: (message) => s.publish(message) as Promise<PublishReply>,
    token: (user, opts = {}) => {
      if (!isValidUser(user)) return Promise.reject(new TypeError('token: user must be a non-empty id of at most 256 characters'));
      return s.context.tokens.sign(user, { ttlSeconds: opts.ttlSeconds ?? 3600, ...(opts.channels === undefined ? {} : { channels: opts.channels }) });
    },
    handleRequest: s.handleRequest,
    handleUpgrade: s.handleUpgrade,
    close: () => s.close(),
  };
}
