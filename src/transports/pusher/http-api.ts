// The Pusher HTTP API on the main port (reference §10): `/apps/<id>/…`, each request signed with the app secret.
// Events become stored Herald publishes through the dispatcher, so nothing triggered is lost.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../api/http/body.ts';
import type { Context } from '../../context.ts';
import { countError } from '../../context.ts';
import type { PublishRequest } from '../../core/dispatcher.ts';
import { heraldData } from './frames.ts';
import { ChannelKind, channelKind, connectionIdOf, heraldChannel, isSocketId } from './names.ts';
import type { PresenceMembers } from './presence.ts';
import { checkRequest } from './sign.ts';
import type { PusherApp } from '../../config/pusher.ts';

/** Channels one event may go to (Pusher's limit; the SDKs split larger lists). */
const MAX_CHANNELS = 100;
/** Events one batch may hold (Pusher's limit). */
const MAX_BATCH = 10;
const MAX_EVENT_NAME = 200;

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // Exactly `application/json`: the SDKs parse on it, and a 200 is the only success they accept.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export class PusherHttpApi {
  constructor(
    private readonly ctx: Context,
    private readonly app: PusherApp,
    private readonly members: PresenceMembers,
    private readonly windowSeconds: number,
  ) {}

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
    const segs = url.pathname.split('/');
    // ['', 'apps', id, ...rest]
    if (segs[2] !== this.app.id) {
      req.resume();
      throw new HttpFailure(404, `no app with id ${segs[2] ?? ''}`);
    }
    const rest = segs.slice(3).join('/');
    const method = req.method ?? 'GET';
    const body = (await readBody(req, this.ctx.config.limits.maxBodyBytes)) ?? tooLarge(this.ctx.config.limits.maxBodyBytes);
    const refused = checkRequest({ method, path: url.pathname, params: url.searchParams, body }, this.app.key, this.app.secret, this.windowSeconds, Date.now());
    if (refused !== undefined) {
      countError(this.ctx, 'pusher_signature');
      throw new HttpFailure(401, refused);
    }
    if (rest === 'events' && method === 'POST') return this.events(parseObject(body));
    if (rest === 'batch_events' && method === 'POST') return this.batch(parseObject(body));
    throw new HttpFailure(404, `no endpoint ${method} ${url.pathname}`);
  }

  /** `POST /apps/<id>/events`: `name`, `data`, `channels` or `channel`, optional `socket_id` and `info`. */
  private async events(b: Obj): Promise<unknown> {
    const channels = b.channels !== undefined ? b.channels : b.channel !== undefined ? [b.channel] : undefined;
    if (!Array.isArray(channels) || channels.length === 0) throw new HttpFailure(400, 'channels (or channel) is required');
    if (channels.length > MAX_CHANNELS) throw new HttpFailure(400, `at most ${MAX_CHANNELS} channels per event`);
    const req = this.request(b, channels);
    await this.ctx.dispatcher.publish(req);
    const info = infoOf(b.info);
    return info === undefined ? {} : { channels: Object.fromEntries(channels.map((c: string) => [c, this.channelInfo(c, info)])) };
  }

  /** `POST /apps/<id>/batch_events`: up to 10 events, each with one `channel`; stored in one append. */
  private async batch(b: Obj): Promise<unknown> {
    const list = b.batch;
    if (!Array.isArray(list) || list.length === 0) throw new HttpFailure(400, 'batch must be a non-empty array of events');
    if (list.length > MAX_BATCH) throw new HttpFailure(400, `at most ${MAX_BATCH} events per batch`);
    const reqs = list.map((e: unknown, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new HttpFailure(400, `batch[${i}] must be an object`);
      const ev = e as Obj;
      if (typeof ev.channel !== 'string') throw new HttpFailure(400, `batch[${i}].channel is required`);
      return this.request(ev, [ev.channel]);
    });
    await this.ctx.dispatcher.publishMany(reqs);
    const infos = list.map((e: Obj) => infoOf(e.info));
    if (infos.every((i) => i === undefined)) return { batch: {} };
    return { batch: list.map((e: Obj, i) => (infos[i] === undefined ? {} : this.channelInfo(e.channel as string, infos[i]))) };
  }

  /** One event, checked, as a publish to the Herald channels of its Pusher channels. */
  private request(b: Obj, channels: unknown[]): PublishRequest {
    const { name, data, socket_id: socketId } = b;
    if (typeof name !== 'string' || name === '' || name.length > MAX_EVENT_NAME)
      throw new HttpFailure(400, `name must be a string of 1 to ${MAX_EVENT_NAME} characters`);
    if (typeof data !== 'string') throw new HttpFailure(400, 'data must be a string');
    if (Buffer.byteLength(data) > this.app.maxMessageBytes) throw new HttpFailure(413, `data is over ${this.app.maxMessageBytes} bytes`);
    const mapped = channels.map((c) => {
      const h = typeof c === 'string' ? heraldChannel(c) : undefined;
      if (h === undefined) throw new HttpFailure(400, `invalid channel name ${JSON.stringify(c)}`);
      return h;
    });
    const req: PublishRequest = { to: { channels: mapped }, data: heraldData(data), event: name };
    if (socketId !== undefined) {
      if (!isSocketId(socketId)) throw new HttpFailure(400, 'socket_id must look like 123.456');
      const id = connectionIdOf(socketId);
      if (id !== undefined) req.exclude = id;
    }
    return req;
  }

  private channelInfo(channel: string, info: Set<string>): Obj {
    const herald = heraldChannel(channel) ?? channel;
    const out: Obj = {};
    if (info.has('user_count') && channelKind(channel) === ChannelKind.Presence) out.user_count = this.members.count(herald);
    if (info.has('subscription_count')) out.subscription_count = this.ctx.hub.count({ kind: 'channel', channel: herald });
    return out;
  }
}

function infoOf(v: unknown): Set<string> | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return new Set(v.split(','));
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
