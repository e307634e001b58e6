import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { SioClient, startCompat, type CompatHerald } from '../helpers/compat.ts';
import { onlineCountText } from '../../src/transports/socketio/online-count.ts';

/**
 * web-msg-sender's page flow (connect, `login` uid, `update_online_count`, `new_msg` after a push on 2121) with
 * socket.io-client 1.3.7 (the README's), 1.7.4, 2.x and 4.x from npm, over each transport they have.
 *
 * In Node the 1.x clients poll in base64 text mode (their Node XMLHttpRequest has no `responseType`), the mode
 * whose non-ASCII text they misread before; browsers poll in binary mode, the mode in which 1.3.7 looped on its
 * handshake: test/browser/socketio-legacy.test.ts runs 1.3.7 in Chromium, and the raw test below checks the bytes.
 * package.json `overrides` swap only the 1.x clients' Node stand-ins for browser APIs (XMLHttpRequest, `ws`) for
 * registry versions that install and run on Node 20; their Socket.IO and Engine.IO code is as published.
 */
const require = createRequire(import.meta.url);
type Io = (url: string, opts: Record<string, unknown>) => OldSocket;
const CLIENTS: Record<string, Io> = {
  '1.3.7': require('socket.io-client-v1-3') as Io,
  '1.7.4': require('socket.io-client-v1-7') as Io,
  '2.x': ioV2 as unknown as Io,
  '4.x': ioV4 as unknown as Io,
};

/** What every socket.io-client version from 1.x to 4.x offers (component-emitter or the 4.x emitter). */
interface OldSocket {
  connected: boolean;
  on(event: string, fn: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  close(): unknown;
  io: { engine: { transport: { name: string }; once(event: string, fn: () => void): unknown } };
}

/** Resolves with the first value of `event` matching `pred` (an event, not a poll). */
function nextEvent<T>(socket: OldSocket, event: string, pred: (v: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    socket.on(event, (v: T) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      resolve(v);
    });
  });
}

async function push2121(h: CompatHerald, params: Record<string, string>): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.ports.httpPush}/`, { method: 'POST', body: new URLSearchParams(params) });
  return res.text();
}

describe('compat: socket.io-client 1.3.7, 1.7.4, 2.x and 4.x on the Socket.IO port', () => {
  let h: CompatHerald;
  before(async () => {
    h = await startCompat({ onlineCountIntervalMs: 100 });
  });
  after(() => h.close());

  const transports: { name: string; opts: Record<string, unknown>; expect: string }[] = [
    { name: 'polling', opts: { transports: ['polling'] }, expect: 'polling' },
    { name: 'websocket', opts: { transports: ['websocket'] }, expect: 'websocket' },
    { name: 'default (polling, then upgrade)', opts: {}, expect: 'websocket' },
  ];
  for (const version of Object.keys(CLIENTS)) {
    for (const t of transports) {
      it(`${version}, ${t.name}: login, update_online_count, new_msg (escaped and non-ASCII)`, async () => {
        const uid = `u-${version}-${t.expect}-${Object.keys(t.opts).length}`;
        const hub = h.server.context.hub;
        await h.hubChanged(() => hub.connectionCount === 0);
        const socket = CLIENTS[version]!(`http://127.0.0.1:${h.ports.socketio}`, { forceNew: true, reconnection: false, ...t.opts });
        try {
          const upgraded = t.name.startsWith('default') ? new Promise<void>((resolve) => socket.io.engine.once('upgrade', resolve)) : undefined;
          socket.on('connect', () => socket.emit('login', uid));
          const errors: unknown[] = [];
          socket.on('error', (e: unknown) => errors.push(e));
          // The login's own answer carries 1 user / 1 page; Chinese text, which 1.x clients misread before.
          const loginCount = nextEvent<string>(socket, 'update_online_count', (s) => s === onlineCountText(1, 1));
          await h.hubChanged(() => hub.connectionsOf(uid).size === 1);
          assert.equal(await loginCount, onlineCountText(1, 1));
          if (upgraded !== undefined) await upgraded;
          assert.equal(socket.io.engine.transport.name, t.expect);
          const escaped = nextEvent<string>(socket, 'new_msg');
          assert.equal(await push2121(h, { type: 'publish', to: uid, content: '<b>hi "a" & \'x\'</b>' }), 'ok');
          assert.equal(await escaped, '&lt;b&gt;hi &quot;a&quot; &amp; &#039;x&#039;&lt;/b&gt;');
          const chinese = nextEvent<string>(socket, 'new_msg', (m) => m !== '&lt;b&gt;hi &quot;a&quot; &amp; &#039;x&#039;&lt;/b&gt;');
          assert.equal(await push2121(h, { type: 'publish', content: '消息内容 ✓ 😀' }), 'ok');
          assert.equal(await chinese, '消息内容 ✓ 😀');
          assert.deepEqual(errors, [], 'no parser error on the client');
          assert.equal(socket.connected, true);
        } finally {
          socket.close();
          await h.hubChanged(() => hub.connectionCount === 0);
        }
      });
    }
  }

  it('answers an EIO=3 poll of a binary-capable client (no b64) in binary framing, as 1.3.x needs', async () => {
    const res = await rawBytes(h.ports.socketio, 'GET /socket.io/?EIO=3&transport=polling&t=1-0 HTTP/1.0\r\nHost: x\r\n\r\n');
    const split = res.indexOf('\r\n\r\n');
    const head = res.subarray(0, split).toString('latin1');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /content-type: application\/octet-stream/i, 'socket.io-client 1.3.x reads any other type as the string "ok"');
    const body = res.subarray(split + 4);
    const sep = body.indexOf(0xff);
    assert.equal(body[0], 0, 'a string packet');
    const length = Number([...body.subarray(1, sep)].join(''));
    const packet = body.subarray(sep + 1).toString('utf8');
    assert.equal(Buffer.byteLength(packet), length);
    assert.match(packet, /^0\{"sid":"[^"]+","upgrades":\["websocket"\]/);
  });
});

