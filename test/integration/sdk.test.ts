import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, mock, test } from 'node:test';
import WebSocket from 'ws';
import { CloseCode, Herald, HeraldError, type HeraldMessage, type HeraldOptions, type State, type WebSocketLike } from '../../client/index.ts';
import { signWebhook } from '../../src/core/upstream.ts';
import { API_KEY, perTestCleanup } from '../helpers/herald.ts';
import { nextEvent } from '../helpers/sdk.ts';

const { cleanups, server } = perTestCleanup(afterEach);

function client(opts: Partial<HeraldOptions> & Pick<HeraldOptions, 'url' | 'token'>): Herald {
  const c = new Herald({ WebSocket, minBackoffMs: 10, maxBackoffMs: 100, ...opts });
  cleanups.push(() => c.close());
  return c;
}

const next = nextEvent;

const reachState = (c: Herald, state: State) => (c.state === state ? Promise.resolve() : next(c, 'state', (s) => s.state === state).then(() => undefined));

function recordStates(c: Herald): State[] {
  const states: State[] = [c.state];
  c.on('state', (s) => states.push(s.state));
  return states;
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<HeraldError> {
  const err = await p.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HeraldError, `expected a HeraldError, got ${String(err)}`);
  assert.equal(err.code, code);
  return err;
}

/** A webhook backend on an ephemeral port; `handler` gets the verified JSON body. */
async function backend(handler: (body: { user: string; event?: string; data: unknown }, res: ServerResponse) => void): Promise<{ url: string; calls: number }> {
  const state = { url: '', calls: 0 };
  const srv: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.calls++;
      const raw = Buffer.concat(chunks).toString();
      const ts = String(req.headers['x-herald-timestamp']);
      if (req.headers['x-herald-signature'] !== signWebhook(API_KEY, ts, raw)) {
        res.writeHead(401).end();
        return;
      }
      handler(JSON.parse(raw) as { user: string; event?: string; data: unknown }, res);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
  return state;
}

test('receives a message published to its user and remembers the stream position', async () => {
  const h = await server();
  const c = client({ url: h.wsUrl, token: await h.token('u1') });
  const info = await c.connect();
  assert.equal(info.user, 'u1');
  assert.equal(c.state, 'connected');

  const got = next(c, 'message');
  const pub = await h.api('POST', '/api/publish', { to: { user: 'u1' }, event: 'note', data: { n: 1 } });
  assert.equal(pub.status, 200);
  const msg = await got;
  assert.equal(msg.stream, 'user:u1');
  assert.equal(msg.offset, 1);
  assert.equal(msg.event, 'note');
  assert.equal(msg.channel, undefined);
  assert.deepEqual(msg.data, { n: 1 });
  // broadcast has had no message yet: its position is the baseline the server reported on connect.
  assert.deepEqual(c.positions(), { 'user:u1': { offset: 1, epoch: msg.epoch }, broadcast: { offset: 0, epoch: msg.epoch } });
});

test('subscribe resolves for an allowed channel, rejects with forbidden otherwise, and unsubscribe stops delivery', async () => {
  const h = await server();
  const c = client({ url: h.wsUrl, token: await h.token('u1', ['news']) });
  await c.connect();

  await c.subscribe('news');
  await rejectsWithCode(c.subscribe('secret'), 'forbidden');
  assert.deepEqual(c.subscriptions(), ['news'], 'a refused channel is not retried on reconnect');

  const got = next(c, 'message');
  await h.api('POST', '/api/publish', { to: { channel: 'news' }, data: 'hello' });
  const msg = await got;
  assert.equal(msg.stream, 'channel:news');
  assert.equal(msg.channel, 'news');
  assert.equal(msg.data, 'hello');

  await c.unsubscribe('news');
  assert.deepEqual(c.subscriptions(), []);
  const seen: HeraldMessage[] = [];
  c.on('message', (m) => seen.push(m));
  // The user-stream message is a barrier: one connection's frames arrive in publish order.
  const barrier = next(c, 'message', (m) => m.stream === 'user:u1');
  await h.api('POST', '/api/publish', { to: { channel: 'news' }, data: 'missed' });
  await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: 'barrier' });
  await barrier;
  assert.deepEqual(
    seen.map((m) => m.stream),
    ['user:u1'],
  );
});

test('send() round-trips through a signed webhook and resolves with the reply data', async () => {
  const hook = await backend((body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, user: body.user, event: body.event, echo: body.data }));
  });
  const h = await server({ webhook: { url: hook.url } });
  const c = client({ url: h.wsUrl, token: await h.token('u1') });
  await c.connect();

  const reply = await c.send({ text: 'hello' }, 'chat');
  assert.deepEqual(reply, { ok: true, user: 'u1', event: 'chat', echo: { text: 'hello' } });
  assert.equal(hook.calls, 1);
});

