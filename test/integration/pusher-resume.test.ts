import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import Echo from 'laravel-echo';
import PusherJs, { type ChannelAuthorizerGenerator } from 'pusher-js';
import { HeraldConnector } from '../../client/echo.ts';
import { perTestCleanup, startHerald, type TestHerald } from '../helpers/herald.ts';
import { APP, portOf, RawPusher, sdk } from '../helpers/pusher.ts';

type AnyEcho = Echo<'pusher'>;
interface SignedIn {
  user: { bind(event: string, cb: (d: unknown) => void): void; signinDonePromise: Promise<unknown> | null };
  signin(): void;
}
interface PusherState {
  connection: { state: string; bind(e: string, cb: (x: { current: string }) => void): void; unbind(e: string, cb: unknown): void; socket_id: string };
  channel(name: string): { subscribed: boolean; bind(e: string, cb: () => void): void } | undefined;
}

/** Herald's Echo connector (client/echo.ts): Echo's API unchanged, and nothing lost across reconnects and restarts. */
describe('pusher: the Herald Echo connector', () => {
  const { cleanups } = perTestCleanup(afterEach);

  const echoOn = (h: TestHerald, port = portOf(h), user?: { id: string }): AnyEcho => {
    const signer = sdk(h);
    const echo = new Echo({
      broadcaster: HeraldConnector,
      key: APP.key,
      wsHost: '127.0.0.1',
      wsPort: port,
      forceTLS: false,
      enabledTransports: ['ws'],
      Pusher: PusherJs,
      authorizer: ((channel) => ({ authorize: (socketId, cb) => cb(null, signer.authorizeChannel(socketId, channel.name)) })) as ChannelAuthorizerGenerator,
      userAuthentication: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: ({ socketId }: { socketId: string }, cb: (err: null, auth: unknown) => void) =>
          cb(null, signer.authenticateUser(socketId, user ?? { id: 'nobody' })),
      },
    } as never) as AnyEcho;
    cleanups.push(() => echo.disconnect());
    return echo;
  };
  const pusherOf = (echo: AnyEcho): PusherState => (echo.connector as unknown as { pusher: PusherState }).pusher;
  const state = (echo: AnyEcho, want: string): Promise<void> =>
    new Promise((resolve) => {
      const p = pusherOf(echo);
      if (p.connection.state === want) return resolve();
      const fn = ({ current }: { current: string }): void => {
        if (current !== want) return;
        p.connection.unbind('state_change', fn);
        resolve();
      };
      p.connection.bind('state_change', fn);
    });
  const subscribedTo = (echo: AnyEcho, name: string): Promise<void> =>
    new Promise((resolve) => {
      const ch = pusherOf(echo).channel(name);
      if (ch?.subscribed) return resolve();
      ch?.bind('pusher:subscription_succeeded', () => resolve());
    });

  /** Events in arrival order; `upTo(n)` resolves once `n` have arrived. */
  class Received {
    readonly list: unknown[] = [];
    private wanted: { n: number; resolve: (l: unknown[]) => void }[] = [];
    readonly push = (d: unknown): void => {
      this.list.push(d);
      for (const w of [...this.wanted]) {
        if (this.list.length < w.n) continue;
        this.wanted.splice(this.wanted.indexOf(w), 1);
        w.resolve([...this.list]);
      }
    };
    upTo(n: number): Promise<unknown[]> {
      return this.list.length >= n ? Promise.resolve([...this.list]) : new Promise((resolve) => this.wanted.push({ n, resolve }));
    }
  }

  it('gets what a public and a private channel missed while disconnected, once and in order', async () => {
    const h = await startHerald({ pusher: { apps: [{ ...APP }] } });
    cleanups.push(() => h.close());
    const echo = echoOn(h);
    const news = new Received();
    const orders = new Received();
    echo.channel('news').listen('.tick', news.push);
    echo.private('orders').listen('.tick', orders.push);
    await Promise.all([subscribedTo(echo, 'news'), subscribedTo(echo, 'private-orders')]);
    const trigger = (n: number) => sdk(h).triggerBatch(['news', 'private-orders'].map((channel) => ({ channel, name: 'tick', data: { n } })));
    await trigger(1);
    await news.upTo(1);
    // The server drops the socket (4100 on a Pusher socket: pusher-js retries after a second); what is published
    // once the client knows it is gone reaches it only through the resume.
    const id = (await (await fetch(`${h.url}/api/channels/news/connections`, { headers: { authorization: `Bearer ${h.apiKey}` } })).json()) as {
      connections: { connection: string }[];
    };
    const gone = state(echo, 'connecting');
    const closed = await fetch(`${h.url}/api/connections/${id.connections[0]!.connection}/close`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reconnect: true }),
    });
    assert.equal(closed.status, 200);
    await gone;
    for (const n of [2, 3, 4]) await trigger(n);
    await state(echo, 'connected');
    await trigger(5);
    const expected = [1, 2, 3, 4, 5].map((n) => ({ n }));
    assert.deepEqual(await news.upTo(5), expected);
    assert.deepEqual(await orders.upTo(5), expected);
    // No duplicate follows them: the next message is the next live one.
    await trigger(6);
    assert.deepEqual(await news.upTo(6), [...expected, { n: 6 }]);
    assert.deepEqual(await orders.upTo(6), [...expected, { n: 6 }]);
  });

  it('a client on /herald/app/<key> that never sends herald:resume still gets its subscriptions, with positions', async () => {
    const h = await startHerald({ pusher: { apps: [{ ...APP, activityTimeout: 1 }] } });
    cleanups.push(() => h.close());
    const c = await RawPusher.open(h, APP.key, undefined, '/herald');
    cleanups.push(() => c.close());
    await c.next((f) => f.event === 'pusher:connection_established');
    const answer = c.subscribe('news');
    // Held until the server stops waiting for herald:resume (at most the activity timeout, 1 s here).
    assert.equal((await answer).event, 'pusher_internal:subscription_succeeded');
    await sdk(h).trigger('news', 'tick', { n: 1 });
    const tick = await c.next((f) => f.event === 'tick');
    const at = c.frames[c.frames.indexOf(tick) - 1];
    assert.equal(at?.event, 'pusher_internal:herald_at');
    assert.match(String(at?.data), /^[0-9A-Za-z_-]+:\d+$/);
  });

  it("resumes a channel and the signed-in user's channel across a server restart (SQLite)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-resume-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const config = { dataDir, pusher: { apps: [{ ...APP }] } };
    const first = await startHerald(config);
    const port = portOf(first);
    const echo = echoOn(first, port, { id: 'u1' });
    const news = new Received();
    const inbox = new Received();
    echo.channel('news').listen('.tick', news.push);
    const pusher = (echo.connector as unknown as { pusher: SignedIn }).pusher;
    pusher.user.bind('note', inbox.push);
    pusher.signin();
    await pusher.user.signinDonePromise;
    await subscribedTo(echo, 'news');
    await sdk(first).trigger('news', 'tick', { n: 1 });
    await sdk(first).sendToUser('u1', 'note', { n: 1 });
    await Promise.all([news.upTo(1), inbox.upTo(1)]);
    const gone = state(echo, 'connecting');
    await first.close();
    await gone;
    // The same port and data directory again (pusher-js retries at once, then after 15 s); published before the
    // client is back, so only the resume brings it.
    const second = await startHerald({ ...config, port });
    cleanups.push(() => second.close());
    await sdk(second).trigger('news', 'tick', { n: 2 });
    await sdk(second).sendToUser('u1', 'note', { n: 2 });
    await state(echo, 'connected');
    await sdk(second).trigger('news', 'tick', { n: 3 });
    await sdk(second).sendToUser('u1', 'note', { n: 3 });
    assert.deepEqual(await news.upTo(3), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(await inbox.upTo(3), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    // Before the server's cleanup: a pusher-js still connected when its server closes keeps retrying.
    echo.disconnect();
  });
});
