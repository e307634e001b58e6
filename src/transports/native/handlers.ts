import { countError, type Context } from '../../context.ts';
import { BROADCAST_STREAM, channelOfStream, channelStream, isValidChannel, userStream } from '../../domain/streams.ts';
import { resumeStream } from '../common/resume.ts';
import { UpstreamError } from '../../core/upstream.ts';
import { ErrorCode } from '../../protocol/codes.ts';
import {
  encodeAck,
  encodeError,
  encodeRecovery,
  encodeReply,
  PONG_FRAME,
  type ClientFrame,
  type FrameError,
  type SincePosition,
} from '../../protocol/frames.ts';
import { frameText } from '../../protocol/wsframe.ts';
import type { NativeConnection } from './connection.ts';

const PONG = frameText(PONG_FRAME);

/** Handles one decoded frame from an authenticated native client. */
export function handleFrame(ctx: Context, conn: NativeConnection, f: ClientFrame): void {
  switch (f.type) {
    case 'ping':
      conn.sendFrame(PONG);
      return;
    case 'pong':
      return;
    case 'auth':
      return sendError(ctx, conn, { code: ErrorCode.AlreadyAuthenticated, message: 'this connection is already authenticated' });
    case 'subscribe':
      return subscribe(ctx, conn, f);
    case 'unsubscribe':
      ctx.hub.unsubscribe(conn, f.channel);
      conn.sendText(encodeAck('unsubscribed', f.channel, f.id));
      return;
    case 'ack':
      return ack(ctx, conn, f);
    case 'send':
      return upstream(ctx, conn, f);
  }
}

export function sendError(ctx: Context, conn: NativeConnection, e: FrameError): void {
  countError(ctx, e.code);
  conn.sendText(encodeError(e));
}

function withId(e: FrameError, id: number | undefined): FrameError {
  return id === undefined ? e : { ...e, id };
}

function subscribe(ctx: Context, conn: NativeConnection, f: Extract<ClientFrame, { type: 'subscribe' }>): void {
  const limit = ctx.config.limits.maxChannelsPerConnection;
  if (!isValidChannel(f.channel)) return sendError(ctx, conn, withId({ code: ErrorCode.InvalidChannel, message: 'invalid channel name' }, f.id));
  if (!conn.canSubscribe(f.channel)) {
    return sendError(ctx, conn, withId({ code: ErrorCode.Forbidden, message: `token does not allow channel ${f.channel}` }, f.id));
  }
  if (conn.channels.has(f.channel)) {
    conn.sendText(encodeAck('subscribed', f.channel, f.id));
    return;
  }
  const stream = channelStream(f.channel);
  // Join first and hold live messages, then read history: nothing published in between can fall through.
  const hold = conn.recovery();
  hold.begin(stream);
  if (!ctx.hub.subscribe(conn, f.channel, limit)) {
    hold.end(conn, stream, '', 0, []);
    conn.recoveryDone();
    return sendError(ctx, conn, withId({ code: ErrorCode.TooManyChannels, message: `at most ${limit} channels per connection` }, f.id));
  }
  resumeStream(ctx, conn, stream, f.since, { replayAll: false }, (info) => conn.sendText(encodeAck('subscribed', f.channel, f.id, info)));
}

/**
 * After the welcome: the user's own stream (the inbox) continues from the later of the client's position and the
 * acknowledged one, or from the start of retained history for a device that has neither; `broadcast` continues
 * from the client's position, or starts live. Both get a `recovery` frame, so even a first-time client learns
 * where each stream stands and can resume from there next time.
 */
export function resumeImplicitStreams(ctx: Context, conn: NativeConnection, positions: Record<string, SincePosition> | undefined): void {
  const inbox = userStream(conn.user);
  const streams: [string, boolean][] = [
    [inbox, true],
    [BROADCAST_STREAM, false],
  ];
  const hold = conn.recovery();
  for (const [stream] of streams) hold.begin(stream);
  for (const [stream, isInbox] of streams) {
    // The inbox of a device with no usable position replays everything retained (from the acknowledged position,
    // or 0); `broadcast` starts live (planRecovery).
    const floor = isInbox ? ctx.store.getAck(conn.user) : undefined;
    resumeStream(ctx, conn, stream, positions?.[stream], { floor, replayAll: isInbox }, (info) => conn.sendText(encodeRecovery(info)));
  }
}

function ack(ctx: Context, conn: NativeConnection, f: Extract<ClientFrame, { type: 'ack' }>): void {
  const own = userStream(conn.user);
  const channel = channelOfStream(f.stream);
  const receives = f.stream === own || f.stream === BROADCAST_STREAM || (channel !== undefined && conn.channels.has(channel));
  if (!receives) return sendError(ctx, conn, { code: ErrorCode.Forbidden, message: `this connection does not receive ${f.stream}` });
  // Only what exists can be acknowledged: an ack past the stream's top (or of another epoch) would answer receipts
  // for messages not even published yet, and, stored as the inbox position, would outrank every true ack after it.
  ctx.store.position(f.stream).then(
    (pos) => {
      if (f.offset > pos.top || (f.epoch !== undefined && f.epoch !== pos.epoch)) {
        countError(ctx, 'ack_beyond_top');
        return sendError(ctx, conn, { code: ErrorCode.BadRequest, message: `no offset ${f.offset} in ${f.stream} (epoch ${pos.epoch}, top ${pos.top})` });
      }
      if (f.stream === own && f.epoch !== undefined) {
        ctx.store.setAck(conn.user, { offset: f.offset, epoch: f.epoch }).catch((err: unknown) => ctx.log.error({ err }, 'storing ack failed'));
      }
      ctx.receipts.ack(f.stream, f.offset);
    },
    (err: unknown) => ctx.log.warn({ err, stream: f.stream }, 'an ack could not be checked against the store; dropped'),
  );
}

function upstream(ctx: Context, conn: NativeConnection, f: Extract<ClientFrame, { type: 'send' }>): void {
  if (conn.inflightSends >= ctx.config.limits.maxPendingSends) {
    return sendError(ctx, conn, { code: ErrorCode.TooManyRequests, message: 'too many sends awaiting a reply', id: f.id });
  }
  conn.inflightSends++;
  ctx.upstream.send({ session: conn.id, user: conn.user, transport: conn.transport }, f.data, f.event).then(
    (reply) => {
      conn.inflightSends--;
      conn.sendText(encodeReply(f.id, reply));
    },
    (err: unknown) => {
      conn.inflightSends--;
      if (!(err instanceof UpstreamError)) ctx.log.error({ err }, 'upstream send failed');
      const e = err instanceof UpstreamError ? err : new UpstreamError(ErrorCode.Internal, 'upstream failed');
      sendError(ctx, conn, { code: e.code, message: e.message, id: f.id });
    },
  );
}
