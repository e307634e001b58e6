// Three Herald processes sharing one Redis act as one server: cross-node delivery, cluster presence, and a
// numbered stream that survives killing a node and restarting Redis, counted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Herald, HeraldMessage } from '../../client/index.ts';
import { TokenService } from '../../src/auth/tokens.ts';
import { nodeApi as api, removeNodeDirs, startNode, stopAll } from '../helpers/cluster.ts';
import { TOKEN_SECRET } from '../helpers/herald.ts';
import { REDIS_URL, startOwnRedis } from '../helpers/redis.ts';
import { memoryStorage, nextEvent, sdkClient } from '../helpers/sdk.ts';
import { settle, TestClient } from '../helpers/ws-client.ts';

const tokens = new TokenService(TOKEN_SECRET);
after(removeNodeDirs);

describe('three nodes on one Redis', () => {
  it('deliver to a user, a channel and everyone across nodes, and agree on presence', async () => {
    const prefix = `herald-test:${randomBytes(4).toString('hex')}:`;
    const nodes = [await startNode(REDIS_URL, prefix), await startNode(REDIS_URL, prefix), await startNode(REDIS_URL, prefix)];
    try {
      const a = await TestClient.welcome(nodes[0]!.ws, await tokens.sign('u1', { ttlSeconds: 600 }));
      const b = await TestClient.welcome(nodes[1]!.ws, await tokens.sign('u2', { channels: ['c'], ttlSeconds: 600 }));
      const c = await TestClient.welcome(nodes[2]!.ws, await tokens.sign('u1', { ttlSeconds: 600 }));
      b.send({ type: 'subscribe', channel: 'c', id: 1 });
      await b.next((f) => f.id === 1);

      const toUser = await api(nodes[2]!, 'POST', '/api/publish', { to: { user: 'u1' }, data: 'to u1' });
      assert.equal(toUser.status, 200);
      assert.equal((await a.next((f) => f.type === 'message')).data, 'to u1', 'reached the other node');
      assert.equal((await c.next((f) => f.type === 'message')).data, 'to u1', 'reached the local connection');
      await api(nodes[0]!, 'POST', '/api/publish', { to: { channel: 'c' }, data: 'to c' });
      assert.equal((await b.next((f) => f.type === 'message' && f.stream === 'channel:c')).data, 'to c');
      await api(nodes[1]!, 'POST', '/api/publish', { to: { all: true }, data: 'to all' });
      for (const cl of [a, b, c]) assert.equal((await cl.next((f) => f.type === 'message' && f.stream === 'broadcast')).data, 'to all');
      for (const cl of [a, b, c]) await settle(cl);
      assert.equal(b.messages().filter((m) => m.stream === 'user:u1').length, 0, 'u2 got nothing of u1');

      for (const n of nodes) {
        const u1 = await api(n, 'GET', '/api/users/u1');
        assert.equal(u1.body.connections, 2, `node ${n.url} counts both connections of u1`);
        const users = await api(n, 'GET', '/api/users');
        assert.equal(users.body.count, 2);
        const ch = await api(n, 'GET', '/api/channels/c');
        assert.deepEqual([ch.body.connections, ch.body.users], [1, ['u2']]);
        const stats = await api(n, 'GET', '/api/stats');
        assert.deepEqual([stats.body.cluster.connections, stats.body.cluster.nodes], [3, 3]);
      }
      a.close();
      await a.closed();
      // Presence is updated on disconnect, not on a timer: the next query on any node sees it.
      await settle(c);
      for (const n of nodes) assert.equal((await api(n, 'GET', '/api/users/u1')).body.connections, 1);
      b.close();
      c.close();
    } finally {
      await stopAll(nodes);
    }
  });

  it('loses nothing when a node is killed and Redis restarts', async () => {
    const redis = await startOwnRedis();
    const prefix = 'herald:';
    const nodes = [await startNode(redis.url, prefix), await startNode(redis.url, prefix), await startNode(redis.url, prefix)];
    const USERS = 3;
    const MESSAGES = 900;
    const clients: { id: string; client: Herald; received: HeraldMessage[]; notRecovered: number }[] = [];
    try {
      for (let i = 0; i < USERS; i++) {
        const id = `n${i}`;
        const received: HeraldMessage[] = [];
        // Each client starts on a different node and moves round the nodes on every reconnect.
        const client = sdkClient({
          url: (attempt) => nodes[(i + attempt) % nodes.length]!.ws,
          token: () => tokens.sign(id, { channels: ['*'], ttlSeconds: 600 }),
          storage: memoryStorage(),
          ackIntervalMs: 20,
        });
        const entry = { id, client, received, notRecovered: 0 };
        client.on('message', (m) => received.push(m));
        client.on('recovery', (r) => {
          if (!r.recovered) entry.notRecovered++;
        });
        clients.push(entry);
        await client.connect();
        await client.subscribe('feed');
      }
      const publisher = nodes[2]!;
      const publishRange = async (from: number, to: number) => {
        for (let b = from; b <= to; b += 50) {
          const messages = [];
          for (let seq = b; seq < Math.min(b + 50, to + 1); seq++) {
            messages.push({ to: seq % 2 ? { channel: 'feed' } : { user: `n${seq % USERS}` }, data: { seq }, idempotencyKey: `k${seq}` });
          }
          const r = await api(publisher, 'POST', '/api/publish/batch', { messages });
          assert.equal(r.status, 200);
          assert.ok(r.body.results.every((x: { error?: unknown }) => x.error === undefined));
        }
      };
      const step = (m: string) => process.env.CLUSTER_DEBUG && console.log(`step: ${m} ${clients.map((c) => c.received.length).join(',')}`);
      await publishRange(1, 300);
      step('published 300');
      // Kill the node the first client is on: its clients move to another node and resume there.
      nodes[0]!.proc.child.kill('SIGKILL');
      await nodes[0]!.proc.exited;
      step('killed');
      await publishRange(301, 600);
      step('published 600');
      // Restart Redis: publishing fails cleanly while it is down, nodes reconnect, clients resume.
      step('stopping redis');
      await redis.stop();
      step('redis stopped');
      const during = await api(publisher, 'POST', '/api/publish', { to: { channel: 'feed' }, data: { seq: -1 }, idempotencyKey: 'down' });
      assert.equal(during.status, 503, 'a publish that cannot be stored is refused, not lost');
      step('redis down');
      const reconnected = publisher.proc.waitLog((l) => String(l.msg).startsWith('redis reconnected'), 30_000);
      await redis.start();
      await reconnected;
      step('redis up');
      await publishRange(601, MESSAGES);
      step('published all');

      let checked = 0;
      for (const c of clients) {
        const want = { channel: [] as number[], user: [] as number[] };
        for (let seq = 1; seq <= MESSAGES; seq++) {
          if (seq % 2) want.channel.push(seq);
          else if (`n${seq % USERS}` === c.id) want.user.push(seq);
        }
        const total = want.channel.length + want.user.length;
        if (c.received.length < total) await nextEvent(c.client, 'message', () => c.received.length >= total, 30_000);
        const seqs = (stream: string) => c.received.filter((m) => m.stream === stream).map((m) => (m.data as { seq: number }).seq);
        assert.deepEqual(seqs('channel:feed'), want.channel, `${c.id}: the channel, complete and in order`);
        assert.deepEqual(seqs(`user:${c.id}`), want.user, `${c.id}: its inbox, complete and in order`);
        assert.equal(c.notRecovered, 0);
        checked += total;
        c.client.close();
      }
      console.log(
        `cluster loss test: ${MESSAGES} messages over 3 nodes, 1 node SIGKILLed, Redis restarted; ${checked} deliveries checked, 0 lost, 0 duplicated`,
      );
    } finally {
      for (const c of clients) c.client.close();
      await stopAll(nodes);
      await redis.close();
    }
  });
});
