// The Pusher HTTP API's queries and user termination (reference §10.3): what is occupied, by how many sockets and
// presence users, and closing a user's sockets. Counts of sockets come from Herald's presence (every node, every
// transport: a native client on `news` is a subscriber of Pusher's `news` too); presence users from the members
// registry (every node too).
import type { PusherEndpoint } from './endpoint.ts';
import { cacheKey, readCache } from './cache.ts';
import { ChannelKind, channelKind, isCacheChannel } from './names.ts';
import { CloseCode } from '../../protocol/codes.ts';

export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;

/** `terminate_connections` is Herald's kick (no reconnect): 4009 "connection unauthorized" on a Pusher socket. */
const TERMINATED = CloseCode.Kicked;
/** Channels one `GET /channels` lists at most (Herald's presence query is bounded too). */
const MAX_LISTED = 10_000;
const INFO_ATTRIBUTES = new Set(['user_count', 'subscription_count', 'cache']);

export class PusherQueries {
  constructor(private readonly endpoint: PusherEndpoint) {}

  /** `GET /apps/<id>/channels`: occupied channels of this app, `{}` when none (an object, as the SDKs need). */
  async channels(params: URLSearchParams): Promise<unknown> {
    const prefix = params.get('filter_by_prefix') ?? '';
    const info = infoSet(params.get('info'));
    if (info.has('user_count') && !prefix.startsWith('presence-')) throw new HttpFailure(400, 'info=user_count needs filter_by_prefix=presence-');
    for (const a of info) if (a !== 'user_count') throw new HttpFailure(400, `info ${a} is not available on the channel list`);
    const { names, ctx } = this.endpoint;
    const listed = await ctx.presence.channels(MAX_LISTED);
    const out: Obj = {};
    for (const c of listed.channels) {
      const name = names.pusher(c.channel);
      if (name === undefined || c.connections === 0 || !name.startsWith(prefix)) continue;
      out[name] = info.has('user_count') ? { user_count: await ctx.members.count(c.channel) } : {};
    }
    return { channels: out };
  }

  /** `GET /apps/<id>/channels/<name>`: `occupied`, and the `info` asked for. */
  async channel(name: string, params: URLSearchParams): Promise<unknown> {
    const herald = this.heraldOf(name);
    const info = infoSet(params.get('info'));
    for (const a of info) if (!INFO_ATTRIBUTES.has(a)) throw new HttpFailure(400, `unknown info attribute ${a.slice(0, 64)}`);
    if (info.has('user_count') && channelKind(name) !== ChannelKind.Presence) throw new HttpFailure(400, 'user_count is only available on presence channels');
    if (info.has('cache') && !isCacheChannel(name)) throw new HttpFailure(400, 'cache is only available on cache channels');
    const subscriptions = (await this.endpoint.ctx.presence.channel(herald)).connections;
    const out: Obj = { occupied: subscriptions > 0 };
    if (info.has('user_count')) out.user_count = await this.endpoint.ctx.members.count(herald);
    if (info.has('subscription_count')) out.subscription_count = subscriptions;
    if (info.has('cache')) {
      const cached = await readCache(this.endpoint.ctx.store, cacheKey(herald));
      if (cached !== undefined) {
        const ttl = Math.max(0, Math.round(this.endpoint.app.cacheTtlSeconds - (Date.now() - cached.at) / 1000));
        out.cache = { event: cached.event, data: cached.data, ttl };
      }
    }
    return out;
  }

  /** `GET /apps/<id>/channels/<presence name>/users`: unique users. */
  async users(name: string): Promise<unknown> {
    const herald = this.heraldOf(name);
    if (channelKind(name) !== ChannelKind.Presence) throw new HttpFailure(400, 'users are only listed for presence channels');
    return { users: [...(await this.endpoint.ctx.members.list(herald)).keys()].map((id) => ({ id })) };
  }

  /** The `info` of one channel in an `events` answer: `user_count` (presence), `subscription_count`. */
  async info(name: string, info: ReadonlySet<string>): Promise<Obj> {
    const herald = this.endpoint.names.channel(name) ?? name;
    const out: Obj = {};
    if (info.has('user_count') && channelKind(name) === ChannelKind.Presence) out.user_count = await this.endpoint.ctx.members.count(herald);
    if (info.has('subscription_count')) out.subscription_count = (await this.endpoint.ctx.presence.channel(herald)).connections;
    return out;
  }

  /**
   * `POST /apps/<id>/users/<user>/terminate_connections`: every socket signed in as the user, on every node, gets
   * `pusher:error` 4009 and a close with 4009, after which pusher-js does not reconnect by itself.
   */
  async terminate(user: string): Promise<unknown> {
    const { ctx, names } = this.endpoint;
    const herald = names.user(user);
    const perNode = await ctx.control.onEvery('connectionsOf', herald);
    const reason = 'connection terminated by the application';
    await Promise.all(perNode.flat().map((id) => ctx.control.onOwner(id, 'close', id, { code: TERMINATED, reason })));
    return {};
  }

  private heraldOf(name: string): string {
    const herald = this.endpoint.names.channel(name);
    if (herald === undefined) throw new HttpFailure(400, `invalid channel name ${JSON.stringify(name.slice(0, 200))}`);
    return herald;
  }
}

function infoSet(v: string | null): Set<string> {
  return new Set(v === null || v === '' ? [] : v.split(','));
}
