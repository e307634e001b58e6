import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type { ConfigInput } from '../../src/config.ts';
import { ROOT } from '../../src/paths.ts';
import { startHerald, type TestHerald } from './herald.ts';

export const FIXTURES = join(ROOT, 'test/fixtures/gatewayworker');

/** Items that arrive over time, and a way to wait for one (an event, never a sleep). */
export class Feed<T> {
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

  /** The first item from index `from` on (or a future one) matching `pred`. */
  next(pred: (t: T) => boolean = () => true, what = 'an item', from = 0, timeoutMs = 5000): Promise<T> {
    const seen = this.items.slice(from).find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 800)}`)), timeoutMs);
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

export type GatewayInput = NonNullable<ConfigInput['gateway']>;
export type GwHerald = TestHerald & { register: string; inner: number; client: number };

/** Herald in GatewayWorker mode: Register, inner port and websocket listener on 127.0.0.1, ports chosen by the OS. */
export async function startGateway(gateway: GatewayInput = {}, extra: ConfigInput = {}): Promise<GwHerald> {
  const h = await startHerald({
    ...extra,
    gateway: { enabled: true, register: '127.0.0.1:0', listen: 'websocket://127.0.0.1:0', startPort: 0, ...gateway },
  });
  const a = h.server.addresses();
  return Object.assign(h, { register: `127.0.0.1:${a.gatewayRegister!.port}`, inner: a.gatewayInner!.port, client: a.gateway!.port });
}

/** The PHP BusinessWorker stand-in (test/fixtures/gatewayworker/business-worker.php) and its stdout lines. */
export class PhpWorker {
  readonly lines = new Feed<string>();
  readonly exited: Promise<unknown>;
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.lines.push(l));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = once(child, 'exit');
  }

  /** Starts it and waits until a gateway has applied its WORKER_CONNECT. */
  static async start(register: string, events = 'events-driver.php', secret = '', name = 'BusinessWorker'): Promise<PhpWorker> {
    const child = spawn('php', [join(FIXTURES, 'business-worker.php'), register, join(FIXTURES, events), secret, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    const w = new PhpWorker(child);
    await w.lines
      .next((l) => l.startsWith('linked '), 'the worker to link')
      .catch((err: Error) => {
        throw new Error(`${err.message}; stderr: ${w.stderr}`);
      });
    return w;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A browser-like WebSocket client of the gateway listener. */
export class GwClient {
  readonly messages = new Feed<string>();
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(data.toString()));
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens and waits for the worker's onConnect report, which carries the client_id. */
  static async open(h: GwHerald, path = '/', headers: Record<string, string> = {}): Promise<GwClient & { id: string }> {
    const c = new GwClient(new WebSocket(`ws://127.0.0.1:${h.client}${path}`, { headers }));
    await once(c.ws, 'open');
    const hello = JSON.parse(await c.messages.next((m) => m.includes('"event":"connect"'), 'onConnect')) as { client_id: string };
    return Object.assign(c, { id: hello.client_id });
  }

  /** Sends a driver message and returns the worker's next `result` answer after what was received so far. */
  async call(name: string, ...args: unknown[]): Promise<{ result: unknown; serialized: string }> {
    const from = this.messages.items.length;
    this.ws.send(JSON.stringify({ call: name, args }));
    return JSON.parse(await this.messages.next((m) => m.startsWith('{"result"'), `the result of ${name}`, from)) as { result: unknown; serialized: string };
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

export interface ClientResult {
  json?: unknown;
  ser?: string;
  error?: string;
}

/** Runs GatewayClient calls ([method, ...args] each) in one php-cli process (gateway-client.php). */
export function gatewayClient(register: string, calls: unknown[][], secret = ''): Promise<ClientResult[]> {
  return new Promise((resolve, reject) => {
    execFile('php', [join(FIXTURES, 'gateway-client.php'), register, secret, JSON.stringify(calls)], (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(
        stdout
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as ClientResult),
      );
    });
  });
}
