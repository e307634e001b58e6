// Herald's extension of the Pusher protocol for its Echo connector (docs/pusher.md, "Nothing lost"): a client that
// connects to `/herald/app/<key>` gets a `pusher_internal:herald_at` frame (`<epoch>:<offset>`) before each stored message of a
// channel or of its user channel, and sends `herald:resume` with the last position of each channel once connected;
// its subscriptions and sign-in then continue each stream from there, replaying what it missed from the store.
// Stock pusher-js never connects there, so nothing changes for it.
import { countError } from '../../context.ts';
import { channelStream, userStream } from '../../domain/streams.ts';
import type { Position } from '../../store/store.ts';
import { RecoveryHold, resumeStream } from '../common/resume.ts';
import { frameText } from '../../protocol/wsframe.ts';
import { errorFrame, PusherCode } from './frames.ts';
import type { PusherConnection } from './connection.ts';
import type { PusherState } from './handlers.ts';
import { USER_CHANNEL_PREFIX, type AppNames } from './names.ts';

export const RESUMABLE_PATH = '/herald';

/** Frames a resumable client may send before its `herald:resume`, kept until it arrives (subscribes, sign-in). */
const MAX_WAITING = 256;
const POSITION_RE = /^([0-9A-Za-z_-]{1,64}):(\d{1,15})$/;

/** The resume state of one connection of Herald's Echo connector; other Pusher connections have none. */
export class PusherResume {
  hold: RecoveryHold | undefined;
  /** Stream -> the client's last position, from `herald:resume`. */
  positions = new Map<string, Position>();
  /** Frames received before `herald:resume`; undefined once it came. */
  waiting: Buffer[] | undefined = [];
  /** When the connection opened: its subscribes wait at most a few seconds for `herald:resume` (endpoint sweep). */
  readonly since = Date.now();
}

/**
 * Before `herald:resume`, a subscribe or a sign-in waits (pusher-js sends its subscribes as soon as it is connected,
 * before the connector can speak), so that each stream starts from the client's position. True: the frame waits.
 */
export function waitForResume(s: PusherState, conn: PusherConnection, raw: Buffer, event: string): boolean {
  const w = conn.resume?.waiting;
  if (w === undefined || (event !== 'pusher:subscribe' && event !== 'pusher:signin')) return false;
  if (w.length >= MAX_WAITING) {
    countError(s.ctx, 'pusher_resume_waiting');
    conn.send(errorFrame(PusherCode.BadMessage, `at most ${MAX_WAITING} frames may wait for herald:resume`));
    return true;
  }
  w.push(raw);
  return true;
}

/** `herald:resume` `{"positions":{"<channel>":"<epoch>:<offset>"}}`: the positions, then the frames that waited. */
export function takeResume(s: PusherState, conn: PusherConnection, data: unknown, replay: (raw: Buffer) => void): void {
  const r = conn.resume;
  if (r === undefined || r.waiting === undefined) {
    conn.send(errorFrame(PusherCode.BadMessage, 'herald:resume is for connections to /herald/app/<key>, once'));
    return;
  }
  const positions = typeof data === 'object' && data !== null ? (data as { positions?: unknown }).positions : undefined;
  if (typeof positions === 'object' && positions !== null) {
    let n = 0;
    for (const [name, value] of Object.entries(positions as Record<string, unknown>)) {
      if (++n > MAX_WAITING) break;
      const m = typeof value === 'string' ? POSITION_RE.exec(value) : null;
      const stream = streamOfName(s.names, name);
      if (m !== null && stream !== undefined) r.positions.set(stream, { epoch: m[1]!, offset: Number(m[2]) });
    }
  }
  const waiting = r.waiting;
  r.waiting = undefined;
  for (const raw of waiting) replay(raw);
}

function streamOfName(names: AppNames, name: string): string | undefined {
  if (name.startsWith(USER_CHANNEL_PREFIX))
    return name.length > USER_CHANNEL_PREFIX.length ? userStream(names.user(name.slice(USER_CHANNEL_PREFIX.length))) : undefined;
  const herald = names.channel(name);
  return herald === undefined ? undefined : channelStream(herald);
}

/** Holds `stream`'s live messages for a resumable connection; call before it joins the stream. */
export function beginResume(conn: PusherConnection, stream: string): void {
  if (conn.resume !== undefined) conn.recovery().begin(stream);
}

/** The join failed: what was held goes out, and nothing is replayed. */
export function abortResume(conn: PusherConnection, stream: string): void {
  if (conn.resume?.hold === undefined) return;
  conn.resume.hold.end(conn, stream, '', 0, []);
  conn.recoveryDone();
}

/**
 * Continues `stream` (Pusher name `name`) from the client's position: `pusher_internal:herald_resumed` says where it stands
 * (`recovered` false: a gap could not be filled; `at`: the position to continue from when the client had none),
 * then the replay and the held live messages follow.
 */
export function continueResume(s: PusherState, conn: PusherConnection, stream: string, name: string): void {
  if (conn.resume === undefined) return;
  resumeStream(s.ctx, conn, stream, conn.resume.positions.get(stream), { replayAll: false }, (info) => {
    const data = JSON.stringify({ recovered: info.recovered, at: `${info.epoch}:${info.top}`, replay: info.replay });
    conn.send(frameText(JSON.stringify({ event: 'pusher_internal:herald_resumed', channel: name, data })));
  });
}
