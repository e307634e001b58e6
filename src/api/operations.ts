import type { z } from 'zod';
import type { Context } from '../core/context.ts';
import type { PublishResult, PublishTarget } from '../core/dispatcher.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { ApiError, fromZod } from './errors.ts';
import {
  ChannelSchema,
  DisconnectSchema,
  EmptySchema,
  ListSchema,
  PublishSchema,
  TargetSchema,
  UserChannelSchema,
  UserSchema,
} from './schemas.ts';

/**
 * The server API as plain operations: `input` is an untrusted JSON object, the result is JSON. The HTTP API and
 * the line port are two framings of these same operations, so they cannot drift apart.
 */
export type Operation = (input: Record<string, unknown>) => Promise<unknown> | unknown;

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

export function createOperations(ctx: Context): Record<string, Operation> {
  const { hub, dispatcher, config } = ctx;

  const publishOne = async (input: unknown): Promise<PublishResult> => {
    const msg = parse(PublishSchema, input);
    const to = TargetSchema.safeParse(msg.to);
    if (!to.success) {
      throw new ApiError(400, ErrorCode.UnknownTarget, 'to must be one of {"user":id}, {"users":[ids]}, {"channel":name}, {"channels":[names]}, {"all":true}');
    }
    const req = { to: to.data as PublishTarget, data: JSON.stringify(msg.data) };
    return dispatcher.publish(msg.event === undefined ? req : { ...req, event: msg.event });
  };

  const describe = (user: string) => {
    const conns = [...hub.connectionsOf(user)];
    return {
      user,
      online: conns.length > 0,
      connections: conns.length,
      sessions: conns.map((c) => ({ session: c.id, transport: c.transport, channels: [...c.channels] })),
    };
  };

  return {
    publish: publishOne,

    publishBatch: async (input) => {
      const messages = input.messages;
      if (!Array.isArray(messages) || messages.length === 0) throw new ApiError(400, ErrorCode.BadRequest, 'messages must be a non-empty array');
      if (messages.length > config.limits.maxBatch) {
        throw new ApiError(400, ErrorCode.BadRequest, `at most ${config.limits.maxBatch} messages per batch`);
      }
      // Each message succeeds or fails on its own; order of publication follows the array.
      const results: unknown[] = [];
      for (const m of messages) {
        try {
          results.push(await publishOne(m));
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          results.push(err.toJSON());
        }
      }
      return { results };
    },

    user: (input) => describe(parse(UserSchema, input).user),

    users: (input) => {
      const { limit } = parse(ListSchema, input);
      const users: { user: string; connections: number }[] = [];
      for (const u of hub.users()) {
        if (users.length >= limit) break;
        users.push({ user: u, connections: hub.connectionsOf(u).size });
      }
      return { count: hub.userCount, users };
    },

    channel: (input) => {
      const { channel } = parse(ChannelSchema, input);
      const members = hub.membersOf(channel);
      return { channel, connections: members.size, users: [...new Set([...members].map((c) => c.user))] };
    },

    channels: (input) => {
      const { limit } = parse(ListSchema, input);
      const channels: { channel: string; connections: number; users: number }[] = [];
      for (const [channel, members] of hub.channels()) {
        if (channels.length >= limit) break;
        channels.push({ channel, connections: members.size, users: new Set([...members].map((c) => c.user)).size });
      }
      return { count: hub.channelCount, channels };
    },

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

    stats: (input) => {
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
      };
    },
  };
}
