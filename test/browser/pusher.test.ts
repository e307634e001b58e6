import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type PusherServer from 'pusher';
import { ROOT } from '../../src/paths.ts';
import type { TestHerald } from '../helpers/herald.ts';
import { APP, portOf, sdk, startPusherHerald } from '../helpers/pusher.ts';

/**
 * pusher-js and Laravel Echo as a page loads them (their browser builds from node_modules, in <script> tags),
 * in Debian's chromium driven by playwright-core, against Herald's Pusher endpoint. The page comes from a small
 * app server in this test, which also answers `/broadcasting/auth` (with the `pusher` SDK's `authorizeChannel`,
 * as Laravel's broadcaster does) and broadcasts with `toOthers()` semantics (the page's `X-Socket-ID`). Events
 * are triggered by the `pusher` Node SDK over Herald's HTTP API. Every wait is for an event the page recorded.
 */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const PUSHER_JS = join(ROOT, 'node_modules', 'pusher-js', 'dist', 'web', 'pusher.min.js');
const ECHO_JS = join(ROOT, 'node_modules', 'laravel-echo', 'dist', 'echo.iife.js');

/** The users the app's auth endpoint knows, by the `X-User` header the page sends with every auth request. */
const USERS: Record<string, { name: string }> = { '1': { name: 'Ann' }, '2': { name: 'Bob' } };

/**
 * The page's own script, before pusher-js and Echo: it records every WebSocket frame as received (to compare
 * `data` byte for byte) and every callback the libraries make, and lets the test wait for a recorded callback.
 */
const HARNESS = `
const Native = window.WebSocket;
window.rawFrames = [];
// pusher-js looks up window.WebSocket when it connects: every socket it opens records its frames, unchanged.
window.WebSocket = class extends Native {
  constructor(url, protocols) {
    super(url, protocols);
    this.addEventListener('message', (e) => window.rawFrames.push(e.data));
  }
};
window.seen = [];
const waiters = [];
const matches = (entry, want) => Object.keys(want).every((k) => entry[k] === want[k]);
window.note = (entry) => {
  window.seen.push(entry);
  for (const w of waiters.slice()) if (matches(entry, w.want)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(entry); }
};
window.until = (want) => {
  const hit = window.seen.find((e) => matches(e, want));
  return hit ? Promise.resolve(hit) : new Promise((resolve) => waiters.push({ want, resolve }));
};
const connected = (pusher) => new Promise((resolve, reject) => {
  pusher.connection.bind('state_change', ({ current }) => {
    if (current === 'connected') resolve(pusher.connection.socket_id);
    if (current === 'failed' || current === 'unavailable') reject(new Error('pusher-js ' + current));
  });
});
const cfg = window.HERALD;
// pusher-js configured as a page on a self-hosted server does it; channel auth by XHR to the app's endpoint.
window.connectPusher = (user) => {
  window.pusher = new Pusher(cfg.key, {
    wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1', disableStats: true,
    channelAuthorization: { endpoint: '/broadcasting/auth', transport: 'ajax', headers: { 'X-User': user } },
  });
  return connected(window.pusher);
};
window.subscribe = (name) => new Promise((resolve) => {
  const ch = window.pusher.subscribe(name);
  ch.bind_global((event, data) => window.note({ via: 'pusher', channel: name, event, data }));
  ch.bind('pusher:subscription_succeeded', () => resolve({ ok: true }));
  ch.bind('pusher:subscription_error', (error) => resolve({ ok: false, error }));
});
// Echo as Laravel's starter kits configure it (broadcaster reverb); its auth endpoint is /broadcasting/auth.
window.startEcho = (user) => {
  window.echo = new Echo.default({
    broadcaster: 'reverb', key: cfg.key, wsHost: cfg.host, wsPort: cfg.port, wssPort: cfg.port, forceTLS: false,
    enabledTransports: ['ws', 'wss'], auth: { headers: { 'X-User': user } },
  });
  return connected(window.echo.connector.pusher);
};
window.join = (room) => {
  window.echo.join(room)
    .here((users) => window.note({ via: 'echo', channel: room, event: 'here', data: users }))
    .joining((user) => window.note({ via: 'echo', channel: room, event: 'joining', data: user }))
    .leaving((user) => window.note({ via: 'echo', channel: room, event: 'leaving', data: user }))
    .error((e) => window.note({ via: 'echo', channel: room, event: 'error', data: e }));
};
window.listen = (name, event) => new Promise((resolve) => {
  window.echo.private(name).listen(event, (e) => window.note({ via: 'echo', channel: name, event, data: e })).subscribed(() => resolve());
});
// A form post of the app: the server broadcasts it to the others (Echo's X-Socket-ID, as its axios interceptor sends).
// Herald's Echo connector as a page without a bundler loads it: a module from Herald itself, pusher-js global.
window.startHeraldEcho = async (heraldUrl) => {
  const { HeraldConnector } = await import(heraldUrl + '/sdk/herald-echo.js');
  window.hecho = new Echo.default({ broadcaster: HeraldConnector, key: cfg.key, wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'] });
  const pusher = window.hecho.connector.pusher;
  pusher.connection.bind('state_change', ({ current }) => window.note({ via: 'herald', channel: '', event: current, data: null }));
  await connected(pusher);
  await new Promise((resolve) => window.hecho.channel('prices').listen('.tick', (d) => window.note({ via: 'herald', channel: 'prices', event: 'tick', data: d })).subscribed(resolve));
};
window.ship = (id) => fetch('/orders/' + id + '/ship', { method: 'POST', headers: { 'X-Socket-ID': window.echo.socketId() } }).then((r) => r.status);
`;

