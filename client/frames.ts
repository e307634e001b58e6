// Reading server frames (docs/protocol.md) into the SDK's types, apart from what the client does with them. Every
// field is checked because the frames come off the network: a malformed one is dropped, never half-applied.
import { channelOfStream } from '../src/domain/streams.ts';
import type { ConnectedInfo, HeraldMessage } from './types.ts';
import { numberOrUndefined } from './util.ts';

export type Frame = Record<string, unknown>;

/** Undefined for anything that is not a JSON object; such frames are ignored rather than fatal. */
export function parseFrame(text: string): Frame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return parsed as Frame;
}

export function welcomeInfo(f: Frame): ConnectedInfo {
  const heartbeat = typeof f.heartbeat === 'number' && f.heartbeat > 0 ? f.heartbeat : 25_000;
  return { session: String(f.session ?? ''), user: String(f.user ?? ''), heartbeat };
}

export function messageOf(f: Frame): HeraldMessage | undefined {
  const { stream, offset, epoch } = f;
  if (typeof stream !== 'string' || typeof offset !== 'number' || typeof epoch !== 'string') return undefined;
  const msg: HeraldMessage = { stream, offset, epoch, data: f.data };
  const channel = channelOfStream(stream);
  if (channel !== undefined) msg.channel = channel;
  if (typeof f.event === 'string') msg.event = f.event;
  return msg;
}

export interface Recovery {
  stream: string;
  epoch: string;
  top: number;
  replay: number;
  recovered: boolean;
}

/** Where a stream stands after a (re)subscribe: sent as `recovery`, and inside a `subscribed` that answers ours. */
export function recoveryOf(f: Frame): Recovery | undefined {
  const { stream, epoch, top, replay, recovered } = f;
  if (typeof stream !== 'string' || typeof epoch !== 'string' || typeof top !== 'number' || typeof replay !== 'number') return undefined;
  return { stream, epoch, top, replay, recovered: recovered === true };
}

export function errorOf(f: Frame): { code: string; message: string; id: number | undefined } {
  const code = typeof f.code === 'string' ? f.code : 'unknown';
  return { code, message: typeof f.message === 'string' ? f.message : code, id: numberOrUndefined(f.id) };
}

export { channelOfStream as channelOf };
