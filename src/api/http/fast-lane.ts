import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ApiKeyCheck } from '../../auth/api-key.ts';
import type { Context } from '../../context.ts';
import { errorHeaders, failureOf, unauthorized } from '../errors.ts';
import { ReplyQueue } from '../line/replies.ts';
import type { Operations } from '../operations.ts';
import { bodyObject, parseJson } from './body.ts';
import type { FastRequest, UpgradeHead } from './fast-head.ts';
import { FastReader } from './fast-reader.ts';
import { frontConnections, type ConnectionHandler } from '../../net/front.ts';
import type { UpgradeRequest } from '../../net/websocket/handshake.ts';

/** Where the lane sends a WebSocket handshake it recognised: the server's own 'upgrade' handling. */
export type UpgradeHandler = (req: UpgradeRequest, socket: Socket, head: Buffer) => void;

/**
 * The HTTP fast lane: publish requests answered straight from the socket, in front of Node's HTTP server.
 *
 * Why: a backend publishing one message per request is bound by per-request overhead, and Node's HTTP machinery
 * (IncomingMessage and ServerResponse streams, events, header objects) costs more than the publish itself. Measured
 * with the bench's C client on this 2-core machine: a minimal Node `http` server answers ~9.6k req/s on one
 * keep-alive connection and ~34k on eight; the same answer written from a `net` socket ~13k and ~99k.
 *
 * Every connection starts here. While its requests are in the strict subset `FastHead` accepts (POST
 * /api/publish and /api/publish/batch with a Content-Length body, see fast-head.ts), they are served here,
 * pipelined, answers in order and those of one event-loop turn in one write (ReplyQueue). A WebSocket handshake
 * in the subset FastHead accepts goes from here to the server's upgrade handler with a plain request object, as
 * Node's 'upgrade' event would have sent it: a reconnect storm costs no HTTP parser, IncomingMessage or listener
 * set per connection (and an idle WebSocket keeps none of what Node leaves on an upgraded socket). On the first byte
 * outside that subset the connection goes, with the bytes already read, to Node's HTTP server for good: static
 * files, the WebSocket upgrade, other API routes and every HTTP edge case keep Node's full semantics, and what
 * Node rejects is rejected by Node. Both paths call the same operations and produce the same statuses, error
 * codes and JSON. The server's `headersTimeout` and `requestTimeout` hold here as in Node (408), checked by the
 * same once-a-second sweep that closes idle connections.
 */
export interface FastLane {
  /** Ends connections with nothing in flight, and the others once their answers are written (shutdown). */
  closeIdle(): void;
  /** Destroys every connection still in the lane. */
  closeAll(): void;
}

interface LaneDeps {
  ctx: Context;
  ops: Operations;
  apiKey: ApiKeyCheck;
  upgrade: UpgradeHandler;
}

export function attachFastLane(server: Server, deps: LaneDeps): FastLane {
  const lanes = new Set<LaneConnection>();
  // Node's own connection listener (and any other) receives the connections this lane hands over.
  frontConnections(server, (socket, handOff) => {
    lanes.add(new LaneConnection(socket, deps, server, lanes, handOff));
  });
  // Node's idle keep-alive limit applies here too. One sweep for all lane connections rather than a socket timeout
  // each: a socket keeps its Timeout object for life, which every WebSocket connection (all start here) would pay.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const l of lanes) l.check(now);
  }, 1000);
  sweep.unref();
  return {
    closeIdle: () => {
      for (const l of lanes) l.closeWhenIdle();
    },
    closeAll: () => {
      clearInterval(sweep);
      for (const l of lanes) l.destroy();
    },
  };
}

