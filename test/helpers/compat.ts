import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import type { ConfigInput } from '../../src/config.ts';
import type { Hub } from '../../src/core/hub.ts';
import { ROOT } from '../../src/paths.ts';
import { startHerald, type TestHerald } from './herald.ts';

export type Ports = Record<'websocket' | 'text' | 'socketio' | 'httpPush', number>;
export type CompatHerald = TestHerald & { ports: Ports; hubChanged(pred: () => boolean, timeoutMs?: number): Promise<void> };
type CompatInput = NonNullable<ConfigInput['compat']>;

/** Herald with all four compat listeners on 127.0.0.1, ephemeral ports. `compat` overrides are merged per listener. */
export async function startCompat(compat: CompatInput = {}, extra: ConfigInput = {}): Promise<CompatHerald> {
  const listener = (name: 'websocket' | 'text' | 'socketio' | 'httpPush') => ({ enabled: true, host: '127.0.0.1', port: 0, ...compat[name] });
  const h = await startHerald({
    ...extra,
    compat: { ...compat, websocket: listener('websocket'), text: listener('text'), socketio: listener('socketio'), httpPush: listener('httpPush') },
  });
  const a = h.server.addresses();
  const ports = { websocket: a.websocket?.port ?? 0, text: a.text?.port ?? 0, socketio: a.socketio?.port ?? 0, httpPush: a.httpPush?.port ?? 0 };
  const hub = h.server.context.hub;
  return Object.assign(h, { ports, hubChanged: (pred: () => boolean, timeoutMs?: number) => hubChanged(hub, pred, timeoutMs) });
}

const hubWaiters = new WeakMap<Hub, Set<() => void>>();

/**
 * Resolves when `pred` holds, checking now and after every hub add/remove (an event, not a poll): how a test
 * knows a compat client's login was registered, since the Workerman websocket has no login reply.
 */
export function hubChanged(hub: Hub, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  let waiters = hubWaiters.get(hub);
  if (waiters === undefined) {
    const set = new Set<() => void>();
    waiters = set;
    hubWaiters.set(hub, set);
    const add = hub.add.bind(hub);
    const remove = hub.remove.bind(hub);
    hub.add = (c) => {
      add(c);
      for (const w of [...set]) w();
    };
    hub.remove = (c) => {
      remove(c);
      for (const w of [...set]) w();
    };
  }
  const set = waiters;
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!pred()) return;
      set.delete(check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      set.delete(check);
      reject(new Error('timed out waiting for the hub to change'));
    }, timeoutMs);
    set.add(check);
  });
}

/** Generic "wait for something recorded, or a future one" used by the clients below. */
class Recorder<T> {
  readonly items: T[] = [];
  private waiters: { pred: (t: T) => boolean; resolve: (t: T) => void }[] = [];

  push(t: T): void {
    this.items.push(t);
    for (const w of [...this.waiters]) {
      if (w.pred(t)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(t);
      }
    }
  }

  /** The first item (from index `from` on, or a future one) matching `pred`. */
  next(pred: (t: T) => boolean = () => true, timeoutMs = 5000, what = 'an event', from = 0): Promise<T> {
    const seen = this.items.slice(from).find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 500)}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
      });
    });
  }
}

