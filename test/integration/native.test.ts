import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { CloseCode } from '../../src/protocol/codes.ts';
import { startHerald, TOKEN_SECRET, type TestHerald } from '../helpers/herald.ts';
import { settle, TestClient } from '../helpers/ws-client.ts';

describe('native protocol on /ws', () => {
  let h: TestHerald;
  before(async () => {
    h = await startHerald({ limits: { maxFrameBytes: 4096, maxChannelsPerConnection: 3 } });
  });
  after(() => h.close());

  it('welcomes a token given on the URL with session, user and heartbeat', async () => {
    const c = await TestClient.connect(h.wsUrl, await h.token('alice'));
    const w = await c.next((f) => f.type === 'welcome');
    assert.equal(w.user, 'alice');
    assert.equal(w.version, 1);
    assert.equal(w.heartbeat, h.server.config.heartbeatMs);
    assert.match(w.session, /\S+/);
    c.close();
  });

  it('accepts the token in the first frame and keeps frames sent before the welcome', async () => {
    const c = await TestClient.connect(h.wsUrl);
    c.send({ type: 'auth', token: await h.token('bob', ['news']) });
    c.send({ type: 'subscribe', channel: 'news', id: 1 });
    const w = await c.next((f) => f.type === 'welcome');
    assert.equal(w.user, 'bob');
    const ack = await c.next((f) => f.type === 'subscribed');
    const { epoch, ...rest } = ack;
    assert.deepEqual(rest, { type: 'subscribed', channel: 'news', id: 1, stream: 'channel:news', recovered: true, top: 0, replay: 0 });
    assert.equal(typeof epoch, 'string');
    assert.ok(c.frames.indexOf(w) < c.frames.indexOf(ack), 'welcome comes first');
    c.close();
  });

  it('answers frames before auth with not_authenticated', async () => {
    const c = await TestClient.connect(h.wsUrl);
    c.send({ type: 'subscribe', channel: 'news' });
    const e = await c.next((f) => f.type === 'error');
    assert.equal(e.code, 'not_authenticated');
    c.close();
  });

  it('refuses a forged token with the final code 4500', async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-sufficient-length-123456'));
    const c = await TestClient.connect(h.wsUrl, forged);
    assert.equal(await c.closed(), CloseCode.InvalidToken);
    assert.equal(c.frames.length, 0, 'no welcome for a forged token');
  });

  it('refuses garbage and a token without exp with 4500', async () => {
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode(TOKEN_SECRET));
    for (const t of ['not-a-jwt', noExp]) {
      const c = await TestClient.connect(h.wsUrl, t);
      assert.equal(await c.closed(), CloseCode.InvalidToken);
    }
  });

  it('refuses an expired token with the final code 4501', async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TOKEN_SECRET));
    const c = await TestClient.connect(h.wsUrl, expired);
    assert.equal(await c.closed(), CloseCode.TokenExpired);
    assert.ok(c.closeCode! >= 4500, 'expired is in the do-not-reconnect range');
  });

  it('checks subscriptions against the token channels claim, exact and patterns', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('dave', ['news', 'room.*']));
    c.send({ type: 'subscribe', channel: 'news', id: 1 });
    c.send({ type: 'subscribe', channel: 'room.42', id: 2 });
    c.send({ type: 'subscribe', channel: 'secret', id: 3 });
    c.send({ type: 'subscribe', channel: 'bad channel!', id: 4 });
    assert.equal((await c.next((f) => f.id === 1)).type, 'subscribed');
    assert.equal((await c.next((f) => f.id === 2)).type, 'subscribed');
    assert.deepEqual(await c.next((f) => f.id === 3), { type: 'error', code: 'forbidden', message: 'token does not allow channel secret', id: 3 });
    assert.equal((await c.next((f) => f.id === 4)).code, 'invalid_channel');
    c.close();
  });

  it('delivers channel messages only to subscribers, and stops after unsubscribe', async () => {
    const sub = await TestClient.welcome(h.wsUrl, await h.token('erin', ['*']));
    const other = await TestClient.welcome(h.wsUrl, await h.token('frank', ['*']));
    sub.send({ type: 'subscribe', channel: 'prices', id: 1 });
    await sub.next((f) => f.id === 1);
    const r = await h.api('POST', '/api/publish', { to: { channel: 'prices' }, data: { p: 1 } });
    assert.equal(r.body.delivered, 1);
    const m = await sub.next((f) => f.type === 'message');
    assert.equal(m.stream, 'channel:prices');
    assert.deepEqual(m.data, { p: 1 });
    sub.send({ type: 'unsubscribe', channel: 'prices', id: 2 });
    await sub.next((f) => f.id === 2);
    const r2 = await h.api('POST', '/api/publish', { to: { channel: 'prices' }, data: { p: 2 } });
    assert.equal(r2.body.delivered, 0);
    await settle(sub);
    await settle(other);
    assert.equal(sub.messages().length, 1);
    assert.equal(other.messages().length, 0);
    sub.close();
    other.close();
  });

  it('enforces the per-connection channel limit', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('gina', ['*']));
    for (let i = 1; i <= 4; i++) c.send({ type: 'subscribe', channel: `c${i}`, id: i });
    assert.equal((await c.next((f) => f.id === 4)).code, 'too_many_channels');
    assert.equal(c.frames.filter((f) => f.type === 'subscribed').length, 3);
    c.close();
  });

  it('answers malformed frames with error codes and keeps the connection', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('hank'));
    c.send('not json');
    c.send('[1,2]');
    c.send({ type: 'warp' });
    c.send({ type: 'send', data: 1 });
    c.send({ type: 'auth', token: 'x' });
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await settle(c);
    const codes = c.frames.filter((f) => f.type === 'error').map((f) => f.code);
    assert.deepEqual(codes, ['bad_json', 'bad_request', 'unknown_frame', 'bad_request', 'already_authenticated', 'bad_request']);
    assert.equal(c.closeCode, undefined);
    c.close();
  });

  it('closes a connection that sends a frame over the size limit with 1009, and only that one', async () => {
    const big = await TestClient.welcome(h.wsUrl, await h.token('ivy'));
    const bystander = await TestClient.welcome(h.wsUrl, await h.token('ivy'));
    big.send({ type: 'send', id: 1, data: 'x'.repeat(10_000) });
    assert.equal(await big.closed(), 1009);
    const r = await h.api('POST', '/api/publish', { to: { user: 'ivy' }, data: 'still here' });
    assert.equal(r.body.delivered, 1);
    assert.equal((await bystander.next((f) => f.type === 'message')).data, 'still here');
    bystander.close();
  });

  it('answers app-level ping with pong', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('jack'));
    c.send({ type: 'ping' });
    await c.next((f) => f.type === 'pong');
    c.close();
  });

  it('numbers each stream with its own consecutive offsets and a stable epoch', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('kate', ['*']));
    c.send({ type: 'subscribe', channel: 'offs', id: 1 });
    await c.next((f) => f.id === 1);
    for (let i = 0; i < 5; i++) {
      await h.api('POST', '/api/publish', { to: { user: 'kate' }, data: i });
      await h.api('POST', '/api/publish', { to: { channel: 'offs' }, data: i });
    }
    await settle(c);
    const user = c.messages().filter((m) => m.stream === 'user:kate');
    const chan = c.messages().filter((m) => m.stream === 'channel:offs');
    assert.deepEqual(
      user.map((m) => m.offset),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      chan.map((m) => m.offset),
      [1, 2, 3, 4, 5],
    );
    assert.equal(new Set(c.messages().map((m) => m.epoch)).size, 1);
    c.close();
  });
});

describe('heartbeats and token expiry', () => {
  it('pings clients, and closes a silent client with 4001', async () => {
    const h = await startHerald({ heartbeatMs: 1000 });
    try {
      const c = await TestClient.welcome(h.wsUrl, await h.token('zed'));
      // This client answers pings (TestClient does); a raw socket that never answers is the zombie.
      const zombie = await TestClient.connect(h.wsUrl, await h.token('zombie'));
      zombie.ws.removeAllListeners('message');
      await c.next((f) => f.type === 'ping');
      assert.equal(await zombie.closed(10_000), CloseCode.HeartbeatTimeout);
      assert.equal(c.closeCode, undefined, 'a client that answers stays connected');
      c.close();
    } finally {
      await h.close();
    }
  });

  it('closes a connection whose token expires while connected with 4501', async () => {
    const h = await startHerald({ heartbeatMs: 1000 });
    try {
      // 3 s, not 1: on a loaded machine the handshake alone can take a second, and the token must still be valid
      // at the welcome for this to test an expiry while connected.
      const c = await TestClient.welcome(h.wsUrl, await h.token('short', [], 3));
      assert.equal(await c.closed(10_000), CloseCode.TokenExpired);
    } finally {
      await h.close();
    }
  });
});
