// What a connected Pusher client does besides subscribing: sign in as a user (`pusher:signin`, reference §8.1) and
// send client events to the others on a channel (`client-*`, §7).
import { countError } from '../../context.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { errorFrame, PusherCode } from './frames.ts';
import { ChannelKind, channelKind, socketIdOf, USER_CHANNEL_PREFIX } from './names.ts';
import { beginResume, continueResume } from './resume.ts';
import { userStream } from '../../domain/streams.ts';
import type { PusherConnection } from './connection.ts';
import { isObj, type PusherState } from './handlers.ts';
import { toChannel } from './relay.ts';
import { verifyAuth } from './sign.ts';

/** The longest user id a sign-in may carry (Herald's user ids allow 256 with the app's prefix). */
const MAX_USER_ID = 200;

/**
 * `pusher:signin`: `<key>:HMAC(socket_id::user::user_data)` over the exact `user_data` string received; then the
 * socket is that user (the Herald user `<channelPrefix><id>`), so what the backend sends to the user, its
 * `#server-to-user-<id>` channel or Herald's `to: {user}`, reaches every socket signed in as it. A refusal is a
 * `pusher:error` that leaves the socket open (pusher-js reports it and stays connected).
 */
export function signin(s: PusherState, conn: PusherConnection, data: unknown): void {
  const refuse = (message: string): void => {
    countError(s.ctx, 'pusher_signin');
    conn.send(errorFrame(PusherCode.NotAllowed, `sign-in refused: ${message}`));
  };
  const userData = isObj(data) ? data.user_data : undefined;
  if (typeof userData !== 'string') return refuse('pusher:signin needs data.user_data, a JSON string');
  if (!verifyAuth(s.app.key, s.app.secret, isObj(data) ? data.auth : undefined, `${socketIdOf(conn.id)}::user::${userData}`)) {
    return refuse('invalid signature');
  }
  let user: unknown;
  try {
    user = JSON.parse(userData);
  } catch {
    return refuse('user_data is not JSON');
  }
  const id = isObj(user) ? user.id : undefined;
  const text = typeof id === 'string' ? id : typeof id === 'number' && Number.isFinite(id) ? String(id) : '';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (text === '' || text.length > MAX_USER_ID || /[\u0000-\u001f]/.test(text)) return refuse(`user_data.id must be 1 to ${MAX_USER_ID} characters`);
  conn.userInfo = isObj(user) ? user.user_info : undefined;
  const herald = s.names.user(text);
  const again = conn.user === herald;
  const stream = userStream(herald);
  if (!again) beginResume(conn, stream);
  s.ctx.hub.bind(conn, herald);
  conn.send(frameText(JSON.stringify({ event: 'pusher:signin_success', data: JSON.stringify({ user_data: userData }) })));
  if (!again) continueResume(s, conn, stream, USER_CHANNEL_PREFIX + text);
}

/**
 * `client-*`: only on a private or presence channel the socket joined, relayed to the channel's other Pusher
 * sockets (never back to the sender) with the sender's `user_id` on presence channels; refusals are `pusher:error`
 * frames that leave the socket open (a close code >= 4300 would stop pusher-js for good).
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
    return refuse(PusherCode.NotAllowed, `client events are only allowed on private and presence channels, not on ${channel.slice(0, 164)}`);
  }
  const herald = s.names.channel(channel);
  if (herald === undefined || !conn.channels.has(herald)) return refuse(PusherCode.NotAllowed, `not subscribed to ${channel.slice(0, 164)}`);
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
  toChannel(s.ctx, herald, text, conn.id);
  if (s.webhooks !== undefined) {
    const hook = {
      name: 'client_event' as const,
      channel,
      event,
      data: typeof data === 'string' ? data : JSON.stringify(data ?? null),
      socket_id: socketIdOf(conn.id),
    };
    s.webhooks.emit(user === undefined ? hook : { ...hook, user_id: user });
  }
}