/** One raw HTTP exchange, the answer's bytes as they came (HTTP/1.0: the server closes after it). */
async function rawBytes(port: number, request: string): Promise<Buffer> {
  const socket = netConnect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.write(request);
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

/** A raw EIO=3 polling handshake that never comes back: one turn of 1.3.7's loop. Resolves with the response. */
async function phantomHandshake(h: CompatHerald, eio = 3): Promise<{ status: number; body: string }> {
  const text = (await rawBytes(h.ports.socketio, `GET /socket.io/?EIO=${eio}&transport=polling&t=1-0 HTTP/1.0\r\nHost: x\r\n\r\n`)).toString('utf8');
  return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

const errorsOf = async (h: CompatHerald): Promise<Record<string, number>> =>
  ((await h.api('GET', '/api/stats')).body as { errors: Record<string, number> }).errors;

describe('compat: Socket.IO handshake and anonymous-session bounds', () => {
  it('throttles a client looping on handshakes from one address and reaps the sessions it never came back to', async () => {
    const h = await startCompat({ handshakeTimeoutMs: 300, socketio: { maxHandshakesPerAddress: 6, handshakeWindowMs: 3_600_000 } });
    try {
      const hub = h.server.context.hub;
      // A client that does come back (1.3.7 over polling, never logging in) opens first, so its deadline passes first.
      const legit = CLIENTS['1.3.7']!(`http://127.0.0.1:${h.ports.socketio}`, { forceNew: true, reconnection: false, transports: ['polling'] });
      await nextEvent(legit, 'connect');
      const answers = [];
      for (let i = 0; i < 8; i++) answers.push(await phantomHandshake(h));
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200, 200, 403, 403, 403],
      );
      assert.deepEqual(JSON.parse(answers[7]!.body), { code: 4, message: 'too many Socket.IO handshakes from this address (more than 6 in 3600000 ms)' });
      assert.equal(hub.connectionCount, 6, 'the client and five phantoms, anonymous');
      // Reaped when handshakeTimeoutMs passes without a second request; the client that polled stays.
      await h.hubChanged(() => hub.connectionCount === 1);
      assert.equal(legit.connected, true);
      assert.equal(legit.io.engine.transport.name, 'polling');
      const errors = await errorsOf(h);
      assert.equal(errors.socketio_handshake_rate, 3);
      assert.equal(errors.socketio_phantom_session, 5);
      const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${h.apiKey}` } })).text();
      assert.match(metrics, /herald_errors_total\{code="socketio_phantom_session"\} 5/);
      legit.close();
    } finally {
      await h.close();
    }
  });

  it('a refused client retries only on its reconnection backoff: handshakes = attempts, never a loop', async () => {
    const h = await startCompat({ socketio: { maxHandshakesPerAddress: 1, handshakeWindowMs: 3_600_000 } });
    try {
      assert.equal((await phantomHandshake(h)).status, 200, 'the one handshake allowed');
      for (const version of ['1.3.7', '1.7.4', '2.x', '4.x']) {
        const before = (await errorsOf(h)).socketio_handshake_rate ?? 0;
        const socket = CLIENTS[version]!(`http://127.0.0.1:${h.ports.socketio}`, {
          forceNew: true,
          reconnectionAttempts: 3,
          reconnectionDelay: 1,
          reconnectionDelayMax: 5,
          transports: ['polling'],
        });
        // 4.x emits reconnect_failed on the Manager only; 1.x and 2.x on the socket too.
        await new Promise<void>((resolve) => (socket.io as unknown as OldSocket).on('reconnect_failed', () => resolve()));
        const refused = ((await errorsOf(h)).socketio_handshake_rate ?? 0) - before;
        assert.equal(refused, 4, `${version}: the first attempt and 3 reconnections, each refused once`);
        assert.equal(socket.connected, false);
        socket.close();
      }
    } finally {
      await h.close();
    }
  });

  it('bounds the sessions one address holds without logging in; a login frees a place', async () => {
    const h = await startCompat({ socketio: { maxAnonymousPerAddress: 2 } });
    try {
      const a = SioClient.create(4, h.ports.socketio, undefined);
      const b = SioClient.create(2, h.ports.socketio, undefined);
      await Promise.all([a.connected, b.connected]);
      const refused = await phantomHandshake(h, 4);
      assert.equal(refused.status, 403);
      assert.deepEqual(JSON.parse(refused.body), { code: 4, message: 'too many Socket.IO sessions without login from this address (2)' });
      assert.equal((await errorsOf(h)).socketio_anonymous_sessions, 1);
      a.socket.emit('login', 'now-known');
      await h.hubChanged(() => h.server.context.hub.connectionsOf('now-known').size === 1);
      assert.equal((await phantomHandshake(h, 4)).status, 200);
      a.close();
      b.close();
    } finally {
      await h.close();
    }
  });
});
