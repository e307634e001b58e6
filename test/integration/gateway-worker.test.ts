import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { Feed, GwClient, PhpWorker, startGateway, type GwHerald } from '../helpers/gatewayworker.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(gateway = {}): Promise<{ h: GwHerald; worker: PhpWorker }> {
  const h = await startGateway(gateway);
  cleanups.push(() => h.close());
  const worker = await PhpWorker.start(h.register);
  cleanups.push(() => worker.stop());
  return { h, worker };
}

async function client(h: GwHerald, path = '/', headers: Record<string, string> = {}): Promise<GwClient & { id: string }> {
  const c = await GwClient.open(h, path, headers);
  cleanups.push(() => void c.ws.terminate());
  return c;
}

/** A raw TCP line client of the Register. */
async function registerLines(h: GwHerald, first: string): Promise<{ lines: Feed<string>; closed: Promise<unknown> }> {
  const s = connect(Number(h.register.split(':')[1]), '127.0.0.1');
  cleanups.push(() => void s.destroy());
  await once(s, 'connect');
  const lines = new Feed<string>();
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const closed = once(s, 'close');
  s.write(first);
  return { lines, closed };
}

describe('gateway: Register, inner port and client listener with a PHP BusinessWorker', () => {
  it("the Register announces the gateway's inner address, byte for byte as the original", async () => {
    const { h } = await setup();
    const { lines } = await registerLines(h, '{"event":"worker_connect","secret_key":""}\n');
    assert.equal(await lines.next(), `{"event":"broadcast_addresses","addresses":["127.0.0.1:${h.inner}"]}`);
  });

  it('the Register answers a bad line with an error line and closes; a wrong secret or unknown event closes silently', async () => {
    const { h } = await setup();
    const bad = await registerLines(h, 'not json\n');
    assert.match(await bad.lines.next(), /^Bad request for Register service/);
    await bad.closed;
    const wrong = await registerLines(h, '{"event":"worker_connect","secret_key":"nope"}\n');
    await wrong.closed;
    assert.equal(wrong.lines.items.length, 0);
    const unknown = await registerLines(h, '{"event":"who_knows"}\n');
    await unknown.closed;
    assert.equal(unknown.lines.items.length, 0);
  });

  it("forwards ON_CONNECT (its send arrives first), ON_WEBSOCKET_CONNECT with workerman 4's get/server/cookie, messages both ways and ON_CLOSE with the session", async () => {
    const { h, worker } = await setup();
    const c = await client(h, '/chat?uid=7&tags[]=a', { Cookie: 'PHPSESSID=abc; lang=zh%2Dcn', Origin: 'http://example.test' });
    const hello = JSON.parse(c.messages.items[0]!) as { client_id: string; server: Record<string, unknown> };
    assert.match(hello.client_id, /^7f000001[0-9a-f]{4}00000001$/);
    assert.equal(hello.client_id.slice(8, 12), h.inner.toString(16).padStart(4, '0'), 'client_id carries the inner port');
    assert.deepEqual(Object.keys(hello.server), ['REMOTE_ADDR', 'REMOTE_PORT', 'GATEWAY_ADDR', 'GATEWAY_PORT', 'GATEWAY_CLIENT_ID']);
    assert.equal(hello.server.REMOTE_ADDR, '127.0.0.1');
    assert.equal(hello.server.GATEWAY_PORT, h.client, 'GATEWAY_PORT is the public client port');
    assert.equal(hello.server.GATEWAY_CLIENT_ID, hello.client_id);

    const ws = JSON.parse(await c.messages.next((m) => m.includes('"event":"websocket"'))) as {
      data: { get: unknown; server: Record<string, string>; cookie: unknown };
      serialized: string;
    };
    assert.deepEqual(ws.data.get, { uid: '7', tags: ['a'] });
    assert.deepEqual(ws.data.cookie, { PHPSESSID: 'abc', lang: 'zh-cn' });
    const server = ws.data.server;
    assert.deepEqual(Object.keys(server).slice(0, 3), ['REQUEST_METHOD', 'REQUEST_URI', 'SERVER_PROTOCOL']);
    assert.equal(server.REQUEST_URI, '/chat?uid=7&tags[]=a');
    assert.equal(server.HTTP_HOST, `127.0.0.1:${h.client}`);
    const keys = Object.keys(server);
    assert.equal(keys[keys.indexOf('HTTP_HOST') + 1], 'SERVER_NAME');
    assert.equal(keys[keys.indexOf('HTTP_HOST') + 2], 'SERVER_PORT');
    assert.equal(server.SERVER_PORT, String(h.client));
    assert.equal(server.HTTP_ORIGIN, 'http://example.test');
    assert.equal(keys.at(-1), 'QUERY_STRING');
    assert.equal(server.QUERY_STRING, 'uid=7&tags[]=a');

    c.ws.send('hello');
    assert.equal(await c.messages.next((m) => m.startsWith('echo:')), 'echo:hello');
    c.ws.send(JSON.stringify({ set: { room: 'r1', n: 1 } }));
    c.ws.send(JSON.stringify({ show: 'session' }));
    assert.equal(await c.messages.next((m) => m.startsWith('{"room"')), '{"room":"r1","n":1}');
    await c.close();
    assert.equal(await worker.lines.next((l) => l.startsWith('close ')), `close ${hello.client_id} {"room":"r1","n":1}`);
  });

  it('SEND_TO_ONE reaches another client by client_id; raw sends skip the framing; an unknown client is a no-op', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    assert.notEqual(a.id, b.id);
    await a.call('sendToClient', b.id, 'for b');
    assert.equal(await b.messages.next((m) => m === 'for b'), 'for b');
    // A raw body is written as it is: here a complete WebSocket text frame made by the caller.
    await a.call('sendRawFrame', b.id, 'raw');
    assert.equal(await b.messages.next((m) => m === 'raw'), 'raw');
    const gone = `${b.id.slice(0, 12)}0000ffff`;
    assert.deepEqual((await a.call('sendToClient', gone, 'nobody')).result, true, 'bytes written, as the original');
    await a.call('isOnline', gone).then((r) => assert.equal(r.result, 0));
  });

  it('refuses clients while no worker is linked (the original drops them at connect)', async () => {
    const h = await startGateway();
    cleanups.push(() => h.close());
    const c = new GwClient(new (await import('ws')).default(`ws://127.0.0.1:${h.client}/`));
    const err = await once(c.ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode);
    assert.equal(err, 503);
  });
});
