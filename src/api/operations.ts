import type { z } from 'zod';
import type { Context } from '../context.ts';
import { usesRedis } from '../config.ts';
import type { PublishRequest, PublishResult } from '../core/dispatcher.ts';
import { connectionsOf, isConnectionTarget, type PublishTarget } from '../domain/streams.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { ApiError, fromZod } from './errors.ts';
import { createConnectionOperations, withTimeouts } from './connection-ops.ts';
import { userStream } from '../domain/streams.ts';
import {
  BatchSchema,
  ChannelSchema,
  DisconnectSchema,
  EmptySchema,
  ListSchema,
  PublishSchema,
  TARGET_KEYS,
  TargetSchema,
  UserChannelSchema,
  UserSchema,
} from './schemas.ts';

/**
 * The server API as plain operations: `input` is an untrusted JSON object, the result is JSON. The HTTP API and
 * the line port are two framings of these same operations, so they cannot drift apart.
 */
export type Operation = (input: Record<string, unknown>) => Promise<unknown> | unknown;

const noop = (): void => {};

/** In a batch each message fails on its own: its error object takes its place in the results. */
const batchError = (err: unknown): unknown => {
  if (!(err instanceof ApiError)) throw err;
  return err.toJSON();
};

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

type Publish = z.infer<typeof PublishSchema>;
interface ConnectionPush {
  ids: string[];
  data: string;
  event?: string;
}
/** A checked publish: to streams (stored, then delivered), or to connections by id (pushed where they are). */
type Checked = { kind: 'stream'; req: PublishRequest; msg: Publish } | { kind: 'connections'; push: ConnectionPush; msg: Publish };

