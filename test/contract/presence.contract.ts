import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Connection } from '../../src/core/connection.ts';
import { Hub } from '../../src/core/hub.ts';
import type { Presence } from '../../src/presence/presence.ts';

/** A connection stub: presence only reads identity and channels. */
export function fakeConn(id: string, user: string): Connection {
  return { id, user, transport: 'test', channels: new Set(), deliver: () => true, notifySubscription: () => {}, close: () => {} };
}

export interface PresenceFactory {
  /** One node's presence over its hub. Nodes made from the same `cluster` value see each other. */
  create(hub: Hub, cluster: string): Promise<Presence>;
  /** Stops a node without a clean leave (a crash): it must stop counting within its staleness window. */
  crash?: (p: Presence) => Promise<void>;
  multiNode: boolean;
}

/** The Presence contract (src/presence/presence.ts), run against every implementation. */
export function presenceContract(name: string, factory: PresenceFactory): void {
  describe(`Presence contract: ${name}`, () => {
    it('counts users, their connections, channels and members, following every change', async () => {
      const hub = new Hub();
      const p = await factory.create(hub, `c${Math.random()}`);
      const a1 = fakeConn('a1', 'alice');
      const a2 = fakeConn('a2', 'alice');
      const b = fakeConn('b', 'bob');
      const anon = fakeConn('x', '');
      for (const c of [a1, a2, b, anon]) hub.add(c);
      hub.subscribe(a1, 'news', 10);
      hub.subscribe(b, 'news', 10);
      hub.subscribe(a2, 'sport', 10);
      assert.equal(await p.userConnections('alice'), 2);
      assert.equal(await p.userConnections('nobody'), 0);
      const users = await p.users(100);
      assert.equal(users.count, 2);
      assert.deepEqual(
        users.users.sort((x, y) => x.user.localeCompare(y.user)),
        [
          { user: 'alice', connections: 2 },
          { user: 'bob', connections: 1 },
        ],
      );
      const news = await p.channel('news');
      assert.equal(news.connections, 2);
      assert.deepEqual(news.users.sort(), ['alice', 'bob']);
      const channels = await p.channels(100);
      assert.equal(channels.count, 2);
      assert.deepEqual(
        channels.channels.find((c) => c.channel === 'news'),
        { channel: 'news', connections: 2, users: 2 },
      );
      const t = await p.totals();
      assert.deepEqual([t.connections, t.users, t.channels], [4, 2, 2]);

      hub.unsubscribe(b, 'news');
      hub.remove(a1);
      assert.equal(await p.userConnections('alice'), 1);
      assert.deepEqual(await p.channel('news'), { connections: 0, users: [] });
      assert.equal((await p.channels(100)).count, 1);
      assert.equal((await p.users(1)).users.length, 1, 'the list honours the limit');
      await p.close();
    });

    if (factory.multiNode) {
      it('sums every live node, and forgets a node that stopped', async () => {
        const cluster = `c${Math.random()}`;
        const hubA = new Hub();
        const hubB = new Hub();
        const pa = await factory.create(hubA, cluster);
        const pb = await factory.create(hubB, cluster);
        hubA.add(fakeConn('1', 'carol'));
        hubB.add(fakeConn('2', 'carol'));
        const onB = fakeConn('3', 'dan');
        hubB.add(onB);
        hubB.subscribe(onB, 'room', 10);
        for (const p of [pa, pb]) {
          assert.equal(await p.userConnections('carol'), 2);
          assert.equal((await p.totals()).nodes, 2);
          assert.deepEqual(await p.channel('room'), { connections: 1, users: ['dan'] });
        }
        await pb.close();
        assert.equal(await pa.userConnections('carol'), 1, 'a node that leaves stops counting at once');
        assert.equal((await pa.totals()).nodes, 1);
        await pa.close();
      });
    }
  });
}
