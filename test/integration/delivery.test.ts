import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Herald } from '../../client/index.ts';
import { hubChanged } from '../helpers/compat.ts';
import { perTestCleanup, startHerald, type TestHerald } from '../helpers/herald.ts';
import { collect, memoryStorage, nextEvent, sdkClient } from '../helpers/sdk.ts';
import { settle, TestClient } from '../helpers/ws-client.ts';

const { cleanups, server } = perTestCleanup(afterEach);

function sdk(h: TestHerald, user: string, extra: Partial<Parameters<typeof sdkClient>[0]> = {}, channels: string[] = ['*']): Herald {
  const c = sdkClient({ url: h.wsUrl, token: () => h.token(user, channels), ...extra });
  cleanups.push(() => c.close());
  return c;
}

async function publish(h: TestHerald, body: unknown): Promise<any> {
  const r = await h.api('POST', '/api/publish', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Waits until the client has acknowledged up to the newest message: a receipt publish is the event to wait on. */
async function acked(h: TestHerald, user: string): Promise<void> {
  const r = await publish(h, { to: { user }, data: 'sync', waitMs: 5000 });
  assert.equal(r.status, 'delivered');
}

describe('offline inbox', () => {
  it('keeps messages for an offline user and delivers them, in order, on connect', async () => {
    const h = await server();
    for (let i = 1; i <= 5; i++) await publish(h, { to: { user: 'u1' }, data: i });
    assert.equal((await h.api('GET', '/api/users/u1')).body.pending, 5);
    const c = sdk(h, 'u1');
    const got = collect(c);
    const recovery = nextEvent(c, 'recovery', (r) => r.stream === 'user:u1');
    await c.connect();
    assert.equal((await recovery).recovered, true);
    await acked(h, 'u1');
    assert.deepEqual(
      got.map((m) => m.data),
      [1, 2, 3, 4, 5, 'sync'],
    );
    assert.equal((await h.api('GET', '/api/users/u1')).body.pending, 0, 'acknowledged messages are no longer pending');
  });

  it('gives a brand-new device what no device acknowledged, and not what was', async () => {
    const h = await server();
    const first = sdk(h, 'u2');
    await first.connect();
    await publish(h, { to: { user: 'u2' }, data: 'seen' });
    await acked(h, 'u2');
    first.close();
    await publish(h, { to: { user: 'u2' }, data: 'while away' });
    const second = sdk(h, 'u2');
    const got = collect(second);
    await second.connect();
    await acked(h, 'u2');
    assert.deepEqual(
      got.map((m) => m.data),
      ['while away', 'sync'],
    );
  });

  it('survives a server restart on the same data directory (SQLite)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-durable-'));
    const h1 = await startHerald({ dataDir });
    const r = await publish(h1, { to: { user: 'u3' }, data: { n: 1 } });
    await h1.close();
    const h2 = await server({ dataDir });
    const c = TestClient.welcome(h2.wsUrl, await h2.token('u3'));
    const client = await c;
    const m = await client.next((f) => f.type === 'message');
    assert.deepEqual(m.data, { n: 1 });
    assert.equal(m.epoch, r.streams[0].epoch, 'same epoch: the history is the same');
    const next = await publish(h2, { to: { user: 'u3' }, data: 2 });
    assert.equal(next.streams[0].offset, 2, 'offsets continue after the restart');
    client.close();
  });
});

