// The HTTP server API (docs/api.md), publishing: every target, batches, and every error, against a real server
// and real WebSocket clients.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { assertError, assertNoMessages, fixture, isMessage, parsed, raw, subscribe } from '../helpers/api.ts';
import { settle } from '../helpers/ws-client.ts';

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
    assert.deepEqual(
      offsets,
      values.map((_, i) => i + 1),
      'messages arrive in offset order',
    );
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
  it('keeps array order across plain messages (stored together) and ones with an idempotency key or a wait', async (t) => {
    const { h, connect } = await fixture(t);
    const c = await connect('mix');
    const res = await h.api('POST', '/api/publish/batch', {
      messages: [
        { to: { user: 'mix' }, data: 'a' },
        { to: { user: 'mix' }, data: 'b', idempotencyKey: 'mix-b' },
        { to: { user: 'mix' }, data: 'c' },
        { to: { users: ['mix', 'other'] }, data: 'd' },
        { to: { user: 'mix' }, data: 'e', waitMs: 1 },
        { to: { user: 'mix' }, data: 'f' },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const offsets = res.body.results.map((r: { streams: { stream: string; offset: number }[] }) => r.streams.find((s) => s.stream === 'user:mix')!.offset);
    assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6]);
    assert.equal(res.body.results[3].streams.length, 2);
    await c.next(isMessage('user:mix', 6));
    await settle(c);
    assert.deepEqual(
      c.messages().map((m) => m.data),
      ['a', 'b', 'c', 'd', 'e', 'f'],
    );
  });

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
