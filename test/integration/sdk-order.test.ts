// The SDK against a scripted server that sends a stream out of order, with repeats and with a gap that never
// closes on its own: the application must get every message once, in offset order, and no ack may pass a message
// the application has not been handed.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import type { HeraldMessage } from '../../client/index.ts';
import { encodeMessage, encodeRecovery, encodeWelcome } from '../../src/protocol/frames.ts';
import { nextEvent, sdkClient } from '../helpers/sdk.ts';

const STREAM = 'user:u';
const EPOCH = 'e1';

interface Conn {
  ws: WebSocket;
  /** The auth frame's positions (what the client resumes from). */
  positions: Record<string, { offset: number; epoch: string }> | undefined;
}

interface Scripted {
  url: string;
  conns: Conn[];
  nextConn(): Promise<Conn>;
  /** Every ack received, with how many messages the application had been handed when it arrived. */
  acks: { offset: number; handed: number }[];
  nextAck(pred: (offset: number) => boolean): Promise<void>;
  close(): Promise<void>;
}

/** A WebSocket server that welcomes each connection and lets the test write frames to it. */
async function scripted(handedNow: () => number): Promise<Scripted> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const conns: Conn[] = [];
  const waiting: ((c: Conn) => void)[] = [];
  const acks: Scripted['acks'] = [];
  const ackWaiters: { pred: (offset: number) => boolean; resolve: () => void }[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { type: string; positions?: Conn['positions']; offset?: number };
      if (f.type === 'auth') {
        const conn: Conn = { ws, positions: f.positions };
        conns.push(conn);
        ws.send(encodeWelcome({ session: `s${conns.length}`, user: 'u', heartbeat: 25_000 }));
        const at = f.positions?.[STREAM]?.offset ?? 0;
        ws.send(encodeRecovery({ stream: STREAM, recovered: true, epoch: EPOCH, top: at, replay: 0 }));
        waiting.shift()?.(conn);
      } else if (f.type === 'ack') {
        acks.push({ offset: f.offset!, handed: handedNow() });
        for (const w of [...ackWaiters]) {
          if (!w.pred(f.offset!)) continue;
          ackWaiters.splice(ackWaiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    conns,
    acks,
    nextConn: () => new Promise((resolve) => waiting.push(resolve)),
    nextAck: (pred) => (acks.some((a) => pred(a.offset)) ? Promise.resolve() : new Promise((resolve) => ackWaiters.push({ pred, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

const send = (c: Conn, offset: number) => c.ws.send(encodeMessage(STREAM, offset, EPOCH, JSON.stringify({ n: offset })));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(gapTimeoutMs = 60_000) {
  const got: HeraldMessage[] = [];
  const server = await scripted(() => got.at(-1)?.offset ?? 0);
  cleanups.push(() => server.close());
  const client = sdkClient({ url: server.url, token: 't', ackIntervalMs: 5, gapTimeoutMs });
  cleanups.push(() => client.close());
  client.on('message', (m) => got.push(m));
  const first = server.nextConn();
  await client.connect();
  return { server, client, got, conn: await first };
}

/** Waits until the application was handed `n` messages. */
async function handed(client: ReturnType<typeof sdkClient>, got: HeraldMessage[], n: number): Promise<void> {
  if (got.length < n) await nextEvent(client, 'message', () => got.length >= n);
}

describe('SDK: order within a stream', () => {
  it('hands on a shuffled stream with repeats once each, in offset order, and acks only what it handed on', async () => {
    const { server, client, got, conn } = await setup();
    for (const o of [1, 3, 2, 5, 4, 4, 2, 6, 9, 8, 7, 10, 10]) send(conn, o);
    await handed(client, got, 10);
    assert.deepEqual(
      got.map((m) => m.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(
      got.map((m) => (m.data as { n: number }).n),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    await server.nextAck((o) => o === 10);
    for (const a of server.acks) assert.ok(a.offset <= a.handed, `ack ${a.offset} sent after only ${a.handed} were handed on`);
    assert.deepEqual(client.positions()[STREAM], { offset: 10, epoch: EPOCH });
  });

  it('holds messages past a gap, never acks past it, and resumes from before it when the gap stays open', async () => {
    const { server, client, got, conn } = await setup(150);
    for (const o of [1, 2, 4, 5]) send(conn, o);
    await handed(client, got, 2);
    const second = server.nextConn();
    const resumed = nextEvent(client, 'disconnected', (d) => d.willReconnect, 5000);
    // 3 never comes on this connection: after the gap timeout the client reconnects and resumes after 2.
    const d = await resumed;
    assert.equal(d.code, 4006);
    const c2 = await second;
    assert.deepEqual(c2.positions?.[STREAM], { offset: 2, epoch: EPOCH }, 'resumes from the last message handed on');
    assert.deepEqual(
      got.map((m) => m.offset),
      [1, 2],
      '4 and 5 were held, not handed on',
    );
    assert.ok(
      server.acks.every((a) => a.offset <= 2),
      'no ack passed the gap',
    );
    for (const o of [3, 4, 5]) send(c2, o);
    await handed(client, got, 5);
    assert.deepEqual(
      got.map((m) => m.offset),
      [1, 2, 3, 4, 5],
    );
  });

  it('a late message closes the gap before the timeout, with no reconnect', async () => {
    const { server, client, got, conn } = await setup(60_000);
    let reconnected = false;
    client.on('disconnected', () => (reconnected = true));
    for (const o of [1, 3, 4]) send(conn, o);
    await handed(client, got, 1);
    send(conn, 2);
    await handed(client, got, 4);
    assert.deepEqual(
      got.map((m) => m.offset),
      [1, 2, 3, 4],
    );
    assert.equal(reconnected, false);
    assert.equal(server.conns.length, 1);
  });

  it('a recovery frame that moves the position past a gap (history trimmed) releases what was held', async () => {
    const { client, got, conn } = await setup();
    send(conn, 1);
    send(conn, 5);
    await handed(client, got, 1);
    // The server says the stream now continues after 4 (2-4 are gone): 5 is next.
    const recovery = nextEvent(client, 'recovery', (r) => r.stream === STREAM && !r.recovered);
    conn.ws.send(encodeRecovery({ stream: STREAM, recovered: false, epoch: EPOCH, top: 4, replay: 0 }));
    await recovery;
    await handed(client, got, 2);
    assert.deepEqual(
      got.map((m) => m.offset),
      [1, 5],
    );
  });
});
