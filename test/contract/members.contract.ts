import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Members } from '../../src/presence/members.ts';

export interface MembersFactory {
  /** One node's registry. Nodes made from the same `cluster` value share members. */
  create(cluster: string): Promise<Members>;
  /** Makes the node stop counting as alive (a crash) and lets `survivor` notice, as its heartbeat would. */
  crash?: (dead: Members, survivor: Members) => Promise<void>;
}

/** The Members contract (src/presence/members.ts), run against every implementation. */
export function membersContract(name: string, factory: MembersFactory): void {
  describe(`Members contract: ${name}`, () => {
    it("decides a user's first and last socket, keeps the first info, and lists each member once", async () => {
      const m = await factory.create(`c${Math.random()}`);
      try {
        assert.equal(await m.join('room', 'ann', '{"n":1}'), true);
        assert.equal(await m.join('room', 'ann', '{"n":2}'), false, 'a second tab is no new member');
        assert.equal(await m.join('room', 'bob', 'null'), true);
        assert.equal(await m.join('other', 'ann', '{}'), true, 'channels are independent');
        assert.equal(await m.count('room'), 2);
        assert.deepEqual(
          new Map([...(await m.list('room'))].sort()),
          new Map([
            ['ann', '{"n":1}'],
            ['bob', 'null'],
          ]),
        );
        assert.equal(await m.has('room', 'ann'), true);
        assert.equal(await m.leave('room', 'ann'), false, 'one tab of two left');
        assert.equal(await m.leave('room', 'ann'), true, 'the last one');
        assert.equal(await m.has('room', 'ann'), false);
        assert.equal(await m.leave('room', 'ann'), false, 'a leave too many changes nothing');
        assert.deepEqual([...(await m.list('room')).keys()], ['bob']);
        assert.equal(await m.leave('room', 'bob'), true);
        assert.equal(await m.count('room'), 0);
      } finally {
        await m.close();
      }
    });

    if (factory.crash === undefined) return;
    const crash = factory.crash;

    it('counts sockets across nodes once, and hands the members of a dead node to the survivor', async () => {
      const cluster = `c${Math.random()}`;
      const [a, b] = [await factory.create(cluster), await factory.create(cluster)];
      try {
        assert.equal(await a.join('room', 'ann', '"a"'), true);
        assert.equal(await b.join('room', 'ann', '"b"'), false, "ann's second socket is on the other node");
        assert.equal(await b.join('room', 'bob', 'null'), true);
        assert.equal(await a.join('room', 'cy', 'null'), true);
        assert.deepEqual([...(await b.list('room'))].sort(), [
          ['ann', '"a"'],
          ['bob', 'null'],
          ['cy', 'null'],
        ]);
        const vanished: string[] = [];
        b.onVanished((channel, user) => vanished.push(`${channel}/${user}`));
        await crash(a, b);
        assert.deepEqual(vanished, ['room/cy'], 'ann still has a socket on the survivor; cy had only the dead node');
        assert.deepEqual([...(await b.list('room')).keys()].sort(), ['ann', 'bob']);
        assert.equal(await b.leave('room', 'ann'), true, "the survivor's socket was ann's last");
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
}
