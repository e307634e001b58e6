// Herald's vocabulary, in one place for the server and the SDK: what a message is addressed to (targets), the stream
// it is stored in, and the envelope that carries it. Pure: no Node imports, since the browser SDK bundles it.
//
// Every message belongs to exactly one stream, and offsets are per stream:
//   user:<id>        a user's personal stream (all of that user's connections): their inbox
//   channel:<name>   a channel
//   broadcast        messages to everyone
//   session          messages to one connection (not stored: offset 0)

export const BROADCAST_STREAM = 'broadcast';
/** The stream name of messages pushed to one connection: not stored, no offset (a reconnect is a new connection). */
export const SESSION_STREAM = 'session';
const USER_PREFIX = 'user:';
const CHANNEL_PREFIX = 'channel:';

/** Where one stored message goes: a user, a channel, or everyone. */
export type Target = { kind: 'user'; user: string } | { kind: 'channel'; channel: string } | { kind: 'all' };

/** Publish targets as the APIs accept them (already validated); several users or channels mean one stream each. */
export type StreamTarget = { user: string } | { users: string[] } | { channel: string } | { channels: string[] } | { all: true };

/** Connections by id: a message to them is pushed where they are, not stored in a stream. */
export type ConnectionTarget = { connection: string } | { connections: string[] };

export type PublishTarget = StreamTarget | ConnectionTarget;

export function isConnectionTarget(to: PublishTarget): to is ConnectionTarget {
  return 'connection' in to || 'connections' in to;
}

/** The connection ids of a connection target, each once. */
export function connectionsOf(to: ConnectionTarget): string[] {
  return 'connection' in to ? [to.connection] : [...new Set(to.connections)];
}

/** One stored message of one stream: what travels from the store to every node's connections. */
export interface Envelope {
  stream: string;
  offset: number;
  epoch: string;
  /** Serialized JSON of the published data. */
  data: string;
  event?: string;
  /**
   * A connection id the live delivery skips (the Pusher API's `socket_id`: "to others"). Not stored, so a replay
   * includes the message; the Redis broker carries it to every node with the live copy.
   */
  exclude?: string;
}

export function userStream(user: string): string {
  return USER_PREFIX + user;
}

export function channelStream(channel: string): string {
  return CHANNEL_PREFIX + channel;
}

/** The channel a `channel:` stream is, else undefined. */
export function channelOfStream(stream: string): string | undefined {
  return stream.startsWith(CHANNEL_PREFIX) ? stream.slice(CHANNEL_PREFIX.length) : undefined;
}

export function isUserStream(stream: string): boolean {
  return stream.startsWith(USER_PREFIX);
}

export function streamOf(t: Target): string {
  switch (t.kind) {
    case 'user':
      return userStream(t.user);
    case 'channel':
      return channelStream(t.channel);
    case 'all':
      return BROADCAST_STREAM;
  }
}

/** The target a stream name stands for (the inverse of `streamOf`); undefined for a name that is none. */
export function targetOfStream(stream: string): Target | undefined {
  if (stream === BROADCAST_STREAM) return { kind: 'all' };
  if (stream.startsWith(USER_PREFIX)) return { kind: 'user', user: stream.slice(USER_PREFIX.length) };
  const channel = channelOfStream(stream);
  return channel === undefined ? undefined : { kind: 'channel', channel };
}

/** The targets of a publish, one per stream (repeated users or channels count once). */
export function expandTarget(to: StreamTarget): Target[] {
  if ('user' in to) return [{ kind: 'user', user: to.user }];
  if ('users' in to) return [...new Set(to.users)].map((user) => ({ kind: 'user', user }));
  if ('channel' in to) return [{ kind: 'channel', channel: to.channel }];
  if ('channels' in to) return [...new Set(to.channels)].map((channel) => ({ kind: 'channel', channel }));
  return [{ kind: 'all' }];
}

const CHANNEL_RE = /^[A-Za-z0-9_\-.:@/=+#]{1,200}$/;
const PATTERN_RE = /^[A-Za-z0-9_\-.:@/=+#*]{1,200}$/;

export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_RE.test(name);
}

export function isValidUser(id: unknown): id is string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return typeof id === 'string' && id.length > 0 && id.length <= 256 && !/[\u0000-\u001f]/.test(id);
}

/** Channel patterns (token `channels` claims, retention rules): exact names, or `*` for any run of characters. */
export function compileChannelPatterns(patterns: readonly string[]): (channel: string) => boolean {
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (!PATTERN_RE.test(p)) continue;
    if (p === '*') return () => true;
    if (!p.includes('*')) exact.add(p);
    else
      globs.push(
        new RegExp(
          `^${p
            .split('*')
            .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
            .join('.*')}$`,
        ),
      );
  }
  return (channel) => exact.has(channel) || globs.some((g) => g.test(channel));
}
