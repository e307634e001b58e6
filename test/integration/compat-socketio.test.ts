import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { rawHttp, RawWsClient, SioClient, startCompat, type CompatHerald } from '../helpers/compat.ts';
import type { SocketIoConnection } from '../../src/transports/socketio/connection.ts';
import { CHECKED_WITH } from '../../src/transports/socketio/engine-internals.ts';
import { TestClient } from '../helpers/ws-client.ts';

const count = (users: number, pages: number) => `当前<b>${users}</b>人在线，共打开<b>${pages}</b>个页面`;

async function push2121(h: CompatHerald, params: Record<string, string>): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.ports.httpPush}/`, { method: 'POST', body: new URLSearchParams(params) });
  return res.text();
}

describe('compat: web-msg-sender Socket.IO (2120) with socket.io-client 2.x and 4.x', () => {
  let h: CompatHerald;
  before(async () => {
    h = await startCompat({ handshakeTimeoutMs: 500, onlineCountIntervalMs: 100 });
  });
  after(() => h.close());

  const matrix: { version: 2 | 4; name: string; opts: Record<string, unknown>; expect: string }[] = [];
  for (const version of [2, 4] as const) {
    matrix.push({ version, name: 'default transports (polling, then upgrade)', opts: {}, expect: 'websocket' });
    matrix.push({ version, name: 'websocket only', opts: { transports: ['websocket'] }, expect: 'websocket' });
    matrix.push({ version, name: 'polling only', opts: { transports: ['polling'] }, expect: 'polling' });
  }
  for (const { version, name, opts, expect } of matrix) {
    it(`socket.io-client ${version}.x, ${name}: login on connect, update_online_count, new_msg`, async () => {
      const uid = `v${version}-${expect}-${Object.keys(opts).length}`;
      const c = SioClient.create(version, h.ports.socketio, uid, opts);
      const upgraded = name.startsWith('default') ? once(c.socket.io.engine as unknown as NodeJS.EventEmitter, 'upgrade') : undefined;
      const first = await c.counts.next();
      assert.match(first, /^当前<b>\d+<\/b>人在线，共打开<b>\d+<\/b>个页面$/);
      // That count may be the interval's broadcast, sent while the socket was still anonymous (over polling the
      // login travels in a later request than the connect): the push below needs the login itself processed.
      await h.hubChanged(() => h.server.context.hub.connectionsOf(uid).size === 1);
      if (upgraded !== undefined) await upgraded;
      assert.equal(c.transportName(), expect);
      assert.equal(await push2121(h, { type: 'publish', to: uid, content: '<b>hi "a" & \'x\'</b>' }), 'ok');
      assert.equal(await c.newMsg.next(), '&lt;b&gt;hi &quot;a&quot; &amp; &#039;x&#039;&lt;/b&gt;');
      assert.equal(await push2121(h, { type: 'publish', to: uid, content: '消息内容' }), 'ok');
      assert.equal(await c.newMsg.next((m) => m === '消息内容'), '消息内容');
      c.close();
      await h.hubChanged(() => h.server.context.hub.connectionsOf(uid).size === 0);
    });
  }

  it('sends update_online_count on login and, when a count changed, to every socket; counts span all transports', async () => {
    const hub = h.server.context.hub;
    await h.hubChanged(() => hub.connectionCount === 0);
    const a = await SioClient.login(h, 4, 'count-a');
    assert.equal(a.loginCount, count(1, 1), 'login sends the current numbers');
    const anon = SioClient.create(2, h.ports.socketio, undefined);
    await anon.connected;
    const b = await SioClient.login(h, 2, 'count-b');
    // b's first count may be the 1 s timer's broadcast of a's login, sent to b while it was still anonymous; the
    // login answer with the current numbers follows it.
    await b.counts.next((s) => s === count(2, 2));
    await a.counts.next((s) => s === count(2, 2));
    const raw = await RawWsClient.login(h, 'count-a');
    const native = await TestClient.welcome(h.wsUrl, await h.token('count-c'));
    const expected = count(3, 4);
    await a.counts.next((s) => s === expected);
    await b.counts.next((s) => s === expected);
    await anon.counts.next((s) => s === expected, 5000, 'the count on a socket that never logged in');
    const seen = a.counts.items.length;
    await raw.close();
    native.close();
    await a.counts.next((s) => s === count(2, 2), 5000, 'the count after two clients left', seen);
    for (const c of [a, b, anon]) c.close();
  });

  it('delivers to every tab of a uid; closing one keeps the other mapped', async () => {
    const t1 = await SioClient.login(h, 2, 'tabs');
    const t2 = await SioClient.login(h, 4, 'tabs');
    assert.equal(await push2121(h, { type: 'publish', to: 'tabs', content: 'one' }), 'ok');
    assert.equal(await t1.newMsg.next(), 'one');
    assert.equal(await t2.newMsg.next(), 'one');
    t2.close();
    await h.hubChanged(() => h.server.context.hub.connectionsOf('tabs').size === 1);
    assert.equal(await push2121(h, { type: 'publish', to: 'tabs', content: 'two' }), 'ok');
    assert.equal(await t1.newMsg.next((m) => m === 'two'), 'two');
    t1.close();
    await h.hubChanged(() => h.server.context.hub.connectionsOf('tabs').size === 0);
    assert.equal(await push2121(h, { type: 'publish', to: 'tabs', content: 'three' }), 'offline');
  });

  it('ignores a second login on the same socket, as the original does', async () => {
    const c = await SioClient.login(h, 4, 'first-login');
    c.socket.emit('login', 'second-login');
    assert.equal(await push2121(h, { type: 'publish', to: 'first-login', content: 'still me' }), 'ok');
    assert.equal(await c.newMsg.next(), 'still me');
    assert.equal(await push2121(h, { type: 'publish', to: 'second-login', content: 'x' }), 'offline');
    c.close();
  });

  it("takes a numeric uid as its string, as the original's (string)$uid", async () => {
    const c = await SioClient.login(h, 2, 123);
    assert.equal(await push2121(h, { type: 'publish', to: '123', content: 'num' }), 'ok');
    assert.equal(await c.newMsg.next(), 'num');
    c.close();
  });

  it('broadcasts (empty to) also reach sockets that never logged in', async () => {
    const anon = SioClient.create(4, h.ports.socketio, undefined);
    await anon.connected;
    await h.hubChanged(() => [...h.server.context.hub.connections()].some((c) => c.user === ''));
    assert.equal(await push2121(h, { type: 'publish', to: '', content: 'to all' }), 'ok');
    assert.equal(await anon.newMsg.next(), 'to all');
    anon.close();
  });

  it('answers a login with no argument, an object, binary, an empty uid with login_error and serves everyone on', async () => {
    const bystander = await SioClient.login(h, 2, 'bystander');
    const cases: [unknown[], string][] = [
      [[], 'bad_login'],
      [[{ a: 1 }], 'bad_login'],
      [[Buffer.from([0, 1, 2, 255])], 'bad_login'],
      [[['x']], 'bad_login'],
      [[''], 'invalid_uid'],
      [[null], 'bad_login'],
    ];
    for (const version of [2, 4] as const) {
      for (const [args, code] of cases) {
        const c = SioClient.create(version, h.ports.socketio, undefined);
        await c.connected;
        c.socket.emit('login', ...args);
        const e = await c.loginErrors.next();
        assert.equal(e.code, code, `login(${JSON.stringify(args)}) with client ${version}.x`);
        assert.ok(c.socket.connected, 'the socket stays connected');
        c.close();
      }
    }
    // An ack, when the client passes one, gets the answer too.
    const withAck = SioClient.create(4, h.ports.socketio, undefined);
    await withAck.connected;
    const reply = await new Promise((resolve) => withAck.socket.emit('login', { token: 'not-a-token' }, resolve));
    assert.deepEqual(reply, { ok: false, error: { code: 'invalid_token', message: 'invalid token' } });
    withAck.close();
    assert.equal(await push2121(h, { type: 'publish', to: 'bystander', content: 'fine' }), 'ok');
    assert.equal(await bystander.newMsg.next(), 'fine');
    assert.deepEqual(bystander.disconnects.items, []);
    bystander.close();
  });

  it('drops only the client that sends a 20 MB message', async () => {
    const bystander = await SioClient.login(h, 4, 'bystander-big');
    for (const version of [2, 4] as const) {
      for (const transports of [['websocket'], ['polling']]) {
        const c = SioClient.create(version, h.ports.socketio, undefined, { transports });
        await c.connected;
        c.socket.emit('login', 'x'.repeat(20 * 1024 * 1024));
        const reason = await c.disconnects.next(() => true, 10_000, `disconnect of the 20 MB sender (${version}.x ${transports[0]})`);
        assert.match(reason, /transport (close|error)/);
        c.close();
      }
    }
    assert.equal(await push2121(h, { type: 'publish', to: 'bystander-big', content: 'fine' }), 'ok');
    assert.equal(await bystander.newMsg.next(), 'fine');
    assert.deepEqual(bystander.disconnects.items, []);
    bystander.close();
  });

  it('closes an Engine.IO connection that sends binary garbage, and nobody else', async () => {
    const bystander = await SioClient.login(h, 2, 'bystander-garbage');
    for (const eio of [3, 4]) {
      const ws = new WebSocket(`ws://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=${eio}&transport=websocket`);
      ws.on('error', () => {});
      await once(ws, 'message');
      ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]));
      ws.send('4\u0000garbage{[');
      const [code] = (await once(ws, 'close')) as [number];
      assert.ok(code >= 1000, `closed (${code})`);
    }
    assert.equal(await push2121(h, { type: 'publish', to: 'bystander-garbage', content: 'fine' }), 'ok');
    assert.equal(await bystander.newMsg.next(), 'fine');
    bystander.close();
  });

  it('drops handshakes that never finish (HTTP headers, Engine.IO without a Socket.IO connect), others unaffected', async () => {
    const stuck = await rawHttp(h.ports.socketio, 'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n');
    const hs = await fetch(`http://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=4&transport=polling`);
    const open = await hs.text();
    const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
    // The long poll goes out now, so that it is waiting when the handshake timeout closes the session (a poll
    // arriving after the close would get a noop before the close packet).
    const poll = fetch(`http://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    const c = await SioClient.login(h, 4, 'during-stuck');
    assert.equal(await push2121(h, { type: 'publish', to: 'during-stuck', content: 'served' }), 'ok');
    assert.equal(await c.newMsg.next(), 'served');
    // The long poll of the session that never connected to a namespace is answered with a close packet.
    assert.equal(await (await poll).text(), '1');
    await stuck.response;
    assert.ok(stuck.socket.destroyed || stuck.socket.readableEnded);
    assert.deepEqual(c.disconnects.items, []);
    c.close();
  });

  it('shows native publishes as new_msg text; the native disconnect API ends the socket for good', async () => {
    const c = await SioClient.login(h, 2, 'nat');
    await h.api('POST', '/api/publish', { to: { user: 'nat' }, data: '<i>as is</i>' });
    await h.api('POST', '/api/publish', { to: { user: 'nat' }, data: { a: 1 } });
    await h.api('POST', '/api/publish', { to: { all: true }, data: [1, 2] });
    await c.newMsg.next((m) => m === '[1,2]');
    assert.deepEqual(c.newMsg.items, ['<i>as is</i>', '{"a":1}', '[1,2]']);
    await h.api('POST', '/api/users/nat/disconnect', {});
    assert.equal(await c.disconnects.next(), 'io server disconnect');
    c.close();
  });

  it('a burst published in one turn arrives complete and in order, over websocket and across the upgrade', async () => {
    const clients = [
      await SioClient.login(h, 2, 'burst2', { transports: ['websocket'] }),
      await SioClient.login(h, 4, 'burst4', { transports: ['websocket'] }),
    ];
    const upgrading = SioClient.create(4, h.ports.socketio, 'burstU');
    const upgraded = once(upgrading.socket.io.engine as unknown as NodeJS.EventEmitter, 'upgrade');
    await upgrading.counts.next();
    // As in the matrix above: that count may be the interval's broadcast, sent before the login was processed.
    await h.hubChanged(() => h.server.context.hub.connectionsOf('burstU').size === 1);
    const burst = (tag: string) => ({
      messages: Array.from({ length: 30 }, (_, i) => ({ to: { users: ['burst2', 'burst4', 'burstU'] }, data: `${tag}${i}` })),
    });
    // One batch is published in one turn: over websocket these go out coalesced per socket.
    assert.equal((await h.api('POST', '/api/publish/batch', burst('a'))).status, 200);
    await upgraded;
    assert.equal(upgrading.transportName(), 'websocket');
    assert.equal((await h.api('POST', '/api/publish/batch', burst('b'))).status, 200);
    const expected = [...Array.from({ length: 30 }, (_, i) => `a${i}`), ...Array.from({ length: 30 }, (_, i) => `b${i}`)];
    for (const c of [...clients, upgrading]) {
      await c.newMsg.next((m) => m === 'b29');
      assert.deepEqual(c.newMsg.items, expected);
    }
    // The single-write path reads Engine.IO internals (engine-internals.ts): on the websocket transport it must be
    // the one in use, with the Engine.IO version package.json pins; if the probe stopped finding the socket, Herald
    // would fall back to one write per packet without a word.
    for (const uid of ['burst2', 'burst4', 'burstU']) {
      const [conn] = [...h.server.context.hub.connectionsOf(uid)] as SocketIoConnection[];
      assert.equal(conn?.writesDirect, true, `${uid}: new_msg frames take the single-write path (checked with ${JSON.stringify(CHECKED_WITH)})`);
    }
    for (const c of [...clients, upgrading]) c.close();
  });

  it('answers other paths on the port with 404', async () => {
    const res = await fetch(`http://127.0.0.1:${h.ports.socketio}/index.html`);
    assert.equal(res.status, 404);
    await res.text();
  });
});

