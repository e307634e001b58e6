import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import type { Members } from '../../src/presence/members.ts';
import { RedisMembers } from '../../src/presence/redis-members.ts';

export interface MembersFactory {
  /** One node's registry. Nodes made from the same `cluster` value share members. */
  create(cluster: string): Promise<Members>;
  /** Makes the node stop counting as alive (a crash) and lets `survivor` notice, as its heartbeat would. */
  crash?: (dead: Members, survivor: Members) => Promise<void>;
}

/**
 * The Redis implementation's factory, on one server or a Cluster: each `create` a node of its own on a new
 * connection, nodes of one `cluster` value under one key prefix. A crash is a heartbeat that stopped: the node's
 * mark is made older than three heartbeats, and the survivor's next beat reaps it.
 */
export function redisMembersFactory(connect: () => Promise<Redis | Cluster>, prefixOf: (cluster: string) => string): MembersFactory {
  const heartbeatMs = 60_000;
  const log = pino({ level: 'silent' });
  const nodeOf = new Map<Members, { r: Redis | Cluster; prefix: string; nodeId: string }>();
  return {
    async create(cluster) {
      const r = await connect();
      const opts = { prefix: prefixOf(cluster), nodeId: randomBytes(4).toString('hex'), heartbeatMs, log };
      const m = new RedisMembers(r, opts);
      nodeOf.set(m, { r, prefix: opts.prefix, nodeId: opts.nodeId });
      await m.beat();
      return m;
    },
    async crash(dead, survivor) {
      const d = nodeOf.get(dead)!;
      await d.r.zadd(`${d.prefix}members:nodes`, Date.now() - 4 * heartbeatMs, d.nodeId);
      await (survivor as RedisMembers).beat();
    },
  };
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
