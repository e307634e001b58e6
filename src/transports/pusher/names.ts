// Pusher names and ids on Herald's side, pure: how a Pusher channel name becomes a Herald channel (and back), what
// kind of channel a name is, and how a Pusher socket_id relates to a Herald connection id.

/** Pusher's channel-name characters (its docs), plus the leading `#` of `#server-to-user-<id>`. */
const PUSHER_CHANNEL_RE = /^#?[-a-zA-Z0-9_=@,.;]{1,164}$/;
/** The longest Pusher channel name (prefix included). */
export const MAX_CHANNEL_NAME = 164;

/**
 * A Pusher channel name -> the Herald channel it is. Herald's channel names (`isValidChannel`) lack `,` and `;`,
 * and Pusher's lack `+`, `:` and `/`: so `,` becomes `+2C` and `;` becomes `+3B` (the byte in hex after a `+`),
 * every other character stays, and a name without `,` or `;` maps to itself. The map is one-to-one because a
 * Pusher name never holds a `+`. Undefined when the name is not a valid Pusher name, or its escaped form is over
 * Herald's 200 characters (only a name with more than 18 `,`/`;` can be).
 */
export function heraldChannel(pusher: string): string | undefined {
  if (!PUSHER_CHANNEL_RE.test(pusher)) return undefined;
  if (!pusher.includes(',') && !pusher.includes(';')) return pusher;
  const escaped = pusher.replaceAll(',', '+2C').replaceAll(';', '+3B');
  return escaped.length <= 200 ? escaped : undefined;
}

/**
 * The inverse of `heraldChannel`: the Pusher name of a Herald channel. Herald channels with `:`, `/` or a `+`
 * other than an escape have no Pusher name (undefined): Pusher clients cannot subscribe to them.
 */
export function pusherChannel(herald: string): string | undefined {
  if (herald.includes(':') || herald.includes('/')) return undefined;
  if (!herald.includes('+')) return herald;
  const name = herald.replaceAll('+2C', ',').replaceAll('+3B', ';');
  return name.includes('+') ? undefined : name;
}

/** The Pusher name of a Herald user's stream (pusher-js after `pusher:signin`, reference §8.1). */
export const USER_CHANNEL_PREFIX = '#server-to-user-';

/**
 * The names of one app on Herald's side. Apps share one hub, so each app's channels and users live under its own
 * prefix (`channelPrefix`, '' for the first app, `<id>/` for the others by default): a Pusher name never holds a
 * `/`, so no two apps can reach each other's channels, and a Herald backend reaches app B's `news` subscribers by
 * publishing to `B/news`.
 */
export class AppNames {
  constructor(readonly prefix: string) {}

  /** The Herald channel of a Pusher channel name of this app; undefined for an invalid name. */
  channel(pusher: string): string | undefined {
    const h = heraldChannel(pusher);
    if (h === undefined || this.prefix === '') return h;
    const full = this.prefix + h;
    return full.length <= 200 ? full : undefined;
  }

  /** The Pusher name of a Herald channel, when it is one of this app's. */
  pusher(herald: string): string | undefined {
    if (this.prefix === '') return pusherChannel(herald);
    return herald.startsWith(this.prefix) ? pusherChannel(herald.slice(this.prefix.length)) : undefined;
  }

  /** The Herald user of a Pusher user id (signed in, or in a `#server-to-user-<id>` trigger). */
  user(id: string): string {
    return this.prefix + id;
  }

  /** The Pusher user id of a Herald user, when it is one of this app's. */
  userId(herald: string): string | undefined {
    if (this.prefix === '') return herald;
    return herald.startsWith(this.prefix) ? herald.slice(this.prefix.length) : undefined;
  }
}

export const ChannelKind = { Public: 0, Private: 1, Encrypted: 2, Presence: 3, User: 4 } as const;
export type ChannelKind = (typeof ChannelKind)[keyof typeof ChannelKind];

/** The kind of a Pusher channel, by prefix, in the order the clients check them. */
export function channelKind(name: string): ChannelKind {
  if (name.startsWith('private-encrypted-')) return ChannelKind.Encrypted;
  if (name.startsWith('private-')) return ChannelKind.Private;
  if (name.startsWith('presence-')) return ChannelKind.Presence;
  if (name.startsWith('#')) return ChannelKind.User;
  return ChannelKind.Public;
}

const CACHE_RE = /^(private-encrypted-|private-|presence-)?cache-/;

/** Cache channels (`cache-`, `private-cache-`, `private-encrypted-cache-`, `presence-cache-`): their base kind plus §8.2. */
export function isCacheChannel(name: string): boolean {
  return CACHE_RE.test(name);
}

const SOCKET_ID_RE = /^\d{1,10}\.\d{1,15}$/;
const SESSION_ID_RE = /^([0-9a-f]{8})\.([0-9a-z]{1,10})$/;

/**
 * A Herald connection id (`<node id, 8 hex>.<counter, base 36>`, from `Context.nextSessionId`) as a Pusher
 * socket_id (`\d+\.\d+`, which the server SDKs insist on): the same two numbers in decimal. Unique across nodes as
 * the connection id is, and computed on demand, so a connection stores no second id.
 */
export function socketIdOf(connectionId: string): string {
  const m = SESSION_ID_RE.exec(connectionId);
  if (m === null) throw new Error(`not a Herald connection id: ${connectionId}`);
  return `${parseInt(m[1]!, 16)}.${parseInt(m[2]!, 36)}`;
}

/** The inverse of `socketIdOf`; undefined for a string that is not a socket_id. */
export function connectionIdOf(socketId: string): string | undefined {
  if (!SOCKET_ID_RE.test(socketId)) return undefined;
  const dot = socketId.indexOf('.');
  const node = Number(socketId.slice(0, dot));
  const seq = Number(socketId.slice(dot + 1));
  if (node > 0xffffffff || !Number.isSafeInteger(seq)) return undefined;
  return `${node.toString(16).padStart(8, '0')}.${seq.toString(36)}`;
}

/** Whether `s` has a socket_id's syntax (what the SDKs check before sending one). */
export function isSocketId(s: unknown): s is string {
  return typeof s === 'string' && SOCKET_ID_RE.test(s);
}
