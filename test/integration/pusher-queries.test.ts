import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import PusherServer from 'pusher';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { APP, pusherKit, portOf, RawPusher, sdk, type PusherFrame } from '../helpers/pusher.ts';
import { hmacHex } from '../../src/transports/pusher/sign.ts';

type Raw = RawPusher & { socketId: string };

/** The HTTP API's queries, cache channels, subscription counts, several apps and their limits. */
describe('pusher: queries, cache channels, counts, apps', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const { herald, raw } = pusherKit(cleanups);
  const join = (c: Raw, channel: string, user: string, info?: unknown): Promise<PusherFrame> => {
    const channelData = JSON.stringify({ user_id: user, user_info: info });
    return c.subscribe(channel, { auth: `${APP.key}:${hmacHex(APP.secret, `${c.socketId}:${channel}:${channelData}`)}`, channel_data: channelData });
  };
  const get = async (h: TestHerald, path: string, params: Record<string, string> = {}, client: PusherServer = sdk(h)): Promise<unknown> => {
    const res = await client.get({ path, params });
    assert.equal(res.headers.get('content-type'), 'application/json');
    return res.json();
  };

  it('lists occupied channels, counts presence users and subscriptions, and lists users', async () => {
    const h = await herald();
    const [a, b, c] = [await raw(h), await raw(h), await raw(h)];
    assert.deepEqual(await get(h, '/channels'), { channels: {} }, 'an object when nothing is occupied');
    await a.subscribe('news');
    await b.subscribe('news');
    await join(a, 'presence-room', '1', { name: 'Ann' });
    await join(b, 'presence-room', '1', { name: 'Ann' });
    await join(c, 'presence-room', '2');
    assert.deepEqual(await get(h, '/channels'), { channels: { news: {}, 'presence-room': {} } });
    assert.deepEqual(await get(h, '/channels', { filter_by_prefix: 'presence-', info: 'user_count' }), { channels: { 'presence-room': { user_count: 2 } } });
    assert.deepEqual(await get(h, '/channels/presence-room', { info: 'user_count,subscription_count' }), {
      occupied: true,
      user_count: 2,
      subscription_count: 3,
    });
    assert.deepEqual(await get(h, '/channels/empty'), { occupied: false });
    assert.deepEqual(await get(h, '/channels/presence-room/users'), { users: [{ id: '1' }, { id: '2' }] });
    // Bad queries: the protocol's 400s, as the SDK reports them.
    await assert.rejects(sdk(h).get({ path: '/channels', params: { info: 'user_count' } }), (e: { status?: number }) => e.status === 400);
    await assert.rejects(sdk(h).get({ path: '/channels/news/users' }), (e: { status?: number }) => e.status === 400);
    await assert.rejects(sdk(h).get({ path: '/channels/news', params: { info: 'user_count' } }), (e: { status?: number }) => e.status === 400);
    const wrong = new PusherServer({ appId: APP.id, key: APP.key, secret: 'wrong', host: '127.0.0.1', port: String(portOf(h)), useTLS: false });
    await assert.rejects(wrong.get({ path: '/channels' }), (e: { status?: number }) => e.status === 401);
  });

  it('sends a cache channel its last triggered event on subscribe, or pusher:cache_miss, and reports it with info=cache', async () => {
    const h = await herald();
    const first = await raw(h);
    await first.subscribe('cache-prices');
    await first.next((f) => f.event === 'pusher:cache_miss' && f.channel === 'cache-prices');
    await sdk(h).trigger('cache-prices', 'price', { eur: 10 });
    await sdk(h).trigger('cache-prices', 'price', { eur: 11 });
    const late = await raw(h);
    await late.subscribe('cache-prices');
    const cached = await late.next((f) => f.event === 'price');
    assert.deepEqual(cached, { event: 'price', channel: 'cache-prices', data: '{"eur":11}' });
    assert.equal(late.events('pusher:cache_miss').length, 0);
    const info = (await get(h, '/channels/cache-prices', { info: 'cache' })) as { cache: { event: string; data: string; ttl: number } };
    assert.deepEqual({ ...info.cache, ttl: info.cache.ttl > 1700 }, { event: 'price', data: '{"eur":11}', ttl: true });
  });

  it('tells every subscriber the new subscription count when the app asks for it', async () => {
    const h = await herald({}, { subscriptionCount: true });
    const a = await raw(h);
    await a.subscribe('news');
    const count = (c: Raw, n: number) =>
      c.next(
        (f) =>
          f.event === 'pusher_internal:subscription_count' &&
          f.channel === 'news' &&
          (JSON.parse(f.data as string) as { subscription_count: number }).subscription_count === n,
      );
    await count(a, 1);
    const b = await raw(h);
    await b.subscribe('news');
    await count(a, 2);
    await count(b, 2);
    b.close();
    await a.nextNew((f) => f.event === 'pusher_internal:subscription_count' && f.data === '{"subscription_count":1}');
  });

  it('serves several apps, each in its own namespace, and refuses connections over an app limit with 4100', async () => {
    const second = { id: 'b', key: 'key-b', secret: 'secret-b', maxConnections: 1 };
    const h = await herald({ pusher: { apps: [{ ...APP }, second] } });
    const a = await raw(h);
    await a.subscribe('news');
    const openB = async (): Promise<RawPusher> => {
      const c = await RawPusher.open(h, second.key);
      cleanups.push(() => c.close());
      return c;
    };
    const b = await openB();
    await b.next((f) => f.event === 'pusher:connection_established');
    b.send({ event: 'pusher:subscribe', data: { auth: '', channel: 'news' } });
    await b.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    const sdkB = new PusherServer({ appId: 'b', key: second.key, secret: second.secret, host: '127.0.0.1', port: String(portOf(h)), useTLS: false });
    await sdkB.trigger('news', 'hello', 'from b');
    await b.next((f) => f.event === 'hello');
    // App b's `news` is Herald's `b/news`: a native publish there reaches b, and nothing of b's reached a.
    const res = await fetch(`${h.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiKey}` },
      body: JSON.stringify({ to: { channel: 'b/news' }, event: 'native', data: 'x' }),
    });
    assert.equal(res.status, 200);
    await b.next((f) => f.event === 'native' && f.channel === 'news');
    await a.settle();
    assert.deepEqual(a.events('hello'), []);
    assert.deepEqual(a.events('native'), []);
    // A signature of app a is no signature for app b.
    const crossed = new PusherServer({ appId: 'b', key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(portOf(h)), useTLS: false });
    await assert.rejects(crossed.trigger('news', 'x', 'y'), (e: { status?: number }) => e.status === 401);
    // App b allows one connection on this node.
    const over = await openB();
    assert.equal(await over.closed(), 4100);
    assert.equal((over.frames[0]?.data as { code: number }).code, 4100);
  });
});
