// What a Pusher client's subscriptions do: subscribe (with the channel's authorization), unsubscribe, the user's own
// channel, cache channels and subscription counts. Presence channels continue in presence.ts.
import type { PusherApp } from '../../config/pusher.ts';
import { countError, type Context } from '../../context.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { channelFrame, errorFrame, PusherCode, subscriptionError, subscriptionSucceeded } from './frames.ts';
import { ChannelKind, channelKind, isCacheChannel, MAX_CHANNEL_NAME, socketIdOf, USER_CHANNEL_PREFIX, type AppNames } from './names.ts';
import type { PusherConnection } from './connection.ts';
import { cacheKey, readCache } from './cache.ts';
import { leavePresence, parseChannelData, subscribePresence } from './presence.ts';
import { toChannel } from './relay.ts';
import { abortResume, beginResume, continueResume } from './resume.ts';
import { channelStream } from '../../domain/streams.ts';
import { verifyAuth } from './sign.ts';
import type { PusherWebhooks } from './webhooks.ts';
import { occupied, released } from './occupancy.ts';

/** What the handlers share: one per app, held by the endpoint. */
export interface PusherState {
  readonly ctx: Context;
  readonly app: PusherApp;
  readonly names: AppNames;
  /** The app's webhook sender, when it has a `webhookUrl`. */
  readonly webhooks: PusherWebhooks | undefined;
}

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `pusher:subscribe`: public at once; private and encrypted with `<key>:HMAC(socket_id:channel)`; presence with
 * `<key>:HMAC(socket_id:channel:channel_data)` over the exact `channel_data` string received. */
export function subscribe(s: PusherState, conn: PusherConnection, data: unknown): void {
  const channel = isObj(data) ? data.channel : undefined;
  if (typeof channel !== 'string' || channel === '') {
    conn.send(errorFrame(PusherCode.BadMessage, 'pusher:subscribe needs data.channel, a channel name'));
    return;
  }
  const kind = channelKind(channel);
  if (kind === ChannelKind.User) return subscribeUser(s, conn, channel);
  const herald = s.names.channel(channel);
  if (herald === undefined) {
    countError(s.ctx, 'pusher_bad_channel');
    const why = channel.length > MAX_CHANNEL_NAME ? `at most ${MAX_CHANNEL_NAME} characters` : 'only A-Z a-z 0-9 _ - = @ , . ;';
    conn.send(subscriptionError(channel, 'InvalidChannel', `invalid channel name: ${why}`, 400));
    return;
  }
  const d = data as Obj;
  let presence: { user: string; info: unknown } | undefined;
  if (kind !== ChannelKind.Public) {
    const socketId = socketIdOf(conn.id);
    const channelData = d.channel_data;
    // A signed-in socket may join a presence channel without channel_data (reference §6): it is who it signed in as.
    const signedIn = kind === ChannelKind.Presence && channelData === undefined ? s.names.userId(conn.user) : undefined;
    if (kind === ChannelKind.Presence && typeof channelData !== 'string' && !signedIn) {
      return refuseAuth(s, conn, channel, 'presence channels need channel_data (or a signed-in socket)');
    }
    const toSign = typeof channelData === 'string' && kind === ChannelKind.Presence ? `${socketId}:${channel}:${channelData}` : `${socketId}:${channel}`;
    if (!verifyAuth(s.app.key, s.app.secret, d.auth, toSign)) return refuseAuth(s, conn, channel, 'invalid signature');
    if (kind === ChannelKind.Presence) {
      presence = signedIn ? { user: signedIn, info: conn.userInfo } : parseChannelData(channelData as string);
      if (presence === undefined) return refuseAuth(s, conn, channel, 'channel_data must be a JSON object with a user_id');
    }
  }
  if (presence !== undefined) return void subscribePresence(s, conn, channel, herald, presence);
  if (conn.channels.has(herald)) {
    // Asked again (pusher-js does after a failed attempt): the answer again, with no second membership.
    conn.send(subscriptionSucceeded(channel));
    return;
  }
  const limit = s.ctx.config.limits.maxChannelsPerConnection;
  const stream = channelStream(herald);
  beginResume(conn, stream);
  if (!s.ctx.hub.subscribe(conn, herald, limit)) {
    abortResume(conn, stream);
    conn.send(subscriptionError(channel, 'LimitReached', `at most ${limit} channels per connection`, 403));
    return;
  }
  conn.send(subscriptionSucceeded(channel));
  continueResume(s, conn, stream, channel);
  joined(s, conn, channel, herald);
}

