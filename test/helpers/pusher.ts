import WebSocket from 'ws';
import { RecordingSocket } from './recording-socket.ts';
import PusherServer from 'pusher';
import PusherJs from 'pusher-js';
import type { Channel, Options } from 'pusher-js';
import type { ConfigInput } from '../../src/config.ts';
import { startHerald, type TestHerald } from './herald.ts';

// pusher-js is CommonJS whose typings declare an ES default export: under NodeNext the default import is typed as
// the module namespace, while at run time it is the class itself.
export type Pusher = PusherJs.default;
export const Pusher = PusherJs as unknown as typeof PusherJs.default;

export const APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };

/** A Herald with one Pusher app (APP) on its main port. */
export function startPusherHerald(overrides: ConfigInput = {}, app: Record<string, unknown> = {}): Promise<TestHerald> {
  return startHerald({ ...overrides, pusher: { apps: [{ ...APP, ...app }], ...overrides.pusher } });
}

export function portOf(h: TestHerald): number {
  return Number(new URL(h.url).port);
}

/** The `pusher` server SDK pointed at Herald, as Laravel's `reverb` connection does (host, port, no TLS). */
export function sdk(h: TestHerald, secret = APP.secret): PusherServer {
  return new PusherServer({ appId: APP.id, key: APP.key, secret, host: '127.0.0.1', port: String(portOf(h)), useTLS: false });
}

export interface ClientOptions {
  /** What the app's auth endpoint would put in a presence channel's channel_data. */
  presence?: { user_id: string; user_info?: Record<string, unknown> };
  /** Sign subscriptions with this secret instead of the app's (a wrong auth endpoint). */
  secret?: string;
  key?: string;
}

/**
 * pusher-js as a Laravel page configures it for a self-hosted server (ws only, no TLS, any cluster), its channel
 * authorization answered by the `pusher` SDK's `authorizeChannel`, as an app's `/broadcasting/auth` does.
 */
export function pusherClient(h: TestHerald, opts: ClientOptions = {}): Pusher {
  const signer = sdk(h, opts.secret);
  return pusherJs(
    h,
    {
      authorizer: (channel) => ({
        authorize: (socketId, callback) => {
          const presence = channel.name.startsWith('presence-') ? opts.presence : undefined;
          callback(null, presence ? signer.authorizeChannel(socketId, channel.name, presence) : signer.authorizeChannel(socketId, channel.name));
        },
      }),
    },
    opts.key,
  );
}

/** pusher-js as a Laravel page configures it for a self-hosted server (ws only, no TLS, any cluster), plus `extra`. */
export function pusherJs(h: TestHerald, extra: Partial<Options>, key = APP.key): Pusher {
  return new Pusher(key, { wsHost: '127.0.0.1', wsPort: portOf(h), forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1', disableStats: true, ...extra });
}

/** Resolves when the client is `connected` (rejects on `failed`/`unavailable`). */
export function connected(p: Pusher): Promise<string> {
  return new Promise((resolve, reject) => {
    if (p.connection.state === 'connected') return resolve(p.connection.socket_id);
    const onState = ({ current }: { current: string }): void => {
      if (current === 'connected') {
        p.connection.unbind('state_change', onState);
        resolve(p.connection.socket_id);
      } else if (current === 'failed' || current === 'unavailable') reject(new Error(`pusher-js state ${current}`));
    };
    p.connection.bind('state_change', onState);
  });
}

/** Subscribes and resolves once the server confirmed (rejects on `pusher:subscription_error`). */
export function subscribed(p: Pusher, name: string): Promise<Channel> {
  const ch = p.subscribe(name);
  return new Promise((resolve, reject) => {
    ch.bind('pusher:subscription_succeeded', () => resolve(ch));
    ch.bind('pusher:subscription_error', (e: unknown) => reject(Object.assign(new Error('subscription_error'), { detail: e })));
  });
}

/** Resolves with the next `event` on `ch` (data and metadata as pusher-js passes them). */
export function nextEvent(ch: Channel, event: string): Promise<{ data: unknown; meta: unknown }> {
  return new Promise((resolve) => {
    const fn = (data: unknown, meta: unknown): void => {
      ch.unbind(event, fn);
      resolve({ data, meta });
    };
    ch.bind(event, fn);
  });
}

/** Every event on `ch`, in order, as `[event, data]`. */
export function record(ch: Channel): [string, unknown][] {
  const seen: [string, unknown][] = [];
  ch.bind_global((event: string, data: unknown) => {
    seen.push([event, data]);
  });
  return seen;
}

export interface PusherFrame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

/**
 * A byte-level Pusher client (the `ws` package) for what pusher-js hides: exact frames, bad input, close codes.
 * Records every frame; waits for frames instead of sleeping.
 */
export class RawPusher extends RecordingSocket<PusherFrame> {
  /** The text of every frame, as received. */
  readonly texts: string[] = [];

  protected override received(_f: PusherFrame, text: string): void {
    this.texts.push(text);
  }

  /** Opens `/app/<key>` with pusher-js's query string; resolves once the socket is open. */
  static async open(h: TestHerald, key = APP.key, query = 'protocol=7&client=js&version=8.6.0&flash=false', prefix = ''): Promise<RawPusher> {
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(h)}${prefix}/app/${key}?${query}`);
    const c = new RawPusher(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  /** Opens and waits for `pusher:connection_established`; resolves with the client and its socket_id. */
  static async connect(h: TestHerald): Promise<RawPusher & { socketId: string }> {
    const c = await RawPusher.open(h);
    const f = await c.next((x) => x.event === 'pusher:connection_established');
    return Object.assign(c, { socketId: (JSON.parse(f.data as string) as { socket_id: string }).socket_id });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** Frames received from now on that match `pred` (the next one, not one seen before). */
  nextNew(pred: (f: PusherFrame) => boolean): Promise<PusherFrame> {
    const from = this.frames.length;
    return this.next((f) => pred(f) && this.frames.indexOf(f) >= from);
  }

  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<PusherFrame> {
    const answer = this.nextNew(
      (f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'),
    );
    this.send({ event: 'pusher:subscribe', data: { auth: '', ...extra, channel } });
    return answer;
  }

  /** Proves nothing else is pending for this client: a ping round trip (the server answers in order). */
  async settle(): Promise<void> {
    const pong = this.nextNew((f) => f.event === 'pusher:pong');
    this.send({ event: 'pusher:ping', data: {} });
    await pong;
  }

  events(name: string): PusherFrame[] {
    return this.frames.filter((f) => f.event === name);
  }
}

/**
 * A test file's Pusher servers and byte-level clients, each closed after its test (`cleanups` from
 * `perTestCleanup`): `herald(overrides, app)` and `raw(h)`.
 */
export function pusherKit(cleanups: (() => Promise<void> | void)[]): {
  herald: (...args: Parameters<typeof startPusherHerald>) => Promise<TestHerald>;
  raw: (h: TestHerald) => Promise<RawPusher & { socketId: string }>;
} {
  return {
    async herald(...args) {
      const h = await startPusherHerald(...args);
      cleanups.push(() => h.close());
      return h;
    },
    async raw(h) {
      const c = await RawPusher.connect(h);
      cleanups.push(() => c.close());
      return c;
    },
  };
}