interface Entry {
  via: string;
  channel: string;
  event: string;
  data: unknown;
}

/** What the page script above defines. */
interface PageApi {
  rawFrames: string[];
  seen: Entry[];
  until(want: Partial<Entry>): Promise<Entry>;
  connectPusher(user: string): Promise<string>;
  subscribe(name: string): Promise<{ ok: boolean; error?: unknown }>;
  startEcho(user: string): Promise<string>;
  join(room: string): void;
  listen(name: string, event: string): Promise<void>;
  ship(id: number): Promise<number>;
  echo: { leave(room: string): void };
  startHeraldEcho(heraldUrl: string): Promise<void>;
}

interface AuthRequest {
  contentType: string | undefined;
  user: string | undefined;
  socketId: string | null;
  channel: string | null;
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString()));
    req.on('error', reject);
  });
}

/**
 * The app: its page, the two libraries, `/broadcasting/auth` (403 for a channel it does not grant; a forged
 * signature for `private-forged`), and `/orders/<id>/ship`, which broadcasts to the others.
 */
function startApp(h: TestHerald, authRequests: AuthRequest[]): Promise<Server> {
  const signer: PusherServer = sdk(h);
  const forger: PusherServer = sdk(h, 'not-the-app-secret');
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>orders</title>
<script>window.HERALD = ${JSON.stringify({ key: APP.key, host: '127.0.0.1', port: portOf(h) })};</script>
<script>${HARNESS}</script>
<script src="/pusher.min.js"></script>
<script src="/echo.iife.js"></script>
</head><body>orders</body></html>`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const reply = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method === 'GET' && url.pathname === '/') return reply(200, 'text/html; charset=utf-8', page);
    if (req.method === 'GET' && url.pathname === '/pusher.min.js') return reply(200, 'text/javascript', readFileSync(PUSHER_JS));
    if (req.method === 'GET' && url.pathname === '/echo.iife.js') return reply(200, 'text/javascript', readFileSync(ECHO_JS));
    if (req.method === 'POST' && url.pathname === '/broadcasting/auth') {
      void readAll(req).then((body) => {
        const form = new URLSearchParams(body);
        const user = req.headers['x-user'] as string | undefined;
        const socketId = form.get('socket_id') ?? '';
        const channel = form.get('channel_name') ?? '';
        authRequests.push({ contentType: req.headers['content-type'], user, socketId, channel });
        if (user === undefined || USERS[user] === undefined) return reply(403, 'text/plain', 'who are you?');
        if (channel === 'private-forged') return reply(200, 'application/json', JSON.stringify(forger.authorizeChannel(socketId, channel)));
        if (channel.startsWith('presence-')) {
          return reply(200, 'application/json', JSON.stringify(signer.authorizeChannel(socketId, channel, { user_id: user, user_info: USERS[user] })));
        }
        if (channel.startsWith('private-orders.')) return reply(200, 'application/json', JSON.stringify(signer.authorizeChannel(socketId, channel)));
        reply(403, 'text/plain', 'forbidden');
      });
      return;
    }
    const ship = /^\/orders\/(\d+)\/ship$/.exec(url.pathname);
    if (req.method === 'POST' && ship) {
      // Laravel's broadcast(new OrderShipped($order))->toOthers(): the request's X-Socket-ID goes out as socket_id.
      const socketId = req.headers['x-socket-id'] as string;
      void signer.trigger(`private-orders.${ship[1]}`, 'App\\Events\\OrderShipped', { order: { id: Number(ship[1]) } }, { socket_id: socketId }).then(
        (r) => reply(r.status, 'text/plain', 'shipped'),
        (e: unknown) => reply(500, 'text/plain', String(e)),
      );
      return;
    }
    reply(404, 'text/plain', 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('browser: pusher-js and Laravel Echo against the Pusher endpoint', { timeout: 60_000 }, () => {
  let h: TestHerald;
  let app: Server;
  let browser: Browser;
  let appUrl: string;
  const authRequests: AuthRequest[] = [];
  const failures: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set HERALD_CHROMIUM`);
    h = await startPusherHerald();
    app = await startApp(h, authRequests);
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => app?.close(resolve));
    await h?.close();
  });

  /** A page of the app, in a browser context of its own (one person's browser). */
  const openPage = async (who: string): Promise<Page> => {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (err) => failures.push(`${who}: ${err.message}`));
    await page.goto(`${appUrl}/`);
    return page;
  };
  const api = (page: Page) => ({
    page,
    until: (want: Partial<Entry>) => page.evaluate((w) => (window as unknown as PageApi).until(w), want),
    seen: () => page.evaluate(() => (window as unknown as PageApi).seen),
    rawFrames: () => page.evaluate(() => (window as unknown as PageApi).rawFrames),
    connectPusher: (user: string) => page.evaluate((u) => (window as unknown as PageApi).connectPusher(u), user),
    subscribe: (name: string) => page.evaluate((n) => (window as unknown as PageApi).subscribe(n), name),
    startEcho: (user: string) => page.evaluate((u) => (window as unknown as PageApi).startEcho(u), user),
    join: (room: string) => page.evaluate((r) => (window as unknown as PageApi).join(r), room),
    leave: (room: string) => page.evaluate((r) => (window as unknown as PageApi).echo.leave(r), room),
    listen: (name: string, event: string) => page.evaluate(([n, e]) => (window as unknown as PageApi).listen(n, e), [name, event] as const),
    ship: (id: number) => page.evaluate((i) => (window as unknown as PageApi).ship(i), id),
  });

  let a: ReturnType<typeof api>;
  let b: ReturnType<typeof api>;
  let aPusherSocket: string;

  it('a public channel gets an event from the pusher SDK with its data byte for byte', async () => {
    a = api(await openPage('ann'));
    aPusherSocket = await a.connectPusher('1');
    assert.match(aPusherSocket, /^\d+\.\d+$/);
    assert.deepEqual(await a.subscribe('news'), { ok: true });

    // Already-encoded data, as an app (or PHP's json_encode) writes it: escapes JSON.stringify would not produce.
    const data = '{"title":"Caf\\u00e9 opens","url":"https:\\/\\/x.test\\/a?b=1&c=2","price":1.50,"list":[ 1, 2 ],"html":"<b>\\"hi\\"</b>"}';
    const res = await sdk(h).trigger('news', 'headline', data);
    assert.equal(res.status, 200);
    const got = await a.until({ via: 'pusher', channel: 'news', event: 'headline' });
    assert.deepEqual(got.data, JSON.parse(data));
    const frames = (await a.rawFrames()).map((t) => JSON.parse(t) as { event: string; channel?: string; data?: unknown });
    const frame = frames.find((f) => f.event === 'headline');
    assert.deepEqual(frame, { event: 'headline', channel: 'news', data });

    // Data that is not JSON reaches the callback as the same string.
    const text = 'plain text, not JSON: é ✓ </script>';
    await sdk(h).trigger('news', 'note', text);
    assert.equal((await a.until({ via: 'pusher', channel: 'news', event: 'note' })).data, text);
  });

  it('a private channel authorized by the app endpoint (ajax) gets its events; a forged signature is refused', async () => {
    assert.deepEqual(await a.subscribe('private-orders.7'), { ok: true });
    // pusher-js asked the app, as a form post with the page's socket_id, before subscribing.
    assert.deepEqual(
      authRequests.find((r) => r.channel === 'private-orders.7'),
      { contentType: 'application/x-www-form-urlencoded', user: '1', socketId: aPusherSocket, channel: 'private-orders.7' },
    );
    await sdk(h).trigger('private-orders.7', 'App\\Events\\OrderPacked', { order: { id: 7 }, by: 'José' });
    const got = await a.until({ via: 'pusher', channel: 'private-orders.7', event: 'App\\Events\\OrderPacked' });
    assert.deepEqual(got.data, { order: { id: 7 }, by: 'José' });

    // The endpoint answered 200 with a signature made with another secret: Herald refuses the subscription.
    const forged = await a.subscribe('private-forged');
    assert.equal(forged.ok, false);
    assert.equal((forged.error as { type: string; status: number }).type, 'AuthError');
    assert.equal((forged.error as { type: string; status: number }).status, 401);
    // The app refusing (403) fails the subscription in the page too.
    const refused = await a.subscribe('private-secrets');
    assert.equal(refused.ok, false);
    assert.equal((refused.error as { status: number }).status, 403);
  });

  it('Echo presence: here lists the members, joining and leaving fire on the other page', async () => {
    await a.startEcho('1');
    await a.join('room.1');
    assert.deepEqual((await a.until({ via: 'echo', channel: 'room.1', event: 'here' })).data, [{ name: 'Ann' }]);

    b = api(await openPage('bob'));
    await b.startEcho('2');
    await b.join('room.1');
    assert.deepEqual((await b.until({ via: 'echo', channel: 'room.1', event: 'here' })).data, [{ name: 'Ann' }, { name: 'Bob' }]);
    assert.deepEqual((await a.until({ via: 'echo', channel: 'room.1', event: 'joining' })).data, { name: 'Bob' });

    await b.leave('room.1');
    assert.deepEqual((await a.until({ via: 'echo', channel: 'room.1', event: 'leaving' })).data, { name: 'Bob' });
    const presenceAuth = authRequests.filter((r) => r.channel === 'presence-room.1').map((r) => r.user);
    assert.deepEqual(presenceAuth, ['1', '2']);
  });

  it("toOthers: a broadcast with page A's socket_id reaches page B and not A", async () => {
    await a.listen('orders.1', 'OrderShipped');
    await b.listen('orders.1', 'OrderShipped');
    assert.equal(await a.ship(1), 200);
    const atB = await b.until({ via: 'echo', channel: 'orders.1', event: 'OrderShipped' });
    assert.deepEqual(atB.data, { order: { id: 1 } });

    // A later broadcast to everyone reaches A; the one before it never did (one connection, events in order).
    const res = await sdk(h).trigger('private-orders.1', 'App\\Events\\OrderShipped', { order: { id: 2 } });
    assert.equal(res.status, 200);
    const orderIds = async (page: typeof a) =>
      (await page.seen()).filter((e) => e.via === 'echo' && e.event === 'OrderShipped').map((e) => (e.data as { order: { id: number } }).order.id);
    await a.until({ via: 'echo', channel: 'orders.1', event: 'OrderShipped' });
    assert.deepEqual(await orderIds(a), [2]);
    await b.page.waitForFunction(() => (window as unknown as PageApi).seen.filter((e) => e.event === 'OrderShipped').length === 2);
    assert.deepEqual(await orderIds(b), [1, 2]);
  });

  it("Herald's Echo connector, loaded from /sdk/herald-echo.js, gets what was published while it was disconnected", async () => {
    const c = api(await openPage('cy'));
    await c.page.evaluate((url) => (window as unknown as PageApi).startHeraldEcho(url), h.url);
    await sdk(h).trigger('prices', 'tick', { n: 1 });
    await c.until({ via: 'herald', channel: 'prices', event: 'tick' });
    // Herald drops the page's socket (a reconnect is asked: pusher-js comes back at once); what is published once
    // the page knows it is gone reaches it only through the resume.
    const conns = (await h.api('GET', '/api/channels/prices/connections')).body as { connections: { connection: string }[] };
    assert.equal(conns.connections.length, 1);
    assert.equal((await h.api('POST', `/api/connections/${conns.connections[0]!.connection}/close`, { reconnect: true })).status, 200);
    await c.until({ via: 'herald', event: 'connecting' });
    await sdk(h).trigger('prices', 'tick', { n: 2 });
    await c.page.waitForFunction(() => (window as unknown as PageApi).seen.filter((e) => e.via === 'herald' && e.event === 'connected').length === 2);
    await sdk(h).trigger('prices', 'tick', { n: 3 });
    await c.page.waitForFunction(() => (window as unknown as PageApi).seen.filter((e) => e.event === 'tick').length === 3);
    const ticks = (await c.seen()).filter((e) => e.event === 'tick').map((e) => e.data);
    assert.deepEqual(ticks, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('no page reported an error', () => {
    assert.deepEqual(failures, []);
  });
});
