// The connection-addressed API across two nodes on one Redis: a call made on either node reaches the connection on
// the node that holds it, and the queries answer for the whole cluster.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { TokenService } from '../../src/auth/tokens.ts';
import { CloseCode } from '../../src/protocol/codes.ts';
import { nodeApi as api, removeNodeDirs, startNode, stopAll } from '../helpers/cluster.ts';
import { TOKEN_SECRET } from '../helpers/herald.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { TestClient } from '../helpers/ws-client.ts';

const tokens = new TokenService(TOKEN_SECRET);
after(removeNodeDirs);

describe('connections by id on two nodes', () => {
  it('push, bind, join, session, queries and close reach a connection on the other node', async () => {
    const prefix = `herald-test:${randomBytes(4).toString('hex')}:`;
    const nodes = [await startNode(REDIS_URL, prefix), await startNode(REDIS_URL, prefix)];
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    try {
      const a = await TestClient.welcome(n0.ws, await tokens.sign('u1', { ttlSeconds: 600 }));
      const b = await TestClient.welcome(n1.ws, await tokens.sign('u2', { ttlSeconds: 600 }));
      const ida = String((await a.next((f) => f.type === 'welcome')).session);
      const idb = String((await b.next((f) => f.type === 'welcome')).session);
      assert.notEqual(ida.split('.')[0], idb.split('.')[0], 'the ids name different nodes');

      const pushed = await api(n1, 'POST', '/api/publish', { to: { connections: [ida, idb] }, data: 'by id' });
      assert.deepEqual(pushed.body, { delivered: 2, connections: [ida, idb], status: 'delivered' });
      assert.equal((await a.next((f) => f.type === 'message' && f.stream === 'session')).data, 'by id');
      assert.equal((await b.next((f) => f.type === 'message' && f.stream === 'session')).data, 'by id');

      assert.equal((await api(n1, 'POST', `/api/connections/${ida}/bind`, { user: 'x' })).status, 200);
      assert.deepEqual((await api(n1, 'GET', '/api/users/x/connections')).body, { user: 'x', connections: [ida] });
      assert.deepEqual((await api(n1, 'GET', `/api/connections/${ida}`)).body, { connection: ida, user: 'x', transport: 'native', channels: [], online: true });

      for (const [node, id] of [
        [n1, ida],
        [n0, idb],
      ] as const) {
        assert.equal((await api(node, 'POST', `/api/connections/${id}/join`, { channel: 'room' })).status, 200);
      }
      const members = await api(n0, 'GET', '/api/channels/room/connections');
      assert.deepEqual(
        [...members.body.connections].sort((p: { connection: string }, q: { connection: string }) => p.connection.localeCompare(q.connection)),
        [
          { connection: ida, user: 'x' },
          { connection: idb, user: 'u2' },
        ].sort((p, q) => p.connection.localeCompare(q.connection)),
      );
      await api(n1, 'POST', '/api/publish', { to: { channel: 'room' }, data: 'to the room' });
      assert.equal((await a.next((f) => f.type === 'message' && f.stream === 'channel:room')).data, 'to the room');
      assert.equal((await b.next((f) => f.type === 'message' && f.stream === 'channel:room')).data, 'to the room');

      await api(n1, 'POST', `/api/connections/${ida}/session`, { session: { room: 'room', n: 1 } });
      const merged = await api(n0, 'POST', `/api/connections/${ida}/session`, { session: { n: 2 }, merge: true });
      assert.deepEqual(merged.body.session, { room: 'room', n: 2 });
      assert.deepEqual((await api(n1, 'GET', `/api/connections/${ida}/session`)).body, { connection: ida, session: { room: 'room', n: 2 } });

      assert.deepEqual((await api(n0, 'POST', '/api/channels/room/dissolve')).body, { channel: 'room', removed: 2 });
      assert.deepEqual((await api(n1, 'GET', '/api/channels/room/connections')).body, { channel: 'room', connections: [], users: [] });

      await api(n1, 'POST', `/api/connections/${ida}/close`, { data: 'bye' });
      assert.equal((await a.next((f) => f.type === 'message' && f.data === 'bye')).stream, 'session');
      assert.equal(await a.closed(), CloseCode.Kicked);

      // A node that is gone (or never was) answers nothing: the call fails at once, it does not wait.
      const gone = await api(n1, 'POST', '/api/connections/0badc0de.1/bind', { user: 'y' });
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, 'unknown_connection');
      b.close();
      await b.closed();
    } finally {
      await stopAll(nodes);
    }
  });
});