export function createOperations(ctx: Context) {
  const { hub, dispatcher, config } = ctx;
  const control = withTimeouts(ctx.control);

  const publishOne = async (input: unknown): Promise<unknown> => {
    try {
      const checked = checkPublish(input);
      if (checked.kind === 'connections') return await pushToConnections(checked.push, checked.msg);
      const { req, msg } = checked;
      // The common case (no idempotency key, no receipt wait) in one async step: this is the per-message hot path.
      if (isPlain(msg)) return storedResult(await dispatcher.publish(req));
      return await publishWithOptions(req, msg, noop);
    } catch (err) {
      throw asApiError(err);
    }
  };

  const asApiError = (err: unknown): ApiError => {
    if (err instanceof ApiError) return err;
    // The store refused (Redis away, disk full): nothing was stored, so a retry is safe and is the fix.
    ctx.log.error({ err }, 'publish could not be stored');
    return new ApiError(503, ErrorCode.Unavailable, 'the message could not be stored; retry (with the same idempotencyKey)');
  };

  /**
   * A message to connections by id is not stored (a connection lives on one node and does not resume): each is
   * pushed on the node that holds it, and the reply lists the connections it reached.
   */
  const pushToConnections = async (push: ConnectionPush, msg: Publish): Promise<unknown> => {
    if (msg.idempotencyKey !== undefined || (msg.waitMs ?? 0) > 0) {
      throw new ApiError(400, ErrorCode.BadRequest, 'idempotencyKey and waitMs need a stored message; a message to connections is not stored');
    }
    const { ids, data, event } = push;
    const reached = (await Promise.all(ids.map((id) => control.onOwner(id, 'push', [id], data, event)))).flatMap((r) => r ?? []);
    return { delivered: reached.length, connections: reached, status: reached.length > 0 ? 'delivered' : 'offline' };
  };

  const isPlain = (msg: z.infer<typeof PublishSchema>): boolean => msg.idempotencyKey === undefined && (msg.waitMs === undefined || msg.waitMs === 0);
  const storedResult = (r: PublishResult): unknown => ({ delivered: r.delivered, streams: r.streams, status: 'stored' });

  const checkPublish = (input: unknown): Checked => {
    const msg = parse(PublishSchema, input);
    const to = TargetSchema.safeParse(msg.to);
    if (!to.success) {
      const keys = typeof msg.to === 'object' && msg.to !== null ? Object.keys(msg.to) : [];
      // A known key with a bad value (an invalid channel name, say) gets the detail; still one code for callers.
      const detail = keys.length === 1 && TARGET_KEYS.includes(keys[0]!) ? ` (to.${fromZod(to.error).message})` : '';
      throw new ApiError(
        400,
        ErrorCode.UnknownTarget,
        `to must be one of {"user":id}, {"users":[ids]}, {"channel":name}, {"channels":[names]}, {"all":true}, {"connection":id}, {"connections":[ids]}${detail}`,
      );
    }
    const data = JSON.stringify(msg.data);
    const target = to.data as PublishTarget;
    if (isConnectionTarget(target)) {
      const ids = connectionsOf(target);
      return { kind: 'connections', push: msg.event === undefined ? { ids, data } : { ids, data, event: msg.event }, msg };
    }
    const req: PublishRequest = msg.event === undefined ? { to: target, data } : { to: target, data, event: msg.event };
    return { kind: 'stream', req, msg };
  };

  /**
   * `started` is called once the message's offsets are assigned (or, in a batch, once it failed or was a
   * duplicate): a batch starts the next message only then, so offsets follow the array.
   */
  const publishWithOptions = async (req: PublishRequest, msg: z.infer<typeof PublishSchema>, started: () => void): Promise<unknown> => {
    const publish = (record?: Parameters<typeof dispatcher.publish>[1]) => {
      const p = dispatcher.publish(req, record);
      started();
      return withReceipt(p, msg.waitMs);
    };
    if (msg.idempotencyKey === undefined) return publish();
    // The store keeps a provisional record with the messages; a retry after a crash finds it (store.ts).
    const { result, replayed } = await ctx.idempotency.run(msg.idempotencyKey, (record) => publish(record));
    const first = JSON.parse(result) as Record<string, unknown>;
    return replayed ? { ...first, duplicate: true } : first;
  };

  /**
   * Every published message is stored before it is delivered, so the answer is `stored` at least; with `waitMs`
   * it becomes `delivered` once a connection of each target stream acknowledged it within the wait.
   */
  const withReceipt = async (publishing: Promise<PublishResult>, waitMs: number | undefined): Promise<unknown> => {
    const r = await publishing;
    if (waitMs === undefined || waitMs === 0) return { ...r, status: 'stored' };
    const wait = Math.min(waitMs, config.limits.maxReceiptWaitMs);
    const acked = await Promise.all(r.streams.map((s) => ctx.receipts.wait(s.stream, s.offset, wait)));
    const streams = r.streams.map((s, i) => ({ ...s, status: acked[i] ? 'delivered' : 'stored' }));
    return { ...r, streams, status: acked.every(Boolean) ? 'delivered' : 'stored' };
  };

  /** Counts are cluster-wide (Presence); `sessions` lists the connections on the node that answers. */
  const describe = async (user: string) => {
    const local = [...hub.connectionsOf(user)];
    const connections = await ctx.presence.userConnections(user);
    return {
      user,
      online: connections > 0,
      connections,
      pending: await pendingFor(user),
      sessions: local.map((c) => ({ session: c.id, transport: c.transport, channels: [...c.channels] })),
    };
  };

  /** Messages in the user's inbox (retained) that no connection of theirs has acknowledged. */
  const pendingFor = async (user: string): Promise<number> => {
    const pos = await ctx.store.position(userStream(user));
    const ack = await ctx.store.getAck(user);
    const from = ack !== undefined && ack.epoch === pos.epoch ? ack.offset : 0;
    return Math.max(0, pos.top - Math.max(from, pos.first - 1));
  };

  return {
    ...createConnectionOperations(ctx),

    publish: publishOne,

    publishBatch: async (input) => {
      const { messages } = parse(BatchSchema, input);
      if (messages.length > config.limits.maxBatch) {
        throw new ApiError(400, ErrorCode.BadRequest, `at most ${config.limits.maxBatch} messages per batch`);
      }
      // Each message succeeds or fails on its own; order of publication follows the array. Runs of plain messages
      // are stored in one append (Dispatcher.publishMany); one with an idempotency key or a receipt wait goes alone.
      const results: unknown[] = new Array(messages.length);
      const pending: Promise<void>[] = [];
      let run: { index: number; req: PublishRequest }[] = [];
      const publishRun = (): void => {
        if (run.length === 0) return;
        const group = run;
        run = [];
        pending.push(
          dispatcher.publishMany(group.map((g) => g.req)).then(
            (rs) => rs.forEach((r, k) => (results[group[k]!.index] = storedResult(r))),
            (err: unknown) => {
              const failure = asApiError(err).toJSON();
              for (const g of group) results[g.index] = failure;
            },
          ),
        );
      };
      for (let i = 0; i < messages.length; i++) {
        let checked: ReturnType<typeof checkPublish>;
        try {
          checked = checkPublish(messages[i]);
        } catch (err) {
          results[i] = batchError(err);
          continue;
        }
        if (checked.kind === 'connections') {
          const index = i;
          pending.push(
            pushToConnections(checked.push, checked.msg).then(
              (r) => void (results[index] = r),
              (err: unknown) => void (results[index] = batchError(err)),
            ),
          );
          continue;
        }
        if (isPlain(checked.msg)) {
          run.push({ index: i, req: checked.req });
          continue;
        }
        publishRun();
        // Usually offsets are assigned before publishWithOptions returns; only then is waiting for them skipped.
        let assigned = false;
        let wake: (() => void) | undefined;
        const started = (): void => {
          assigned = true;
          wake?.();
        };
        const index = i;
        pending.push(
          publishWithOptions(checked.req, checked.msg, started)
            .then(
              (r) => void (results[index] = r),
              (err: unknown) => void (results[index] = batchError(asApiError(err))),
            )
            .finally(started),
        );
        if (!assigned) await new Promise<void>((resolve) => (wake = resolve));
      }
      publishRun();
      await Promise.all(pending);
      return { results };
    },

    user: (input) => describe(parse(UserSchema, input).user),

    users: (input) => ctx.presence.users(parse(ListSchema, input).limit),

    channel: async (input) => {
      const { channel } = parse(ChannelSchema, input);
      return { channel, ...(await ctx.presence.channel(channel)) };
    },

    channels: (input) => ctx.presence.channels(parse(ListSchema, input).limit),

    subscribe: (input) => {
      const { user, channel } = parse(UserChannelSchema, input);
      let connections = 0;
      // Server-side subscriptions are authoritative: they bypass the token's channel list but not the limit.
      for (const c of hub.connectionsOf(user)) {
        if (hub.subscribe(c, channel, config.limits.maxChannelsPerConnection)) {
          c.notifySubscription(channel, true);
          connections++;
        }
      }
      return { user, channel, connections };
    },

    unsubscribe: (input) => {
      const { user, channel } = parse(UserChannelSchema, input);
      let connections = 0;
      for (const c of hub.connectionsOf(user)) {
        if (hub.unsubscribe(c, channel)) {
          c.notifySubscription(channel, false);
          connections++;
        }
      }
      return { user, channel, connections };
    },

    disconnect: (input) => {
      const { user, reason, reconnect } = parse(DisconnectSchema, input);
      const conns = [...hub.connectionsOf(user)];
      for (const c of conns) c.close(reconnect ? CloseCode.DisconnectedByServer : CloseCode.Kicked, reason ?? 'disconnected by server');
      return { user, disconnected: conns.length };
    },

    /** This node's counters; `cluster` sums every live node (equal to the node's own figures without Redis). */
    stats: async (input) => {
      parse(EmptySchema, input);
      const byTransport: Record<string, number> = {};
      for (const c of hub.connections()) byTransport[c.transport] = (byTransport[c.transport] ?? 0) + 1;
      return {
        connections: hub.connectionCount,
        users: hub.userCount,
        channels: hub.channelCount,
        transports: byTransport,
        published: dispatcher.published,
        delivered: hub.deliveries,
        dropped: hub.dropped,
        uptimeSeconds: Math.round(process.uptime()),
        memory: { rss: process.memoryUsage.rss() },
        store: { type: !usesRedis(config) ? config.store.type : 'redis', durability: ctx.store.durability },
        cluster: await ctx.presence.totals(),
        receiptsWaiting: ctx.receipts.pending,
        /** Error responses and error frames since start, by code. */
        errors: Object.fromEntries(ctx.stats.errors),
      };
    },
  } satisfies Record<string, Operation>;
}

export type Operations = ReturnType<typeof createOperations>;
export type OperationName = keyof Operations;

/** The operation a command names, if it is one: an own property, never something inherited like `toString`. */
export function operationNamed(ops: Operations, name: string): Operation | undefined {
  return Object.hasOwn(ops, name) ? ops[name as OperationName] : undefined;
}