/** The seed `client.html`: a plain WebSocket that sends its uid as the first frame and logs what arrives. */
export class RawWsClient {
  readonly messages = new Recorder<string>();
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => this.messages.push(isBinary ? `<binary ${String(data)}>` : data.toString()));
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
  }

  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<RawWsClient> {
    const c = new RawWsClient(new WebSocket(url, opts));
    await once(c.ws, 'open');
    return c;
  }

  /** Opens, sends the uid on open (as the seed page does), and waits until the hub has one more connection for it. */
  static async login(h: CompatHerald, uid: string, path = '/', firstFrame = uid): Promise<RawWsClient> {
    const before = h.server.context.hub.connectionsOf(uid).size;
    const c = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}${path}`);
    c.ws.send(firstFrame);
    await h.hubChanged(() => h.server.context.hub.connectionsOf(uid).size > before);
    return c;
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}

/** What the seed page does with socket.io-client: log in on every connect, record new_msg and update_online_count. */
export class SioClient {
  readonly newMsg = new Recorder<string>();
  readonly counts = new Recorder<string>();
  readonly loginErrors = new Recorder<{ code: string; message: string }>();
  readonly disconnects = new Recorder<string>();
  readonly connected: Promise<void>;
  /** The `update_online_count` that answered the login, when `login()` made this client. */
  loginCount: string | undefined;

  constructor(
    readonly version: 2 | 4,
    readonly socket: SioSocket,
    uid: unknown,
  ) {
    this.connected = new Promise((resolve) => socket.once('connect', () => resolve()));
    socket.on('connect', () => {
      if (uid !== undefined) socket.emit('login', uid);
    });
    socket.on('new_msg', (msg: string) => this.newMsg.push(msg));
    socket.on('update_online_count', (s: string) => this.counts.push(s));
    socket.on('login_error', (e: { code: string; message: string }) => this.loginErrors.push(e));
    socket.on('disconnect', (reason: string) => this.disconnects.push(reason));
  }

  /** `transports` as the client option; undefined = the default (polling first, then upgrade). */
  static create(version: 2 | 4, port: number, uid: unknown, opts: Record<string, unknown> = {}, scheme = 'http'): SioClient {
    const url = `${scheme}://127.0.0.1:${port}`;
    const base = { forceNew: true, reconnection: false, ...opts };
    const socket = (version === 2 ? ioV2(url, base) : ioV4(url, base)) as unknown as SioSocket;
    return new SioClient(version, socket, uid);
  }

  /**
   * Connects and logs in with an ack; resolves once the server processed the login. The server sends the login's
   * `update_online_count` and then the ack, in one go: the count received last before the ack is the login's
   * (`loginCount`). Counts before it can be the interval's broadcast to the still-anonymous socket.
   */
  static async login(h: CompatHerald | number, version: 2 | 4, uid: unknown, opts: Record<string, unknown> = {}): Promise<SioClient> {
    const c = SioClient.create(version, typeof h === 'number' ? h : h.ports.socketio, undefined, opts);
    await c.connected;
    const reply = await new Promise<{ ok: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to login(${JSON.stringify(uid)}) within 5000 ms`)), 5000);
      c.socket.emit('login', uid, (r: { ok: boolean }) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    if (!reply.ok) throw new Error(`login(${JSON.stringify(uid)}) refused: ${JSON.stringify(reply)}`);
    c.loginCount = c.counts.items.at(-1);
    if (c.loginCount === undefined) throw new Error(`login(${JSON.stringify(uid)}) was answered without an update_online_count`);
    return c;
  }

  transportName(): string {
    return this.socket.io.engine.transport.name;
  }

  close(): void {
    this.socket.close();
  }
}

/** The part of socket.io-client's Socket (2.x and 4.x alike) the tests use. */
export interface SioSocket {
  id: string;
  connected: boolean;
  on(event: string, fn: (...args: any[]) => void): unknown;
  once(event: string, fn: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  close(): unknown;
  io: { engine: { transport: { name: string }; on(event: string, fn: (...args: any[]) => void): unknown } };
}

/** A raw TCP client of the Text port: writes bytes, collects the reply bytes. */
export class TextClient {
  received = '';
  readonly ended: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.received += d;
      for (const w of [...this.waiters]) w();
    });
    socket.on('error', () => {});
    this.ended = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static async open(port: number): Promise<TextClient> {
    const s = netConnect(port, '127.0.0.1');
    await once(s, 'connect');
    return new TextClient(s);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Waits until at least `n` reply lines arrived; returns everything received so far. */
  lines(n: number, timeoutMs = 5000): Promise<string> {
    const count = () => this.received.split('\n').length - 1;
    if (count() >= n) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} lines; got ${JSON.stringify(this.received)}`)), timeoutMs);
      const check = (): void => {
        if (count() < n) return;
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(check), 1);
        resolve(this.received);
      };
      this.waiters.push(check);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const execFileP = promisify(execFile);
const PHP_DIR = join(ROOT, 'test', 'fixtures', 'php');

/** Fails (never skips) with a clear message when PHP or its curl extension is missing. */
export function requirePhp(): void {
  let modules: string;
  try {
    modules = execFileSync('php', ['-m'], { encoding: 'utf8' });
  } catch {
    throw new Error("php-cli is required by the compatibility tests (they run the seeds' PHP backends): apt-get install php-cli php-curl");
  }
  if (!/^curl$/m.test(modules)) throw new Error('the PHP curl extension is required by the compatibility tests: apt-get install php-curl');
}

/** Runs test/fixtures/php/<script> with arguments and env; returns its stdout exactly. */
export async function php(script: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileP('php', [join(PHP_DIR, script), ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  return stdout;
}

/** A raw HTTP exchange (for handshakes that never finish and exact header checks). */
export async function rawHttp(port: number, request: string): Promise<{ socket: Socket; response: Promise<string> }> {
  const socket = netConnect(port, '127.0.0.1');
  await once(socket, 'connect');
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => {});
  socket.write(request);
  const response = new Promise<string>((resolve) => socket.on('close', () => resolve(data)));
  return { socket, response };
}
