import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { ConfigInput } from '../../src/config.ts';
import { startHerald, type TestHerald } from './herald.ts';

export type SwooleHerald = TestHerald & { port: number; url9501(path?: string): string };

/** Herald with the swoole listener on 127.0.0.1, an ephemeral port. */
export async function startSwoole(swoole: NonNullable<ConfigInput['swoole']> = {}, extra: ConfigInput = {}): Promise<SwooleHerald> {
  const h = await startHerald({ ...extra, swoole: { enabled: true, host: '127.0.0.1', port: 0, ...swoole } });
  const port = h.server.addresses().swoole?.port ?? 0;
  return Object.assign(h, { port, url9501: (path = '/') => `ws://127.0.0.1:${port}${path}` });
}

/** Waits for lines (or any recorded item) matching a predicate, from now or already seen; never sleeps. */
export class Lines<T = string> {
  readonly items: T[] = [];
  private waiters: { pred: (t: T) => boolean; resolve: (t: T) => void }[] = [];

  push(t: T): void {
    this.items.push(t);
    for (const w of [...this.waiters]) {
      if (!w.pred(t)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(t);
    }
  }

  next(pred: (t: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
    const seen = this.items.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(-800)}`)), timeoutMs);
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

/** `php -S 127.0.0.1:0 <router>`: PHP's built-in server on a port the OS picks, its log lines (stderr) recorded. */
export async function startPhpServer(
  router: string,
  env: Record<string, string>,
): Promise<{ url: string; log: Lines; child: ChildProcess; close(): Promise<void> }> {
  const child = spawn('php', ['-S', '127.0.0.1:0', router], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = new Lines();
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await Promise.race([
    log.next((l) => /Development Server \(http:\/\/127\.0\.0\.1:\d+\) started/.test(l), 'php -S to start', 10_000),
    exited.then(() => {
      throw new Error(`php -S exited: ${log.items.join('\n')}`);
    }),
  ]);
  const port = /127\.0\.0\.1:(\d+)/.exec(started)![1]!;
  return {
    url: `http://127.0.0.1:${port}/`,
    log,
    child,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Call {
  body: any;
  raw: string;
  headers: IncomingMessage['headers'];
}

/** A webhook in Node whose answer each test chooses; every call recorded, signed headers included. */
export async function nodeBackend(
  answer: (c: Call, res: ServerResponse) => void,
): Promise<{ url: string; calls: Lines<Call>; close(): Promise<void>; server: Server }> {
  const calls = new Lines<Call>();
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const c = { body: JSON.parse(raw), raw, headers: req.headers };
      calls.push(c);
      answer(c, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
