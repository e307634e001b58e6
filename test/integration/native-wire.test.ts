// The WebSocket layer of /ws at the byte level (net/websocket/: handshake, codec, socket): a raw TCP client
// writes exactly the frames a test needs, including ones a WebSocket library would refuse to send.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { hubChanged } from '../helpers/compat.ts';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { closePayload, frame, type ServerFrame } from '../helpers/raw-ws.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
/** A raw WebSocket client: sends the handshake, then parses the server's (unmasked) frames as they come. */
class RawClient {
  readonly frames: ServerFrame[] = [];
  status = 0;
  headers: Record<string, string> = {};
  body = '';
  ended = false;
  private buf = Buffer.alloc(0);
  private handshakeDone = false;
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = once(socket, 'close').then(() => {});
  }

  static async open(h: TestHerald, opts: { path?: string; headers?: Record<string, string | undefined>; after?: Buffer } = {}): Promise<RawClient> {
    const port = Number(new URL(h.url).port);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const c = new RawClient(socket);
    const headers: Record<string, string | undefined> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
      ...opts.headers,
    };
    let req = `GET ${opts.path ?? '/ws'} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) req += `${k}: ${v}\r\n`;
    // Frames may travel in the same packet as the handshake: the server must not lose them.
    socket.write(Buffer.concat([Buffer.from(`${req}\r\n`), opts.after ?? Buffer.alloc(0)]));
    await c.until(() => c.handshakeDone || c.ended);
    return c;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a text frame and waits for the app-level frame matching `pred` (a JSON text frame). */
  async json(pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await this.until(() => {
      found = this.frames
        .filter((f) => f.opcode === 1)
        .map((f) => JSON.parse(f.payload.toString()) as Record<string, unknown>)
        .find(pred);
      return found !== undefined;
    });
    return found!;
  }

  /** Resolves with the first frame of `opcode`, received already or later. */
  async next(opcode: number): Promise<ServerFrame> {
    await this.until(() => this.frames.some((f) => f.opcode === opcode));
    return this.frames.find((f) => f.opcode === opcode)!;
  }

  async closeFrame(): Promise<{ code: number; reason: string }> {
    const f = await this.next(0x8);
    return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString() };
  }

  /** Waits (for data or the end of the socket, never a fixed time) until `cond` holds. */
  until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          reject(new Error('socket ended first'));
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private receive(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.handshakeDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = this.buf.subarray(0, end).toString().split('\r\n');
      this.status = Number(statusLine!.split(' ')[1]);
      for (const l of lines) {
        const i = l.indexOf(':');
        this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      this.buf = this.buf.subarray(end + 4);
      if (this.status !== 101) {
        this.body = this.buf.toString();
        this.buf = Buffer.alloc(0);
      }
      this.handshakeDone = true;
    }
    while (this.status === 101 && this.buf.length >= 2) {
      let len = this.buf[1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        head = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        head = 10;
      }
      if (this.buf.length < head + len) break;
      assert.equal(this.buf[1]! & 0x80, 0, 'server frames are not masked');
      this.frames.push({ fin: (this.buf[0]! & 0x80) !== 0, opcode: this.buf[0]! & 0x0f, payload: Buffer.from(this.buf.subarray(head, head + len)) });
      this.buf = this.buf.subarray(head + len);
    }
    this.wake();
  }
}

const { server, cleanups } = perTestCleanup(afterEach);

async function raw(h: TestHerald, opts?: Parameters<typeof RawClient.open>[1]): Promise<RawClient> {
  const c = await RawClient.open(h, opts);
  cleanups.push(() => {
    c.socket.destroy();
  });
  return c;
}

describe('native /ws: handshake', () => {
  it('answers 101 with the accept key, and echoes the first offered subprotocol', async () => {
    const h = await server();
    const c = await raw(h, { headers: { 'Sec-WebSocket-Protocol': 'herald.v1, other' } });
    assert.equal(c.status, 101);
    assert.equal(c.headers['sec-websocket-accept'], ACCEPT);
    assert.equal(c.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(c.headers['sec-websocket-protocol'], 'herald.v1');
    assert.equal(c.headers['sec-websocket-extensions'], undefined, 'no compression is negotiated');
  });

  it('refuses bad upgrades with 400 and a reason', async () => {
    const h = await server();
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ 'Sec-WebSocket-Key': undefined }, /Sec-WebSocket-Key/],
      [{ 'Sec-WebSocket-Key': 'short' }, /Sec-WebSocket-Key/],
      [{ 'Sec-WebSocket-Version': '8' }, /Version/],
      [{ 'Sec-WebSocket-Protocol': 'a b' }, /Protocol/],
    ];
    for (const [headers, reason] of cases) {
      const c = await raw(h, { headers });
      assert.equal(c.status, 400, JSON.stringify(headers));
      assert.match(c.body, reason);
      if (headers['Sec-WebSocket-Version'] !== undefined) assert.equal(c.headers['sec-websocket-version'], '13');
      await c.closed;
    }
  });

  it('handles frames that arrive in the same packet as the handshake', async () => {
    const h = await server();
    const auth = JSON.stringify({ type: 'auth', token: await h.token('early') });
    const c = await raw(h, { after: Buffer.concat([frame(0x1, auth), frame(0x1, '{"type":"ping"}')]) });
    assert.equal((await c.json((f) => f.type === 'welcome')).user, 'early');
    await c.json((f) => f.type === 'pong');
  });
});

describe('native /ws: frames', () => {
  async function welcomed(h: TestHerald, user = 'u'): Promise<RawClient> {
    const c = await raw(h, { path: `/ws?token=${await h.token(user)}` });
    await c.json((f) => f.type === 'welcome');
    return c;
  }

  it('answers a WebSocket ping with a pong carrying the same payload', async () => {
    const h = await server();
    const c = await welcomed(h);
    c.send(frame(0x9, 'are you there'));
    assert.equal((await c.next(0xa)).payload.toString(), 'are you there');
  });

  it('joins a fragmented text message, with a ping between its fragments', async () => {
    const h = await server();
    const c = await welcomed(h);
    c.send(Buffer.concat([frame(0x1, '{"type":', { fin: false }), frame(0x9, 'mid'), frame(0x0, '"ping"}')]));
    await c.json((f) => f.type === 'pong');
    assert.equal((await c.next(0xa)).payload.toString(), 'mid');
    assert.ok(
      c.frames.findIndex((f) => f.opcode === 0xa) < c.frames.findIndex((f) => f.opcode === 0x1 && f.payload.toString().includes('pong')),
      'the control frame is answered before the message it interrupted',
    );
  });

  it('closes with 1008 when a message spans more than 16384 frames (endless empty continuations), as ws does', async () => {
    const h = await server();
    const c = await welcomed(h);
    // 16384 frames are allowed: the opening one and 16383 continuations, the last with FIN.
    const empty = frame(0x0, '', { fin: false });
    c.send(Buffer.concat([frame(0x1, '{"type":', { fin: false }), ...Array<Buffer>(16382).fill(empty), frame(0x0, '"ping"}')]));
    await c.json((f) => f.type === 'pong');
    // One more frame than that is refused, before the last one arrives.
    c.send(Buffer.concat([frame(0x1, '{', { fin: false }), ...Array<Buffer>(16384).fill(empty)]));
    assert.equal((await c.closeFrame()).code, 1008);
  });

  it('closes with 1002 on an unmasked client frame, then ends the socket', async () => {
    const h = await server();
    const c = await welcomed(h);
    c.send(frame(0x1, '{"type":"ping"}', { masked: false }));
    assert.equal((await c.closeFrame()).code, 1002);
    await c.closed;
    assert.equal(c.ended, true, 'the server ended the connection');
  });

  it('closes with 1002 on a fragmented control frame and on a reserved opcode', async () => {
    const h = await server();
    const a = await welcomed(h);
    a.send(frame(0x9, 'x', { fin: false }));
    assert.equal((await a.closeFrame()).code, 1002);
    const b = await welcomed(h);
    b.send(frame(0x3, 'x'));
    assert.equal((await b.closeFrame()).code, 1002);
  });

  it('closes with 1009 as soon as a frame header announces more than maxFrameBytes', async () => {
    const h = await server({ limits: { maxFrameBytes: 1024 } });
    const c = await welcomed(h);
    // Only the header: the server must not wait for (or buffer) the payload to refuse it.
    c.send(frame(0x1, Buffer.alloc(0), { len: 1025 }));
    assert.equal((await c.closeFrame()).code, 1009);
    await c.closed;
  });

  it('closes with 1007 on a text message that is not UTF-8', async () => {
    const h = await server();
    const c = await welcomed(h);
    c.send(frame(0x1, Buffer.from([0x7b, 0xff, 0x7d])));
    assert.equal((await c.closeFrame()).code, 1007);
  });

  it('answers a client close with the same code, ends the socket, and forgets the connection', async () => {
    const h = await server();
    const c = await welcomed(h, 'leaving');
    assert.equal(h.server.context.hub.connectionsOf('leaving').size, 1);
    const removed = hubChanged(h.server.context.hub, () => h.server.context.hub.connectionsOf('leaving').size === 0);
    c.send(frame(0x8, closePayload(1000, 'bye')));
    assert.deepEqual(await c.closeFrame(), { code: 1000, reason: 'bye' });
    await c.closed;
    await removed;
  });

  it('closes before auth: 4004 after authTimeoutMs without an auth frame', async () => {
    const h = await server({ authTimeoutMs: 200 });
    const c = await raw(h);
    assert.deepEqual(await c.closeFrame(), { code: CloseCode.AuthTimeout, reason: 'auth timeout' });
  });

  for (const [who, open] of [
    ['a welcomed client', (h: TestHerald) => welcomed(h)],
    ['a connection still waiting for its auth frame', (h: TestHerald) => raw(h)],
  ] as const) {
    it(`graceful shutdown closes ${who} with 4000, and the close handshake completes`, async () => {
      const h = await server();
      const c = await open(h);
      const closing = h.close();
      assert.equal((await c.closeFrame()).code, CloseCode.Shutdown);
      c.send(frame(0x8, closePayload(CloseCode.Shutdown)));
      await c.closed;
      await closing;
    });
  }

  it('terminates a slow consumer (4002) that does not read, within about a second', async () => {
    const h = await server({ limits: { maxBufferedBytes: 64 * 1024 } });
    const c = await welcomed(h, 'slow');
    c.socket.pause();
    const data = 'x'.repeat(32 * 1024);
    // The kernel's socket buffers take a few MB before the outbox sees any backlog.
    while (h.server.context.hub.connectionsOf('slow').size > 0 && !c.ended) {
      const r = await h.api('POST', '/api/publish', { to: { user: 'slow' }, data });
      if (r.body.delivered === 0) break;
    }
    const t0 = Date.now();
    // A paused socket does not notice the server's reset: read again (the backlog, then the end).
    c.socket.resume();
    await c.closed;
    assert.ok(Date.now() - t0 < 5000, 'the socket was dropped, not left to the 30 s close timeout');
  });

  it('a client that stopped reading gets the 4002 close frame right behind what its kernel held, even after the server dropped it', async () => {
    const limit = 1024 * 1024;
    const h = await server({ limits: { maxBufferedBytes: limit } });
    const c = await welcomed(h, 'slow');
    const [conn] = h.server.context.hub.connectionsOf('slow');
    const serverSide = (conn as unknown as { socket: Socket }).socket;
    c.socket.pause();
    const data = 'x'.repeat(32 * 1024);
    for (let delivered = 1; delivered > 0;) delivered = (await h.api('POST', '/api/publish', { to: { user: 'slow' }, data })).body.delivered as number;
    // The server has closed it as a slow consumer. What its kernel took (bytes of completed writes) reaches the client
    // whatever happens next; what the process still holds dies with the socket. The close frame must be within a
    // few chunks of the former (it was behind a whole `limit` of the latter), so a client that reads a little gets it.
    const inKernel = serverSide.bytesWritten - serverSide.writableLength;
    const dropped = hubChanged(h.server.context.hub, () => h.server.context.hub.connectionsOf('slow').size === 0);
    const readUpTo = inKernel + limit / 4;
    c.socket.on('data', () => {
      if (c.socket.bytesRead >= readUpTo) c.socket.pause();
    });
    c.socket.resume();
    // It stops reading again (unless the close frame came first) until the server has dropped the connection.
    await dropped;
    c.socket.resume();
    assert.deepEqual(await c.closeFrame(), { code: CloseCode.SlowConsumer, reason: 'slow consumer' });
    await c.closed;
    // What came before it is whole messages in order, from the first: the client resumes after the last one.
    const offsets = c.frames
      .filter((f) => f.opcode === 1)
      .map((f) => JSON.parse(f.payload.toString()) as { type: string; offset?: number })
      .filter((f) => f.type === 'message')
      .map((f) => f.offset);
    assert.ok(offsets.length > 0);
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => i + 1),
    );
  });
});
