import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import PusherServer from 'pusher';
import type { PresenceChannel } from 'pusher-js';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { APP, pusherKit, connected, nextEvent, type Pusher, pusherClient, sdk, subscribed } from '../helpers/pusher.ts';

const sign = (text: string): string => `${APP.key}:${createHmac('sha256', APP.secret).update(text).digest('hex')}`;

/** Private and presence channels and client events, with pusher-js authorized by the `pusher` SDK's authorizeChannel. */
describe('pusher: private and presence channels, client events', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const kit = pusherKit(cleanups);
  const herald = (app: Record<string, unknown> = {}): Promise<TestHerald> => kit.herald({}, app);
  const raw = kit.raw;
  const client = async (h: TestHerald, opts?: Parameters<typeof pusherClient>[1]): Promise<Pusher> => {
    const p = pusherClient(h, opts);
    cleanups.push(() => p.disconnect());
    await connected(p);
    return p;
  };

  it('subscribes a private channel with a good signature and refuses a wrong or missing one with subscription_error 401', async () => {
    const h = await herald();
    const good = await client(h);
    const ch = await subscribed(good, 'private-orders.1');
    const got = nextEvent(ch, 'App\\Events\\OrderShipped');
    await sdk(h).trigger('private-orders.1', 'App\\Events\\OrderShipped', { order: { id: 1 } });
    assert.deepEqual((await got).data, { order: { id: 1 } });

    const wrong = await client(h, { secret: 'not-the-secret' });
    await assert.rejects(subscribed(wrong, 'private-orders.1'), (e: { detail?: { status?: number; type?: string } }) => {
      assert.equal(e.detail?.status, 401);
      assert.equal(e.detail?.type, 'AuthError');
      return true;
    });

    const c = await raw(h);
    const none = await c.subscribe('private-orders.1');
    assert.equal(none.event, 'pusher:subscription_error');
    assert.equal(JSON.parse(none.data as string).status, 401);
    // Another socket's signature does not open this one.
    const stolen = await c.subscribe('private-orders.1', { auth: sign(`1.1:private-orders.1`) });
    assert.equal(stolen.event, 'pusher:subscription_error');
    const right = await c.subscribe('private-orders.1', { auth: sign(`${c.socketId}:private-orders.1`) });
    assert.equal(right.event, 'pusher_internal:subscription_succeeded');
    assert.equal(h.server.context.hub.count({ kind: 'channel', channel: 'private-orders.1' }), 2, 'the refused client is not in the channel');
  });

  it('relays encrypted channels unchanged after a private-style signature', async () => {
    const h = await herald();
    const c = await raw(h);
    const ok = await c.subscribe('private-encrypted-docs', { auth: sign(`${c.socketId}:private-encrypted-docs`) });
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    const masterKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
    const port = String(new URL(h.url).port);
    const encrypting = new PusherServer({
      ...{ appId: APP.id, key: APP.key, secret: APP.secret },
      host: '127.0.0.1',
      port,
      useTLS: false,
      encryptionMasterKeyBase64: masterKey,
    });
    await encrypting.trigger('private-encrypted-docs', 'doc', { plain: 'words' });
    const data = (await c.next((f) => f.event === 'doc')).data as string;
    assert.deepEqual(Object.keys(JSON.parse(data) as object), ['nonce', 'ciphertext']);
    assert.ok(!data.includes('words'), 'the server relays the ciphertext');
    const [stored] = await h.server.context.store.read('channel:private-encrypted-docs', 0, 1);
    assert.equal(stored?.data, data, 'stored and relayed exactly as the SDK sent it');
  });

  it('keeps one presence member per user across tabs: member_added on the first socket, member_removed after the last', async () => {
    const h = await herald();
    const ann = { user_id: '1', user_info: { name: 'Ann' } };
    const bob = { user_id: '2', user_info: { name: 'Bob' } };
    const tab1 = await client(h, { presence: ann });
    await subscribed(tab1, 'presence-room.1');
    const watcher = await client(h, { presence: bob });
    const room = (await subscribed(watcher, 'presence-room.1')) as PresenceChannel;
    assert.equal(room.members.count, 2);
    const events: [string, unknown][] = [];
    room.bind('pusher:member_added', (m: { id: string }) => events.push(['added', m.id]));
    room.bind('pusher:member_removed', (m: { id: string }) => events.push(['removed', m.id]));

    const tab2 = await client(h, { presence: ann });
    const second = (await subscribed(tab2, 'presence-room.1')) as PresenceChannel;
    assert.equal(second.members.count, 2, 'two users, not three sockets');
    assert.deepEqual(Object.keys(second.members.members as object).sort(), ['1', '2']);
    // Frames reach the watcher in order: once this trigger is in, a member_added for tab 2 would have been too.
    const mark = nextEvent(room, 'mark');
    await sdk(h).trigger('presence-room.1', 'mark', {});
    await mark;
    assert.deepEqual(events, []);

    // One tab disconnects, the other unsubscribes: one member_removed, after both (whichever the server sees last).
    let membersAtRemoval = -1;
    const removed = new Promise<{ id: string }>((resolve) =>
      room.bind('pusher:member_removed', (m: { id: string }) => {
        membersAtRemoval = h.server.context.hub.count({ kind: 'channel', channel: 'presence-room.1' });
        resolve(m);
      }),
    );
    tab1.disconnect();
    tab2.unsubscribe('presence-room.1');
    assert.equal((await removed).id, '1');
    assert.equal(membersAtRemoval, 1, 'sent once both of the sockets of user 1 had left');
    const mark2 = nextEvent(room, 'mark2');
    await sdk(h).trigger('presence-room.1', 'mark2', {});
    await mark2;
    assert.deepEqual(events, [['removed', '1']]);
    assert.equal(room.members.count, 1);

    const joined = nextEvent(room, 'pusher:member_added');
    await client(h, { presence: { user_id: '3', user_info: { name: 'Cy' } } }).then((p) => subscribed(p, 'presence-room.1'));
    assert.deepEqual((await joined).data, { id: '3', info: { name: 'Cy' } });
  });

  it('verifies presence auth over the exact channel_data bytes, as PHP escapes them', async () => {
    const h = await herald();
    const c = await raw(h);
    const php = '{"user_id":"7","user_info":{"name":"Jos\\u00e9","url":"https:\\/\\/x.test\\/u\\/7"}}';
    const reencoded = JSON.stringify(JSON.parse(php));
    const refused = await c.subscribe('presence-room.1', { channel_data: php, auth: sign(`${c.socketId}:presence-room.1:${reencoded}`) });
    assert.equal(refused.event, 'pusher:subscription_error');
    const ok = await c.subscribe('presence-room.1', { channel_data: php, auth: sign(`${c.socketId}:presence-room.1:${php}`) });
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(JSON.parse(ok.data as string), { presence: { ids: ['7'], hash: { '7': { name: 'José', url: 'https://x.test/u/7' } }, count: 1 } });
    const noData = await c.subscribe('presence-other', { auth: sign(`${c.socketId}:presence-other`) });
    assert.equal(noData.event, 'pusher:subscription_error');
  });

  it('relays client events to the other members only, with user_id on presence channels', async () => {
    const h = await herald();
    const a = await client(h, { presence: { user_id: '1' } });
    const b = await client(h, { presence: { user_id: '2' } });
    const aPriv = await subscribed(a, 'private-chat');
    const bPriv = await subscribed(b, 'private-chat');
    const aSeen: string[] = [];
    aPriv.bind_global((e: string) => aSeen.push(e));
    const typing = nextEvent(bPriv, 'client-typing');
    assert.ok(aPriv.trigger('client-typing', { who: 'a' }));
    const got = await typing;
    assert.deepEqual(got.data, { who: 'a' });
    assert.equal((got.meta as { user_id?: string } | undefined)?.user_id, undefined, 'no user_id on a private channel');

    const aPres = await subscribed(a, 'presence-chat');
    const bPres = await subscribed(b, 'presence-chat');
    const whisper = nextEvent(bPres, 'client-whisper');
    aPres.trigger('client-whisper', { hi: 1 });
    const w = await whisper;
    assert.deepEqual(w.data, { hi: 1 });
    assert.equal((w.meta as { user_id: string }).user_id, '1');

    // The sender got neither: the next event it sees on the private channel is a server trigger.
    const next = nextEvent(aPriv, 'after');
    await sdk(h).trigger('private-chat', 'after', {});
    await next;
    assert.deepEqual(
      aSeen.filter((e) => !e.startsWith('pusher')),
      ['after'],
    );
  });

  it('refuses client events on public, unjoined or encrypted channels and over the rate with pusher:error, leaving the socket open', async () => {
    const h = await herald({ clientEventsPerSecond: 3 });
    const a = await raw(h);
    const b = await raw(h);
    await a.subscribe('public');
    await b.subscribe('public');
    for (const c of [a, b]) await c.subscribe('private-x', { auth: sign(`${c.socketId}:private-x`) });
    a.send({ event: 'client-nope', data: {}, channel: 'public' });
    a.send({ event: 'client-nope', data: {}, channel: 'private-not-joined' });
    a.send({ event: 'client-nope', data: {}, channel: 'private-encrypted-x' });
    a.send({ event: 'client-big', data: { s: 'x'.repeat(11_000) }, channel: 'private-x' });
    await a.settle();
    assert.deepEqual(
      a.events('pusher:error').map((f) => (f.data as { code: number }).code),
      [4009, 4009, 4009, 4301],
    );
    for (let i = 0; i < 20; i++) a.send({ event: 'client-burst', data: { i }, channel: 'private-x' });
    await a.settle();
    await b.settle();
    const refused = a.events('pusher:error').length - 4;
    const relayed = b.events('client-burst').length;
    assert.equal(refused + relayed, 20);
    assert.ok(relayed >= 3 && relayed <= 6, `at most 3 per second (two windows at most): ${relayed}`);
    assert.equal(b.events('client-nope').length + b.events('client-big').length, 0);
    assert.equal(a.closeCode, undefined);
    await sdk(h).trigger('private-x', 'still', {});
    await a.next((f) => f.event === 'still');
  });
});
