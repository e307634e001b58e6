// GatewayProtocol command numbers and flags (reference §5 and §3.1). Plain objects rather than TS enums so the
// names survive type stripping and can be listed.

export const Cmd = {
  ON_CONNECT: 1,
  ON_MESSAGE: 3,
  ON_CLOSE: 4,
  SEND_TO_ONE: 5,
  SEND_TO_ALL: 6,
  KICK: 7,
  DESTROY: 8,
  UPDATE_SESSION: 9,
  GET_ALL_CLIENT_SESSIONS: 10,
  IS_ONLINE: 11,
  BIND_UID: 12,
  UNBIND_UID: 13,
  SEND_TO_UID: 14,
  GET_CLIENT_ID_BY_UID: 15,
  BATCH_GET_CLIENT_ID_BY_UID: 16,
  JOIN_GROUP: 20,
  LEAVE_GROUP: 21,
  SEND_TO_GROUP: 22,
  GET_CLIENT_SESSIONS_BY_GROUP: 23,
  GET_CLIENT_COUNT_BY_GROUP: 24,
  SELECT: 25,
  GET_GROUP_ID_LIST: 26,
  UNGROUP: 27,
  BATCH_GET_CLIENT_COUNT_BY_GROUP: 28,
  WORKER_CONNECT: 200,
  PING: 201,
  GATEWAY_CLIENT_CONNECT: 202,
  GET_SESSION_BY_CLIENT_ID: 203,
  SET_SESSION: 204,
  ON_WEBSOCKET_CONNECT: 205,
} as const;

export type CmdName = keyof typeof Cmd;
export type CmdNumber = (typeof Cmd)[CmdName];

export const Flag = {
  /** The body is a scalar's string form; clear: the body is serialize() of an array or null. */
  BODY_IS_SCALAR: 0x01,
  /** Write the body to the client socket as is, without the client protocol's framing. */
  NOT_CALL_ENCODE: 0x02,
} as const;

const NAMES = new Map<number, CmdName>(Object.entries(Cmd).map(([name, n]) => [n, name as CmdName]));

/** The name of a command number, or undefined for the unused numbers (an unknown cmd is ignored, not fatal). */
export function commandName(cmd: number): CmdName | undefined {
  return NAMES.get(cmd);
}

export function isCommand(cmd: number): cmd is CmdNumber {
  return NAMES.has(cmd);
}

/** Commands answered with exactly one reply frame (§3.2), in request order. */
export const QUERY_COMMANDS: ReadonlySet<CmdNumber> = new Set([
  Cmd.GET_ALL_CLIENT_SESSIONS,
  Cmd.IS_ONLINE,
  Cmd.GET_CLIENT_ID_BY_UID,
  Cmd.BATCH_GET_CLIENT_ID_BY_UID,
  Cmd.GET_CLIENT_SESSIONS_BY_GROUP,
  Cmd.GET_CLIENT_COUNT_BY_GROUP,
  Cmd.SELECT,
  Cmd.GET_GROUP_ID_LIST,
  Cmd.BATCH_GET_CLIENT_COUNT_BY_GROUP,
  Cmd.GET_SESSION_BY_CLIENT_ID,
]);

/** Commands and events that address one client by the header's connection_id. */
export const PER_CLIENT_COMMANDS: ReadonlySet<CmdNumber> = new Set([
  Cmd.ON_CONNECT,
  Cmd.ON_MESSAGE,
  Cmd.ON_CLOSE,
  Cmd.SEND_TO_ONE,
  Cmd.KICK,
  Cmd.DESTROY,
  Cmd.UPDATE_SESSION,
  Cmd.IS_ONLINE,
  Cmd.BIND_UID,
  Cmd.UNBIND_UID,
  Cmd.JOIN_GROUP,
  Cmd.LEAVE_GROUP,
  Cmd.GET_SESSION_BY_CLIENT_ID,
  Cmd.SET_SESSION,
  Cmd.ON_WEBSOCKET_CONNECT,
]);