/** After a socket joined `herald` (any kind): occupancy, the subscription count, a cache channel's last event. */
export function joined(s: PusherState, conn: PusherConnection, channel: string, herald: string): void {
  occupied(s, herald, channel);
  subscriptionCountChanged(s, channel, herald);
  sendCached(s, conn, channel, herald);
}

/** After a socket left `herald` (unsubscribe or disconnect): presence, occupancy, the subscription count. */
export function left(s: PusherState, conn: PusherConnection, herald: string): void {
  const channel = s.names.pusher(herald) ?? herald;
  if (conn.presence?.has(herald)) leavePresence(s, conn, herald, channel);
  released(s, herald, channel);
  subscriptionCountChanged(s, channel, herald);
}

/**
 * `#server-to-user-<id>`, which pusher-js subscribes to after `pusher:signin_success`: only the socket signed in as
 * `<id>` may, and it needs no channel membership, since Herald delivers the user's stream to every socket bound
 * to the user (frames.ts names it `#server-to-user-<id>`).
 */
function subscribeUser(s: PusherState, conn: PusherConnection, channel: string): void {
  const id = channel.slice(USER_CHANNEL_PREFIX.length);
  if (!channel.startsWith(USER_CHANNEL_PREFIX) || id === '') {
    conn.send(subscriptionError(channel.slice(0, 200), 'InvalidChannel', `invalid channel name: only ${USER_CHANNEL_PREFIX}<id> may start with #`, 400));
    return;
  }
  if (conn.user === '' || s.names.userId(conn.user) !== id) {
    countError(s.ctx, 'pusher_auth');
    conn.send(subscriptionError(channel, 'AuthError', `only a socket signed in as ${id.slice(0, 64)} may subscribe to ${channel.slice(0, 100)}`, 403));
    return;
  }
  conn.send(subscriptionSucceeded(channel));
}

/** A cache channel's last HTTP event right after `subscription_succeeded`, or `pusher:cache_miss` (§8.2). */
export function sendCached(s: PusherState, conn: PusherConnection, channel: string, herald: string): void {
  if (isCacheChannel(channel)) void readCached(s, conn, channel, herald);
}

async function readCached(s: PusherState, conn: PusherConnection, channel: string, herald: string): Promise<void> {
  let cached: { event: string; data: string } | undefined;
  try {
    cached = await readCache(s.ctx.store, cacheKey(herald));
  } catch (err) {
    s.ctx.log.warn({ err, channel }, 'pusher cache channel: the store did not answer; sent as a cache miss');
  }
  if (!conn.isOpen || !conn.channels.has(herald)) return;
  if (cached !== undefined) return conn.send(channelFrame(cached.event, channel, cached.data));
  conn.send(frameText(JSON.stringify({ event: 'pusher:cache_miss', channel })));
  s.webhooks?.emit({ name: 'cache_miss', channel });
}

/**
 * `pusher_internal:subscription_count` to every subscriber of a non-presence channel on every node, when the app
 * asks for it (`subscriptionCount`): the count is Herald's presence count of the channel (every node, every
 * transport), read after this node's change.
 */
function subscriptionCountChanged(s: PusherState, channel: string, herald: string): void {
  if (!s.app.subscriptionCount || channelKind(channel) === ChannelKind.Presence) return;
  s.ctx.presence.channel(herald).then(
    ({ connections }) => {
      if (connections > 0)
        toChannel(
          s.ctx,
          herald,
          JSON.stringify({ event: 'pusher_internal:subscription_count', channel, data: JSON.stringify({ subscription_count: connections }) }),
        );
    },
    (err: unknown) => s.ctx.log.warn({ err, channel }, 'pusher subscription count: presence did not answer'),
  );
}

function refuseAuth(s: PusherState, conn: PusherConnection, channel: string, why: string): void {
  countError(s.ctx, 'pusher_auth');
  conn.send(subscriptionError(channel, 'AuthError', `subscription refused: ${why}`, 401));
}

/** `pusher:unsubscribe`: no answer; a presence member's last socket leaving tells the others. */
export function unsubscribe(s: PusherState, conn: PusherConnection, data: unknown): void {
  const channel = isObj(data) ? data.channel : undefined;
  if (typeof channel !== 'string') {
    conn.send(errorFrame(PusherCode.BadMessage, 'pusher:unsubscribe needs data.channel'));
    return;
  }
  const herald = s.names.channel(channel);
  if (herald === undefined || !s.ctx.hub.unsubscribe(conn, herald)) return;
  left(s, conn, herald);
}
