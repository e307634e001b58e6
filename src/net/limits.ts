import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { frontConnections } from './front.ts';

/**
 * Connections past the open-file limit (`ulimit -n`), for every listener of the process.
 *
 * Why Herald refuses in JS instead of letting accept() fail: at the limit libuv sheds connections itself (its
 * EMFILE trick: close a spare descriptor, accept, close at once), and since libuv 1.45 it never reports the failure
 * to Node, so no 'error' is emitted and nothing can be logged or counted. Its close is also a FIN, which Node's own
 * fetch answers by hanging on a POST until its timeout. So the listeners admit connections only while HEADROOM
 * descriptors stay free, and reset the others (RST: every client fails at once and the descriptor is free again)
 * before any protocol code sees them.
 *
 * One instance per process, because the limit is per process and shared by every listener.
 */
export class ConnectionLimits {
  /** Connections currently open on the enrolled listeners. */
  open = 0;
  /** Connections refused since the process started (the herald_connections_refused_total metric). */
  refused = 0;
  /** Connections admitted at most, or undefined when the limit is unknown (libuv's shedding is all there is). */
  maxConnections: number | undefined;
  /** RLIMIT_NOFILE, read at the first enrolment. */
  fdLimit: number | undefined;
  private others = 0;
  private unlogged = 0;
  private window: NodeJS.Timeout | undefined;
  private log: Logger | undefined;
  private readonly enrolled = new WeakSet<Server>();
  private readonly onClose = (): void => {
    this.open--;
  };

  constructor(
    private readonly readLimit: () => number | undefined = readFdLimit,
    private readonly logEveryMs = 10_000,
  ) {}

  /** Where refusals are logged; the last Herald instance created in the process (outside tests: the only one). */
  logTo(log: Logger): void {
    this.log = log;
  }

  /** Puts a bound listener under the limit. Call once it listens: connection listeners added later are not gated. */
  enrol(server: Server): void {
    this.measure();
    if (this.enrolled.has(server)) return;
    this.enrolled.add(server);
    // Refused sockets must not reach Node's HTTP parser, TLS or the fast lane at all, so the listeners the server
    // has now run only for admitted connections.
    frontConnections(server, (socket, pass) => {
      if (this.maxConnections !== undefined && this.open >= this.maxConnections) return this.refuse(socket);
      this.open++;
      // One shared listener: a closure per connection would cost every idle connection memory.
      socket.on('close', this.onClose);
      pass(socket);
    });
    // Where libuv does report a failed accept (Windows, older libuv), Node emits it on the server, which would end
    // a process whose server has no 'error' listener; other errors keep Node's default.
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (err.syscall === 'accept') this.note();
      else if (server.listenerCount('error') === 1) throw err;
    });
  }

  /** The descriptors not held by connections, taken at each enrolment: store files, listeners, Node's own. */
  private measure(): void {
    this.fdLimit ??= this.readLimit();
    if (this.fdLimit === undefined) return;
    const fds = countOpenFds();
    if (fds === undefined) return;
    this.others = Math.max(this.others, fds - this.open);
    this.maxConnections = Math.max(0, this.fdLimit - this.others - HEADROOM);
  }

  private refuse(socket: Socket): void {
    socket.on('error', () => {});
    socket.resetAndDestroy();
    this.note();
  }

  private note(): void {
    this.refused++;
    this.unlogged++;
    if (this.window === undefined) this.flush();
  }

  /** One line now, then at most one per window, with the refusals since the previous line. */
  private flush(): void {
    this.log?.warn(
      { refused: this.unlogged, connections: this.open, maxConnections: this.maxConnections, fdLimit: this.fdLimit },
      'connection limit reached: refusing new connections; raise the open-file limit (docs/performance.md)',
    );
    this.unlogged = 0;
    this.window = setTimeout(() => {
      this.window = undefined;
      if (this.unlogged > 0) this.flush();
    }, this.logEveryMs);
    this.window.unref();
  }
}

/**
 * Descriptors kept free for what is opened after the listeners: webhook sockets, files, a Redis reconnect. Fixed,
 * not a share of the limit, so that a limit raised for N connections admits nearly N (the bench runs 19,500 idle
 * connections under a limit of 20,000). Past it those fail with EMFILE and libuv sheds connections again.
 */
export const HEADROOM = 64;

/** The soft RLIMIT_NOFILE, which Node has already raised to the hard limit at startup. */
function readFdLimit(): number | undefined {
  let text: string | undefined;
  try {
    text = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  } catch {
    try {
      text = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  }
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function countOpenFds(): number | undefined {
  try {
    return readdirSync('/dev/fd').length - 1; // minus the descriptor of the listing itself
  } catch {
    return undefined;
  }
}

export const connectionLimits = new ConnectionLimits();