let dateSecond = 0;
let dateText = '';
/** The Date header, formatted once per second as Node's HTTP server does. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

// As Herald's Node path answers a request past its deadline (server.ts, clientError).
const TIMEOUT_408 = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
// As Herald's Node path answers a request cut short by the end of the stream (server.ts, clientError).
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

class LaneConnection {
  private readonly reader: FastReader;
  private inflight = 0;
  /** Set once the connection leaves the lane (handed over, or closing): later bytes are not ours. */
  private stopped = false;
  private readonly replies: ReplyQueue;
  private lastActive = Date.now();
  /** When the first byte of the request being received arrived (0: none), for the header and request deadlines. */
  private requestStart = 0;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onEnd = (): void => this.ended();
  private readonly onError = (err: Error): void => this.deps.ctx.log.debug({ err: err.message }, 'http client error');
  private readonly onClose = (): void => {
    this.lanes.delete(this);
  };
  private readonly onRequest = (head: FastRequest, buf: Buffer, start: number, end: number): void => {
    this.inflight++;
    this.replies.add(this.run(head, buf.toString('utf8', start, end)));
  };

  constructor(
    private readonly socket: Socket,
    private readonly deps: LaneDeps,
    private readonly server: Server,
    private readonly lanes: Set<LaneConnection>,
    private readonly handOffTo: ConnectionHandler,
  ) {
    this.reader = new FastReader(deps.ctx.config.limits.maxBodyBytes);
    this.replies = new ReplyQueue(socket, 'microtask');
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** The sweep: Node's keep-alive limit for an idle connection, its header and request deadlines for a busy one. */
  check(now: number): void {
    if (this.stopped) return;
    const { server } = this;
    // Silent for longer than the keep-alive limit, between requests or within one (as a Node socket's timeout).
    if (this.inflight === 0 && this.lastActive < now - server.keepAliveTimeout) {
      this.socket.destroy();
      return;
    }
    if (this.requestStart === 0) return;
    const limit = this.reader.phase === 'head' ? server.headersTimeout : server.requestTimeout;
    if (limit > 0 && now - this.requestStart > limit) this.stop(TIMEOUT_408);
  }

  closeWhenIdle(): void {
    this.stopped = true;
    this.replies.after(() => this.socket.destroy());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    this.lastActive = Date.now();
    const before = this.reader.completed;
    const outcome = this.reader.push(chunk, this.onRequest);
    if (outcome === 'closed') {
      this.stopped = true;
      this.replies.after(() => this.socket.end());
    } else if (outcome !== 'more') return 'handOff' in outcome ? this.handOff(outcome.handOff) : this.upgrade(outcome.upgrade, outcome.rest);
    if (this.reader.phase === 'idle') this.requestStart = 0;
    else if (this.requestStart === 0 || this.reader.completed !== before) this.requestStart = this.lastActive;
  }

  /** The client ended its side: as Node's server does, answer what was complete, 400 if a request was cut short. */
  private ended(): void {
    if (this.stopped) return;
    this.stop(this.reader.phase === 'idle' ? '' : BAD_REQUEST);
  }

  /** Leaves the lane: once the answers owed are written, writes `last` (if any) and closes. */
  private stop(last: string): void {
    this.stopped = true;
    this.replies.after(() => {
      if (last === '') this.socket.end();
      else this.socket.end(last, () => this.socket.destroy());
    });
  }

  private async run(head: FastRequest, body: string): Promise<string> {
    const { ctx, ops, apiKey } = this.deps;
    try {
      if (!apiKey.matchesHeader(head.authorization)) throw unauthorized();
      const result = await ops[head.op](bodyObject(parseJson(body)));
      return this.response(200, JSON.stringify(result), head.close, '');
    } catch (err) {
      const e = failureOf(ctx, err, 'http handler failed');
      let extra = '';
      for (const [k, v] of Object.entries(errorHeaders(e))) extra += `${k}: ${v}\r\n`;
      return this.response(e.status, JSON.stringify(e.toJSON()), head.close, extra);
    } finally {
      this.inflight--;
      this.lastActive = Date.now();
    }
  }

  private response(status: number, body: string, close: boolean, extra: string): string {
    const conn = close ? 'Connection: close\r\n' : `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.server.keepAliveTimeout / 1000)}\r\n`;
    return (
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `${extra}Date: ${httpDate()}\r\n${conn}\r\n${body}`
    );
  }

  /** Gives the connection to Node's HTTP server once the answers owed from here are written, so order holds. */
  private handOff(rest: Buffer): void {
    this.leave(() => {
      const { socket } = this;
      if (rest.length > 0) socket.unshift(rest);
      this.handOffTo(socket);
      socket.resume();
    });
  }

  /** Gives the connection to the WebSocket listener whose handshake it sent, as Node's 'upgrade' event would. */
  private upgrade(head: UpgradeHead, rest: Buffer): void {
    this.leave(() => {
      const { socket } = this;
      const req: UpgradeRequest = { method: 'GET', url: head.url, headers: head.headers, rawHeaders: head.rawHeaders, httpVersion: '1.1', socket };
      // As Node does before its 'upgrade' event (the setter is public, the type says read-only): paused for no
      // one, so the listener's first 'data' handler starts the flow, and bytes that come before it are kept.
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      this.deps.upgrade(req, socket, rest);
    });
  }

  /** Stops reading here; once the answers owed from here are written, `next` takes the socket. */
  private leave(next: () => void): void {
    this.stopped = true;
    const { socket } = this;
    socket.pause();
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onClose);
    this.lanes.delete(this);
    this.replies.after(() => {
      // Until the next owner has the socket, an error on it is still ours to catch.
      if (socket.destroyed) return;
      socket.removeListener('error', this.onError);
      next();
    });
  }
}
