// The HTTP server API (docs/api.md), users and channels, and a robustness check that bad requests leave the
// process and its clients alone.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { assertError, assertNoMessages, fixture, isMessage, raw, subscribe } from '../helpers/api.ts';
import { settle } from '../helpers/ws-client.ts';

describe('users and channels', () => {
  it('GET /api/users/:user describes a user: online, connections, sessions', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1', ['news']);
    const a2 = await connect('u1');
    await subscribe(a1, 'news', 1);
    const welcomes = await Promise.all([a1, a2].map((c) => c.next((f) => f.type === 'welcome')));

    const res = await h.api('GET', '/api/users/u1');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.user, 'u1');
    assert.equal(res.body.online, true);
    assert.equal(res.body.connections, 2);
    const sessions = [...res.body.sessions].sort((x: any, y: any) => (x.session < y.session ? -1 : 1));
    const expected = [
      { session: welcomes[0]!.session, transport: 'native', channels: ['news'] },
      { session: welcomes[1]!.session, transport: 'native', channels: [] },
    ].sort((x, y) => (x.session < y.session ? -1 : 1));
    assert.deepEqual(sessions, expected);

    assert.deepEqual((await h.api('GET', '/api/users/ghost')).body, { user: 'ghost', online: false, connections: 0, pending: 0, sessions: [] });
  });

  it('GET /api/users/:user decodes the path segment', async (t) => {
    const { h, connect } = await fixture(t);
    const user = 'a/b c@d.e?x#1%';
    await connect(user);
    const res = await h.api('GET', `/api/users/${encodeURIComponent(user)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.user, user);
    assert.equal(res.body.connections, 1);
  });

  it('GET /api/users counts and lists connected users, with ?limit', async (t) => {
    const { h, connect } = await fixture(t);
    await connect('u1');
    await connect('u1');
    await connect('u2');
    const res = await h.api('GET', '/api/users');
    assert.equal(res.status, 200);
    assert.equal(res.body.count, 2);
    assert.deepEqual(
      [...res.body.users].sort((a: any, b: any) => a.user.localeCompare(b.user)),
      [
        { user: 'u1', connections: 2 },
        { user: 'u2', connections: 1 },
      ],
    );
    const limited = await h.api('GET', '/api/users?limit=1');
    assert.equal(limited.body.count, 2, 'count is the total, not the page');
    assert.equal(limited.body.users.length, 1);
  });

  it('GET /api/channels and /api/channels/:channel report connections and users', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1', ['*']);
    const a2 = await connect('u1', ['*']);
    const b = await connect('u2', ['*']);
    await subscribe(a1, 'news', 1);
    await subscribe(a2, 'news', 2);
    await subscribe(b, 'news', 3);
    await subscribe(b, 'room:1/a', 4);

    const all = await h.api('GET', '/api/channels');
    assert.equal(all.status, 200);
    assert.equal(all.body.count, 2);
    assert.deepEqual(
      [...all.body.channels].sort((x: any, y: any) => x.channel.localeCompare(y.channel)),
      [
        { channel: 'news', connections: 3, users: 2 },
        { channel: 'room:1/a', connections: 1, users: 1 },
      ],
    );
    const page = await h.api('GET', '/api/channels?limit=1');
    assert.equal(page.body.count, 2);
    assert.equal(page.body.channels.length, 1);

    const news = await h.api('GET', '/api/channels/news');
    assert.equal(news.status, 200);
    assert.equal(news.body.channel, 'news');
    assert.equal(news.body.connections, 3);
    assert.deepEqual([...news.body.users].sort(), ['u1', 'u2']);

    const slashy = await h.api('GET', `/api/channels/${encodeURIComponent('room:1/a')}`);
    assert.deepEqual(slashy.body, { channel: 'room:1/a', connections: 1, users: ['u2'] });

    assert.deepEqual((await h.api('GET', '/api/channels/empty')).body, { channel: 'empty', connections: 0, users: [] });
  });

  it('POST /api/users/:user/subscribe subscribes every connection, beyond the token claim', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1', ['news']);
    const a2 = await connect('u1', ['news']);
    const b = await connect('u2', ['*']);
    // The token does not allow the channel for the client itself.
    a1.send({ type: 'subscribe', channel: 'vip', id: 1 });
    assert.equal((await a1.next((f) => f.id === 1)).code, 'forbidden');

    const res = await h.api('POST', '/api/users/u1/subscribe', { channel: 'vip' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { user: 'u1', channel: 'vip', connections: 2 });
    for (const c of [a1, a2]) {
      const ack = await c.next((f) => f.type === 'subscribed' && f.channel === 'vip');
      assert.deepEqual(ack, { type: 'subscribed', channel: 'vip' }, 'a server-side subscription has no id');
    }
    await settle(b);
    assert.equal(
      b.frames.some((f) => f.type === 'subscribed'),
      false,
      'other users are not subscribed',
    );

    const pub = await h.api('POST', '/api/publish', { to: { channel: 'vip' }, data: 'secret' });
    assert.equal(pub.body.delivered, 2);
    for (const c of [a1, a2]) assert.equal((await c.next(isMessage('channel:vip', 1))).data, 'secret');
    await assertNoMessages(b, 'u2');

    // Subscribing again is harmless; an offline user has no connections to subscribe.
    assert.equal((await h.api('POST', '/api/users/u1/subscribe', { channel: 'vip' })).body.connections, 2);
    assert.deepEqual((await h.api('POST', '/api/users/ghost/subscribe', { channel: 'vip' })).body, { user: 'ghost', channel: 'vip', connections: 0 });
    assertError(await h.api('POST', '/api/users/u1/subscribe', {}), 400, 'bad_request');
  });

  it('POST /api/users/:user/subscribe respects limits.maxChannelsPerConnection', async (t) => {
    const { h, connect } = await fixture(t, { limits: { maxChannelsPerConnection: 1 } });
    const c = await connect('u1', ['*']);
    await subscribe(c, 'one', 1);
    const res = await h.api('POST', '/api/users/u1/subscribe', { channel: 'two' });
    assert.equal(res.status, 200);
    assert.equal(res.body.connections, 0, 'a full connection is not subscribed');
    await settle(c);
    assert.equal(
      c.frames.some((f) => f.type === 'subscribed' && f.channel === 'two'),
      false,
    );
  });

  it('POST /api/users/:user/unsubscribe removes the subscription and tells the client', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1', ['news']);
    const a2 = await connect('u1', ['news']);
    await subscribe(a1, 'news', 1);
    await subscribe(a2, 'news', 2);

    const res = await h.api('POST', '/api/users/u1/unsubscribe', { channel: 'news' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { user: 'u1', channel: 'news', connections: 2 });
    for (const c of [a1, a2]) {
      assert.deepEqual(await c.next((f) => f.type === 'unsubscribed'), { type: 'unsubscribed', channel: 'news' });
    }
    const pub = await h.api('POST', '/api/publish', { to: { channel: 'news' }, data: 1 });
    assert.equal(pub.body.delivered, 0);
    await assertNoMessages(a1, 'an unsubscribed connection');
    await assertNoMessages(a2, 'an unsubscribed connection');
    assert.equal((await h.api('POST', '/api/users/u1/unsubscribe', { channel: 'news' })).body.connections, 0, 'not subscribed any more');
  });

  it('POST /api/users/:user/disconnect {} kicks every connection of the user with 4502', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1');
    const a2 = await connect('u1');
    const b = await connect('u2');
    const res = await h.api('POST', '/api/users/u1/disconnect', {});
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { user: 'u1', disconnected: 2 });
    assert.equal(await a1.closed(), CloseCode.Kicked);
    assert.equal(await a2.closed(), CloseCode.Kicked);
    assert.equal(a1.closeReason, 'disconnected by server');
    await settle(b);
    assert.equal(b.closeCode, undefined, 'other users stay connected');
    assert.deepEqual((await h.api('POST', '/api/users/ghost/disconnect', {})).body, { user: 'ghost', disconnected: 0 });
  });

  it('POST /api/users/:user/disconnect {reconnect:true, reason} closes with 4003 and the reason', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1');
    const res = await h.api('POST', '/api/users/u1/disconnect', { reconnect: true, reason: 'x' });
    assert.deepEqual(res.body, { user: 'u1', disconnected: 1 });
    assert.equal(await a.closed(), CloseCode.DisconnectedByServer);
    assert.equal(a.closeReason, 'x');
    assertError(await h.api('POST', '/api/users/u1/disconnect', { reconnect: 'yes' }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/users/u1/disconnect', { reason: 'r'.repeat(121) }), 400, 'bad_request');
  });

  it('GET /api/stats reports connections, users, channels, transports and counters', async (t) => {
    const { h, connect } = await fixture(t);
    const a = await connect('u1', ['news']);
    await connect('u1');
    await connect('u2');
    await subscribe(a, 'news', 1);
    await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: 1 });
    await h.api('POST', '/api/publish', { to: { all: true }, data: 2 });

    const res = await h.api('GET', '/api/stats');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const s = res.body;
    assert.equal(s.connections, 3);
    assert.equal(s.users, 2);
    assert.equal(s.channels, 1);
    assert.deepEqual(s.transports, { native: 3 });
    assert.equal(s.published, 2);
    assert.equal(s.delivered, 5, '2 connections of u1 + 3 for the broadcast');
    assert.equal(s.dropped, 0);
    assert.equal(typeof s.uptimeSeconds, 'number');
    assert.equal(typeof s.memory.rss, 'number');
  });

  it('GET /healthz answers without a key', async (t) => {
    const { h } = await fixture(t);
    const r = await raw(h, 'GET', '/healthz', { auth: null });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
  });

  it('GET /metrics exposes Prometheus text with herald_connections and herald_messages_in_total', async (t) => {
    const { h, connect } = await fixture(t);
    await connect('u1');
    await connect('u2');
    for (let i = 0; i < 3; i++) await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: i });
    const r = await raw(h, 'GET', '/metrics', { auth: null });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(r.text, /^# TYPE herald_connections gauge$/m);
    assert.match(r.text, /^herald_connections 2$/m);
    assert.match(r.text, /^# TYPE herald_messages_in_total counter$/m);
    assert.match(r.text, /^herald_messages_in_total 3$/m);
  });
});

describe('robustness', () => {
  it('after a run of bad requests the server still publishes and clients stay connected', async (t) => {
    const { h, connect } = await fixture(t, { limits: { maxBodyBytes: 1024 } });
    const a = await connect('u1', ['news']);
    const b = await connect('u2');
    await subscribe(a, 'news', 1);

    const bad: Promise<unknown>[] = [
      raw(h, 'POST', '/api/publish', { auth: null, body: '{}' }),
      raw(h, 'POST', '/api/publish', { auth: 'Bearer nope', body: '{}' }),
      h.api('POST', '/api/publish', '{"to":'),
      h.api('POST', '/api/publish', '\u0000\u0001\u0002'),
      h.api('POST', '/api/publish', { to: { usr: '1' }, data: 1 }),
      h.api('POST', '/api/publish', { to: { all: false }, data: 1 }),
      h.api('POST', '/api/publish', { to: { user: 'u1' } }),
      h.api('POST', '/api/publish', { to: { channel: '!!' }, data: 1 }),
      h.api('POST', '/api/publish', 'z'.repeat(5000)),
      h.api('POST', '/api/publish', '[1,2,3]'),
      h.api('GET', '/api/nope'),
      h.api('GET', '/api/publish'),
      h.api('GET', '/api/users/%E0%A4%A'),
      h.api('GET', '/api/users/%00'),
      h.api('GET', '/api/users?limit=1e9'),
      h.api('POST', '/api/users/u1/subscribe', { channel: { nested: true } }),
      h.api('POST', '/api/users/u1/disconnect', { user: 'u2', reconnect: 1 }),
      raw(h, 'PATCH', '/api/stats'),
      raw(h, 'GET', '/../../etc/passwd', { auth: null }),
    ];
    const results = await Promise.all(bad);
    for (const r of results) {
      const status = (r as { status: number }).status;
      assert.ok(status >= 400 && status < 500, `a bad request gets a 4xx, got ${status}`);
    }

    const batch = await h.api('POST', '/api/publish/batch', { messages: [null, [], 'x', { to: null }] });
    assert.equal(batch.status, 200, 'a batch of bad messages answers per message');
    for (const r of batch.body.results) assertError({ status: 400, body: r }, 400);

    // Not even HTTP.
    const garbage = await new Promise<string>((resolve, reject) => {
      const s = netConnect(h.server.port, '127.0.0.1');
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve(text));
      s.write('THIS IS NOT HTTP\r\n\r\n');
    });
    assert.match(garbage, /^HTTP\/1\.1 400 /);

    // A client that promises a body and hangs up halfway.
    await new Promise<void>((resolve) => {
      const req = request(`${h.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', 'content-length': '900' },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write('{"to":{"user":"u1"},', () => req.destroy());
    });

    const res = await h.api('POST', '/api/publish', { to: { channel: 'news' }, data: 'still here' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.delivered, 1);
    assert.equal((await a.next(isMessage('channel:news', 1))).data, 'still here');
    await settle(b);
    assert.equal(a.closeCode, undefined, 'client a is still connected');
    assert.equal(b.closeCode, undefined, 'client b is still connected');
    assert.deepEqual(b.messages(), []);
    const stats = await h.api('GET', '/api/stats');
    assert.equal(stats.body.connections, 2);
  });

  // A backend that times out and hangs up is not a server fault: counting it as `internal` (and logging it at error
  // level) makes herald_errors_total{code="internal"} useless for alerting.
  it('a client hanging up mid-body is not counted as an internal error', async (t) => {
    const { h } = await fixture(t);
    const serverSideClosed = new Promise<void>((resolve) => h.server.http.once('connection', (s) => s.once('close', () => resolve())));
    const req = request(`${h.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', 'content-length': '900' },
    });
    req.on('error', () => undefined);
    req.write('{"to":{"user":"u1"},', () => req.destroy());
    await serverSideClosed;
    // The server's own close handler ran before ours; let its promise chain settle.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.server.context.stats.errors.get('internal'), undefined);
  });
});
