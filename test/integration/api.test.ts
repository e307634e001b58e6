// The HTTP server API (docs/api.md) against a real server and real WebSocket clients: every operation, every
// error, and a robustness check that bad requests leave the process and its clients alone.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { ConfigInput } from '../../src/config.ts';
import { CloseCode } from '../../src/protocol/codes.ts';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { settle, TestClient, type Frame } from '../helpers/ws-client.ts';

interface Fixture {
  h: TestHerald;
  /** A welcomed client of `user`; closed (and awaited) when the test ends. */
  connect(user: string, channels?: string[]): Promise<TestClient>;
}

/** A fresh server per test, torn down with its clients when the test ends. */
async function fixture(t: TestContext, overrides: ConfigInput = {}): Promise<Fixture> {
  const h = await startHerald(overrides);
  const clients: TestClient[] = [];
  t.after(async () => {
    for (const c of clients) if (c.closeCode === undefined) c.close();
    await Promise.all(clients.map((c) => c.closed().catch(() => undefined)));
    await h.close();
  });
  return {
    h,
    async connect(user, channels) {
      const c = await TestClient.welcome(h.wsUrl, await h.token(user, channels));
      clients.push(c);
      return c;
    },
  };
}

/** Raw fetch against the server (for requests the h.api helper would not send). */
async function raw(h: TestHerald, method: string, path: string, init: { auth?: string | null; body?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = init.auth === undefined ? `Bearer ${h.apiKey}` : init.auth;
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(h.url + path, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** Asserts an error reply: the status and the exact shape {"error":{"code","message"}}. */
function assertError(res: { status: number; body: any }, status: number, code?: string): void {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.deepEqual(Object.keys(res.body ?? {}), ['error'], `error body shape: ${JSON.stringify(res.body)}`);
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
  assert.equal(typeof res.body.error.code, 'string');
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'the message is not empty');
  if (code !== undefined) assert.equal(res.body.error.code, code, `error code (${res.body.error.message})`);
}

function parsed(r: { status: number; text: string }): { status: number; body: any } {
  return { status: r.status, body: JSON.parse(r.text) };
}

const isMessage = (stream: string, offset: number) => (f: Frame) => f.type === 'message' && f.stream === stream && f.offset === offset;

/** Subscribes through the client's own frames and waits for the acknowledgement. */
async function subscribe(c: TestClient, channel: string, id: number): Promise<void> {
  c.send({ type: 'subscribe', channel, id });
  const ack = await c.next((f) => (f.type === 'subscribed' || f.type === 'error') && f.id === id);
  const { type, stream, recovered, epoch } = ack;
  assert.deepEqual({ type, channel: ack.channel, id: ack.id, stream, recovered }, { type: 'subscribed', channel, id, stream: `channel:${channel}`, recovered: true });
  assert.equal(typeof epoch, 'string');
}

/** Proves `c` received no message frames at all (settle: everything queued before the pong has arrived). */
async function assertNoMessages(c: TestClient, who: string): Promise<void> {
  await settle(c);
  assert.deepEqual(c.messages(), [], `${who} must receive nothing`);
}

describe('POST /api/publish', () => {
  it('to {user} reaches every connection of that user and no one else', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1');
    const a2 = await connect('u1');
    const b = await connect('u2');

    const res = await h.api('POST', '/api/publish', { to: { user: 'u1' }, event: 'note', data: { text: 'hi' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.delivered, 2, 'delivered counts connections, not users');
    assert.equal(res.body.streams.length, 1);
    const s = res.body.streams[0];
    assert.equal(s.stream, 'user:u1');
    assert.equal(s.offset, 1);
    assert.equal(typeof s.epoch, 'string');
    assert.ok(s.epoch.length > 0);

    for (const c of [a1, a2]) {
      const m = await c.next(isMessage('user:u1', 1));
      assert.deepEqual(m, { type: 'message', stream: 'user:u1', offset: 1, epoch: s.epoch, event: 'note', data: { text: 'hi' } });
    }
    await assertNoMessages(b, 'u2');
  });

  it('reports delivered 0 for a user who is not connected, and still stores the message', async (t) => {
    const { h } = await fixture(t);
    const res = await h.api('POST', '/api/publish', { to: { user: 'nobody' }, data: 1 });
    assert.equal(res.status, 200);
    assert.equal(res.body.delivered, 0);
    assert.equal(res.body.streams[0].stream, 'user:nobody');
    assert.equal(res.body.streams[0].offset, 1);
  });

  it('delivers data unchanged for every JSON type, and omits event when none was given', async (t) => {
    const { h, connect } = await fixture(t);
    const c = await connect('u1');
    const values: unknown[] = [
      { a: 1, b: [1, 2, { c: null }], d: { e: { f: { g: 'deep' } } } },
      'text with "quotes", \\ backslash, newline\n, tab\t, unicode ünïcödé 日本 😀 and \u2028',
      '',
      42,
      -1.5,
      0,
      1e21,
      true,
      false,
      null,
      [],
      {},
      [1, 'two', { three: [3] }, null, [[]]],
    ];
    for (let i = 0; i < values.length; i++) {
      const res = await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: values[i] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.streams[0].offset, i + 1, 'offsets increase by one per message');
    }
    for (let i = 0; i < values.length; i++) {
      const m = await c.next(isMessage('user:u1', i + 1));
      assert.deepEqual(m.data, values[i], `value #${i}`);
      assert.equal('event' in m, false, 'no event field when the publisher gave none');
    }
    const offsets = c.messages().map((m) => m.offset);
    assert.deepEqual(offsets, values.map((_, i) => i + 1), 'messages arrive in offset order');
  });

  it('keeps one offset sequence per stream', async (t) => {
    const { h, connect } = await fixture(t);
    const c1 = await connect('u1', ['news']);
    await subscribe(c1, 'news', 1);
    const pub = async (to: unknown) => {
      const r = await h.api('POST', '/api/publish', { to, data: 'x' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return `${r.body.streams[0].stream}#${r.body.streams[0].offset}`;
    };
    assert.equal(await pub({ user: 'u1' }), 'user:u1#1');
    assert.equal(await pub({ channel: 'news' }), 'channel:news#1');
    assert.equal(await pub({ user: 'u1' }), 'user:u1#2');
    assert.equal(await pub({ user: 'u2' }), 'user:u2#1');
    assert.equal(await pub({ channel: 'news' }), 'channel:news#2');
    assert.equal(await pub({ all: true }), 'broadcast#1');
    assert.equal(await pub({ user: 'u1' }), 'user:u1#3');
    await c1.next(isMessage('user:u1', 3));
    await settle(c1);
    const seen = c1.messages().map((m) => `${m.stream}#${m.offset}`);
    assert.deepEqual(seen, ['user:u1#1', 'channel:news#1', 'user:u1#2', 'channel:news#2', 'broadcast#1', 'user:u1#3']);
  });

  it('to {users:[...]} reaches each listed user on their own stream, duplicates once', async (t) => {
    const { h, connect } = await fixture(t);
    const a1 = await connect('u1');
    const a2 = await connect('u1');
    const b = await connect('u2');
    const other = await connect('u3');

    const res = await h.api('POST', '/api/publish', { to: { users: ['u1', 'u2', 'u1', 'offline'] }, data: { n: 1 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.delivered, 3);
    assert.deepEqual(
      res.body.streams.map((s: any) => `${s.stream}#${s.offset}`),
      ['user:u1#1', 'user:u2#1', 'user:offline#1'],
    );
    for (const c of [a1, a2]) assert.deepEqual((await c.next(isMessage('user:u1', 1))).data, { n: 1 });
    assert.deepEqual((await b.next(isMessage('user:u2', 1))).data, { n: 1 });
    for (const c of [a1, a2, b]) {
      await settle(c);
      assert.equal(c.messages().length, 1, 'a duplicated user gets the message once');
    }
    await assertNoMessages(other, 'u3');
  });

  it('to {channel} reaches the subscribed connections only (token channels claim, exact and pattern)', async (t) => {
    const { h, connect } = await fixture(t);
    const news = await connect('u1', ['news']);
    const room = await connect('u2', ['room.*']);
    const unsubscribed = await connect('u3', ['news']);
    const sameUserOtherConn = await connect('u1', ['news']);
    await subscribe(news, 'news', 1);
    await subscribe(room, 'room.1', 2);
    // The token's claim is enforced for client subscriptions.
    room.send({ type: 'subscribe', channel: 'news', id: 3 });
    const refused = await room.next((f) => f.id === 3);
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'forbidden');

    const res = await h.api('POST', '/api/publish', { to: { channel: 'news' }, event: 'headline', data: { title: 'T' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.delivered, 1);
    assert.equal(res.body.streams[0].stream, 'channel:news');
    const m = await news.next(isMessage('channel:news', 1));
    assert.equal(m.event, 'headline');
    assert.deepEqual(m.data, { title: 'T' });
    await assertNoMessages(room, 'a connection of another channel');
    await assertNoMessages(unsubscribed, 'an unsubscribed connection');
    await assertNoMessages(sameUserOtherConn, 'another connection of the same user that did not subscribe');

    const r2 = await h.api('POST', '/api/publish', { to: { channel: 'room.1' }, data: 2 });
    assert.equal(r2.body.delivered, 1);
    assert.equal((await room.next(isMessage('channel:room.1', 1))).data, 2);
  });

  it('to {channels:[...]} publishes once per channel stream', async (t) => {
    const { h, connect } = await fixture(t);
    const both = await connect('u1', ['*']);
    const news = await connect('u2', ['news']);
    const nobody = await connect('u3', ['*']);
    await subscribe(both, 'news', 1);
    await subscribe(both, 'sport', 2);
    await subscribe(news, 'news', 3);

    const res = await h.api('POST', '/api/publish', { to: { channels: ['news', 'sport', 'empty', 'news'] }, data: 'x' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.streams.map((s: any) => `${s.stream}#${s.offset}`),
      ['channel:news#1', 'channel:sport#1', 'channel:empty#1'],
    );
    assert.equal(res.body.delivered, 3, 'news: 2 connections, sport: 1');
    await both.next(isMessage('channel:news', 1));
    await both.next(isMessage('channel:sport', 1));
    await news.next(isMessage('channel:news', 1));
    await settle(news);
    assert.equal(news.messages().length, 1);
    await assertNoMessages(nobody, 'a connection in no channel');
  });

  it('to {all:true} reaches every connection on the broadcast stream', async (t) => {
    const { h, connect } = await fixture(t);
    const clients = [await connect('u1'), await connect('u1'), await connect('u2'), await connect('u3', ['news'])];
    const res = await h.api('POST', '/api/publish', { to: { all: true }, data: { hello: 'all' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.delivered, 4);
    assert.equal(res.body.streams[0].stream, 'broadcast');
    for (const c of clients) assert.deepEqual((await c.next(isMessage('broadcast', 1))).data, { hello: 'all' });
  });
});

describe('HTTP API errors', () => {
  it('401 unauthorized without an Authorization header, with WWW-Authenticate', async (t) => {
    const { h } = await fixture(t);
    const r = await raw(h, 'POST', '/api/publish', { auth: null, body: JSON.stringify({ to: { all: true }, data: 1 }) });
    assertError(parsed(r), 401, 'unauthorized');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    // Authentication comes before routing: unknown endpoints do not leak either.
    assertError(parsed(await raw(h, 'GET', '/api/nope', { auth: null })), 401, 'unauthorized');
  });

  it('401 with a wrong key, an empty key or another scheme', async (t) => {
    const { h } = await fixture(t);
    for (const auth of ['Bearer wrong-key-0123456789', 'Bearer ', `Basic ${h.apiKey}`, h.apiKey, `Bearer ${h.apiKey}x`]) {
      assertError(parsed(await raw(h, 'GET', '/api/stats', { auth })), 401, 'unauthorized');
    }
    // The scheme name is case-insensitive.
    assert.equal((await raw(h, 'GET', '/api/stats', { auth: `bearer ${h.apiKey}` })).status, 200);
  });

  it('400 bad_json for a body that is not JSON', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('POST', '/api/publish', '{"to":{"user":"u1"},"data":'), 400, 'bad_json');
    assertError(await h.api('POST', '/api/publish', 'nope'), 400, 'bad_json');
  });

  it('400 unknown_target for a target of unknown shape', async (t) => {
    const { h } = await fixture(t);
    for (const to of [{ usr: '1' }, { all: false }, {}, 'u1', null, { users: [] }, { user: 'u1', channel: 'news' }, { user: '' }]) {
      assertError(await h.api('POST', '/api/publish', { to, data: 1 }), 400, 'unknown_target');
    }
  });

  it('400 bad_request when data is missing or a field is unknown or mistyped', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('POST', '/api/publish', { to: { user: 'u1' } }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: 1, extra: true }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: 1, event: 5 }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: 1, event: '' }), 400, 'bad_request');
    assertError(await h.api('POST', '/api/publish', { data: 1 }), 400);
  });

  it('400 for an invalid channel name', async (t) => {
    const { h } = await fixture(t);
    for (const channel of ['bad name', 'semi;colon', '', 'x'.repeat(201), 'star*']) {
      assertError(await h.api('POST', '/api/publish', { to: { channel }, data: 1 }), 400);
      assertError(await h.api('POST', '/api/publish', { to: { channels: ['ok', channel] }, data: 1 }), 400);
      assertError(await h.api('POST', '/api/users/u1/subscribe', { channel }), 400, 'bad_request');
    }
    assertError(await h.api('GET', '/api/channels/bad%20name'), 400, 'bad_request');
  });

  it('413 body_too_large over limits.maxBodyBytes, with or without Content-Length', async (t) => {
    const { h } = await fixture(t, { limits: { maxBodyBytes: 1024 } });
    const big = JSON.stringify({ to: { user: 'u1' }, data: 'x'.repeat(2000) });
    assertError(await h.api('POST', '/api/publish', big), 413, 'body_too_large');

    // Chunked (no Content-Length): the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(
        `${h.url}/api/publish`,
        { method: 'POST', headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.write(big.slice(0, 700));
      req.end(big.slice(700));
    });
    assertError(chunked, 413, 'body_too_large');

    // Exactly at the limit is accepted.
    const base = JSON.stringify({ to: { user: 'u1' }, data: '' });
    const exact = JSON.stringify({ to: { user: 'u1' }, data: 'y'.repeat(1024 - base.length) });
    assert.equal(Buffer.byteLength(exact), 1024);
    assert.equal((await h.api('POST', '/api/publish', exact)).status, 200);
  });

  it('404 not_found for an unknown API path', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('GET', '/api/nope'), 404, 'not_found');
    assertError(await h.api('POST', '/api/publish/nope', {}), 404, 'not_found');
    assertError(await h.api('GET', '/api'), 404, 'not_found');
    assertError(await h.api('GET', '/api/users/u1/extra/segments'), 404, 'not_found');
  });

  it('405 method_not_allowed for a wrong method', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('GET', '/api/publish'), 405, 'method_not_allowed');
    assertError(await h.api('POST', '/api/stats', {}), 405, 'method_not_allowed');
    assertError(await h.api('POST', '/api/users/u1', {}), 405, 'method_not_allowed');
    assertError(await h.api('GET', '/api/users/u1/disconnect'), 405, 'method_not_allowed');
    assertError(parsed(await raw(h, 'DELETE', '/api/users/u1')), 405, 'method_not_allowed');
    assertError(parsed(await raw(h, 'POST', '/healthz', { auth: null, body: '{}' })), 405, 'method_not_allowed');
  });

  // RFC 9110 section 15.5.6: a 405 response MUST carry an Allow header listing the supported methods.
  it('405 replies carry an Allow header', async (t) => {
    const { h } = await fixture(t);
    const r = await raw(h, 'GET', '/api/publish');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
  });

  it('400 bad_request for a body that is a JSON array or another non-object', async (t) => {
    const { h } = await fixture(t);
    for (const body of ['[{"to":{"all":true},"data":1}]', '"text"', '42', 'null', 'true']) {
      assertError(await h.api('POST', '/api/publish', body), 400, 'bad_request');
    }
  });

  it('400 bad_request for unknown query parameters and bad limits', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('GET', '/api/stats?verbose=1'), 400, 'bad_request');
    assertError(await h.api('GET', '/api/users?limit=0'), 400, 'bad_request');
    assertError(await h.api('GET', '/api/users?limit=abc'), 400, 'bad_request');
    assertError(await h.api('GET', '/api/channels?limit=-1'), 400, 'bad_request');
  });
});

