// What a Pusher client's frames do once it is connected: subscribe (with the channel's authorization), unsubscribe,
// presence membership, and client events. Server frames are built once and written to each recipient.
import type { PusherApp } from '../../config/pusher.ts';
import { countError, type Context } from '../../context.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { channelFrame, errorFrame, PusherCode, subscriptionError, subscriptionSucceeded } from './frames.ts';
import { ChannelKind, channelKind, heraldChannel, MAX_CHANNEL_NAME, pusherChannel, socketIdOf } from './names.ts';
import { PusherConnection } from './connection.ts';
import type { PresenceMembers } from './presence.ts';
import { verifyAuth } from './sign.ts';

/** What the handlers share: one per app, held by the endpoint. */
export interface PusherState {
  readonly ctx: Context;
  readonly app: PusherApp;
  readonly members: PresenceMembers;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
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
  const herald = heraldChannel(channel);
  if (herald === undefined) {
    countError(s.ctx, 'pusher_bad_channel');
    const why = channel.length > MAX_CHANNEL_NAME ? `at most ${MAX_CHANNEL_NAME} characters` : 'only A-Z a-z 0-9 _ - = @ , . ;';
    conn.send(subscriptionError(channel, 'InvalidChannel', `invalid channel name: ${why}`, 400));
    return;
  }
  const d = data as Obj;
  const kind = channelKind(channel);
  if (kind === ChannelKind.User) {
    conn.send(subscriptionError(channel, 'AuthError', 'user channels need pusher:signin, which is not supported yet', 403));
    return;
  }
  let presence: { user: string; info: unknown } | undefined;
  if (kind !== ChannelKind.Public) {
    const socketId = socketIdOf(conn.id);
    const channelData = d.channel_data;
    if (kind === ChannelKind.Presence && typeof channelData !== 'string') return refuseAuth(s, conn, channel, 'presence channels need channel_data');
    const toSign = kind === ChannelKind.Presence ? `${socketId}:${channel}:${channelData as string}` : `${socketId}:${channel}`;
    if (!verifyAuth(s.app.key, s.app.secret, d.auth, toSign)) return refuseAuth(s, conn, channel, 'invalid signature');
    if (kind === ChannelKind.Presence) {
      presence = parseChannelData(channelData as string);
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
    return;
  }
  (conn.presence ??= new Map()).set(herald, presence.user);
  if (s.members.join(herald, presence.user, presence.info)) {
    const added = channelFrame('pusher_internal:member_added', channel, JSON.stringify({ user_id: presence.user, user_info: presence.info }));
    sendToOthers(s.ctx, conn, herald, added);
  }
  conn.send(subscriptionSucceeded(channel, s.members.snapshot(herald)));
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
  const herald = heraldChannel(channel);
  if (herald === undefined || !s.ctx.hub.unsubscribe(conn, herald)) return;
  leavePresence(s, conn, herald);
}

/** After the socket left `herald` (unsubscribe or disconnect): its presence membership ends. */
export function leavePresence(s: PusherState, conn: PusherConnection, herald: string): void {
  const user = conn.presence?.get(herald);
  if (user === undefined) return;
  conn.presence!.delete(herald);
  if (conn.presence!.size === 0) conn.presence = undefined;
  if (!s.members.leave(herald, user)) return;
  const channel = pusherChannel(herald) ?? herald;
  sendToOthers(s.ctx, conn, herald, channelFrame('pusher_internal:member_removed', channel, JSON.stringify({ user_id: user })));
}

/**
 * `client-*`: only on a private or presence channel the socket joined, relayed to the channel's other Pusher
 * sockets on this node (never back to the sender) with the sender's `user_id` on presence channels; refusals are
 * `pusher:error` frames that leave the socket open (a close code >= 4300 would stop pusher-js for good).
 */
export function clientEvent(s: PusherState, conn: PusherConnection, event: string, channel: unknown, data: unknown, size: number): void {
  const refuse = (code: number, message: string): void => {
    countError(s.ctx, 'pusher_client_event');
    conn.send(errorFrame(code, message));
  };
  if (!s.app.clientEvents) return refuse(PusherCode.NotAllowed, 'client events are disabled for this app');
  if (typeof channel !== 'string') return refuse(PusherCode.BadMessage, 'a client event needs a channel');
  const kind = channelKind(channel);
  if (kind !== ChannelKind.Private && kind !== ChannelKind.Presence) {
    return refuse(PusherCode.NotAllowed, `client events are only allowed on private and presence channels, not on ${channel}`);
  }
  const herald = heraldChannel(channel);
  if (herald === undefined || !conn.channels.has(herald)) return refuse(PusherCode.NotAllowed, `not subscribed to ${channel}`);
  if (size > s.app.maxMessageBytes) return refuse(PusherCode.ClientEventRejected, `client event over ${s.app.maxMessageBytes} bytes`);
  const second = Math.floor(Date.now() / 1000);
  if (conn.eventWindow !== second) {
    conn.eventWindow = second;
    conn.eventCount = 0;
  }
  if (++conn.eventCount > s.app.clientEventsPerSecond) {
    return refuse(PusherCode.ClientEventRejected, `client event rejected: more than ${s.app.clientEventsPerSecond} per second`);
  }
  const user = kind === ChannelKind.Presence ? conn.presence?.get(herald) : undefined;
  const text = JSON.stringify(user === undefined ? { event, channel, data } : { event, channel, data, user_id: user });
  sendToOthers(s.ctx, conn, herald, frameText(text));
}

/** Writes one frame to every other Pusher socket on `herald` on this node. */
function sendToOthers(ctx: Context, from: PusherConnection, herald: string, frame: Buffer): void {
  for (const c of ctx.hub.membersOf(herald)) if (c !== from && c instanceof PusherConnection) c.send(frame);
}
