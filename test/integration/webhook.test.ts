import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { signWebhook } from '../../src/core/upstream.ts';
import { RawWsClient, SioClient, startCompat } from '../helpers/compat.ts';
import { API_KEY, startHerald, type TestHerald } from '../helpers/herald.ts';
import { TestClient } from '../helpers/ws-client.ts';

interface Received {
  body: any;
  raw: string;
  headers: IncomingMessage['headers'];
}

/** A real backend on port 0 whose answer each test chooses. */
async function backend(
  answer: (r: Received, res: ServerResponse) => void,
): Promise<{ url: string; calls: Received[]; next(pred: (r: Received) => boolean): Promise<Received>; server: Server }> {
  const calls: Received[] = [];
  const waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const r = { body: JSON.parse(raw), raw, headers: req.headers };
      calls.push(r);
      for (const w of [...waiters]) if (w.pred(r)) w.resolve(r);
      answer(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    server,
    next: (pred) => {
      const seen = calls.find(pred);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

describe('upstream webhook', () => {
  let h: TestHerald;
  let b: Awaited<ReturnType<typeof backend>>;
  const hang: ServerResponse[] = [];

  before(async () => {
    b = await backend((r, res) => {
      if (r.body.type !== 'message') return res.end();
      const d = r.body.data;
      if (d === 'fail') {
        res.statusCode = 500;
        return res.end('boom');
      }
      if (d === 'html') return res.end('<html>');
      if (d === 'hang') return void hang.push(res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ echo: d, user: r.body.user }));
    });
    h = await startHerald({ webhook: { url: b.url, timeoutMs: 500, events: ['connect', 'disconnect'] } });
  });
  after(async () => {
    for (const res of hang) res.end();
    await h.close();
    b.server.close();
    b.server.closeAllConnections();
  });

  it('posts a signed message and returns the backend reply to the sender', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('u1'));
    c.send({ type: 'send', id: 7, event: 'chat', data: { text: 'hello' } });
    const reply = await c.next((f) => f.id === 7);
    assert.deepEqual(reply, { type: 'reply', id: 7, data: { echo: { text: 'hello' }, user: 'u1' } });
    const call = await b.next((r) => r.body.type === 'message');
    assert.equal(call.body.event, 'chat');
    assert.equal(call.body.transport, 'native');
    const ts = String(call.headers['x-herald-timestamp']);
    // The default webhook secret is the API key.
    assert.equal(call.headers['x-herald-signature'], signWebhook(API_KEY, ts, call.raw));
    assert.notEqual(call.headers['x-herald-signature'], signWebhook('wrong-secret-xxxxxxxx', ts, call.raw));
    c.close();
  });

  it('maps backend failures to error frames with the send id', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('u2'));
    c.send({ type: 'send', id: 1, data: 'fail' });
    c.send({ type: 'send', id: 2, data: 'html' });
    c.send({ type: 'send', id: 3, data: 'hang' });
    assert.equal((await c.next((f) => f.id === 1)).code, 'upstream_failed');
    assert.equal((await c.next((f) => f.id === 2)).code, 'upstream_failed');
    assert.equal((await c.next((f) => f.id === 3)).code, 'upstream_timeout');
    c.close();
  });

  it('posts connect and disconnect events with the session id', async () => {
    const c = await TestClient.welcome(h.wsUrl, await h.token('u3'));
    const session = c.frames[0]!.session as string;
    const conn = await b.next((r) => r.body.type === 'connect' && r.body.session === session);
    assert.equal(conn.body.user, 'u3');
    c.close();
    const disc = await b.next((r) => r.body.type === 'disconnect' && r.body.session === session);
    assert.equal(disc.body.user, 'u3');
  });
});

describe('upstream webhook: connect and disconnect events of every transport', () => {
  it('posts them once per connection for the 1234 port and Socket.IO too, and none for a page that never logs in', async () => {
    const b = await backend((_r, res) => res.end());
    const h = await startCompat({}, { webhook: { url: b.url, timeoutMs: 500, events: ['connect', 'disconnect'] } });
    try {
      const raw = await RawWsClient.login(h, 'w-raw');
      const rawConnect = await b.next((r) => r.body.type === 'connect' && r.body.user === 'w-raw');
      assert.equal(rawConnect.body.transport, 'websocket');
      const anon = SioClient.create(4, h.ports.socketio, undefined);
      await anon.connected;
      const sio = await SioClient.login(h, 4, 'w-sio');
      const sioConnect = await b.next((r) => r.body.type === 'connect' && r.body.user === 'w-sio');
      assert.equal(sioConnect.body.transport, 'socketio');
      await raw.close();
      sio.close();
      anon.close();
      await b.next((r) => r.body.type === 'disconnect' && r.body.session === rawConnect.body.session);
      await b.next((r) => r.body.type === 'disconnect' && r.body.session === sioConnect.body.session);
      // Every connection was announced exactly once, and the anonymous page not at all.
      const events = b.calls.filter((r) => r.body.type === 'connect' || r.body.type === 'disconnect');
      assert.deepEqual(events.map((r) => `${r.body.type} ${r.body.user}`).sort(), ['connect w-raw', 'connect w-sio', 'disconnect w-raw', 'disconnect w-sio']);
    } finally {
      await h.close();
      b.server.close();
      b.server.closeAllConnections();
    }
  });
});
