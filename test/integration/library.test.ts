// The library entry (src/index.ts) in process: attached to an application's http.Server next to the application's
// own WebSocket server, and the options' checks. The installed package is tested in package.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ApiError, ConfigError, createHerald, type Herald, type HeraldOptions } from '../../src/index.ts';
import { API_KEY, TOKEN_SECRET } from '../helpers/herald.ts';
import { TestClient } from '../helpers/ws-client.ts';

const BASE: HeraldOptions = {
  host: '127.0.0.1',
  port: 0,
  line: { enabled: false },
  store: { type: 'memory' },
  logLevel: 'silent',
  apiKey: API_KEY,
  tokenSecret: TOKEN_SECRET,
};

describe('createHerald (the library)', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** An application server with its own `ws` endpoint on /app-ws, and Herald attached on /realtime. */
  async function app(): Promise<{ server: Server; herald: Herald; url: string }> {
    const holder: { herald?: Herald } = {};
    const server = createServer((req, res) => {
      if (holder.herald?.handleRequest(req, res)) return;
      res.end(`app ${req.method} ${req.url}`);
    });
    const own = new WebSocketServer({ noServer: true });
    own.on('connection', (ws) => ws.send('app socket'));
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/app-ws') own.handleUpgrade(req, socket, head, (ws) => own.emit('connection', ws, req));
    });
    const h = createHerald({ ...BASE, server, path: '/realtime' });
    holder.herald = h;
    await h.listen();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => own.close(),
      () => h.close(),
    );
    return { server, herald: h, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  it("attached: Herald's endpoint and API on the application's port, the application's routes and WebSocket untouched", async () => {
    const { herald, url } = await app();
    assert.equal(herald.url, url);
    assert.equal(herald.wsUrl, `${url.replace('http', 'ws')}/realtime`);

    const client = await TestClient.welcome(herald.wsUrl, await herald.token('42'));
    cleanups.push(() => client.close());
    const res = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: { user: '42' }, data: 'via the app port' }),
    });
    assert.equal(res.status, 200);
    assert.equal((await client.next((f) => f.type === 'message')).data, 'via the app port');
    const direct = await herald.publish({ to: { user: '42' }, event: 'note', data: { n: 2 } });
    assert.equal(direct.delivered, 1);
    assert.deepEqual((await client.next((f) => f.type === 'message' && f.event === 'note')).data, { n: 2 });

    // The application's own WebSocket server, on the same 'upgrade' event, still gets its path.
    const appWs = new WebSocket(`${url.replace('http', 'ws')}/app-ws`);
    const [first] = (await once(appWs, 'message')) as [Buffer];
    assert.equal(first.toString(), 'app socket');
    appWs.close();

    assert.equal(await (await fetch(`${url}/anything`)).text(), 'app GET /anything');
    assert.equal(await (await fetch(`${url}/ws`)).text(), 'app GET /ws', "Herald's own paths are the application's when attached");
    assert.equal((await fetch(`${url}/api/stats`)).status, 401, 'the API checks the key as on its own port');
  });

  it('attached: close() tells clients to reconnect and leaves the application serving', async () => {
    const { herald, url } = await app();
    const client = await TestClient.welcome(herald.wsUrl, await herald.token('7'));
    await herald.close();
    assert.equal(await client.closed(), 4000);
    assert.equal(await (await fetch(`${url}/after`)).text(), 'app GET /after');
  });

  it('publish rejects with the API error of POST /api/publish; a bad option is a ConfigError', async () => {
    const herald = createHerald(BASE);
    cleanups.push(() => herald.close());
    await herald.listen();
    await assert.rejects(
      herald.publish({ to: { user: '' }, data: 1 }),
      (err: unknown) => err instanceof ApiError && err.status === 400 && err.code === 'unknown_target',
    );
    assert.throws(
      () => createHerald({ ...BASE, apiKey: 'short' }),
      (err: unknown) => err instanceof ConfigError && /apiKey must be at least 16 characters/.test(err.message),
    );
    await assert.rejects(herald.token(''), TypeError);
  });
});