test('send() without a webhook rejects with no_upstream; while not connected with not_connected', async () => {
  const h = await server();
  const c = client({ url: h.wsUrl, token: await h.token('u1') });
  await rejectsWithCode(c.send({ x: 1 }), 'not_connected');
  await c.connect();
  await rejectsWithCode(c.send({ x: 1 }), 'no_upstream');
  assert.equal(c.state, 'connected', 'an error frame never closes the connection');
});

test('send() rejects with disconnected when the connection drops before the reply, then the client reconnects', async () => {
  let onCall!: () => void;
  const called = new Promise<void>((resolve) => (onCall = resolve));
  // The backend never answers: the reply must still be outstanding when the connection drops.
  const hook = await backend(() => onCall());
  const h = await server({ webhook: { url: hook.url } });
  const c = client({ url: h.wsUrl, token: await h.token('u1') });
  await c.connect();

  const sent = c.send({ x: 1 });
  await called;
  const dropped = next(c, 'disconnected');
  const reconnected = next(c, 'connected');
  await h.api('POST', '/api/users/u1/disconnect', { reconnect: true });
  assert.deepEqual(await dropped, { code: CloseCode.DisconnectedByServer, reason: 'disconnected by server', willReconnect: true });
  await rejectsWithCode(sent, 'disconnected');
  await reconnected;
  assert.equal(c.state, 'connected');
});

test('reconnects after a server restart on the same port, fetching a fresh token, and resubscribes', async () => {
  const h1 = await server();
  const port = h1.server.port;
  let current = h1;
  let tokenCalls = 0;
  const c = client({
    url: h1.wsUrl,
    token: () => {
      tokenCalls++;
      return current.token('u1', ['news']);
    },
  });
  // Subscribing before connecting is remembered and sent once connected.
  const subscribed = c.subscribe('news');
  await c.connect();
  await subscribed;
  assert.equal(tokenCalls, 1);

  const first = next(c, 'message');
  await h1.api('POST', '/api/publish', { to: { channel: 'news' }, data: 'before' });
  const before = await first;

  const dropped = next(c, 'disconnected');
  await h1.close();
  assert.deepEqual(await dropped, { code: CloseCode.Shutdown, reason: 'server shutting down', willReconnect: true });
  assert.notEqual(c.state, 'closed');

  const reconnected = next(c, 'connected');
  const resubscribed = next(c, 'subscribed', (s) => s.channel === 'news');
  const h2 = await server({ port });
  current = h2;
  await reconnected;
  await resubscribed;
  assert.equal(c.state, 'connected');
  assert.ok(tokenCalls >= 2, 'the token function runs before every connect attempt');

  const second = next(c, 'message');
  await h2.api('POST', '/api/publish', { to: { channel: 'news' }, data: 'after' });
  const after = await second;
  assert.equal(after.channel, 'news');
  assert.equal(after.data, 'after');
  // The new server has a new history: offset 1 again, but in a new epoch, so it is not taken for a duplicate.
  assert.equal(after.offset, 1);
  assert.notEqual(after.epoch, before.epoch);
  assert.deepEqual(c.positions()['channel:news'], { offset: 1, epoch: after.epoch });
});

test('a final close code (4502, kicked) closes the client without reconnecting', async () => {
  const h = await server();
  let tokenCalls = 0;
  const c = client({
    url: h.wsUrl,
    token: async () => {
      tokenCalls++;
      return h.token('u1');
    },
  });
  const states = recordStates(c);
  await c.connect();
  const error = next(c, 'error');
  await h.api('POST', '/api/users/u1/disconnect', {});
  await reachState(c, 'closed');
  assert.deepEqual(await error, { code: 'kicked', message: 'disconnected by server', closeCode: CloseCode.Kicked });
  assert.deepEqual(states, ['idle', 'connecting', 'connected', 'closed']);
  assert.equal(tokenCalls, 1);
  await rejectsWithCode(c.connect(), 'closed');
  await rejectsWithCode(c.subscribe('news'), 'closed');
});

test('an expired token is final with a fixed token, and replaced when the token is a function', async () => {
  const h = await server();
  const expired = await h.token('u1', undefined, -60);

  const fixed = client({ url: h.wsUrl, token: expired });
  const err = await rejectsWithCode(fixed.connect(), 'token_expired');
  assert.equal(err.closeCode, CloseCode.TokenExpired);
  assert.equal(fixed.state, 'closed');

  const tokens = [expired, await h.token('u1')];
  let calls = 0;
  const refreshing = client({ url: h.wsUrl, token: () => tokens[Math.min(calls++, 1)]! });
  const info = await refreshing.connect();
  assert.equal(info.user, 'u1');
  assert.equal(calls, 2);

  // An invalid token is final even when a function could supply another (protocol: stop, get a new token).
  let badCalls = 0;
  const bad = client({
    url: h.wsUrl,
    token: () => {
      badCalls++;
      return 'not-a-jwt';
    },
  });
  await rejectsWithCode(bad.connect(), 'invalid_token');
  assert.equal(badCalls, 1);
});