describe('POST /api/publish/batch', () => {
  it('answers one result per message; a bad message gets its own error and the others publish', async (t) => {
    const { h, connect } = await fixture(t);
    const c = await connect('u1');
    const res = await h.api('POST', '/api/publish/batch', {
      messages: [
        { to: { user: 'u1' }, data: { n: 1 } },
        { to: { usr: 'u1' }, data: { n: 2 } },
        { to: { user: 'u1' }, event: 'e', data: { n: 3 } },
        { to: { user: 'u1' } },
        5,
        { to: { channel: 'no space' }, data: 6 },
        { to: { user: 'u1' }, data: { n: 7 } },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const r = res.body.results;
    assert.equal(r.length, 7);
    assert.deepEqual(r[0], { delivered: 1, status: 'stored', streams: [{ stream: 'user:u1', offset: 1, epoch: r[0].streams[0].epoch }] });
    assertError({ status: 400, body: r[1] }, 400, 'unknown_target');
    assert.equal(r[2].streams[0].offset, 2);
    assertError({ status: 400, body: r[3] }, 400, 'bad_request');
    assertError({ status: 400, body: r[4] }, 400, 'bad_request');
    assertError({ status: 400, body: r[5] }, 400);
    assert.equal(r[6].streams[0].offset, 3);

    await c.next(isMessage('user:u1', 3));
    await settle(c);
    assert.deepEqual(
      c.messages().map((m) => [m.offset, m.event, m.data]),
      [
        [1, undefined, { n: 1 }],
        [2, 'e', { n: 3 }],
        [3, undefined, { n: 7 }],
      ],
      'good messages arrive in array order',
    );
  });

  it('400 bad_request when messages is missing, empty, not an array or over limits.maxBatch', async (t) => {
    const { h } = await fixture(t, { limits: { maxBatch: 2 } });
    const one = { to: { all: true }, data: 1 };
    for (const body of [{}, { messages: [] }, { messages: one }, { messages: 'x' }, { messages: [one, one, one] }]) {
      assertError(await h.api('POST', '/api/publish/batch', body), 400, 'bad_request');
    }
    assertError(await h.api('POST', '/api/publish/batch', '[]'), 400, 'bad_request');
    assert.equal((await h.api('POST', '/api/publish/batch', { messages: [one, one] })).status, 200);
  });

  // Every other operation is a strict schema; the batch reads `messages` by hand and lets typos through.
  it('400 bad_request for an unknown field next to messages', async (t) => {
    const { h } = await fixture(t);
    assertError(await h.api('POST', '/api/publish/batch', { messages: [{ to: { all: true }, data: 1 }], mesages: [] }), 400, 'bad_request');
  });
});

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
    assert.equal(b.frames.some((f) => f.type === 'subscribed'), false, 'other users are not subscribed');

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
    assert.equal(c.frames.some((f) => f.type === 'subscribed' && f.channel === 'two'), false);
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
