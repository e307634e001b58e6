import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { perTestCleanup } from '../helpers/herald.ts';
import { APP, connected, nextEvent, Pusher, pusherClient, RawPusher, sdk, startPusherHerald, subscribed } from '../helpers/pusher.ts';
import { settle, TestClient } from '../helpers/ws-client.ts';

/** The Pusher protocol's WebSocket endpoint on the main port, with pusher-js from npm and a byte-level client. */
describe('pusher: /app/<key>', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const herald = async (...args: Parameters<typeof startPusherHerald>) => {
    const h = await startPusherHerald(...args);
    cleanups.push(() => h.close());
    return h;
  };
  const raw = async (h: Awaited<ReturnType<typeof herald>>) => {
    const c = await RawPusher.connect(h);
    cleanups.push(() => c.close());
    return c;
  };
  const client = (h: Awaited<ReturnType<typeof herald>>, opts?: Parameters<typeof pusherClient>[1]): Pusher => {
    const p = pusherClient(h, opts);
    cleanups.push(() => p.disconnect());
    return p;
  };

  it('opens with connection_established: a \\d+.\\d+ socket_id and a non-zero activity_timeout in a JSON string', async () => {
    const h = await herald();
    const c = await RawPusher.open(h);
    cleanups.push(() => c.close());
    const first = await c.next(() => true);
    assert.equal(first.event, 'pusher:connection_established');
    assert.equal(typeof first.data, 'string');
    const data = JSON.parse(first.data as string) as { socket_id: string; activity_timeout: number };
    assert.match(data.socket_id, /^\d+\.\d+$/);
    assert.equal(data.activity_timeout, 120);
    const other = await raw(h);
    assert.notEqual(other.socketId, data.socket_id, 'every connection its own socket_id');
    // pusher-js itself reaches `connected` with that id.
    const p = client(h);
    assert.match(await connected(p), /^\d+\.\d+$/);
  });

  it('refuses an unknown key with pusher:error 4001 then close 4001, and an unsupported protocol with 4007', async () => {
    const h = await herald();
    const wrong = await RawPusher.open(h, 'not-the-key');
    assert.equal(await wrong.closed(), 4001);
    assert.deepEqual(wrong.frames, [{ event: 'pusher:error', data: { code: 4001, message: 'no app with key not-the-key' } }]);
    const old = await RawPusher.open(h, APP.key, 'protocol=2');
    assert.equal(await old.closed(), 4007);
    assert.equal((old.frames[0]?.data as { code: number }).code, 4007);
    // Other paths are not the Pusher endpoint's.
    const res = await fetch(`${h.url}/app`);
    assert.equal(res.status, 404);
  });

  it('answers pusher:ping with pusher:pong', async () => {
    const h = await herald();
    const c = await raw(h);
    c.send({ event: 'pusher:ping', data: {} });
    const pong = await c.next((f) => f.event === 'pusher:pong');
    assert.deepEqual(pong, { event: 'pusher:pong', data: '{}' });
  });

  it('subscribes and unsubscribes a public channel; a trigger reaches it only while subscribed', async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('news');
    assert.equal(c.texts.at(-1), '{"event":"pusher_internal:subscription_succeeded","channel":"news","data":"{}"}');
    await sdk(h).trigger('news', 'first', { n: 1 });
    const first = await c.next((f) => f.event === 'first');
    assert.deepEqual(first, { event: 'first', channel: 'news', data: '{"n":1}' });
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'news' } });
    await c.settle();
    await sdk(h).trigger('news', 'second', { n: 2 });
    await c.settle();
    assert.equal(c.events('second').length, 0, 'nothing after the unsubscribe');
  });

  it('a native publish reaches pusher-js subscribers and a Pusher trigger reaches native subscribers of the same channel', async () => {
    const h = await herald();
    const native = await TestClient.welcome(h.wsUrl, await h.token('u1', ['*']));
    cleanups.push(() => native.close());
    native.send({ type: 'subscribe', channel: 'orders', id: 1 });
    await native.next((f) => f.type === 'subscribed');
    const p = client(h);
    const ch = await subscribed(p, 'orders');

    const created = nextEvent(ch, 'created');
    assert.equal((await h.api('POST', '/api/publish', { to: { channel: 'orders' }, event: 'created', data: { id: 1 } })).status, 200);
    assert.deepEqual((await created).data, { id: 1 });
    // Without an event name the Pusher event is `message`.
    const plain = nextEvent(ch, 'message');
    await h.api('POST', '/api/publish', { to: { channel: 'orders' }, data: 'hello' });
    assert.equal((await plain).data, 'hello');

    await sdk(h).trigger('orders', 'shipped', { id: 2 });
    const m = await native.next((f) => f.type === 'message' && f.event === 'shipped');
    assert.deepEqual(m.data, { id: 2 }, 'JSON data reaches native clients as the value');
    assert.equal(m.stream, 'channel:orders');
    // Stored like any Herald publish: the three messages are in the channel's history.
    const stored = await h.server.context.store.read('channel:orders', 0, 10);
    assert.deepEqual(
      stored.map((s) => s.event),
      ['created', undefined, 'shipped'],
    );
  });

  it('maps Pusher names with , and ; onto Herald channels with +2C and +3B, both ways', async () => {
    const h = await herald();
    const native = await TestClient.welcome(h.wsUrl, await h.token('u1', ['*']));
    cleanups.push(() => native.close());
    native.send({ type: 'subscribe', channel: 'a+2Cb+3Bc', id: 1 });
    await native.next((f) => f.type === 'subscribed');
    const c = await raw(h);
    await c.subscribe('a,b;c');
    await sdk(h).trigger('a,b;c', 'ev', { x: 1 });
    assert.deepEqual((await native.next((f) => f.type === 'message')).data, { x: 1 });
    await h.api('POST', '/api/publish', { to: { channel: 'a+2Cb+3Bc' }, event: 'back', data: { y: 2 } });
    assert.deepEqual(await c.next((f) => f.event === 'back'), { event: 'back', channel: 'a,b;c', data: '{"y":2}' });
  });

  it("delivers a trigger's data string byte for byte, whether it is JSON or not", async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('bytes');
    const native = await TestClient.welcome(h.wsUrl, await h.token('u1', ['*']));
    cleanups.push(() => native.close());
    native.send({ type: 'subscribe', channel: 'bytes', id: 1 });
    await native.next((f) => f.type === 'subscribed');
    // As pusher-http-php encodes: `\/`, `\u00e9`, spaces kept; a JSON string; plain text.
    const strings = ['{"url":"https:\\/\\/x.test","name":"Jos\\u00e9" , "n": 1}', '"raw"', 'plain text, not JSON', '[1, 2]'];
    for (const s of strings) await sdk(h).trigger('bytes', 'e', s);
    for (let i = 0; i < strings.length; i++) {
      const f = await c.next((x) => x.event === 'e' && c.events('e').indexOf(x) === i);
      assert.equal(f.data, strings[i]);
    }
    await settle(native);
    assert.deepEqual(
      native.messages().map((m) => m.data),
      [{ url: 'https://x.test', name: 'José', n: 1 }, '"raw"', 'plain text, not JSON', [1, 2]],
    );
  });

  it('answers bad frames with pusher:error and leaves the socket and its subscriptions alone', async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('calm');
    c.send('not json');
    c.send('[1,2]');
    c.send({ data: {} });
    c.send({ event: 'pusher:whatever', data: {} });
    c.send(Buffer.from([1, 2, 3]));
    c.send({ event: 'pusher:subscribe', data: 'calm' });
    c.send({ event: 'pusher:subscribe', data: { channel: 'x'.repeat(165) } });
    c.send({ event: 'pusher:subscribe', data: { channel: 'bad!name' } });
    await c.settle();
    const codes = c.events('pusher:error').map((f) => (f.data as { code: number }).code);
    assert.deepEqual(codes, [4200, 4200, 4200, 4200, 4200, 4200]);
    const refused = c.events('pusher:subscription_error');
    assert.deepEqual(
      refused.map((f) => [f.channel, JSON.parse(f.data as string).status]),
      [
        ['x'.repeat(165), 400],
        ['bad!name', 400],
      ],
    );
    await sdk(h).trigger('calm', 'still', {});
    assert.equal((await c.next((f) => f.event === 'still')).channel, 'calm');
    assert.equal(c.closeCode, undefined);
  });

  it('closes every pusher-js connection with 4200 on shutdown, and pusher-js tries again at once', async () => {
    const h = await startPusherHerald();
    const c = await RawPusher.connect(h);
    const p = pusherClient(h);
    cleanups.push(() => p.disconnect());
    await connected(p);
    const states: string[] = [];
    const reconnecting = new Promise<void>((resolve) =>
      p.connection.bind('state_change', ({ current }: { current: string }) => {
        states.push(current);
        if (current === 'connecting') resolve();
      }),
    );
    const closing = h.close();
    assert.equal(await c.closed(), 4200);
    await reconnecting;
    assert.equal(states[0], 'connecting', 'pusher-js retries at once instead of backing off (no `unavailable` first)');
    await closing;
  });

  it('a second subscription of a channel answers again without a second membership', async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('twice');
    await c.subscribe('twice');
    assert.equal(c.events('pusher_internal:subscription_succeeded').length, 2);
    await sdk(h).trigger('twice', 'once', {});
    await c.settle();
    assert.equal(c.events('once').length, 1);
    assert.equal(h.server.context.hub.count({ kind: 'channel', channel: 'twice' }), 1, 'one member of the channel');
  });
});
