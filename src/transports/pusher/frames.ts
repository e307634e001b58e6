// The Pusher protocol's server frames (docs/pusher.md, ../shared/reference/pusher-protocol.md §4), pure. `data` is
// a JSON-encoded string in every frame Herald sends, as Pusher sends it; pusher-js parses it back.
import { dataAsText } from '../common/wire.ts';
import { frameText } from '../../protocol/wsframe.ts';
import type { Envelope } from '../../domain/streams.ts';
import { USER_CHANNEL_PREFIX, type AppNames } from './names.ts';

/** The Pusher event name of a Herald message published without an `event`. */
export const DEFAULT_EVENT = 'message';

/** Error codes Herald sends in `pusher:error` frames and close frames (the protocol's ranges, §9). */
export const PusherCode = {
  /** Fatal, before the handshake: no app has the key in the path. */
  UnknownApp: 4001,
  /** Fatal: the `protocol` query parameter is not a version this server speaks. */
  UnsupportedProtocol: 4007,
  /** Non-fatal: a client event on a channel where it is not allowed (public, encrypted, not subscribed, disabled). */
  NotAllowed: 4009,
  /** Close: the app's connection limit on this node is reached; pusher-js retries after a second. */
  OverCapacity: 4100,
  /** Close: the server is shutting down; pusher-js reconnects at once. */
  Reconnect: 4200,
  /** Close: no answer to a server ping within the pong timeout; pusher-js reconnects at once. */
  PongTimeout: 4201,
  /** Non-fatal: a frame that is not a Pusher message (bad JSON, no `event`, unknown event). */
  BadMessage: 4200,
  /** Non-fatal: a client event refused for its rate or its size. */
  ClientEventRejected: 4301,
} as const;

export const PONG = frameText('{"event":"pusher:pong","data":"{}"}');
export const PING = frameText('{"event":"pusher:ping","data":"{}"}');

export function connectionEstablished(socketId: string, activityTimeout: number): Buffer {
  const data = JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout });
  return frameText(JSON.stringify({ event: 'pusher:connection_established', data }));
}

/** A connection-level error; `data` is an object here, as pusher-js reads both forms (§9.1). */
export function errorFrame(code: number | null, message: string): Buffer {
  return frameText(JSON.stringify({ event: 'pusher:error', data: { code, message } }));
}

export function channelFrame(event: string, channel: string, data: string): Buffer {
  return frameText(JSON.stringify({ event, channel, data }));
}

export function subscriptionSucceeded(channel: string, presence?: string): Buffer {
  return channelFrame('pusher_internal:subscription_succeeded', channel, presence ?? '{}');
}

/** A refused subscription, on the channel, so that it reaches the channel's (Echo's `.error()`) callbacks. */
export function subscriptionError(channel: string, type: string, error: string, status: number): Buffer {
  return channelFrame('pusher:subscription_error', channel, JSON.stringify({ type, error, status }));
}

/**
 * The encoder of Herald messages as one app's Pusher frames, made once per app so that `Delivery.as` runs it once
 * per message. `event` is the message's event (or `message`); `data` is the published data's text: a JSON string
 * as its value (so a Pusher trigger's data string, stored as a JSON string when it is not JSON itself, comes back
 * byte for byte), any other JSON value as its JSON text (so a trigger's JSON data, stored verbatim, does too). The
 * channel is the Pusher name of the message's Herald channel; a user's stream is `#server-to-user-<id>`; a
 * broadcast has none (it reaches pusher-js's global bindings only).
 */
export function frameEncoder(names: AppNames): (env: Envelope) => Buffer {
  return (env) => frameText(JSON.stringify(pusherMessage(names, env)));
}

/**
 * The encoder for the resumable connections of Herald's Echo connector (resume.ts): a channel's or user channel's
 * message is preceded by `pusher_internal:herald_at` with its position, in the same buffer, so both go out in one write.
 */
export function positionedEncoder(names: AppNames): (env: Envelope) => Buffer {
  return (env) => {
    const msg = pusherMessage(names, env);
    const frame = frameText(JSON.stringify(msg));
    if (msg.channel === undefined) return frame;
    const at = frameText(JSON.stringify({ event: 'pusher_internal:herald_at', channel: msg.channel, data: `${env.epoch}:${env.offset}` }));
    return Buffer.concat([at, frame], at.length + frame.length);
  };
}

function pusherMessage(names: AppNames, env: Envelope): { event: string; channel?: string; data: string } {
  const stream = env.stream;
  let channel: string | undefined;
  if (stream.startsWith('channel:')) channel = names.pusher(stream.slice(8));
  else if (stream.startsWith('user:')) {
    const id = names.userId(stream.slice(5));
    if (id !== undefined) channel = USER_CHANNEL_PREFIX + id;
  }
  const event = env.event ?? DEFAULT_EVENT;
  const data = dataAsText(env.data);
  return channel === undefined ? { event, data } : { event, channel, data };
}

/**
 * The Herald data (serialized JSON) of a Pusher data string: the string itself when it is JSON that is not a JSON
 * string (native clients then get the value, and `pusherFrame` gives Pusher clients the same bytes back), else
 * the string as a JSON string. The inverse of `pusherFrame`'s rule, so every data string round-trips exactly.
 */
export function heraldData(data: string): string {
  const c = data.charCodeAt(0);
  // Only text that can start a non-string JSON value is tried: a parse costs more than this check.
  if (c === 0x7b || c === 0x5b || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
    try {
      JSON.parse(data);
      return data;
    } catch {
      // not JSON: stored as a string below
    }
  }
  return JSON.stringify(data);
}