describe('resume', () => {
  it('a client without a position gets every broadcast published after it joined, also while its history is read', async () => {
    const h = await server({ store: { type: 'memory' } });
    const ctx = h.server.context;
    await ctx.dispatcher.publish({ to: { all: true }, data: '0' });
    // Published the moment the connection joins, before its resume reads the stream's top (which then includes
    // them): the client must still get them, as everything published after its welcome.
    ctx.hub.observe({
      connected: () => void Promise.all([1, 2, 3].map((i) => ctx.dispatcher.publish({ to: { all: true }, data: String(i) }))),
    });
    const c = await TestClient.welcome(h.wsUrl, await h.token('late'));
    const recovery = await c.next((f) => f.type === 'recovery' && f.stream === 'broadcast');
    assert.equal(recovery.top, 1, 'starts after what was there before it joined');
    await c.next((f) => f.type === 'message' && f.data === 3);
    await settle(c);
    assert.deepEqual(
      c
        .messages()
        .filter((m) => m.stream === 'broadcast')
        .map((m) => m.data),
      [1, 2, 3],
    );
    c.close();
  });

  it('replays a channel from the position given in subscribe, then continues live without gap or duplicate', async () => {
    const h = await server();
    for (let i = 1; i <= 5; i++) await publish(h, { to: { channel: 'feed' }, data: i });
    const epoch = (await publish(h, { to: { channel: 'other' }, data: 0 })).streams[0].epoch;
    const c = await TestClient.welcome(h.wsUrl, await h.token('r1', ['*']));
    c.send({ type: 'subscribe', channel: 'feed', id: 1, since: { offset: 2, epoch } });
    const ack = await c.next((f) => f.id === 1);
    assert.equal(ack.recovered, true);
    assert.equal(ack.replay, 3);
    assert.equal(ack.top, 5);
    await publish(h, { to: { channel: 'feed' }, data: 6 });
    await settle(c);
    const offsets = c
      .messages()
      .filter((m) => m.stream === 'channel:feed')
      .map((m) => m.offset);
    assert.deepEqual(offsets, [3, 4, 5, 6]);
    c.close();
  });

  it('says recovered: false when history no longer reaches back, or the epoch changed', async () => {
    const h = await server({ history: { rules: [{ pattern: 'short', maxCount: 2 }] } });
    for (let i = 1; i <= 5; i++) await publish(h, { to: { channel: 'short' }, data: i });
    const epoch = (await publish(h, { to: { channel: 'x' }, data: 0 })).streams[0].epoch;
    const c = await TestClient.welcome(h.wsUrl, await h.token('r2', ['*']));
    c.send({ type: 'subscribe', channel: 'short', id: 1, since: { offset: 1, epoch } });
    const ack = await c.next((f) => f.id === 1);
    assert.equal(ack.recovered, false, 'offsets 2 and 3 were trimmed');
    c.send({ type: 'subscribe', channel: 'x', id: 2, since: { offset: 0, epoch: 'not-this-one' } });
    assert.equal((await c.next((f) => f.id === 2)).recovered, false);
    await settle(c);
    assert.deepEqual(
      c
        .messages()
        .filter((m) => m.stream === 'channel:short')
        .map((m) => m.offset),
      [4, 5],
      'what is retained still comes',
    );
    c.close();
  });

  it('the SDK resumes a channel across a reconnect, and a page reload resumes through storage', async () => {
    const h = await server();
    const storage = memoryStorage();
    const a = sdk(h, 'r3', { storage });
    const got = collect(a);
    await a.connect();
    await a.subscribe('live');
    const first = nextEvent(a, 'message', (m) => m.data === 1);
    await publish(h, { to: { channel: 'live' }, data: 1 });
    await first;
    a.close();
    await publish(h, { to: { channel: 'live' }, data: 2 });
    await publish(h, { to: { channel: 'live' }, data: 3 });
    // A new client with the same storage is the same page after a reload.
    const b = sdk(h, 'r3', { storage });
    const gotB = collect(b);
    await b.connect();
    const rec = nextEvent(b, 'recovery', (r) => r.channel === 'live');
    await b.subscribe('live');
    assert.equal((await rec).recovered, true);
    const fourth = nextEvent(b, 'message', (m) => m.data === 4);
    await publish(h, { to: { channel: 'live' }, data: 4 });
    await fourth;
    assert.deepEqual(
      got.map((m) => m.data),
      [1],
    );
    assert.deepEqual(
      gotB.map((m) => m.data),
      [2, 3, 4],
    );
  });
});

