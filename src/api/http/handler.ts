import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { ApiKeyCheck } from '../../auth/api-key.ts';
import type { Context } from '../../context.ts';
import { isValidUser } from '../../domain/streams.ts';
import { ECHO_FILE, PUBLIC_DIR, SDK_FILE } from '../../paths.ts';
import { ErrorCode } from '../../protocol/codes.ts';
import { ApiError, errorHeaders, failureOf, unauthorized } from '../errors.ts';
import type { Operations } from '../operations.ts';
import { bodyObject, readJson } from './body.ts';
import { matchRoute } from './routes.ts';
import type { Metrics } from '../../observability/metrics.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export interface HttpDeps {
  ctx: Context;
  ops: Operations;
  apiKey: ApiKeyCheck;
  metrics: Metrics;
  /** The dev demo's backend (`/demo/*`), when enabled; mounted by the composition root, not known here. */
  demo?: MountedRoutes;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Requests under a path prefix handed to another part of the application as they are. */
export interface MountedRoutes {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

export function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || (addr?.startsWith('127.') ?? false);
}

export function createHttpHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { ctx, ops, apiKey, metrics } = deps;

  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    // A client that hung up mid-request is not a server fault: keep it out of the internal-error count.
    if (!(err instanceof ApiError) && (req.destroyed || res.destroyed)) {
      ctx.log.debug({ err: (err as Error).message }, 'client went away during a request');
      return;
    }
    const e = failureOf(ctx, err, 'http handler failed');
    if (!res.headersSent) sendJson(res, e.status, e.toJSON(), errorHeaders(e));
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (!apiKey.matchesHeader(req.headers.authorization)) {
      req.resume();
      throw unauthorized();
    }
    const m = matchRoute(req.method ?? 'GET', url.pathname);
    if (m.route === undefined) {
      req.resume();
      if (m.allowed.length > 0) {
        throw new ApiError(405, ErrorCode.MethodNotAllowed, `use ${m.allowed.join(' or ')} for ${url.pathname}`, m.allowed.join(', '));
      }
      throw new ApiError(404, ErrorCode.NotFound, `no API endpoint ${url.pathname}`);
    }
    let input: Record<string, unknown>;
    if (m.route.method === 'POST') {
      input = { ...bodyObject(await readJson(req, ctx.config.limits.maxBodyBytes)), ...m.params };
    } else {
      input = { ...Object.fromEntries(url.searchParams), ...m.params };
    }
    const result = await ops[m.route.op](input);
    sendJson(res, 200, result);
  };

  const devToken = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (!ctx.config.dev) throw new ApiError(404, ErrorCode.NotFound, 'dev tokens are only served in dev mode (--dev)');
    if (!isLoopback(req.socket.remoteAddress)) throw new ApiError(403, ErrorCode.Forbidden, 'dev tokens are only served to loopback clients');
    const user = url.searchParams.get('user') ?? '';
    if (!isValidUser(user)) throw new ApiError(400, ErrorCode.BadRequest, 'user must be a non-empty id');
    const channels = (url.searchParams.get('channels') ?? '*').split(',').filter(Boolean);
    sendJson(res, 200, { token: await ctx.tokens.sign(user, { channels, ttlSeconds: 3600 }), user, expiresIn: 3600 });
  };

  const file = async (res: ServerResponse, path: string, cache: string, crossOrigin = false): Promise<void> => {
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      throw new ApiError(404, ErrorCode.NotFound, 'not found');
    }
    const headers: Record<string, string | number> = {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': cache,
    };
    // The SDKs are public code that pages of other origins load as modules, which browsers fetch with CORS.
    if (crossOrigin) headers['access-control-allow-origin'] = '*';
    res.writeHead(200, headers);
    res.end(body);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://herald');
    const p = url.pathname;
    if (p === '/api' || p.startsWith('/api/')) return api(req, res, url);
    if (deps.demo !== undefined && p.startsWith('/demo/')) return deps.demo.handle(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      throw new ApiError(405, ErrorCode.MethodNotAllowed, `${req.method ?? ''} is not allowed on ${p}`, 'GET, HEAD');
    }
    if (p === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (p === '/metrics') {
      const text = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return;
    }
    if (p === '/dev/token') return devToken(req, res, url);
    if (p === '/sdk/herald.js') return file(res, SDK_FILE, 'no-cache', true);
    if (p === '/sdk/herald-echo.js') return file(res, ECHO_FILE, 'no-cache', true);
    const rel = normalize(p === '/' ? '/index.html' : p === '/admin' || p === '/admin/' ? '/admin.html' : p);
    const full = join(PUBLIC_DIR, rel);
    if (!full.startsWith(PUBLIC_DIR + sep)) throw new ApiError(404, ErrorCode.NotFound, 'not found');
    return file(res, full, 'no-cache');
  };

  return (req, res) => {
    route(req, res).catch((err: unknown) => fail(req, res, err));
  };
}
