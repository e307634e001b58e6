import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { APP, pusherKit, connected, nextEvent, pusherClient, sdk, subscribed } from '../helpers/pusher.ts';

/** Signs a request as the SDKs do (reference §10.1), with a chosen timestamp and secret. */
function signed(method: string, path: string, body: string, opts: { timestamp?: number; secret?: string; md5?: string } = {}): string {
  const params: Record<string, string> = {
    auth_key: APP.key,
    auth_timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (body !== '') params.body_md5 = opts.md5 ?? createHash('md5').update(body).digest('hex');
  const query = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const sig = createHmac('sha256', opts.secret ?? APP.secret)
    .update(`${method}\n${path}\n${query}`)
    .digest('hex');
  return `${path}?${query}&auth_signature=${sig}`;
}

/** The Pusher HTTP API on the main port, driven by the `pusher` SDK from npm and by hand-signed requests. */
describe('pusher: HTTP API', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const kit = pusherKit(cleanups);
  const herald = (): Promise<TestHerald> => kit.herald();
  const raw = kit.raw;
  const post = (h: TestHerald, path: string, body: string, opts?: Parameters<typeof signed>[3]) =>
    fetch(h.url + signed('POST', path, body, opts), { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('triggers one event on several channels; with info it answers the counts the SDKs parse', async () => {
    const h = await herald();
    const a = await raw(h);
    const b = await raw(h);
    await a.subscribe('one');
    await b.subscribe('one');
    await b.subscribe('two');
    const res = await sdk(h).trigger(['one', 'two'], 'ev', { n: 1 }, { info: 'subscription_count' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { channels: { one: { subscription_count: 2 }, two: { subscription_count: 1 } } });
    for (const [c, ch] of [
      [a, 'one'],
      [b, 'one'],
      [b, 'two'],
    ] as const) {
      assert.deepEqual(await c.next((f) => f.event === 'ev' && f.channel === ch), { event: 'ev', channel: ch, data: '{"n":1}' });
    }
    const plain = await sdk(h).trigger('one', 'ev2', 'x');
    assert.deepEqual(await plain.json(), {});
  });

  it('accepts pusher-http-php\'s body with "channel" and leaves out the connection named by socket_id', async () => {
    const h = await herald();
    const a = pusherClient(h);
    const b = pusherClient(h);
    cleanups.push(
      () => a.disconnect(),
      () => b.disconnect(),
    );
    const aSocket = await connected(a);
    await connected(b);
    const chA = await subscribed(a, 'room');
    const chB = await subscribed(b, 'room');
    const aGot: string[] = [];
    chA.bind_global((event: string) => {
      if (!event.startsWith('pusher')) aGot.push(event);
    });
    const bFirst = nextEvent(chB, 'toOthers');
    const body = JSON.stringify({ name: 'toOthers', data: '{"x":1}', channel: 'room', socket_id: aSocket });
    const res = await post(h, `/apps/${APP.id}/events`, body);
    assert.equal(res.status, 200);
    assert.deepEqual((await bFirst).data, { x: 1 });
    // A later event to everyone reaches A first of all: the excluded one never came.
    const aNext = nextEvent(chA, 'everyone');
    await sdk(h).trigger('room', 'everyone', {});
    await aNext;
    assert.deepEqual(aGot, ['everyone']);
  });

  it('triggers batches, answering {"batch":{}} or one info object per event', async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('c1');
    await c.subscribe('presence-none');
    const res = await sdk(h).triggerBatch([
      { channel: 'c1', name: 'e1', data: { x: 1 } },
      { channel: 'c2', name: 'e2', data: 'raw' },
    ]);
    assert.deepEqual(await res.json(), { batch: {} });
    assert.equal((await c.next((f) => f.event === 'e1')).data, '{"x":1}');
    const withInfo = await sdk(h).triggerBatch([
      { channel: 'c1', name: 'e3', data: '1', info: 'subscription_count' },
      { channel: 'c2', name: 'e4', data: '2' },
    ]);
    assert.deepEqual(await withInfo.json(), { batch: [{ subscription_count: 1 }, {}] });
    const stored = await h.server.context.store.read('channel:c2', 0, 10);
    assert.deepEqual(
      stored.map((m) => [m.event, m.data]),
      [
        ['e2', '"raw"'],
        ['e4', '2'],
      ],
    );
  });

  it('refuses bad and stale signatures with 401 and bad bodies with 400/413, delivering nothing', async () => {
    const h = await herald();
    const c = await raw(h);
    await c.subscribe('guarded');
    const body = JSON.stringify({ name: 'no', data: '{}', channels: ['guarded'] });
    const path = `/apps/${APP.id}/events`;
    const statuses: number[] = [];
    statuses.push((await post(h, path, body, { secret: 'wrong-secret' })).status);
    statuses.push((await post(h, path, body, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status);
    statuses.push((await post(h, path, body, { md5: '0'.repeat(32) })).status);
    statuses.push((await fetch(`${h.url}${path}`, { method: 'POST', body })).status);
    // The SDK with a wrong secret: its promise rejects with the status.
    await assert.rejects(sdk(h, 'not-the-secret').trigger('guarded', 'no', {}), (e: { status?: number }) => e.status === 401);
    assert.deepEqual(statuses, [401, 401, 401, 401]);

    const bad = async (b: unknown) => (await post(h, path, typeof b === 'string' ? b : JSON.stringify(b))).status;
    assert.equal(await bad('not json'), 400);
    assert.equal(await bad({ name: 'no', data: { not: 'a string' }, channels: ['guarded'] }), 400);
    assert.equal(await bad({ name: 'no', data: '{}', channels: Array.from({ length: 101 }, (_, i) => `c${i}`) }), 400);
    assert.equal(await bad({ name: 'no', data: '{}', channels: ['bad channel'] }), 400);
    assert.equal(await bad({ name: 'no', data: '{}', channels: ['guarded'], socket_id: 'abc' }), 400);
    assert.equal(await bad({ name: 'no', data: 'x'.repeat(10_241), channels: ['guarded'] }), 413);
    const batch = { batch: Array.from({ length: 11 }, () => ({ name: 'no', data: '{}', channel: 'guarded' })) };
    assert.equal((await post(h, `/apps/${APP.id}/batch_events`, JSON.stringify(batch))).status, 400);
    assert.equal((await post(h, '/apps/999/events', body)).status, 404);

    await c.settle();
    assert.equal(c.events('no').length, 0, 'nothing refused was delivered');
    assert.equal((await h.server.context.store.read('channel:guarded', 0, 10)).length, 0, 'nor stored');
    await sdk(h).trigger('guarded', 'yes', {});
    await c.next((f) => f.event === 'yes');
  });
});
