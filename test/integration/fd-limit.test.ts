import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { TokenService } from '../../src/auth/tokens.ts';
import { ConnectionLimits } from '../../src/net/limits.ts';
import { API_KEY, TOKEN_SECRET } from '../helpers/herald.ts';
import { runHerald } from '../helpers/process.ts';
import { TestClient } from '../helpers/ws-client.ts';

type LogLine = Record<string, unknown>;
const REFUSING = /connection limit reached/;

/** The real binary under `ulimit -n`, following its JSON log. */
function startLimited(fdLimit: number, dataDir: string) {
  return runHerald(
    ['start', '--port', '0', '--line-port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
    { HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET },
    { fdLimit },
  );
}

/** One request over the agent's single keep-alive socket; `reused` tells whether it was the socket opened first. */
function call(agent: Agent, url: string, method: string, body?: unknown): Promise<{ status: number; text: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('connections at the open-file limit', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-fd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses and logs past the limit, keeps serving the connections it has, and admits again once some close', async () => {
    const p = startLimited(200, join(dir, 'data'));
    const tokens = new TokenService(TOKEN_SECRET);
    const clients: TestClient[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ready = await p.waitLog((l) => typeof l.http === 'string');
      const url = ready.http as string;
      const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
      const connectAs = async (user: string): Promise<TestClient | undefined> => {
        try {
          return await TestClient.welcome(wsUrl, await tokens.sign(user, { ttlSeconds: 600 }));
        } catch {
          return undefined; // refused: reset during the handshake
        }
      };

      // A publish needs a connection to the API, and at the limit a new one is refused like any other. So the API
      // connection is opened first and kept (one keep-alive socket): it is one of the existing connections that
      // must still be served. Opened just before the flood, which takes far less than the 5 s keep-alive timeout.
      assert.equal((await call(agent, `${url}/api/publish`, 'POST', { to: { user: 'nobody' }, data: 0 })).status, 200);

      let refusals = 0;
      for (let i = 0; refusals === 0; i++) {
        assert.ok(i < 1000, 'no connection was refused: is the limit applied?');
        const c = await connectAs(`u${i}`);
        if (c) clients.push(c);
        else refusals++;
      }
      // A few more, to see them refused too and the log line not repeated for each.
      for (let i = 0; i < 3; i++) {
        assert.equal(await connectAs('late'), undefined, 'a connection past the limit was admitted');
        refusals++;
      }
      const admitted = clients.length;

      const warning = await p.waitLog((l) => REFUSING.test(String(l.msg)));
      assert.equal(warning.level, 40, 'logged at warn');
      assert.equal(warning.refused, 1, 'the first refusal is logged at once');
      assert.equal(warning.fdLimit, 200);
      // Refused exactly at the budget: the WebSocket clients plus the API connection.
      assert.equal(warning.maxConnections, admitted + 1);
      assert.ok(admitted > 50, `only ${admitted} connections fit under ulimit -n 200`);
      assert.equal(p.child.exitCode, null, 'still running');

      // The earliest client still receives, published over the API connection held from before the limit.
      const pub = await call(agent, `${url}/api/publish`, 'POST', { to: { user: 'u0' }, data: { at: 'limit' } });
      assert.deepEqual([pub.status, pub.reused], [200, true], pub.text);
      assert.deepEqual((await clients[0]!.next((f) => f.type === 'message')).data, { at: 'limit' });
      const metrics = await call(agent, `${url}/metrics`, 'GET');
      assert.match(metrics.text, new RegExp(`^herald_connections_refused_total ${refusals}$`, 'm'));

      // Closing five frees five places, and only five. The server sees a close shortly after the client does, so a
      // first attempt may still be refused; each attempt is a full round trip, no timer.
      const closing = clients.splice(1, 5);
      for (const c of closing) c.close();
      await Promise.all(closing.map((c) => c.closed()));
      let attempts = 0;
      while (clients.length < admitted) {
        assert.ok(++attempts < 500, 'connections are still refused after clients closed');
        const c = await connectAs(`again${attempts}`);
        if (c) clients.push(c);
      }
      assert.equal(await connectAs('one-too-many'), undefined, 'more admitted than were freed');
      assert.equal(p.child.exitCode, null, 'still running');
    } finally {
      for (const c of clients) c.ws.terminate();
      agent.destroy();
      p.child.kill('SIGTERM');
      await p.exited;
      await p.stdoutDone;
    }
    // At most one line per 10 s for all those refusals (in a normal run, which is shorter than that: one line).
    const times = p.logs.filter((l) => REFUSING.test(String(l.msg))).map((l) => l.time as number);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 10_000, `log lines ${times[i]! - times[i - 1]!} ms apart`);
  });

  it('logs refusals at most once per window, with the count since the previous line', async () => {
    const lines: LogLine[] = [];
    const waiters: (() => void)[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()) as LogLine);
          for (const w of waiters.splice(0)) w();
          done();
        },
      }),
    );
    const limits = new ConnectionLimits(() => undefined, 1000);
    limits.logTo(log);
    // Admitted connections echo, so a byte coming back proves the server has counted the connection.
    const server: Server = createServer((s) => s.on('error', () => {}).pipe(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    limits.enrol(server);
    limits.maxConnections = 1; // the budget an fd limit would give, chosen here
    const port = (server.address() as AddressInfo).port;
    const attempt = (): Promise<{ result: 'echoed' | 'reset'; end: () => void }> =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.once('data', () => resolve({ result: 'echoed', end: () => s.destroy() }));
        s.once('close', () => resolve({ result: 'reset', end: () => {} }));
        s.write('x');
      });
    try {
      const first = await attempt();
      assert.equal(first.result, 'echoed');
      assert.equal(limits.open, 1);
      const results = [await attempt(), await attempt(), await attempt()].map((a) => a.result);
      assert.deepEqual(results, ['reset', 'reset', 'reset']);
      assert.equal(limits.refused, 3);
      assert.deepEqual(
        lines.map((l) => l.refused),
        [1],
        'one line at the first refusal, the next two wait for the window',
      );
      await new Promise<void>((r) => waiters.push(r));
      assert.deepEqual(
        lines.map((l) => l.refused),
        [1, 2],
      );
      first.end();
    } finally {
      server.close();
    }
  });
});
