import { countError, type Context } from '../../context.ts';
import { BROADCAST_STREAM, channelOfStream, channelStream, isValidChannel, userStream } from '../../domain/streams.ts';
import { capToDelivered, planRecovery, type RecoveryPlan } from '../../core/recovery.ts';
import { UpstreamError } from '../../core/upstream.ts';
import { CloseCode, ErrorCode } from '../../protocol/codes.ts';
import {
  encodeAck,
  encodeError,
  encodeRecovery,
  encodeReply,
  PONG_FRAME,
  type ClientFrame,
  type FrameError,
  type RecoveryInfo,
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
  conn.beginRecovery(stream);
  if (!ctx.hub.subscribe(conn, f.channel, limit)) {
    conn.endRecovery(stream, '', 0, []);
    return sendError(ctx, conn, withId({ code: ErrorCode.TooManyChannels, message: `at most ${limit} channels per connection` }, f.id));
  }
  ctx.broker
    .watch(stream)
    .then(() => planRecovery(ctx.store, stream, f.since, { replayAll: false }))
    .then(
      (read) => finishRecovery(ctx, conn, stream, read, (info) => conn.sendText(encodeAck('subscribed', f.channel, f.id, info))),
      (err: unknown) => recoveryFailed(ctx, conn, stream, err),
    );
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
  for (const [stream] of streams) conn.beginRecovery(stream);
  for (const [stream, isInbox] of streams) {
    const since = positions?.[stream];
    const floor = isInbox ? ctx.store.getAck(conn.user) : Promise.resolve(undefined);
    // Other nodes' messages must be arriving before history is read (Broker.watch). The inbox of a device with no
    // usable position replays everything retained (from 0); `broadcast` starts live (planRecovery).
    Promise.all([floor, ctx.broker.watch(stream)])
      .then(([ackPos]) => planRecovery(ctx.store, stream, since, { floor: ackPos, replayAll: isInbox }))
      .then(
        (read) => finishRecovery(ctx, conn, stream, read, (info) => conn.sendText(encodeRecovery(info))),
        (err: unknown) => recoveryFailed(ctx, conn, stream, err),
      );
  }
}

/**
 * Ends a stream's recovery, the same for a subscribe and for the implicit streams: the replay stops where this
 * node's live delivery stands (`capToDelivered`, several nodes), `tell` sends where the stream stands, then the
 * replay and the held live messages follow. The plan's `from` is the offset the client continues after (never
 * beyond the stream's top: planRecovery); without one it starts live, just before the first message held since it
 * joined (published after its welcome or subscribe, which may be before the history was read), and `top` tells it
 * that start.
 */
function finishRecovery(ctx: Context, conn: NativeConnection, stream: string, read: RecoveryPlan, tell: (info: RecoveryInfo) => void): void {
  const live = ctx.broker.delivered(stream);
  const plan = capToDelivered(read, live);
  const from = plan.from;
  const epoch = plan.position.epoch;
  const start = from ?? conn.liveStart(stream, epoch, plan.position.top);
  const top = from === undefined ? start : plan.position.top;
  tell({ stream, recovered: plan.recovered, epoch, top, replay: plan.messages.length });
  conn.endRecovery(stream, epoch, start, plan.messages, live);
}

function recoveryFailed(ctx: Context, conn: NativeConnection, stream: string, err: unknown): void {
  ctx.log.warn({ err: (err as Error).message, stream }, 'reading history failed: asking the client to reconnect and resume');
  // The history is not lost, only unreachable for now (store down): a reconnect with backoff resumes it later,
  // where answering `recovered: false` would make the application reload for nothing.
  conn.close(CloseCode.Resync, 'history unavailable, resume later');
}

function ack(ctx: Context, conn: NativeConnection, f: Extract<ClientFrame, { type: 'ack' }>): void {
  const own = userStream(conn.user);
  const channel = channelOfStream(f.stream);
  const receives = f.stream === own || f.stream === BROADCAST_STREAM || (channel !== undefined && conn.channels.has(channel));
  if (!receives) return sendError(ctx, conn, { code: ErrorCode.Forbidden, message: `this connection does not receive ${f.stream}` });
  if (f.stream === own && f.epoch !== undefined) {
    ctx.store.setAck(conn.user, { offset: f.offset, epoch: f.epoch }).catch((err: unknown) => ctx.log.error({ err }, 'storing ack failed'));
  }
  ctx.receipts.ack(f.stream, f.offset);
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
