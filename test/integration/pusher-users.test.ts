import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { APP, pusherKit, connected, pusherJs, RawPusher, sdk, type Pusher } from '../helpers/pusher.ts';
import { hmacHex } from '../../src/transports/pusher/sign.ts';

/** Sign-in, `#server-to-user-<id>`, `sendToUser` and `terminate_connections`, with pusher-js and the `pusher` SDK. */
describe('pusher: users', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const { herald, raw } = pusherKit(cleanups);
  /** pusher-js with user authentication answered by the SDK's `authenticateUser`, as `/broadcasting/user-auth` does. */
  const signedIn = (h: TestHerald, user: { id: string; user_info?: Record<string, unknown> }): Pusher => {
    const signer = sdk(h);
    const p = pusherJs(h, {
      userAuthentication: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: ({ socketId }, callback) => callback(null, signer.authenticateUser(socketId, user)),
      },
    });
    cleanups.push(() => p.disconnect());
    return p;
  };
  const userEvent = (p: Pusher, event: string): Promise<unknown> => new Promise((resolve) => p.user.bind(event, resolve));
  const userSubscribed = (p: Pusher): Promise<void> =>
    new Promise((resolve) => p.user.serverToUserChannel!.bind('pusher:subscription_succeeded', () => resolve()));

  it('signs in with the exact user_data and delivers sendToUser to every socket of the user, and to no one else', async () => {
    const h = await herald();
    const a = signedIn(h, { id: '42', user_info: { name: 'Ada' } });
    const b = signedIn(h, { id: '42' });
    const other = signedIn(h, { id: '7' });
    for (const p of [a, b, other]) {
      await connected(p);
      p.signin();
      await p.user.signinDonePromise;
    }
    // pusher-js subscribes to #server-to-user-<id> after signin_success; wait for the server's answer on each.
    await Promise.all([a, b, other].map((p) => (p.user.serverToUserChannel?.subscribed ? Promise.resolve() : userSubscribed(p))));
    const gotA = userEvent(a, 'invoice');
    const gotB = userEvent(b, 'invoice');
    const otherSaw: unknown[] = [];
    other.user.bind('invoice', (d: unknown) => otherSaw.push(d));
    await sdk(h).sendToUser('42', 'invoice', { total: 12 });
    assert.deepEqual(await gotA, { total: 12 });
    assert.deepEqual(await gotB, { total: 12 });
    // The other user gets its own message and, before it, nothing of 42's (one socket: in order).
    const gotOther = userEvent(other, 'invoice');
    await sdk(h).sendToUser('7', 'invoice', { total: 1 });
    assert.deepEqual(await gotOther, { total: 1 });
    assert.deepEqual(otherSaw, [{ total: 1 }]);
  });

  it('answers pusher:signin_success with the same string; a bad signature or a foreign user channel is refused', async () => {
    const h = await herald();
    const c = await raw(h);
    const userData = '{"id":"12345","user_info":{"name":"Jos\\u00e9"}}';
    c.send({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmacHex('wrong', `${c.socketId}::user::${userData}`)}`, user_data: userData } });
    const refused = await c.next((f) => f.event === 'pusher:error');
    assert.equal((refused.data as { code: number }).code, 4009);
    const foreign = await c.subscribe('#server-to-user-12345');
    assert.equal(foreign.event, 'pusher:subscription_error');
    assert.equal(JSON.parse(foreign.data as string).status, 403);
    c.send({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmacHex(APP.secret, `${c.socketId}::user::${userData}`)}`, user_data: userData } });
    const ok = await c.next((f) => f.event === 'pusher:signin_success');
    assert.equal(c.texts.at(-1), JSON.stringify({ event: 'pusher:signin_success', data: JSON.stringify({ user_data: userData }) }));
    assert.equal(JSON.parse(ok.data as string).user_data, userData);
    assert.equal((await c.subscribe('#server-to-user-12345')).event, 'pusher_internal:subscription_succeeded');
    assert.equal((await c.subscribe('#server-to-user-999')).event, 'pusher:subscription_error');
    // A presence subscription without channel_data takes the signed-in user (reference §6).
    const presence = await c.subscribe('presence-room', { auth: `${APP.key}:${hmacHex(APP.secret, `${c.socketId}:presence-room`)}` });
    assert.equal(presence.event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(JSON.parse(presence.data as string), { presence: { ids: ['12345'], hash: { 12345: { name: 'José' } }, count: 1 } });
    // Herald's own API reaches the same user: the stream is the user's inbox.
    const res = await fetch(`${h.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiKey}` },
      body: JSON.stringify({ to: { user: '12345' }, event: 'note', data: { n: 1 } }),
    });
    assert.equal(res.status, 200);
    const note = await c.next((f) => f.event === 'note');
    assert.deepEqual(note, { event: 'note', channel: '#server-to-user-12345', data: '{"n":1}' });
  });

  it('terminate_connections closes every socket of the user with 4009 and leaves the others open', async () => {
    const h = await herald();
    const sign = (c: RawPusher & { socketId: string }, id: string): Promise<unknown> => {
      const userData = JSON.stringify({ id });
      c.send({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmacHex(APP.secret, `${c.socketId}::user::${userData}`)}`, user_data: userData } });
      return c.next((f) => f.event === 'pusher:signin_success');
    };
    const [a, b, keep] = [await raw(h), await raw(h), await raw(h)];
    await Promise.all([sign(a, 'u1'), sign(b, 'u1'), sign(keep, 'u2')]);
    await sdk(h).terminateUserConnections('u1');
    assert.equal(await a.closed(), 4009);
    assert.equal(await b.closed(), 4009);
    assert.equal((a.frames.at(-1)?.data as { code: number }).code, 4009, 'pusher:error 4009 before the close');
    await keep.settle();
    assert.equal(keep.closeCode, undefined);
  });
});
