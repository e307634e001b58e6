import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ServerResponse } from 'node:http';
import WebSocket from 'ws';
import { signWebhook } from '../../src/core/upstream.ts';
import { ROOT } from '../../src/paths.ts';
import { CloseCode } from '../../src/protocol/codes.ts';
import { RawWsClient, requirePhp } from '../helpers/compat.ts';
import { API_KEY } from '../helpers/herald.ts';
import { nodeBackend, startPhpServer, startSwoole, type SwooleHerald } from '../helpers/swoole.ts';

const ECHO = join(ROOT, 'examples/php/swoole-echo.php');
const REPLY = '已收到你的消息:';

/** The connection id PHP logged for an event, e.g. `新的连接已建立,客户端ID:<id>`. */
const idIn = (line: string): string => line.slice(line.lastIndexOf(':') + 1);

describe('profile swoole: seed 004 with examples/php/swoole-echo.php as the webhook (real php -S)', () => {
  let php: Awaited<ReturnType<typeof startPhpServer>>;
  let h: SwooleHerald;
  const clients: RawWsClient[] = [];
  before(async () => {
    requirePhp();
    php = await startPhpServer(ECHO, { HERALD_WEBHOOK_SECRET: API_KEY });
    h = await startSwoole({}, { webhook: { url: php.url } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.ws.terminate();
  });
  after(async () => {
    await h?.close();
    await php?.close();
  });

  /** Opens a page as seed 004 does and returns it with its connection id, read from PHP's `open` log line. */
  async function page(path = '/'): Promise<{ c: RawWsClient; id: string }> {
    const before = new Set(php.log.items);
    const c = await RawWsClient.open(h.url9501(path));
    clients.push(c);
    const line = await php.log.next((l) => !before.has(l) && l.includes('新的连接已建立,客户端ID:'), 'the open event in the PHP log');
    return { c, id: idIn(line) };
  }

  it('answers three messages with three replies, in order; open and close reach PHP with the connection id', async () => {
    const { c, id } = await page();
    assert.ok(h.server.context.hub.get(id), 'the id PHP got is the connection in the hub');
    assert.equal(h.server.context.hub.get(id)?.user, '', 'anonymous');
    for (const m of ['one', '二', 'three 3']) c.ws.send(m);
    await c.messages.next((_m) => c.messages.items.length === 3, 5000, 'three replies');
    assert.deepEqual(c.messages.items, [`${REPLY}one`, `${REPLY}二`, `${REPLY}three 3`]);
    await php.log.next((l) => l.includes(`收到来自客户端ID为:${id} 的消息:three 3`), 'the message log');
    c.ws.close(1000);
    await php.log.next((l) => l.endsWith(`连接已关闭,客户端ID:${id}`), 'the close event with the id');
    assert.equal(h.server.context.hub.get(id), undefined);
  });

  it('a binary frame reaches PHP base64-encoded and is answered', async () => {
    const { c } = await page();
    c.ws.send(Buffer.from('bytes é'));
    assert.equal(await c.messages.next(), `${REPLY}bytes é`);
  });

  it('the backend pushes to the connection later by id, binds it to a user, and the user gets publishes', async () => {
    const { c, id } = await page();
    let r = await h.api('POST', '/api/publish', { to: { connection: id }, data: 'pushed later' });
    assert.deepEqual(r.body, { delivered: 1, connections: [id], status: 'delivered' });
    assert.equal(await c.messages.next(), 'pushed later', 'a JSON string arrives as its text');
    await h.api('POST', '/api/publish', { to: { connection: id }, data: { a: 1 } });
    assert.equal(await c.messages.next((m) => m.startsWith('{')), '{"a":1}', 'anything else as JSON text');

    r = await h.api('POST', `/api/connections/${id}/bind`, { user: '42' });
    assert.deepEqual(r.body, { connection: id, user: '42' });
    r = await h.api('POST', '/api/publish', { to: { user: '42' }, data: 'to user 42' });
    assert.equal(r.body.delivered, 1);
    assert.equal(await c.messages.next((m) => m === 'to user 42'), 'to user 42');
    r = await h.api('GET', `/api/connections/${id}`);
    assert.deepEqual(r.body, { connection: id, online: true, user: '42', transport: 'swoole', channels: [] });
  });

  it('a broadcast reaches the plain client', async () => {
    const { c } = await page();
    const r = await h.api('POST', '/api/publish', { to: { all: true }, data: 'to everyone' });
    assert.ok(r.body.delivered >= 1);
    assert.equal(await c.messages.next(), 'to everyone');
  });

  it("two clients never see each other's replies", async () => {
    const a = await page();
    const b = await page();
    assert.notEqual(a.id, b.id);
    a.c.ws.send('a1');
    b.c.ws.send('b1');
    await a.c.messages.next((m) => m.endsWith('a1'), 5000, 'a1');
    await b.c.messages.next((m) => m.endsWith('b1'), 5000, 'b1');
    // PHP's server answers one request at a time: a2 is answered (and would be written to b, if misrouted) before
    // b2 is even posted, so b's list is complete once b2's reply is in.
    a.c.ws.send('a2');
    await a.c.messages.next((m) => m.endsWith('a2'), 5000, 'a2');
    b.c.ws.send('b2');
    await b.c.messages.next((m) => m.endsWith('b2'), 5000, 'b2');
    assert.deepEqual(a.c.messages.items, [`${REPLY}a1`, `${REPLY}a2`]);
    assert.deepEqual(b.c.messages.items, [`${REPLY}b1`, `${REPLY}b2`]);
  });

  it("closing by id (the backend's $server->close($fd)) closes the page, and exist($fd) turns false", async () => {
    const { c, id } = await page();
    const r = await h.api('POST', `/api/connections/${id}/close`, {});
    assert.deepEqual(r.body, { connection: id, closed: true });
    assert.equal(await c.closed, CloseCode.Kicked);
    await php.log.next((l) => l.endsWith(`连接已关闭,客户端ID:${id}`), 'the close event');
    assert.deepEqual((await h.api('GET', `/api/connections/${id}`)).body, { connection: id, online: false });
  });
});

describe('profile swoole: the events, their order and bounds (a webhook in Node)', () => {
  const hang: ServerResponse[] = [];
  let b: Awaited<ReturnType<typeof nodeBackend>>;
  let h: SwooleHerald;
  const clients: RawWsClient[] = [];
  before(async () => {
    b = await nodeBackend((call, res) => {
      const e = call.body;
      if (e.type !== 'message') return res.end(e.type === 'open' && e.query === 'welcome=1' ? 'welcome' : '');
      if (e.data === 'hang') return void hang.push(res);
      if (e.data === 'fail') {
        res.statusCode = 500;
        return res.end('boom');
      }
      if (e.data === 'empty') return res.end();
      if (e.data === 'created') {
        res.statusCode = 201;
        return res.end('not pushed');
      }
      res.end(`re:${e.data}`);
    });
    h = await startSwoole({ maxPending: 3 }, { webhook: { url: b.url, timeoutMs: 10_000 } });
  });
  afterEach(() => {
    for (const res of hang.splice(0)) res.end();
    for (const c of clients.splice(0)) c.ws.terminate();
  });
  after(async () => {
    await h?.close();
    await b?.close();
  });

  async function open(path = '/', opts: WebSocket.ClientOptions = {}): Promise<{ c: RawWsClient; id: string }> {
    const n = b.calls.items.length;
    const c = await RawWsClient.open(h.url9501(path), opts);
    clients.push(c);
    const call = await b.calls.next((x) => b.calls.items.indexOf(x) >= n && x.body.type === 'open', 'the open event');
    return { c, id: call.body.session as string };
  }

  it('open carries the id, remote address, path, query and the request headers; every call is signed', async () => {
    const { id } = await open('/chat/room?x=1&y=%E4%BA%8C', { headers: { origin: 'https://shop.example', 'user-agent': 'seed-004', cookie: 'sid=abc' } });
    const call = b.calls.items.find((x) => x.body.type === 'open' && x.body.session === id)!;
    const e = call.body;
    assert.equal(e.transport, 'swoole');
    assert.equal(e.user, '');
    assert.equal(e.remote.address, '127.0.0.1');
    assert.ok(Number.isInteger(e.remote.port) && e.remote.port > 0);
    assert.equal(e.path, '/chat/room');
    assert.equal(e.query, 'x=1&y=%E4%BA%8C');
    assert.equal(e.headers.origin, 'https://shop.example');
    assert.equal(e.headers['user-agent'], 'seed-004');
    assert.equal(e.headers.cookie, 'sid=abc');
    assert.equal(e.headers['sec-websocket-key'], undefined, 'handshake mechanics are left out');
    assert.ok(typeof e.time === 'number');
    const ts = String(call.headers['x-herald-timestamp']);
    assert.equal(call.headers['x-herald-signature'], signWebhook(API_KEY, ts, call.raw));
  });

  it('a reply to open is pushed as the first frame', async () => {
    const { c } = await open('/?welcome=1');
    assert.equal(await c.messages.next(), 'welcome');
  });

  it('message and close events: exact fields, in order; the close code the client sent', async () => {
    const { c, id } = await open();
    c.ws.send('hi');
    assert.equal(await c.messages.next(), 're:hi');
    c.ws.close(4321, 'bye');
    const close = await b.calls.next((x) => x.body.type === 'close' && x.body.session === id, 'the close event');
    const mine = b.calls.items.filter((x) => x.body.session === id).map((x) => x.body);
    assert.deepEqual(
      mine.map((e) => e.type),
      ['open', 'message', 'close'],
    );
    const { time: t1, ...msg } = mine[1];
    assert.ok(typeof t1 === 'number');
    assert.deepEqual(msg, { type: 'message', session: id, user: '', transport: 'swoole', data: 'hi' });
    const { time: t2, ...cl } = close.body;
    assert.ok(typeof t2 === 'number');
    assert.deepEqual(cl, { type: 'close', session: id, user: '', transport: 'swoole', code: 4321 });
  });

  it('binary frames are posted base64 with "binary": true', async () => {
    const { c, id } = await open();
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    const call = await b.calls.next((x) => x.body.type === 'message' && x.body.session === id, 'the binary message');
    assert.equal(call.body.data, 'AAEC/w==');
    assert.equal(call.body.binary, true);
  });

  it('a failed, empty or non-200 reply pushes nothing, and the next message is still posted and answered', async () => {
    const { c } = await open();
    // Two at a time: with the open event possibly still out, three events is the bound of this server.
    for (const bad of ['fail', 'empty', 'created']) {
      c.ws.send(bad);
      c.ws.send(`after ${bad}`);
      await c.messages.next((m) => m === `re:after ${bad}`, 5000, `the reply after ${bad}`);
    }
    assert.deepEqual(c.messages.items, ['re:after fail', 're:after empty', 're:after created']);
  });

  it(`at most maxPending (3) events wait per connection: the next message closes it with 1008; others are not held up; the queued ones and close are still posted in order`, async () => {
    const slow = await open();
    for (let i = 0; i < 3; i++) slow.c.ws.send('hang');
    await b.calls.next((x) => x.body.session === slow.id && x.body.data === 'hang', 'the first hanging message');
    assert.equal(hang.length, 1, 'one event of a connection is posted at a time');
    slow.c.ws.send('one too many');
    assert.equal(await slow.c.closed, 1008);
    assert.equal(slow.c.closeReason, 'too many messages waiting for the backend');

    const other = await open();
    other.c.ws.send('quick');
    assert.equal(await other.c.messages.next(), 're:quick', 'another connection is answered while the first one waits');

    // Release the hanging calls one by one: each release lets the next queued event be posted.
    for (let i = 0; i < 3; i++) {
      await b.calls.next(
        (x) =>
          x.body.session === slow.id &&
          x.body.type === 'message' &&
          b.calls.items.filter((y) => y.body.session === slow.id && y.body.type === 'message').length === i + 1,
        `hang ${i + 1}`,
      );
      hang.shift()!.end();
    }
    await b.calls.next((x) => x.body.session === slow.id && x.body.type === 'close', 'the close event after the queued messages');
    const seen = b.calls.items.filter((x) => x.body.session === slow.id).map((x) => `${x.body.type}:${x.body.data ?? x.body.code ?? ''}`);
    assert.deepEqual(seen, ['open:', 'message:hang', 'message:hang', 'message:hang', 'close:1008']);
  });
});

describe('profile swoole: requireToken', () => {
  let b: Awaited<ReturnType<typeof nodeBackend>>;
  let h: SwooleHerald;
  before(async () => {
    b = await nodeBackend((call, res) => res.end(call.body.type === 'message' ? `re:${call.body.data}` : ''));
    h = await startSwoole({ requireToken: true }, { webhook: { url: b.url } });
  });
  after(async () => {
    await h?.close();
    await b?.close();
  });

  it("a good ?token= binds the connection to the token's user", async () => {
    const c = await RawWsClient.open(h.url9501(`/?token=${encodeURIComponent(await h.token('u7'))}`));
    try {
      const open = await b.calls.next((x) => x.body.type === 'open' && x.body.user === 'u7', 'the open event of u7');
      const r = await h.api('POST', '/api/publish', { to: { user: 'u7' }, data: 'for u7' });
      assert.equal(r.body.delivered, 1);
      assert.equal(await c.messages.next(), 'for u7');
      c.ws.send('hello');
      assert.equal(await c.messages.next((m) => m.startsWith('re:')), 're:hello');
      assert.deepEqual((await h.api('GET', `/api/users/u7/connections`)).body, { user: 'u7', connections: [open.body.session] });
      c.ws.close();
      const close = await b.calls.next((x) => x.body.type === 'close' && x.body.session === open.body.session, 'the close event of u7');
      assert.equal(close.body.user, 'u7');
    } finally {
      c.ws.terminate();
    }
  });

  for (const [name, query, code, reason] of [
    ['no token', '/', 1008, 'token required'],
    ['a bad token', '/?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad', CloseCode.InvalidToken, 'invalid token'],
    ['a token signed with another secret', '/?token=other', CloseCode.InvalidToken, 'invalid token'],
  ] as const) {
    it(`refuses ${name}: close ${code} "${reason}", nothing posted, not in the hub`, async () => {
      const calls = b.calls.items.length;
      const c = await RawWsClient.open(h.url9501(query));
      c.ws.send('ignored');
      assert.equal(await c.closed, code);
      assert.equal(c.closeReason, reason);
      assert.equal(b.calls.items.length, calls, 'no event for a refused connection');
      assert.equal(h.server.context.hub.connectionsOf('x').size, 0);
    });
  }

  it('refuses an expired token with 4501', async () => {
    const token = await h.token('u8', undefined, -10);
    const c = await RawWsClient.open(h.url9501(`/?token=${token}`));
    assert.equal(await c.closed, CloseCode.TokenExpired);
  });
});

describe('profile swoole: shutdown and bad input', () => {
  it('the bytes waiting for the webhook are bounded too (limits.maxBufferedBytes): escaped control characters', async () => {
    const hang: ServerResponse[] = [];
    const b = await nodeBackend((call, res) => (call.body.type === 'message' ? void hang.push(res) : res.end()));
    const h = await startSwoole({ maxMessageBytes: 1024 }, { webhook: { url: b.url }, limits: { maxBufferedBytes: 8192 } });
    try {
      const c = await RawWsClient.open(h.url9501());
      // 1000 bytes of \u0001 are a 6000-character event: the second one passes 8 KiB of held events.
      c.ws.send('\u0001'.repeat(1000));
      c.ws.send('\u0001'.repeat(1000));
      assert.equal(await c.closed, 1008);
      assert.equal(c.closeReason, 'too many messages waiting for the backend');
      const first = await b.calls.next((x) => x.body.type === 'message', 'the first message');
      assert.equal(first.body.data, '\u0001'.repeat(1000));
    } finally {
      for (const res of hang) res.end();
      await h.close();
      await b.close();
    }
  });

  it('drain closes with 1001 after posting close; an oversize message closes with 1009; HTTP gets 400', async () => {
    const b = await nodeBackend((call, res) => res.end());
    const h = await startSwoole({ maxMessageBytes: 1024 }, { webhook: { url: b.url } });
    try {
      const res = await fetch(`http://127.0.0.1:${h.port}/`);
      assert.equal(res.status, 400);
      await res.text();
      const big = await RawWsClient.open(h.url9501());
      big.ws.send('x'.repeat(2000));
      assert.equal(await big.closed, 1009);

      const c = await RawWsClient.open(h.url9501());
      const open = await b.calls.next(
        (x) => x.body.type === 'open' && !b.calls.items.some((y) => y.body.type === 'close' && y.body.session === x.body.session),
        'an open connection',
      );
      const closing = h.close();
      assert.equal(await c.closed, 1001);
      await closing;
      const close = b.calls.items.find((x) => x.body.type === 'close' && x.body.session === open.body.session);
      assert.ok(close, 'the close event was posted before the shutdown completed');
      const refused = new WebSocket(h.url9501());
      const [err] = (await once(refused, 'error')) as [Error];
      assert.match(err.message, /ECONNREFUSED/);
    } finally {
      await h.close();
      await b.close();
    }
  });
});