describe('a position beyond the top', () => {
  it('is answered recovered: false on every stream, and every later message arrives', async () => {
    const h = await server();
    for (const to of [{ user: 'b1' }, { all: true }, { channel: 'room' }]) for (let i = 1; i <= 3; i++) await publish(h, { to, data: i });
    const epoch = (await publish(h, { to: { channel: 'other' }, data: 0 })).streams[0].epoch as string;
    // Offsets this server never gave: corrupted storage, another deployment's values, or a store restored from a backup.
    const beyond = { offset: 50, epoch };
    const c = await TestClient.connect(h.wsUrl);
    c.send({ type: 'auth', token: await h.token('b1', ['*']), positions: { 'user:b1': beyond, broadcast: beyond } });
    const inbox = await c.next((f) => f.type === 'recovery' && f.stream === 'user:b1');
    assert.deepEqual([inbox.recovered, inbox.top, inbox.replay], [false, 3, 3], 'the inbox replays everything retained');
    const bc = await c.next((f) => f.type === 'recovery' && f.stream === 'broadcast');
    assert.deepEqual([bc.recovered, bc.top, bc.replay], [false, 3, 0], 'broadcast starts live');
    c.send({ type: 'subscribe', channel: 'room', id: 1, since: beyond });
    const sub = await c.next((f) => f.id === 1);
    assert.deepEqual([sub.recovered, sub.top, sub.replay], [false, 3, 0], 'a channel starts live');
    for (const to of [{ user: 'b1' }, { all: true }, { channel: 'room' }]) await publish(h, { to, data: 4 });
    await settle(c);
    const got = (stream: string) =>
      c
        .messages()
        .filter((m) => m.stream === stream)
        .map((m) => m.offset as number);
    assert.deepEqual(got('user:b1'), [1, 2, 3, 4]);
    assert.deepEqual(got('broadcast'), [4]);
    assert.deepEqual(got('channel:room'), [4]);
    c.close();
  });

  it('the SDK with a corrupted stored position drops it and misses nothing after it', async () => {
    const h = await server();
    const storage = memoryStorage();
    const a = sdk(h, 'b2', { storage });
    await a.connect();
    await a.subscribe('room');
    const last = nextEvent(a, 'message', (m) => m.stream === 'channel:room');
    for (const to of [{ user: 'b2' }, { all: true }, { channel: 'room' }]) await publish(h, { to, data: 'before' });
    await last;
    await acked(h, 'b2');
    a.close();
    // The stored positions are pushed past the top of their streams, in the same epoch.
    const key = `herald:positions:${h.wsUrl}`;
    const saved = JSON.parse(storage.getItem(key)!) as Record<string, { offset: number; epoch: string }>;
    assert.deepEqual(Object.keys(saved).sort(), ['broadcast', 'channel:room', 'user:b2']);
    for (const p of Object.values(saved)) p.offset += 1000;
    storage.setItem(key, JSON.stringify(saved));

    const b = sdk(h, 'b2', { storage });
    const got = collect(b);
    const recoveries: Record<string, boolean> = {};
    b.on('recovery', (r) => (recoveries[r.stream] = r.recovered));
    await b.connect();
    await b.subscribe('room');
    assert.deepEqual(recoveries, { 'user:b2': false, broadcast: false, 'channel:room': false });
    const arrived = nextEvent(b, 'message', (m) => m.stream === 'channel:room' && m.data === 'after');
    for (const to of [{ user: 'b2' }, { all: true }, { channel: 'room' }]) await publish(h, { to, data: 'after' });
    await arrived;
    await acked(h, 'b2');
    assert.deepEqual(
      got.map((m) => `${m.stream} ${String(m.data)}`),
      ['user:b2 after', 'broadcast after', 'channel:room after', 'user:b2 sync'],
    );
  });
});

