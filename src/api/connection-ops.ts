import type { z } from 'zod';
import type { Context } from '../context.ts';
import type { SessionData } from '../core/hub.ts';
import { ControlTimeout, type ControlBus } from '../core/control-bus.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { ApiError, fromZod } from './errors.ts';
import { ChannelSchema, CloseSchema, ConnectionChannelSchema, ConnectionSchema, ConnectionUserSchema, SessionSchema, UserSchema } from './schemas.ts';

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

/** The same bus, with a node that did not answer in time turned into a 503 the caller can retry. */
export function withTimeouts(bus: ControlBus): ControlBus {
  const unavailable = (err: unknown): never => {
    if (err instanceof ControlTimeout) throw new ApiError(503, ErrorCode.Unavailable, `${err.message}; retry`);
    throw err;
  };
  return {
    local: bus.local,
    onOwner: (id, method, ...args) => bus.onOwner(id, method, ...args).catch(unavailable),
    onEvery: (method, ...args) => bus.onEvery(method, ...args).catch(unavailable),
    notify: (topic, payload) => bus.notify(topic, payload),
    listen: (topic, handler) => bus.listen(topic, handler),
    close: () => bus.close(),
  };
}

const unknownConnection = (id: string): ApiError => new ApiError(404, ErrorCode.UnknownConnection, `no live connection ${JSON.stringify(id)}`);

/** A session as the JSON API shows it; a PHP-serialized one (a GatewayWorker app's) is not a JSON object. */
function sessionJson(s: SessionData | null): Record<string, unknown> | null {
  if (s === null) return null;
  if ('json' in s) return { ...s.json };
  throw phpSession();
}

const phpSession = (): ApiError =>
  new ApiError(409, ErrorCode.BadRequest, 'this session was set by a GatewayWorker app (PHP-serialized); use Gateway::getSession / updateSession');

/**
 * The connection-addressed API (docs/api.md, "Connections"): one connection by id, wherever it is in the cluster
 * (`ctx.control` runs the call on the node that holds it), and the queries over every node.
 */
export function createConnectionOperations(ctx: Context) {
  const control = withTimeouts(ctx.control);

  /** Runs on the connection's node; an unknown connection is a 404. */
  const owned = async <T>(id: string, run: Promise<T | undefined>): Promise<T> => {
    const r = await run;
    if (r === undefined || r === false) throw unknownConnection(id);
    return r;
  };

  return {
    connection: async (input: Record<string, unknown>) => {
      const { connection } = parse(ConnectionSchema, input);
      const info = await control.onOwner(connection, 'describe', connection);
      return info === undefined ? { connection, online: false } : { ...info, online: true };
    },

    bind: async (input: Record<string, unknown>) => {
      const { connection, user } = parse(ConnectionUserSchema, input);
      await owned(connection, control.onOwner(connection, 'bind', connection, user));
      return { connection, user };
    },

    unbind: async (input: Record<string, unknown>) => {
      const { connection } = parse(ConnectionSchema, input);
      await owned(connection, control.onOwner(connection, 'bind', connection, ''));
      return { connection, user: '' };
    },

    join: async (input: Record<string, unknown>) => {
      const { connection, channel } = parse(ConnectionChannelSchema, input);
      const r = await control.onOwner(connection, 'join', connection, channel);
      if (r === undefined || r === 'not_found') throw unknownConnection(connection);
      if (r === 'limit')
        throw new ApiError(409, ErrorCode.TooManyChannels, `the connection is in ${ctx.config.limits.maxChannelsPerConnection} channels already`);
      return { connection, channel, joined: true };
    },

    leave: async (input: Record<string, unknown>) => {
      const { connection, channel } = parse(ConnectionChannelSchema, input);
      await owned(connection, control.onOwner(connection, 'leave', connection, channel));
      return { connection, channel, joined: false };
    },

    session: async (input: Record<string, unknown>) => {
      const { connection } = parse(ConnectionSchema, input);
      const s = await control.onOwner(connection, 'session', connection);
      if (s === undefined) throw unknownConnection(connection);
      return { connection, session: sessionJson(s) };
    },

    setSession: async (input: Record<string, unknown>) => {
      const { connection, session, merge } = parse(SessionSchema, input);
      if (merge && session !== null) {
        const merged = await owned(connection, control.onOwner(connection, 'mergeSession', connection, session));
        if (merged === 'php') throw phpSession();
        return { connection, session: merged };
      }
      await owned(connection, control.onOwner(connection, 'setSession', connection, session === null ? undefined : { json: session }));
      return { connection, session };
    },

    close: async (input: Record<string, unknown>) => {
      const { connection, data, event, reason, reconnect } = parse(CloseSchema, input);
      const code = reconnect ? CloseCode.DisconnectedByServer : CloseCode.Kicked;
      const last = data === undefined ? {} : event === undefined ? { data: JSON.stringify(data) } : { data: JSON.stringify(data), event };
      await owned(connection, control.onOwner(connection, 'close', connection, { ...last, code, reason: reason ?? 'closed by server' }));
      return { connection, closed: true };
    },

    userConnections: async (input: Record<string, unknown>) => {
      const { user } = parse(UserSchema, input);
      const perNode = await control.onEvery('connectionsOf', user);
      return { user, connections: perNode.flat() };
    },

    channelConnections: async (input: Record<string, unknown>) => {
      const { channel } = parse(ChannelSchema, input);
      const members = (await control.onEvery('membersOf', channel)).flat();
      const users = [...new Set(members.map((m) => m.user).filter((u) => u !== ''))];
      return { channel, connections: members, users };
    },

    dissolve: async (input: Record<string, unknown>) => {
      const { channel } = parse(ChannelSchema, input);
      const removed = (await control.onEvery('dissolve', channel)).reduce((a, b) => a + b, 0);
      return { channel, removed };
    },
  };
}
