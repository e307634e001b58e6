// What a Pusher client's frames do once it is connected: subscribe (with the channel's authorization), unsubscribe,
// presence membership, and client events. Server frames are built once and written to each recipient.
import type { PusherApp } from '../../config/pusher.ts';
import { countError, type Context } from '../../context.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { channelFrame, errorFrame, PusherCode, subscriptionError, subscriptionSucceeded } from './frames.ts';
import { ChannelKind, channelKind, isCacheChannel, MAX_CHANNEL_NAME, socketIdOf, USER_CHANNEL_PREFIX, type AppNames } from './names.ts';
import { PusherConnection } from './connection.ts';
import { cacheKey, readCache } from './cache.ts';
import type { PresenceMembers } from './presence.ts';
import { verifyAuth } from './sign.ts';

/** What the handlers share: one per app, held by the endpoint. */
export interface PusherState {
  readonly ctx: Context;
  readonly app: PusherApp;
  readonly members: PresenceMembers;
  readonly names: AppNames;
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
  if (conn.channels.has(herald)) {
    // Asked again (pusher-js does after a failed attempt): the answer again, with no second membership.
    conn.send(subscriptionSucceeded(channel, kind === ChannelKind.Presence ? s.members.snapshot(herald) : undefined));
    return;
  }
  if (presence !== undefined && !s.members.has(herald, presence.user) && s.members.count(herald) >= s.app.maxPresenceMembers) {
    conn.send(subscriptionError(channel, 'LimitReached', `at most ${s.app.maxPresenceMembers} members on a presence channel`, 403));
    return;
  }
  const limit = s.ctx.config.limits.maxChannelsPerConnection;
  if (!s.ctx.hub.subscribe(conn, herald, limit)) {
    conn.send(subscriptionError(channel, 'LimitReached', `at most ${limit} channels per connection`, 403));
    return;
  }
  if (presence === undefined) {
    conn.send(subscriptionSucceeded(channel));
    subscriptionCountChanged(s, channel, herald);
  } else {
    (conn.presence ??= new Map()).set(herald, presence.user);
    if (s.members.join(herald, presence.user, presence.info)) {
      const added = channelFrame('pusher_internal:member_added', channel, JSON.stringify({ user_id: presence.user, user_info: presence.info }));
      sendToOthers(s.ctx, conn, herald, added);
    }
    conn.send(subscriptionSucceeded(channel, s.members.snapshot(herald)));
  }
  if (isCacheChannel(channel)) void sendCached(s, conn, channel, herald);
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
async function sendCached(s: PusherState, conn: PusherConnection, channel: string, herald: string): Promise<void> {
  let cached: { event: string; data: string } | undefined;
  try {
    cached = await readCache(s.ctx.store, cacheKey(herald));
  } catch (err) {
    s.ctx.log.warn({ err, channel }, 'pusher cache channel: the store did not answer; sent as a cache miss');
  }
  if (!conn.isOpen || !conn.channels.has(herald)) return;
  if (cached !== undefined) conn.send(channelFrame(cached.event, channel, cached.data));
  else conn.send(frameText(JSON.stringify({ event: 'pusher:cache_miss', channel })));
}

/**
 * `pusher_internal:subscription_count` to every subscriber of a non-presence channel, when the app asks for it
 * (`subscriptionCount`). The count is this node's; see docs/pusher.md for several nodes.
 */
export function subscriptionCountChanged(s: PusherState, channel: string, herald: string): void {
  if (!s.app.subscriptionCount || channelKind(channel) === ChannelKind.Presence) return;
  const n = s.ctx.hub.count({ kind: 'channel', channel: herald });
  if (n === 0) return;
  const frame = channelFrame('pusher_internal:subscription_count', channel, JSON.stringify({ subscription_count: n }));
  for (const c of s.ctx.hub.membersOf(herald)) if (c instanceof PusherConnection) c.send(frame);
}

function refuseAuth(s: PusherState, conn: PusherConnection, channel: string, why: string): void {
  countError(s.ctx, 'pusher_auth');
  conn.send(subscriptionError(channel, 'AuthError', `subscription refused: ${why}`, 401));
}

/** `user_id` (a string, or a number taken as its decimal text) and `user_info` of a presence `channel_data`. */
function parseChannelData(text: string): { user: string; info: unknown } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(v)) return undefined;
  const id = v.user_id;
  const user = typeof id === 'string' ? id : typeof id === 'number' && Number.isFinite(id) ? String(id) : '';
  if (user === '' || user.length > 256) return undefined;
  return { user, info: v.user_info };
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
  if (conn.presence?.has(herald)) leavePresence(s, conn, herald);
  else subscriptionCountChanged(s, channel, herald);
}

/** After the socket left `herald` (unsubscribe or disconnect): its presence membership ends. */
export function leavePresence(s: PusherState, conn: PusherConnection, herald: string): void {
  const user = conn.presence?.get(herald);
  if (user === undefined) return;
  conn.presence!.delete(herald);
  if (conn.presence!.size === 0) conn.presence = undefined;
  if (!s.members.leave(herald, user)) return;
  const channel = s.names.pusher(herald) ?? herald;
  sendToOthers(s.ctx, conn, herald, channelFrame('pusher_internal:member_removed', channel, JSON.stringify({ user_id: user })));
}

/** Writes one frame to every other Pusher socket on `herald` on this node. */
export function sendToOthers(ctx: Context, from: PusherConnection, herald: string, frame: Buffer): void {
  for (const c of ctx.hub.membersOf(herald)) if (c !== from && c instanceof PusherConnection) c.send(frame);
}
