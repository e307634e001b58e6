// Presence channels (reference §6): members by user id across every node (Context.members), `member_added` on a
// user's first socket anywhere and `member_removed` after their last, to the channel's sockets on every node.
import { countError } from '../../context.ts';
import { subscriptionError, subscriptionSucceeded } from './frames.ts';
import type { PusherConnection } from './connection.ts';
import { isObj, sendCached, type PusherState } from './handlers.ts';
import { occupied, released } from './occupancy.ts';
import { toChannel } from './relay.ts';
import { abortResume, beginResume, continueResume } from './resume.ts';
import { channelStream } from '../../domain/streams.ts';

export interface PresenceMember {
  user: string;
  info: unknown;
}

/** `user_id` (a string, or a number taken as its decimal text) and `user_info` of a presence `channel_data`. */
export function parseChannelData(text: string): PresenceMember | undefined {
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

/**
 * An authorized presence subscription: the member joins (first socket anywhere: `member_added` to the others, on
 * every node), then the socket gets `subscription_succeeded` with every member once. The members live in Redis on
 * a cluster, so this waits for it; a failure there refuses the subscription (503) and leaves nothing behind.
 */
export async function subscribePresence(s: PusherState, conn: PusherConnection, channel: string, herald: string, m: PresenceMember): Promise<void> {
  const members = s.ctx.members;
  const stream = channelStream(herald);
  let counted = false;
  try {
    if (conn.channels.has(herald)) {
      // Asked again (pusher-js does after a failed attempt): the answer again, with no second membership.
      conn.send(subscriptionSucceeded(channel, presenceData(await members.list(herald))));
      return;
    }
    if (!(await members.has(herald, m.user)) && (await members.count(herald)) >= s.app.maxPresenceMembers) {
      conn.send(subscriptionError(channel, 'LimitReached', `at most ${s.app.maxPresenceMembers} members on a presence channel`, 403));
      return;
    }
    // Closed meanwhile, or a second subscribe of the same channel overtook this one.
    if (!conn.isOpen || conn.channels.has(herald)) return;
    const limit = s.ctx.config.limits.maxChannelsPerConnection;
    beginResume(conn, stream);
    if (!s.ctx.hub.subscribe(conn, herald, limit)) {
      abortResume(conn, stream);
      conn.send(subscriptionError(channel, 'LimitReached', `at most ${limit} channels per connection`, 403));
      return;
    }
    (conn.presence ??= new Map()).set(herald, m.user);
    // Before the member joins, so that a webhook receiver learns of the channel before its members.
    occupied(s, herald, channel);
    counted = true;
    if (await members.join(herald, m.user, JSON.stringify(m.info ?? null))) {
      toChannel(
        s.ctx,
        herald,
        JSON.stringify({ event: 'pusher_internal:member_added', channel, data: JSON.stringify({ user_id: m.user, user_info: m.info }) }),
        conn.id,
      );
      s.webhooks?.emit({ name: 'member_added', channel, user_id: m.user });
    }
    const list = await members.list(herald);
    if (!conn.isOpen || conn.presence?.get(herald) !== m.user) return;
    conn.send(subscriptionSucceeded(channel, presenceData(list)));
    continueResume(s, conn, stream, channel);
    sendCached(s, conn, channel, herald);
  } catch (err) {
    countError(s.ctx, 'pusher_presence_unavailable');
    s.ctx.log.warn({ err, channel }, 'pusher presence subscription failed: the members store did not answer');
    conn.presence?.delete(herald);
    if (s.ctx.hub.unsubscribe(conn, herald)) abortResume(conn, stream);
    if (counted) released(s, herald, channel);
    if (conn.isOpen) conn.send(subscriptionError(channel, 'ServiceUnavailable', 'presence is unavailable for a moment; retry', 503));
  }
}

/** The socket left presence channel `herald`: after the user's last socket anywhere, `member_removed`. */
export function leavePresence(s: PusherState, conn: PusherConnection, herald: string, channel: string): void {
  const user = conn.presence?.get(herald);
  if (user === undefined) return;
  conn.presence!.delete(herald);
  if (conn.presence!.size === 0) conn.presence = undefined;
  s.ctx.members.leave(herald, user).then(
    (last) => last && memberGone(s, herald, channel, user),
    (err: unknown) => s.ctx.log.warn({ err, channel }, 'pusher presence: the members store did not take a leave; the node heartbeat will'),
  );
}

/** A member has no socket left anywhere (left, or their node died): the channel's sockets and the webhook learn it. */
export function memberGone(s: PusherState, herald: string, channel: string, user: string): void {
  toChannel(s.ctx, herald, JSON.stringify({ event: 'pusher_internal:member_removed', channel, data: JSON.stringify({ user_id: user }) }));
  s.webhooks?.emit({ name: 'member_removed', channel, user_id: user });
}

/** The `data` of a presence `subscription_succeeded`: `{"presence":{"ids","hash","count"}}`; infos are JSON text. */
function presenceData(list: ReadonlyMap<string, string>): string {
  const ids: string[] = [];
  const hash: string[] = [];
  for (const [id, info] of list) {
    ids.push(JSON.stringify(id));
    hash.push(`${JSON.stringify(id)}:${info}`);
  }
  return `{"presence":{"ids":[${ids.join(',')}],"hash":{${hash.join(',')}},"count":${ids.length}}}`;
}