describe('compat: Socket.IO slow consumers', () => {
  it('disconnects a socket whose undelivered backlog passes limits.maxBufferedBytes, and nobody else', async () => {
    const h = await startCompat({}, { limits: { maxBufferedBytes: 4096 } });
    try {
      const base = `http://127.0.0.1:${h.ports.socketio}/socket.io/?EIO=4&transport=polling`;
      const open = await (await fetch(base)).text();
      const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
      const url = `${base}&sid=${sid}`;
      const post = async (body: string) => assert.equal(await (await fetch(url, { method: 'POST', body })).text(), 'ok');
      await post('40');
      assert.match(await (await fetch(url)).text(), /^40\{"sid":/);
      await post('42["login","slow"]');
      await h.hubChanged(() => h.server.context.hub.connectionsOf('slow').size === 1);
      const fast = await SioClient.login(h, 4, 'slow', { transports: ['websocket'] });
      // The raw session stops polling now: what is published to it piles up on the server.
      const big = 'x'.repeat(1500);
      for (let i = 0; i < 4; i++) await h.api('POST', '/api/publish', { to: { user: 'slow' }, data: `${i}${big}` });
      await h.hubChanged(() => h.server.context.hub.connectionsOf('slow').size === 1);
      const [left] = h.server.context.hub.connectionsOf('slow');
      assert.equal(left!.transport, 'socketio');
      await fast.newMsg.next((m) => m.startsWith('3'));
      assert.equal(fast.newMsg.items.length, 4, 'the client that keeps up got everything');
      assert.deepEqual(fast.disconnects.items, []);
      fast.close();
    } finally {
      await h.close();
    }
  });
});
