// Shared by the server and the client SDK: stable error codes and WebSocket close codes.
// Close codes are split in two ranges so a client can decide without knowing every code:
//   4000-4499  transient: reconnect with backoff (and resume)
//   4500-4999  final: do not reconnect with the same token
// 1000-1015 are RFC 6455 codes; 1009 (message too big) and 1011 (internal error) are treated as transient by the SDK.

export const CloseCode = {
  /** Server is shutting down or restarting; reconnect (preferably to another node). */
  Shutdown: 4000,
  /** No frame from the client within two heartbeat intervals. */
  HeartbeatTimeout: 4001,
  /** Client could not keep up: its outgoing queue passed the byte limit. */
  SlowConsumer: 4002,
  /** The server API disconnected this user and allowed a reconnect. */
  DisconnectedByServer: 4003,
  /** No auth frame arrived in time after connecting without ?token=. */
  AuthTimeout: 4004,
  /** Unexpected server-side failure. */
  InternalError: 4005,
  /** The node lost its link to the other nodes for a moment: reconnect and resume to fill any gap. */
  Resync: 4006,
  /** Token signature, issuer or claims are invalid. Do not retry with this token. */
  InvalidToken: 4500,
  /** Token expired (at connect or while connected). Fetch a fresh token before reconnecting. */
  TokenExpired: 4501,
  /** The server API disconnected this user and forbade a reconnect. */
  Kicked: 4502,
  /** The client speaks a protocol this server does not accept. */
  ProtocolError: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const FINAL_CLOSE_MIN = 4500;

/** True when a client may reconnect after this close code. */
export function isReconnectCode(code: number): boolean {
  if (code >= 4000 && code < FINAL_CLOSE_MIN) return true;
  if (code >= FINAL_CLOSE_MIN && code < 5000) return false;
  // Standard codes: a normal close by the client itself is 1000; anything else (1001 going away, 1006 abnormal,
  // 1009 too big, 1011 internal) is transient from the client's point of view.
  return code !== 1000;
}

export const ErrorCode = {
  BadJson: 'bad_json',
  BadRequest: 'bad_request',
  UnknownFrame: 'unknown_frame',
  UnknownTarget: 'unknown_target',
  FrameTooLarge: 'frame_too_large',
  BodyTooLarge: 'body_too_large',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  /** No live connection has this id (it closed, or never existed). */
  UnknownConnection: 'unknown_connection',
  MethodNotAllowed: 'method_not_allowed',
  InvalidChannel: 'invalid_channel',
  TooManyChannels: 'too_many_channels',
  NotAuthenticated: 'not_authenticated',
  AlreadyAuthenticated: 'already_authenticated',
  InvalidToken: 'invalid_token',
  TokenExpired: 'token_expired',
  NoUpstream: 'no_upstream',
  UpstreamFailed: 'upstream_failed',
  UpstreamTimeout: 'upstream_timeout',
  Timeout: 'timeout',
  TooManyRequests: 'too_many_requests',
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