describe('a slow consumer', () => {
  it('an SDK client that stopped reading is dropped, sees 1006, reconnects and resumes: every message once, in order', async () => {
    const h = await server({ limits: { maxBufferedBytes: 256 * 1024 } });
    const hub = h.server.context.hub;
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const c = sdk(h, 's1', { WebSocket: Tracked });
    const got = collect(c);
    const disconnected = nextEvent(c, 'disconnected', () => true, 30_000);
    await c.connect();
    const tcp = (sockets[0] as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const data = 'x'.repeat(32 * 1024);
    let n = 0;
    for (let delivered = 1; delivered > 0; n++) delivered = (await publish(h, { to: { user: 's1' }, data })).delivered as number;
    // It reads nothing until the server has given up on it: no close frame can reach it (docs/protocol.md, 4002).
    await hubChanged(hub, () => hub.connectionsOf('s1').size === 0);
    tcp.resume();
    assert.equal((await disconnected).code, 1006);
    const last = nextEvent(c, 'message', (m) => m.data === 'last', 30_000);
    await publish(h, { to: { user: 's1' }, data: 'last' });
    await last;
    assert.deepEqual(
      got.map((m) => m.offset),
      Array.from({ length: n + 1 }, (_, i) => i + 1),
      'what it had not received is replayed (its replay passes the limit: in two rounds, the first ended with 4006)',
    );
  });
});

describe('idempotent publish', () => {
  it('returns the first result to a retry and publishes once, also for concurrent retries', async () => {
    const h = await server();
    const c = await TestClient.welcome(h.wsUrl, await h.token('i1'));
    const body = { to: { user: 'i1' }, data: 'once', idempotencyKey: 'order-42' };
    const [a, b] = await Promise.all([publish(h, body), publish(h, body)]);
    const again = await publish(h, body);
    assert.deepEqual(a.streams, again.streams);
    assert.deepEqual(a.streams, b.streams);
    assert.equal([a, b].filter((r) => r.duplicate === true).length, 1);
    assert.equal(again.duplicate, true);
    await settle(c);
    assert.equal(c.messages().length, 1);
    const batch = await h.api('POST', '/api/publish/batch', { messages: [body, { ...body, idempotencyKey: 'order-43' }] });
    assert.equal(batch.body.results[0].duplicate, true);
    assert.equal(batch.body.results[1].duplicate, undefined);
    assert.equal(batch.body.results[1].streams[0].offset, 2);
    c.close();
  });
});

describe('delivery receipts', () => {
  it('answers delivered once a connection acknowledged, stored when nobody did in time', async () => {
    const h = await server();
    const c = sdk(h, 'd1');
    await c.connect();
    const ok = await publish(h, { to: { user: 'd1' }, data: 1, waitMs: 5000 });
    assert.equal(ok.status, 'delivered');
    assert.equal(ok.streams[0].status, 'delivered');
    const offline = await publish(h, { to: { user: 'nobody' }, data: 1, waitMs: 100 });
    assert.equal(offline.status, 'stored');
    const noWait = await publish(h, { to: { user: 'd1' }, data: 2 });
    assert.equal(noWait.status, 'stored');
    // A raw client that never acknowledges: delivered to the socket, but no receipt.
    const raw = await TestClient.welcome(h.wsUrl, await h.token('d2'));
    const silent = await publish(h, { to: { user: 'd2' }, data: 1, waitMs: 100 });
    assert.equal(silent.delivered, 1);
    assert.equal(silent.status, 'stored');
    raw.close();
  });

  it('refuses an ack past the top of the stream: it neither answers a receipt nor becomes the inbox position', async () => {
    const h = await server();
    const c = await TestClient.welcome(h.wsUrl, await h.token('d4'));
    const first = await publish(h, { to: { user: 'd4' }, data: 1 });
    const { offset, epoch } = first.streams[0]!;
    const errors = () => c.frames.filter((f) => f.type === 'error');
    c.send({ type: 'ack', stream: 'user:d4', offset: offset + 1000, epoch });
    await c.next(() => errors().length === 1);
    c.send({ type: 'ack', stream: 'user:d4', offset, epoch: 'another-epoch' });
    await c.next(() => errors().length === 2);
    assert.deepEqual(
      errors().map((e) => e.code),
      ['bad_request', 'bad_request'],
    );
    assert.equal(await h.server.context.store.getAck('d4'), undefined);
    // A true ack after them is taken: it answers a receipt and is the stored position.
    const waiting = publish(h, { to: { user: 'd4' }, data: 2, waitMs: 5000 });
    const msg = await c.next((f) => f.type === 'message' && f.data === 2);
    c.send({ type: 'ack', stream: 'user:d4', offset: Number(msg.offset), epoch });
    assert.equal((await waiting).status, 'delivered');
    assert.deepEqual(await h.server.context.store.getAck('d4'), { offset: Number(msg.offset), epoch });
    c.close();
  });

  it('refuses acks for streams the connection does not receive', async () => {
    const h = await server();
    const c = await TestClient.welcome(h.wsUrl, await h.token('d3'));
    c.send({ type: 'ack', stream: 'user:someone-else', offset: 1, epoch: 'x' });
    assert.equal((await c.next((f) => f.type === 'error')).code, 'forbidden');
    c.close();
  });
});
