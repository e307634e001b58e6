import { listenOn } from './listen.ts';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { ConfigError } from '../config.ts';
import type { CompatConfig } from '../config/compat.ts';

/** What every compat listener offers the composition in ./index.ts. */
export interface CompatListener {
  listen(): Promise<void>;
  /** Host and real port (after listen; port 0 resolves to the one the OS chose). */
  address(): { host: string; port: number };
  /** Stops accepting and closes this listener's connections. */
  close(): Promise<void>;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Reads compat.tls.cert / key (PEM) once at startup; a missing file is a configuration error. */
export function loadTls(cfg: CompatConfig): TlsFiles | undefined {
  const { cert, key } = cfg.tls;
  if (cert === undefined || key === undefined) return undefined;
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`compat.tls.${what}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: read('cert', cert), key: read('key', key) };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An HTTP or HTTPS server whose handshakes are bounded: a client that never finishes its request headers (or its
 * TLS handshake) is dropped after `handshakeTimeoutMs`, without affecting anyone else.
 */
export function createWebServer(tls: TlsFiles | undefined, handshakeTimeoutMs: number, handler: Handler): HttpServer {
  const opts = {
    headersTimeout: handshakeTimeoutMs,
    requestTimeout: Math.max(handshakeTimeoutMs, 30_000),
    connectionsCheckingInterval: Math.min(1000, handshakeTimeoutMs),
  };
  const server =
    tls === undefined
      ? createHttpServer(opts, handler)
      : createHttpsServer({ ...opts, cert: tls.cert, key: tls.key, handshakeTimeout: handshakeTimeoutMs }, handler);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

export { listenOn };

export function boundAddress(server: NetServer, host: string, configuredPort: number): { host: string; port: number } {
  const a = server.address() as AddressInfo | null;
  return { host, port: a?.port ?? configuredPort };
}

/** Resolves once the server stopped listening (immediately when it never listened). */
export function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