/** Drives the SDK frame by frame, so heartbeat deadlines can be tested with mocked time. */
class FakeSocket implements WebSocketLike {
  readyState = 1;
  readonly sent: unknown[] = [];
  closedWith: number | undefined;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

test('answers pings, drops duplicate offsets, times out sends, and replaces a connection that went silent', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const sockets: FakeSocket[] = [];
  const c = new Herald({
    url: 'ws://herald.test/ws?v=1',
    token: 'tok en',
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
    minBackoffMs: 10,
    maxBackoffMs: 10,
    sendTimeoutMs: 1000,
  });
  try {
    void c.connect();
    const s1 = sockets[0]!;
    assert.equal(s1.url, 'ws://herald.test/ws?v=1', 'the token is not put in the URL');
    s1.onopen?.({});
    assert.deepEqual(s1.sent[0], { type: 'auth', token: 'tok en', positions: {} });
    s1.receive({ type: 'welcome', version: 1, session: 's1', user: 'u', heartbeat: 1000 });
    assert.equal(c.state, 'connected');

    s1.receive({ type: 'ping' });
    assert.deepEqual(s1.sent.at(-1), { type: 'pong' });

    const got: [number, string][] = [];
    c.on('message', (m) => got.push([m.offset, m.epoch]));
    for (const [offset, epoch] of [
      [1, 'a'],
      [2, 'a'],
      [2, 'a'],
      [1, 'a'],
      [3, 'a'],
      [1, 'b'],
    ] as const) {
      s1.receive({ type: 'message', stream: 'user:u', offset, epoch, data: null });
    }
    assert.deepEqual(got, [
      [1, 'a'],
      [2, 'a'],
      [3, 'a'],
      [1, 'b'],
    ]);

    // Liveness limit: 2 heartbeats + 5 s = 7 s of silence, counted from the last frame.
    mock.timers.tick(3000);
    s1.receive({ type: 'ping' });
    mock.timers.tick(6999);
    assert.equal(c.state, 'connected');
    mock.timers.tick(1);
    assert.equal(c.state, 'reconnecting');
    assert.equal(s1.closedWith, 4000);

    mock.timers.tick(10);
    assert.equal(sockets.length, 2);
    sockets[1]!.onopen?.({});
    assert.deepEqual(sockets[1]!.sent[0], { type: 'auth', token: 'tok en', positions: { 'user:u': { offset: 1, epoch: 'b' } } }, 'resumes from its positions');
    sockets[1]!.receive({ type: 'welcome', version: 1, session: 's2', user: 'u', heartbeat: 1000 });
    assert.equal(c.state, 'connected');
    assert.equal(c.welcome?.session, 's2');
    assert.deepEqual(c.positions(), { 'user:u': { offset: 1, epoch: 'b' } }, 'positions survive reconnects');

    const unanswered = c.send({ q: 1 });
    assert.deepEqual(sockets[1]!.sent.at(-1), { type: 'send', id: (sockets[1]!.sent.at(-1) as { id: number }).id, data: { q: 1 } });
    mock.timers.tick(1000);
    await rejectsWithCode(unanswered, 'timeout');
    await rejectsWithCode(c.send(1n), 'bad_request');

    c.close();
    assert.equal(sockets[1]!.closedWith, 1000);
    assert.equal(c.state, 'closed');
  } finally {
    c.close();
    mock.timers.reset();
  }
});

test("a server's shutdown frame sets when the client comes back: within its window, and again while refused", () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const sockets: FakeSocket[] = [];
  const c = new Herald({
    url: 'ws://herald.test/ws',
    token: 't',
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
    // Exponential backoff at its ceiling already: what the window replaces.
    minBackoffMs: 60_000,
    maxBackoffMs: 60_000,
  });
  try {
    void c.connect();
    sockets[0]!.onopen?.({});
    sockets[0]!.receive({ type: 'welcome', version: 1, session: 's1', user: 'u', heartbeat: 25_000 });
    sockets[0]!.receive({ type: 'shutdown', reconnectWithin: 1000 });
    sockets[0]!.onclose?.({ code: 4000, reason: 'server shutting down' });
    assert.equal(c.state, 'reconnecting');
    mock.timers.tick(1000);
    assert.equal(sockets.length, 2, 'dialled within the window, not after the 60 s backoff');
    // Refused while the server restarts: the next attempt is again within the window, not after the backoff.
    sockets[1]!.onclose?.({ code: 1006, reason: '' });
    mock.timers.tick(1000);
    assert.equal(sockets.length, 3);
  } finally {
    c.close();
    mock.timers.reset();
  }
});
