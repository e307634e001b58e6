// Native protocol frames (JSON text frames on /ws). docs/protocol.md is the normative description;
// this module is the single place that decodes client frames and encodes server frames, and it does no I/O.
import { ErrorCode } from './codes.ts';

export const PROTOCOL_VERSION = 1;

/** A client's last seen position in a stream. */
export interface SincePosition {
  offset: number;
  epoch: string;
}

export type ClientFrame =
  | { type: 'auth'; token: string; positions?: Record<string, SincePosition> }
  | { type: 'subscribe'; channel: string; id?: number; since?: SincePosition }
  | { type: 'ack'; stream: string; offset: number; epoch?: string }
  | { type: 'unsubscribe'; channel: string; id?: number }
  | { type: 'send'; id: number; data: unknown; event?: string }
  | { type: 'ping' }
  | { type: 'pong' };

export interface FrameError {
  code: ErrorCode;
  message: string;
  id?: number;
}

export type DecodeResult = { ok: true; frame: ClientFrame } | { ok: false; error: FrameError };

function fail(code: ErrorCode, message: string, id?: number): DecodeResult {
  return { ok: false, error: id === undefined ? { code, message } : { code, message, id } };
}

function isPosition(v: unknown): v is SincePosition {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return Number.isSafeInteger(p.offset) && (p.offset as number) >= 0 && typeof p.epoch === 'string' && p.epoch.length <= 64;
}

function optionalId(v: unknown): number | undefined | null {
  if (v === undefined) return undefined;
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : null;
}

/** Decodes one client text frame. Never throws. */
export function decodeClientFrame(text: string): DecodeResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail(ErrorCode.BadJson, 'frame is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(ErrorCode.BadRequest, 'frame must be a JSON object');
  }
  const f = raw as Record<string, unknown>;
  const id = optionalId(f.id);
  if (id === null) return fail(ErrorCode.BadRequest, 'id must be a non-negative integer');
  switch (f.type) {
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case 'pong':
      return { ok: true, frame: { type: 'pong' } };
    case 'auth': {
      if (typeof f.token !== 'string' || f.token.length === 0) return fail(ErrorCode.BadRequest, 'auth needs a token string');
      if (f.positions === undefined) return { ok: true, frame: { type: 'auth', token: f.token } };
      const p = f.positions;
      if (typeof p !== 'object' || p === null || Array.isArray(p) || !Object.values(p).every(isPosition) || Object.keys(p).length > 1024) {
        return fail(ErrorCode.BadRequest, 'positions must map stream names to {"offset":n,"epoch":"..."}');
      }
      return { ok: true, frame: { type: 'auth', token: f.token, positions: p as Record<string, SincePosition> } };
    }
    case 'subscribe':
    case 'unsubscribe': {
      if (typeof f.channel !== 'string') return fail(ErrorCode.BadRequest, `${f.type} needs a channel string`, id);
      const frame = { type: f.type, channel: f.channel } as ClientFrame & { id?: number; since?: SincePosition };
      if (id !== undefined) frame.id = id;
      if (f.type === 'subscribe' && f.since !== undefined) {
        if (!isPosition(f.since)) return fail(ErrorCode.BadRequest, 'since must be {"offset":n,"epoch":"..."}', id);
        frame.since = f.since;
      }
      return { ok: true, frame };
    }
    case 'ack': {
      if (typeof f.stream !== 'string' || !Number.isSafeInteger(f.offset) || (f.offset as number) < 0) {
        return fail(ErrorCode.BadRequest, 'ack needs a stream and a non-negative integer offset');
      }
      if (f.epoch !== undefined && typeof f.epoch !== 'string') return fail(ErrorCode.BadRequest, 'epoch must be a string');
      const frame: ClientFrame = { type: 'ack', stream: f.stream, offset: f.offset as number };
      if (typeof f.epoch === 'string') frame.epoch = f.epoch;
      return { ok: true, frame };
    }
    case 'send': {
      if (id === undefined) return fail(ErrorCode.BadRequest, 'send needs an id to correlate the reply');
      if (!('data' in f)) return fail(ErrorCode.BadRequest, 'send needs data', id);
      if (f.event !== undefined && typeof f.event !== 'string') return fail(ErrorCode.BadRequest, 'event must be a string', id);
      const frame: ClientFrame = { type: 'send', id, data: f.data };
      if (typeof f.event === 'string') frame.event = f.event;
      return { ok: true, frame };
    }
    default:
      return fail(ErrorCode.UnknownFrame, `unknown frame type ${JSON.stringify(f.type) ?? 'undefined'}`, id);
  }
}

export interface WelcomeFrame {
  type: 'welcome';
  version: number;
  session: string;
  user: string;
  heartbeat: number;
}

export function encodeWelcome(w: Omit<WelcomeFrame, 'type' | 'version'>): string {
  return JSON.stringify({ type: 'welcome', version: PROTOCOL_VERSION, ...w });
}

export function encodeError(e: FrameError): string {
  return JSON.stringify({ type: 'error', ...e });
}

/** Where a stream stands after (re)connecting: sent before the replayed messages. */
export interface RecoveryInfo {
  stream: string;
  /** False when the client's position could not be continued without a gap. */
  recovered: boolean;
  epoch: string;
  /** Highest offset in the stream now. */
  top: number;
  /** How many stored messages follow as replay. */
  replay: number;
}

export function encodeAck(type: 'subscribed' | 'unsubscribed', channel: string, id?: number, recovery?: RecoveryInfo): string {
  const base: Record<string, unknown> = { type, channel };
  if (id !== undefined) base.id = id;
  return JSON.stringify(recovery === undefined ? base : { ...base, ...recovery });
}

export function encodeRecovery(r: RecoveryInfo): string {
  return JSON.stringify({ type: 'recovery', ...r });
}

export function encodeReply(id: number, dataJson: string): string {
  return `{"type":"reply","id":${id},"data":${dataJson}}`;
}

/**
 * Sent before the 4000 close of a shutdown: come back at a random moment within `reconnectWithin` ms (and retry
 * quickly while the server is not yet back), so that a restart's clients return spread over what the node can take.
 */
export function encodeShutdown(reconnectWithin: number): string {
  return `{"type":"shutdown","reconnectWithin":${reconnectWithin}}`;
}

export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/**
 * Builds a message frame from an already serialized data value, so the published JSON is embedded as is and
 * is serialized once per message, not once per recipient.
 */
export function encodeMessage(stream: string, offset: number, epoch: string, dataJson: string, event?: string): string {
  const head = `{"type":"message","stream":${JSON.stringify(stream)},"offset":${offset},"epoch":${JSON.stringify(epoch)}`;
  return event === undefined ? `${head},"data":${dataJson}}` : `${head},"event":${JSON.stringify(event)},"data":${dataJson}}`;
}
