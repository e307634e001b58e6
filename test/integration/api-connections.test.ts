// The connection-addressed API (docs/api.md, "Connections"): push to one connection, bind it to a user, join and
// leave channels for it, keep its session, close it, and the queries; over HTTP and the line port.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { assertError, assertNoMessages, fixture } from '../helpers/api.ts';
import { LineClient } from '../helpers/line-client.ts';
import type { TestClient } from '../helpers/ws-client.ts';

const sessionOf = async (c: TestClient): Promise<string> => String((await c.next((f) => f.type === 'welcome')).session);

describe('connections by id', () => {
  it('pushes to one connection of a user, not stored, and says which connections it reached', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const b = await connect('u1');
    const id = await sessionOf(a);

    const res = await h.api('POST', '/api/publish', { to: { connection: id }, event: 'note', data: { text: 'only you' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { delivered: 1, connections: [id], status: 'delivered' });
    const f = await a.next((x) => x.type === 'message');
    assert.deepEqual(f, { type: 'message', stream: 'session', offset: 0, epoch: '', event: 'note', data: { text: 'only you' } });
    await assertNoMessages(b, 'the same user on another connection');

    const gone = await h.api('POST', '/api/publish', { to: { connections: [id, 'nobody.1', id] }, data: 2 });
    assert.deepEqual(gone.body, { delivered: 1, connections: [id], status: 'delivered' }, 'each id once, unknown ids skipped');
    assert.deepEqual((await h.api('POST', '/api/publish', { to: { connection: 'nobody.1' }, data: 1 })).body, {
      delivered: 0,
      connections: [],
      status: 'offline',
    });
    assertError(await h.api('POST', '/api/publish', { to: { connection: id }, data: 1, idempotencyKey: 'k' }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/publish', { to: { connection: 'has space' }, data: 1 }), 400, 'unknown_target');

    const batch = await h.api('POST', '/api/publish/batch', {
      messages: [
        { to: { user: 'u1' }, data: 'stored' },
        { to: { connection: id }, data: 'pushed' },
      ],
    });
    assert.equal(batch.body.results[0].status, 'stored');
    assert.deepEqual(batch.body.results[1], { delivered: 1, connections: [id], status: 'delivered' });
  });

  it('binds a connection to another user and unbinds it; the user queries follow', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const id = await sessionOf(a);

    assert.deepEqual((await h.api('POST', `/api/connections/${id}/bind`, { user: 'u2' })).body, { connection: id, user: 'u2' });
    assert.deepEqual((await h.api('GET', `/api/users/u2/connections`)).body, { user: 'u2', connections: [id] });
    assert.deepEqual((await h.api('GET', `/api/users/u1/connections`)).body, { user: 'u1', connections: [] });
    assert.equal((await h.api('GET', '/api/users/u2')).body.online, true);
    await h.api('POST', '/api/publish', { to: { user: 'u2' }, data: 'to u2' });
    assert.equal((await a.next((f) => f.type === 'message')).data, 'to u2');

    const info = await h.api('GET', `/api/connections/${id}`);
    assert.deepEqual(info.body, { connection: id, user: 'u2', transport: 'native', channels: [], online: true });
    assert.deepEqual((await h.api('POST', `/api/connections/${id}/unbind`)).body, { connection: id, user: '' });
    assert.deepEqual((await h.api('GET', `/api/users/u2/connections`)).body, { user: 'u2', connections: [] });

    assertError(await h.api('POST', '/api/connections/nobody.1/bind', { user: 'x' }), 404, 'unknown_connection');
    assertError(await h.api('POST', `/api/connections/${id}/bind`, {}), 400);
    assert.deepEqual((await h.api('GET', '/api/connections/nobody.1')).body, { connection: 'nobody.1', online: false });
  });

  it('joins a connection to a channel, lists members, leaves, and dissolves a channel', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const b = await connect('u2');
    const [ida, idb] = [await sessionOf(a), await sessionOf(b)];

    assert.deepEqual((await h.api('POST', `/api/connections/${ida}/join`, { channel: 'room1' })).body, { connection: ida, channel: 'room1', joined: true });
    assert.equal((await a.next((f) => f.type === 'subscribed')).channel, 'room1', 'the client is told');
    await h.api('POST', `/api/connections/${idb}/join`, { channel: 'room1' });
    assert.deepEqual((await h.api('GET', '/api/channels/room1/connections')).body, {
      channel: 'room1',
      connections: [
        { connection: ida, user: 'u1' },
        { connection: idb, user: 'u2' },
      ],
      users: ['u1', 'u2'],
    });

    await h.api('POST', `/api/connections/${idb}/leave`, { channel: 'room1' });
    assert.equal((await b.next((f) => f.type === 'unsubscribed')).channel, 'room1');
    await h.api('POST', '/api/publish', { to: { channel: 'room1' }, data: 'hello room' });
    assert.equal((await a.next((f) => f.type === 'message')).data, 'hello room');
    await assertNoMessages(b, 'a connection that left');

    assert.deepEqual((await h.api('POST', '/api/channels/room1/dissolve')).body, { channel: 'room1', removed: 1 });
    assert.deepEqual((await h.api('GET', '/api/channels/room1/connections')).body, { channel: 'room1', connections: [], users: [] });
    assertError(await h.api('POST', '/api/connections/nobody.1/join', { channel: 'room1' }), 404, 'unknown_connection');
  });

  it('keeps a session per connection: set, merge (as array_replace_recursive), clear', async (t) => {
    const { h, connect } = await fixture(t);
    const id = await sessionOf(await connect('u1'));
    const path = `/api/connections/${id}/session`;

    assert.deepEqual((await h.api('GET', path)).body, { connection: id, session: null });
    await h.api('POST', path, { session: { room: 1, prefs: { lang: 'en' }, list: [1, 2, 3] } });
    const merged = await h.api('POST', path, { session: { prefs: { theme: 'dark' }, list: [9], name: 'Ann' }, merge: true });
    const expected = { room: 1, prefs: { lang: 'en', theme: 'dark' }, list: [9, 2, 3], name: 'Ann' };
    assert.deepEqual(merged.body, { connection: id, session: expected });
    assert.deepEqual((await h.api('GET', path)).body, { connection: id, session: expected });
    await h.api('POST', path, { session: null });
    assert.deepEqual((await h.api('GET', path)).body, { connection: id, session: null });
    assertError(await h.api('POST', path, { session: [1, 2] }), 400);
    assertError(await h.api('GET', '/api/connections/nobody.1/session'), 404, 'unknown_connection');
  });

  it('closes a connection after a last message, for good or allowing a reconnect', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const b = await connect('u1');
    const [ida, idb] = [await sessionOf(a), await sessionOf(b)];

    assert.deepEqual((await h.api('POST', `/api/connections/${ida}/close`, { data: { bye: true }, reason: 'replaced' })).body, {
      connection: ida,
      closed: true,
    });
    assert.deepEqual((await a.next((f) => f.type === 'message')).data, { bye: true });
    assert.equal(await a.closed(), CloseCode.Kicked);
    await h.api('POST', `/api/connections/${idb}/close`, { reconnect: true });
    assert.equal(await b.closed(), CloseCode.DisconnectedByServer);
    assertError(await h.api('POST', `/api/connections/${ida}/close`, {}), 404, 'unknown_connection');
  });

  it('the line port has the same operations', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const id = await sessionOf(a);
    const line = await LineClient.connect(h.linePort);
    t.after(() => line.socket.destroy());
    assert.equal(await line.cmd({ op: 'auth', key: h.apiKey }), 'OK {"authenticated":true}');
    assert.equal(await line.cmd({ op: 'join', connection: id, channel: 'room2' }), `OK {"connection":"${id}","channel":"room2","joined":true}`);
    assert.equal(
      await line.cmd({ op: 'publish', to: { connection: id }, data: 'via line' }),
      `OK {"delivered":1,"connections":["${id}"],"status":"delivered"}`,
    );
    assert.equal((await a.next((f) => f.type === 'message')).data, 'via line');
    assert.match(await line.cmd({ op: 'bind', connection: 'nobody.1', user: 'x' }), /^ERR unknown_connection /);
  });
});
