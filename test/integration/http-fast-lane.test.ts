// The HTTP fast lane (src/api/http/fast-lane.ts) answers publish requests from the socket and hands every other
// request, with its connection, to Node's HTTP server. These tests speak raw HTTP/1.1 over one socket so that
// pipelining, split packets and the hand-over are exercised exactly as a client would produce them.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { API_KEY, perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { TestClient } from '../helpers/ws-client.ts';

const { server, cleanups } = perTestCleanup(afterEach);

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw HTTP/1.1 connection that parses the responses it reads, in order. */
class RawHttp {
  private buf = Buffer.alloc(0);
  private readonly responses: RawResponse[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  static async open(h: TestHerald): Promise<RawHttp> {
    const socket = connect({ host: '127.0.0.1', port: h.server.port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new RawHttp(socket);
    cleanups.push(() => void socket.destroy());
    return c;
  }

  send(text: string | Buffer): this {
    this.socket.write(text);
    return this;
  }

  /** Resolves with the next `n` responses (or fails if the connection closes first). */
  async read(n: number): Promise<RawResponse[]> {
    while (this.responses.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.responses.length}/${n} responses`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.responses.splice(0, n);
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine, ...lines] = this.buf.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let bodyEnd: number;
      let body: string;
      if (headers['transfer-encoding'] === 'chunked') {
        const parts: string[] = [];
        let p = end + 4;
        for (;;) {
          const lineEnd = this.buf.indexOf('\r\n', p);
          if (lineEnd === -1) return;
          const size = parseInt(this.buf.toString('latin1', p, lineEnd), 16);
          if (this.buf.length < lineEnd + 2 + size + 2) return;
          parts.push(this.buf.toString('utf8', lineEnd + 2, lineEnd + 2 + size));
          p = lineEnd + 2 + size + 2;
          if (size === 0) break;
        }
        bodyEnd = p;
        body = parts.join('');
      } else {
        const len = Number(headers['content-length'] ?? 0);
        if (this.buf.length < end + 4 + len) return;
        bodyEnd = end + 4 + len;
        body = this.buf.toString('utf8', end + 4, bodyEnd);
      }
      this.responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
      this.buf = this.buf.subarray(bodyEnd);
    }
  }
}

const post = (path: string, body: string, extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const publishBody = (user: string, i: number): string => JSON.stringify({ to: { user }, data: { i } });

describe('HTTP fast lane', () => {
  test('pipelined publishes are answered in order, with the same JSON as the Node path', async () => {
    const h = await server();
    const c = await RawHttp.open(h);
    c.send(
      post('/api/publish', publishBody('ann', 1)) +
        post('/api/publish', publishBody('ann', 2)) +
        post('/api/publish/batch', JSON.stringify({ messages: [{ to: { user: 'ann' }, data: 3 }] })),
    );
    const [a, b, batch] = await c.read(3);
    assert.equal(a!.status, 200);
    assert.equal(a!.headers['content-type'], 'application/json');
    assert.equal(a!.headers.connection, 'keep-alive');
    assert.equal(JSON.parse(a!.body).streams[0].offset, 1);
    assert.equal(JSON.parse(b!.body).streams[0].offset, 2);
    assert.equal(JSON.parse(batch!.body).results[0].streams[0].offset, 3);
    // The same request through Node's server (a query string sends it there) gets the same shape of answer.
    const viaNode = await h.api('POST', '/api/publish?via=node', { to: { user: 'ann' }, data: 4 });
    assert.deepEqual(Object.keys(viaNode.body), Object.keys(JSON.parse(a!.body)));
    assert.equal(viaNode.body.streams[0].offset, 4);
  });

  test('a request split into one-byte packets is served', async () => {
    const h = await server();
    const client = await TestClient.welcome(h.wsUrl, await h.token('bob'));
    cleanups.push(() => client.close());
    const c = await RawHttp.open(h);
    c.socket.setNoDelay(true);
    const bytes = Buffer.from(post('/api/publish', publishBody('bob', 7)));
    for (let i = 0; i < bytes.length; i++) {
      c.send(bytes.subarray(i, i + 1));
      // Each byte in its own write, and each write drained, so the server sees many small reads.
      if (!c.socket.write(Buffer.alloc(0))) await new Promise((r) => c.socket.once('drain', r));
    }
    const [r] = await c.read(1);
    assert.equal(r!.status, 200);
    assert.equal(JSON.parse(r!.body).delivered, 1);
    const m = await client.next((f) => f.type === 'message');
    assert.deepEqual(m.data, { i: 7 });
  });

  test('errors carry the same status, code and message as through the Node path', async () => {
    const h = await server();
    const cases: { body: string; auth?: boolean }[] = [
      { body: '{not json' },
      { body: '[1,2]' },
      { body: JSON.stringify({ to: { planet: 'x' }, data: 1 }) },
      { body: JSON.stringify({ to: { user: 'a' } }) },
      { body: publishBody('a', 1), auth: false },
    ];
    const one = async (req: string): Promise<RawResponse> => (await (await RawHttp.open(h)).send(req).read(1))[0]!;
    for (const k of cases) {
      const request = (path: string): string => (k.auth === false ? post(path, k.body).replace(/Authorization: [^\r]*\r\n/, '') : post(path, k.body));
      const fast = await one(request('/api/publish'));
      // A query string is not for the fast lane: the same request through Node's server.
      const viaNode = await one(request('/api/publish?via=node'));
      assert.ok(fast.status >= 400, k.body);
      assert.equal(fast.status, viaNode.status, k.body);
      assert.deepEqual(JSON.parse(fast.body), JSON.parse(viaNode.body), k.body);
      assert.equal(fast.headers['www-authenticate'], viaNode.headers['www-authenticate']);
    }
  });

  test('a keep-alive connection moves to Node for other requests, in order, and keeps working', async () => {
    const h = await server();
    const c = await RawHttp.open(h);
    // A publish, then a GET in the same packet: the publish's answer must come first.
    c.send(post('/api/publish', publishBody('cy', 1)) + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' + post('/api/publish', publishBody('cy', 2)));
    const [a, b, d] = await c.read(3);
    assert.equal(JSON.parse(a!.body).streams[0].offset, 1);
    assert.deepEqual(JSON.parse(b!.body), { status: 'ok' });
    assert.equal(JSON.parse(d!.body).streams[0].offset, 2);
    c.send(`GET /api/users/cy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\n\r\n`);
    const [u] = await c.read(1);
    assert.equal(JSON.parse(u!.body).pending, 2);
  });

  test('chunked bodies, Expect: 100-continue and oversize bodies get Node semantics', async () => {
    const h = await server({ limits: { maxBodyBytes: 1000 } });
    const c = await RawHttp.open(h);
    const body = publishBody('dee', 1);
    c.send(
      `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    const [chunked] = await c.read(1);
    assert.equal(chunked!.status, 200);
    assert.equal(JSON.parse(chunked!.body).streams[0].offset, 1);

    const c2 = await RawHttp.open(h);
    c2.send(post('/api/publish', JSON.stringify({ to: { user: 'dee' }, data: 'x'.repeat(2000) })));
    const [big] = await c2.read(1);
    assert.equal(big!.status, 413);
    assert.equal(JSON.parse(big!.body).error.code, 'body_too_large');

    const c3 = await RawHttp.open(h);
    c3.send(`POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    const [cont] = await c3.read(1);
    assert.equal(cont!.status, 100);
    c3.send(body);
    const [done] = await c3.read(1);
    assert.equal(done!.status, 200);
    assert.equal(JSON.parse(done!.body).streams[0].offset, 2);
  });

  test('Connection: close is answered, then the server closes', async () => {
    const h = await server();
    const c = await RawHttp.open(h);
    c.send(post('/api/publish', publishBody('eve', 1), 'Connection: close\r\n'));
    const [r] = await c.read(1);
    assert.equal(r!.status, 200);
    assert.equal(r!.headers.connection, 'close');
    if (!c.closed) await new Promise((resolve) => c.socket.once('close', resolve));
    assert.equal(c.closed, true);
  });

  test('an idle keep-alive connection is closed after the server keep-alive timeout', async () => {
    const h = await server();
    h.server.http.keepAliveTimeout = 300;
    const c = await RawHttp.open(h);
    c.send(post('/api/publish', publishBody('gus', 1)));
    const [r] = await c.read(1);
    assert.equal(r!.status, 200);
    const started = Date.now();
    await new Promise((resolve) => c.socket.once('close', resolve));
    // Closed by the lane's sweep (once a second), not by the test's cleanup.
    assert.ok(Date.now() - started >= 250, 'not closed before the timeout');
  });

  test('a WebSocket upgrade after a publish on the same server still works', async () => {
    const h = await server();
    const c = await RawHttp.open(h);
    c.send(post('/api/publish', publishBody('fay', 1)));
    await c.read(1);
    const client = await TestClient.welcome(h.wsUrl, await h.token('fay'));
    cleanups.push(() => client.close());
    const m = await client.next((f) => f.type === 'message');
    assert.deepEqual(m.data, { i: 1 });
  });
});
