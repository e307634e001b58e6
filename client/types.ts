// Public types of the SDK: options, events, errors, and the WebSocket shape it accepts.
import type { ErrorCode } from '../src/protocol/codes.ts';
import type { PositionStorage, StreamPosition } from './positions.ts';

export type State = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Codes the SDK produces itself, next to the server's `ErrorCode`s. */
export const ClientErrorCode = {
  /** The connection dropped before the reply came (the request may or may not have reached the backend). */
  Disconnected: 'disconnected',
  /** `send()` while not connected: upstream messages are not queued, since resending them is not idempotent. */
  NotConnected: 'not_connected',
  /** The client was closed, by `close()` or by a final close code. */
  Closed: 'closed',
  /** `unsubscribe()` was called while the `subscribe()` was still waiting. */
  Cancelled: 'cancelled',
  /** The token function threw or rejected. */
  TokenFailed: 'token_failed',
  /** The WebSocket could not even be created (bad URL, blocked by the page's security policy). */
  ConnectFailed: 'connect_failed',
  /** The server closed the connection with a final code (see `closeCode`). */
  ConnectionClosed: 'connection_closed',
  /** The server sent a kicked close (4502): the backend removed this user. */
  Kicked: 'kicked',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Server codes may grow; `string & {}` keeps editor completion for the known ones without rejecting new ones. */
export type HeraldErrorCode = ErrorCode | ClientErrorCode | (string & {});

export class HeraldError extends Error {
  override name = 'HeraldError';
  constructor(
    readonly code: HeraldErrorCode,
    message: string,
    /** Set when the error comes from a WebSocket close. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

export interface HeraldMessage extends StreamPosition {
  /** `user:<id>`, `channel:<name>`, `broadcast`, or `session` (pushed to this connection alone: not stored, offset 0). */
  stream: string;
  /** The channel name, for `channel:` streams. */
  channel?: string;
  event?: string;
  data: unknown;
}

export interface ConnectedInfo {
  session: string;
  user: string;
  /** Server heartbeat interval in ms. */
  heartbeat: number;
}

export interface HeraldEvents {
  state: { state: State; previous: State };
  message: HeraldMessage;
  /** Errors no promise reports: uncorrelated error frames, failed resubscriptions, final closes, token failures. */
  error: { code: HeraldErrorCode; message: string; closeCode?: number; channel?: string };
  connected: ConnectedInfo;
  /** A connection or a connection attempt ended (not sent for `close()`); `code` is the WebSocket close code. */
  disconnected: { code: number; reason: string; willReconnect: boolean };
  subscribed: { channel: string };
  unsubscribed: { channel: string };
  /**
   * Where a stream stands after (re)connecting or subscribing. `recovered: false` means messages were missed for
   * good (history trimmed, or the server lost it) or the stored position was impossible (beyond the stream's top):
   * reload the state this stream feeds.
   */
  recovery: { stream: string; channel?: string; recovered: boolean };
}
export type HeraldEvent = keyof HeraldEvents;
export type Listener<K extends HeraldEvent> = (payload: HeraldEvents[K]) => void;

// Declared through a method so the parameter is checked bivariantly: the DOM WebSocket and the `ws` package
// both call handlers with richer event objects than the fields read here, and both must be accepted as is.
export type Handler<E> = { handle(event: E): void }['handle'];

/** The part of the WebSocket API the SDK uses; both the browser's WebSocket and the `ws` package fit it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface HeraldOptions {
  /**
   * The `/ws` URL, e.g. `wss://push.example.com/ws`; or a function called before every connect attempt, to spread
   * reconnects over several nodes without a load balancer (`(attempt) => nodes[attempt % nodes.length]`).
   */
  url: string | ((attempt: number) => string);
  /** A token, or a function called before every connect so an expired token can be replaced. */
  token: string | (() => Promise<string> | string);
  /** WebSocket implementation; defaults to `globalThis.WebSocket` (in Node 20 pass the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /** Backoff base: the first retry waits up to this long. Default 500 ms. */
  minBackoffMs?: number;
  /** Backoff cap. Default 30 s. */
  maxBackoffMs?: number;
  /** How long `send()` waits for the reply. Default 10 s (the server's webhook timeout is 5 s). */
  sendTimeoutMs?: number;
  /** How long a connect attempt may take to reach the welcome. Default 20 s. */
  connectTimeoutMs?: number;
  /**
   * Where stream positions survive a page reload; defaults to `localStorage` when there is one. `null` keeps
   * positions in memory only (resume then works across reconnects, not reloads).
   */
  storage?: PositionStorage | null;
  /** Acknowledgements are batched: at most one per stream per interval. Default 100 ms. */
  ackIntervalMs?: number;
  /**
   * A message that arrives while an older one of its stream is missing waits for it; if the gap is still open
   * after this long, the client reconnects and resumes, which replays the missing messages. Default 2 s.
   */
  gapTimeoutMs?: number;
}
