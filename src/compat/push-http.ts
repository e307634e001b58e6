import { readBody } from '../api/http/body.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiKeyCheck } from '../auth/api-key.ts';
import { countError, type Context } from '../context.ts';
import { isValidUser } from '../domain/streams.ts';
import { htmlspecialchars } from './html-escape.ts';
import type { OriginPolicy } from '../transports/common/origins.ts';
import { NOT_SCALAR, requestParams, type Params } from './push-params.ts';
import { boundAddress, closeServer, createWebServer, listenOn, type CompatListener, type TlsFiles } from '../net/servers.ts';

export type PushAnswer = { status: number; body: 'ok' | 'offline' | 'fail' | 'unauthorized'; why?: string };

export interface PushDeps {
  ctx: Context;
  secret: ApiKeyCheck | undefined;
  escapeHtml: boolean;
}

/**
 * web-msg-sender's `type=publish&to=&content=` (start_io.php), minus its crashes:
 * - `type` other than `publish` (or missing): `fail`;
 * - `to` empty, missing or `"0"` (PHP-falsy): broadcast to everyone, `ok`;
 * - otherwise push to that uid: `ok` when it has a connection, `offline` when not (the message still goes to the
 *   user's stream, so the inbox keeps it);
 * - `content` escaped like PHP 8's htmlspecialchars unless compat.escapeHtml is false;
 * - array parameters (`to[]=a`, `content[]=x`), which kill the original's worker, are refused with HTTP 400 `fail`.
 */
export async function handlePush(deps: PushDeps, params: Params, authorization: string | undefined): Promise<PushAnswer> {
  const { ctx, secret } = deps;
  if (secret !== undefined) {
    const given = params.get('secret');
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')?.[1];
    const candidate = typeof given === 'string' ? given : bearer;
    if (!secret.matches(candidate)) return { status: 401, body: 'unauthorized', why: 'missing or wrong secret' };
  }
  const type = params.get('type');
  if (type === NOT_SCALAR) return { status: 400, body: 'fail', why: 'type must not be an array' };
  if (type !== 'publish') return { status: 200, body: 'fail', why: 'type is not publish' };
  const to = params.get('to');
  const content = params.get('content');
  if (to === NOT_SCALAR) return { status: 400, body: 'fail', why: 'to must be one uid, not an array' };
  if (content === NOT_SCALAR) return { status: 400, body: 'fail', why: 'content must be a string, not an array' };
  const text = content ?? '';
  const data = JSON.stringify(deps.escapeHtml ? htmlspecialchars(text) : text);
  if (to === undefined || to === '' || to === '0') {
    await ctx.dispatcher.publish({ to: { all: true }, data, event: 'new_msg' });
    return { status: 200, body: 'ok' };
  }
  // A uid nobody can log in with is never online; there is no stream to keep the message in either.
  if (!isValidUser(to)) return { status: 200, body: 'offline', why: 'to is not a valid uid' };
  // Presence is cluster-wide with Redis: a uid connected to another node is online too.
  const publishing = ctx.dispatcher.publish({ to: { user: to }, data, event: 'new_msg' });
  const online = (await ctx.presence.userConnections(to)) > 0;
  await publishing;
  return { status: 200, body: online ? 'ok' : 'offline' };
}

/**
 * Port 2121: the web-msg-sender HTTP push API. Any method, any path; parameters from the body (urlencoded,
 * multipart or JSON) when it has any, else from the query string; the body is exactly `ok`, `offline` or `fail`.
 */
export function createHttpPushPort(ctx: Context, deps: PushDeps, origins: OriginPolicy, tls: TlsFiles | undefined): CompatListener {
  const cfg = ctx.config.compat;
  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/html;charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    const cors: Record<string, string> = {};
    // Only an explicit allowlist opens this port to browser scripts; with `*` it stays as the original (no CORS headers).
    if (origin !== undefined && !origins.any) {
      if (!origins.allows(origin)) {
        req.resume();
        countError(ctx, 'forbidden');
        ctx.log.info({ origin }, 'compat http push: origin not allowed');
        return send(res, 403, 'fail', { vary: 'Origin' });
      }
      Object.assign(cors, { 'access-control-allow-origin': origin, vary: 'Origin' });
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        req.resume();
        res.writeHead(204, {
          ...cors,
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'Content-Type, Authorization',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
    }
    const body = await readBody(req, ctx.config.limits.maxBodyBytes);
    if (body === undefined) {
      countError(ctx, 'body_too_large');
      ctx.log.info({ limit: ctx.config.limits.maxBodyBytes }, 'compat http push: body too large');
      return send(res, 413, 'fail', { ...cors, connection: 'close' });
    }
    const query = (req.url ?? '').split('?').slice(1).join('?');
    const params = requestParams(query, req.headers['content-type'], body);
    const answer = await handlePush(deps, params, req.headers.authorization);
    if (answer.why !== undefined) {
      countError(ctx, answer.status === 401 ? 'unauthorized' : 'bad_request');
      const log = answer.status >= 400 ? ctx.log.info.bind(ctx.log) : ctx.log.debug.bind(ctx.log);
      log({ status: answer.status, why: answer.why }, `compat http push: ${answer.body}`);
    }
    send(res, answer.status, answer.body, cors);
  };

  const server = createWebServer(tls, cfg.handshakeTimeoutMs, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      ctx.log.error({ err }, 'compat http push failed');
      if (!res.headersSent) send(res, 500, 'fail');
    });
  });
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'));
  server.on('error', (err) => ctx.log.error({ err }, 'compat http push port error'));
  return {
    listen: () => listenOn(server, cfg.httpPush.port, cfg.httpPush.host),
    address: () => boundAddress(server, cfg.httpPush.host, cfg.httpPush.port),
    async close() {
      const closed = closeServer(server);
      server.closeAllConnections();
      await closed;
    },
  };
}
