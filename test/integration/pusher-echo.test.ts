import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import Echo from 'laravel-echo';
import PusherJs, { type ChannelAuthorizerGenerator } from 'pusher-js';
import { perTestCleanup } from '../helpers/herald.ts';
import { APP, portOf, sdk, startPusherHerald } from '../helpers/pusher.ts';

/** Laravel Echo (broadcaster `reverb`, as Laravel generates it) with pusher-js, against Herald. */
describe('pusher: laravel-echo', () => {
  const { cleanups } = perTestCleanup(afterEach);

  it('listens to a broadcast event and hears here/joining on a presence channel', async () => {
    const h = await startPusherHerald();
    cleanups.push(() => h.close());
    const signer = sdk(h);
    const echoFor = (user: { user_id: string; user_info: { name: string } }) =>
      new Echo({
        broadcaster: 'reverb',
        key: APP.key,
        wsHost: '127.0.0.1',
        wsPort: portOf(h),
        wssPort: portOf(h),
        forceTLS: false,
        enabledTransports: ['ws', 'wss'],
        // The module itself: at run time its default import is the Pusher class, which Echo constructs.
        Pusher: PusherJs,
        authorizer: ((channel) => ({
          authorize: (socketId, cb) =>
            cb(
              null,
              channel.name.startsWith('presence-') ? signer.authorizeChannel(socketId, channel.name, user) : signer.authorizeChannel(socketId, channel.name),
            ),
        })) as ChannelAuthorizerGenerator,
      });
    const ann = echoFor({ user_id: '1', user_info: { name: 'Ann' } });
    const bob = echoFor({ user_id: '2', user_info: { name: 'Bob' } });
    cleanups.push(
      () => ann.disconnect(),
      () => bob.disconnect(),
    );

    const shipped = new Promise<unknown>((resolve) => ann.private('orders.1').listen('OrderShipped', resolve));
    const here = new Promise<unknown>((resolve) => ann.join('room.1').here(resolve));
    assert.deepEqual(await here, [{ name: 'Ann' }]);
    const joining = new Promise<unknown>((resolve) => ann.join('room.1').joining(resolve));
    const bobHere = new Promise<unknown>((resolve) => bob.join('room.1').here(resolve));
    assert.deepEqual(await joining, { name: 'Bob' });
    assert.equal(((await bobHere) as unknown[]).length, 2);

    // Laravel triggers the class name on `private-orders.1`; Echo's `listen('OrderShipped')` binds App\Events\OrderShipped.
    await new Promise<void>((resolve) => {
      const ch = ann.connector.pusher.channel('private-orders.1');
      if (ch?.subscribed) return resolve();
      ch?.bind('pusher:subscription_succeeded', () => resolve());
    });
    await sdk(h).trigger('private-orders.1', 'App\\Events\\OrderShipped', { order: { id: 1 } });
    assert.deepEqual(await shipped, { order: { id: 1 } });
  });
});
