// The Pusher HTTP API on the main port (reference §10): `/apps/<id>/…`, each request signed with the app secret.
// Events become stored Herald publishes through the dispatcher, so nothing triggered is lost.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../api/http/body.ts';
import type { Context } from '../../context.ts';
import { countError } from '../../context.ts';
import type { PublishRequest } from '../../core/dispatcher.ts';
import { heraldData } from './frames.ts';
import { connectionIdOf, isCacheChannel, isSocketId, USER_CHANNEL_PREFIX } from './names.ts';
import { checkRequest } from './sign.ts';
import type { PusherEndpoint } from './endpoint.ts';
import { cacheKey, writeCache } from './cache.ts';
import { HttpFailure, PusherQueries } from './http-queries.ts';

/** Channels one event may go to (Pusher's limit; the SDKs split larger lists). */
const MAX_CHANNELS = 100;
/** Events one batch may hold (Pusher's limit). */
const MAX_BATCH = 10;
const MAX_EVENT_NAME = 200;

type Obj = Record<string, unknown>;

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // Exactly `application/json`: the SDKs parse on it, and a 200 is the only success they accept.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export class PusherHttpApi {
  private readonly ctx: Context;
  private readonly queries: PusherQueries;

  constructor(
    private readonly endpoint: PusherEndpoint,
    private readonly windowSeconds: number,
  ) {
    this.ctx = endpoint.ctx;
    this.queries = new PusherQueries(endpoint);
  }

  /** `/apps/<id>/…` for an id no app has: 404, in the API's JSON. */
  static unknownApp(ctx: Context, req: IncomingMessage, res: ServerResponse, id: string): void {
    req.resume();
    countError(ctx, 'pusher_http_404');
    send(res, 404, { error: `no app with id ${id.slice(0, 64)}` });
  }

  /** Serves a request whose path starts with `/apps/`. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.route(req, url).then(
      (body) => send(res, 200, body),
      (err: unknown) => {
        if (err instanceof HttpFailure) {
          countError(this.ctx, `pusher_http_${err.status}`);
          if (!res.headersSent) send(res, err.status, { error: err.message });
          return;
        }
        this.ctx.log.error({ err }, 'pusher HTTP API failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      },
    );
  }

  private async route(req: IncomingMessage, url: URL): Promise<unknown> {
    const app = this.endpoint.app;
    const rest = url.pathname.slice(`/apps/${app.id}/`.length);
    const method = req.method ?? 'GET';
    const body = (await readBody(req, this.ctx.config.limits.maxBodyBytes)) ?? tooLarge(this.ctx.config.limits.maxBodyBytes);
    const refused = checkRequest({ method, path: url.pathname, params: url.searchParams, body }, app.key, app.secret, this.windowSeconds, Date.now());
    if (refused !== undefined) {
      countError(this.ctx, 'pusher_signature');
      throw new HttpFailure(401, refused);
    }
    if (method === 'POST') {
      if (rest === 'events') return this.events(parseObject(body));
      if (rest === 'batch_events') return this.batch(parseObject(body));
      const user = /^users\/([^/]+)\/terminate_connections$/.exec(rest);
      if (user !== null) return this.queries.terminate(decodeSegment(user[1]!));
    }
    if (method === 'GET') {
      if (rest === 'channels') return this.queries.channels(url.searchParams);
      const ch = /^channels\/([^/]+)(\/users)?$/.exec(rest);
      if (ch !== null) return ch[2] === undefined ? this.queries.channel(decodeSegment(ch[1]!), url.searchParams) : this.queries.users(decodeSegment(ch[1]!));
    }
    throw new HttpFailure(404, `no endpoint ${method} ${url.pathname.slice(0, 200)}`);
  }

  /** `POST /apps/<id>/events`: `name`, `data`, `channels` or `channel`, optional `socket_id` and `info`. */
  private async events(b: Obj): Promise<unknown> {
    const channels = b.channels !== undefined ? b.channels : b.channel !== undefined ? [b.channel] : undefined;
    if (!Array.isArray(channels) || channels.length === 0) throw new HttpFailure(400, 'channels (or channel) is required');
    if (channels.length > MAX_CHANNELS) throw new HttpFailure(400, `at most ${MAX_CHANNELS} channels per event`);
    const reqs = this.requests(b, channels);
    await (reqs.length === 1 ? this.ctx.dispatcher.publish(reqs[0]!) : this.ctx.dispatcher.publishMany(reqs));
    await this.cache(b, channels);
    const info = infoOf(b.info);
    if (info === undefined) return {};
    const out: Obj = {};
    for (const c of channels as string[]) out[c] = await this.queries.info(c, info);
    return { channels: out };
  }

  /** `POST /apps/<id>/batch_events`: up to 10 events, each with one `channel`; stored in one append. */
  private async batch(b: Obj): Promise<unknown> {
    const list = b.batch;
    if (!Array.isArray(list) || list.length === 0) throw new HttpFailure(400, 'batch must be a non-empty array of events');
    if (list.length > MAX_BATCH) throw new HttpFailure(400, `at most ${MAX_BATCH} events per batch`);
    const events = list.map((e: unknown, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new HttpFailure(400, `batch[${i}] must be an object`);
      const ev = e as Obj;
      if (typeof ev.channel !== 'string') throw new HttpFailure(400, `batch[${i}].channel is required`);
      return ev;
    });
    await this.ctx.dispatcher.publishMany(events.flatMap((ev) => this.requests(ev, [ev.channel])));
    for (const ev of events) await this.cache(ev, [ev.channel]);
    const infos = events.map((e) => infoOf(e.info));
    if (infos.every((i) => i === undefined)) return { batch: {} };
    const out: Obj[] = [];
    for (let i = 0; i < events.length; i++) out.push(infos[i] === undefined ? {} : await this.queries.info(events[i]!.channel as string, infos[i]!));
    return { batch: out };
  }

  /** A cache channel keeps the event as its last one (§8.2), for every node (the store's remembered keys). */
  private async cache(b: Obj, channels: unknown[]): Promise<void> {
    for (const c of channels as string[]) {
      if (!isCacheChannel(c)) continue;
      const herald = this.endpoint.names.channel(c);
      if (herald !== undefined) await writeCache(this.ctx.store, cacheKey(herald), b.name as string, b.data as string, this.endpoint.app.cacheTtlSeconds);
    }
  }

  /**
   * One event, checked, as Herald publishes: one to the Herald channels of its Pusher channels, and one per
   * `#server-to-user-<id>` (the SDKs' `sendToUser`) to that Herald user, whose stream is stored like an inbox.
   */
  private requests(b: Obj, channels: unknown[]): PublishRequest[] {
    const { name, data, socket_id: socketId } = b;
    if (typeof name !== 'string' || name === '' || name.length > MAX_EVENT_NAME)
      throw new HttpFailure(400, `name must be a string of 1 to ${MAX_EVENT_NAME} characters`);
    if (typeof data !== 'string') throw new HttpFailure(400, 'data must be a string');
    if (Buffer.byteLength(data) > this.endpoint.app.maxMessageBytes) throw new HttpFailure(413, `data is over ${this.endpoint.app.maxMessageBytes} bytes`);
    let exclude: string | undefined;
    if (socketId !== undefined) {
      if (!isSocketId(socketId)) throw new HttpFailure(400, 'socket_id must look like 123.456');
      exclude = connectionIdOf(socketId);
    }
    const names = this.endpoint.names;
    const mapped: string[] = [];
    const reqs: PublishRequest[] = [];
    for (const c of channels) {
      if (typeof c === 'string' && c.startsWith(USER_CHANNEL_PREFIX)) {
        const id = c.slice(USER_CHANNEL_PREFIX.length);
        if (id === '' || id.length > 200) throw new HttpFailure(400, `invalid user channel ${JSON.stringify(c.slice(0, 240))}`);
        reqs.push({ to: { user: names.user(id) }, data: heraldData(data), event: name });
        continue;
      }
      const h = typeof c === 'string' ? names.channel(c) : undefined;
      if (h === undefined) throw new HttpFailure(400, `invalid channel name ${JSON.stringify(c)?.slice(0, 240)}`);
      mapped.push(h);
    }
    if (mapped.length > 0) reqs.unshift({ to: { channels: mapped }, data: heraldData(data), event: name });
    if (exclude !== undefined) for (const r of reqs) r.exclude = exclude;
    return reqs;
  }
}

function infoOf(v: unknown): Set<string> | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return new Set(v.split(','));
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpFailure(400, 'the path is not valid percent-encoding');
  }
}

function tooLarge(limit: number): never {
  throw new HttpFailure(413, `request body over ${limit} bytes`);
}

function parseObject(body: Buffer): Obj {
  let v: unknown;
  try {
    v = JSON.parse(body.toString());
  } catch {
    throw new HttpFailure(400, 'the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpFailure(400, 'the body must be a JSON object');
  return v as Obj;
}
