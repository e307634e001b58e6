// Reading server frames (docs/protocol.md) into typed frames, apart from what the client does with them. Every
// field is checked here, once, because the frames come off the network: a malformed frame is dropped, never
// half-applied, and the client's state machine only ever sees `ServerFrame`s.
import { channelOfStream } from '../src/domain/streams.ts';
import type { ConnectedInfo, HeraldMessage } from './types.ts';
import { numberOrUndefined } from './util.ts';

/** Where a stream stands after a (re)subscribe: sent as `recovery`, and inside a `subscribed` that answers ours. */
export interface Recovery {
  stream: string;
  epoch: string;
  top: number;
  replay: number;
  recovered: boolean;
}

export type ServerFrame =
  | { type: 'welcome'; info: ConnectedInfo }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'message'; message: HeraldMessage }
  | { type: 'subscribed' | 'unsubscribed'; channel: string; id: number | undefined; recovery: Recovery | undefined }
  | { type: 'recovery'; recovery: Recovery }
  | { type: 'reply'; id: number | undefined; data: unknown }
  | { type: 'error'; code: string; message: string; id: number | undefined }
  | { type: 'shutdown'; reconnectWithin: number };

type Raw = Record<string, unknown>;

/**
 * Undefined for anything that is not a well-formed frame of a known type: such frames are ignored rather than
 * fatal, which also lets a newer server add frame types.
 */
export function readFrame(text: string): ServerFrame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const f = parsed as Raw;
  switch (f.type) {
    case 'welcome':
      return { type: 'welcome', info: welcomeInfo(f) };
    case 'ping':
    case 'pong':
      return { type: f.type };
    case 'message': {
      const message = messageOf(f);
      return message === undefined ? undefined : { type: 'message', message };
    }
    case 'subscribed':
    case 'unsubscribed':
      if (typeof f.channel !== 'string') return undefined;
      return { type: f.type, channel: f.channel, id: numberOrUndefined(f.id), recovery: f.type === 'subscribed' ? recoveryOf(f) : undefined };
    case 'recovery': {
      const recovery = recoveryOf(f);
      return recovery === undefined ? undefined : { type: 'recovery', recovery };
    }
    case 'reply':
      return { type: 'reply', id: numberOrUndefined(f.id), data: f.data };
    case 'shutdown': {
      const w = f.reconnectWithin;
      // Bounded here: a server's hint must not park a client for longer than its own backoff ever would.
      return typeof w === 'number' && w >= 0 ? { type: 'shutdown', reconnectWithin: Math.min(w, 120_000) } : undefined;
    }
    case 'error': {
      const code = typeof f.code === 'string' ? f.code : 'unknown';
      return { type: 'error', code, message: typeof f.message === 'string' ? f.message : code, id: numberOrUndefined(f.id) };
    }
    default:
      return undefined;
  }
}

function welcomeInfo(f: Raw): ConnectedInfo {
  const heartbeat = typeof f.heartbeat === 'number' && f.heartbeat > 0 ? f.heartbeat : 25_000;
  return { session: String(f.session ?? ''), user: String(f.user ?? ''), heartbeat };
}

function messageOf(f: Raw): HeraldMessage | undefined {
  const { stream, offset, epoch } = f;
  if (typeof stream !== 'string' || typeof offset !== 'number' || typeof epoch !== 'string') return undefined;
  const msg: HeraldMessage = { stream, offset, epoch, data: f.data };
  const channel = channelOfStream(stream);
  if (channel !== undefined) msg.channel = channel;
  if (typeof f.event === 'string') msg.event = f.event;
  return msg;
}

function recoveryOf(f: Raw): Recovery | undefined {
  const { stream, epoch, top, replay, recovered } = f;
  if (typeof stream !== 'string' || typeof epoch !== 'string' || typeof top !== 'number' || typeof replay !== 'number') return undefined;
  return { stream, epoch, top, replay, recovered: recovered === true };
}
