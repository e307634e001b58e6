// The line port (docs/api.md, "Line port"): one JSON command per line, one reply line per command, in order.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { ConfigInput } from '../../src/config.ts';
import { CloseCode } from '../../src/protocol/codes.ts';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { LineClient } from '../helpers/line-client.ts';
import { settle, TestClient, type Frame } from '../helpers/ws-client.ts';

/** Parses `OK <json>`; fails with the line when it is anything else. */
function ok(line: string | undefined): any {
  assert.ok(line !== undefined && line.startsWith('OK '), `expected an OK line, got ${JSON.stringify(line)}`);
  return JSON.parse(line.slice(3));
}

/** Asserts `ERR <code> <message>` with a non-empty message. */
function assertErr(line: string | undefined, code: string): void {
  assert.ok(line !== undefined, 'expected an ERR line');
  const m = /^ERR (\S+) (.+)$/.exec(line);
  assert.ok(m, `expected "ERR <code> <message>", got ${JSON.stringify(line)}`);
  assert.equal(m[1], code, `error code in ${JSON.stringify(line)}`);
}

interface Fixture {
  h: TestHerald;
  line(): Promise<LineClient>;
  /** A line client that already sent `auth`. */
  authed(): Promise<LineClient>;
  ws(user: string, channels?: string[]): Promise<TestClient>;
}

async function fixture(t: TestContext, overrides: ConfigInput = {}): Promise<Fixture> {
  const h = await startHerald(overrides);
  const lines: LineClient[] = [];
  const clients: TestClient[] = [];
  t.after(async () => {
    for (const l of lines) l.destroy();
    for (const c of clients) if (c.closeCode === undefined) c.close();
    await Promise.all([...lines.map((l) => l.closed), ...clients.map((c) => c.closed().catch(() => undefined))]);
    await h.close();
  });
  const line = async () => {
    const l = await LineClient.connect(h.linePort);
    lines.push(l);
    return l;
  };
  return {
    h,
    line,
    async authed() {
      const l = await line();
      assert.deepEqual(ok(await l.cmd({ op: 'auth', key: h.apiKey })), { authenticated: true });
      return l;
    },
    async ws(user, channels) {
      const c = await TestClient.welcome(h.wsUrl, await h.token(user, channels));
      clients.push(c);
      return c;
    },
  };
}

const isMessage = (stream: string, offset: number) => (f: Frame) => f.type === 'message' && f.stream === stream && f.offset === offset;

describe('line port: authentication', () => {
  it('answers ERR unauthorized to a command before auth', async (t) => {
    const { line } = await fixture(t);
    const l = await line();
    assertErr(await l.cmd({ op: 'publish', to: { all: true }, data: 1 }), 'unauthorized');
    assertErr(await l.cmd({ op: 'stats' }), 'unauthorized');
    // Unknown ops are not revealed to unauthenticated peers either.
    assertErr(await l.cmd({ op: 'nope' }), 'unauthorized');
    assert.equal(l.isClosed, false, 'the connection stays open');
  });

  it('refuses a wrong key, on auth and on a command, and stays unauthenticated', async (t) => {
    const { h, line } = await fixture(t);
    const l = await line();
    assertErr(await l.cmd({ op: 'auth', key: 'wrong-key-0123456789' }), 'unauthorized');
    assertErr(await l.cmd({ op: 'stats' }), 'unauthorized');
    assertErr(await l.cmd({ op: 'stats', key: `${h.apiKey}x` }), 'unauthorized');
    assertErr(await l.cmd({ op: 'auth', key: '' }), 'unauthorized');
    assertErr(await l.cmd({ op: 'auth' }), 'bad_request');
    assertErr(await l.cmd({ op: 'auth', key: 42 }), 'bad_request');
    assertErr(await l.cmd({ op: 'stats' }), 'unauthorized');
    // The right key still works afterwards.
    assert.deepEqual(ok(await l.cmd({ op: 'auth', key: h.apiKey })), { authenticated: true });
    assert.equal(ok(await l.cmd({ op: 'stats' })).connections, 0);
  });

  it('accepts the key as a field of any command, which authenticates the connection', async (t) => {
    const { h, line, ws } = await fixture(t);
    const c = await ws('u1');
    const l = await line();
    const r = ok(await l.cmd({ op: 'publish', key: h.apiKey, to: { user: 'u1' }, data: 'with key' }));
    assert.equal(r.delivered, 1);
    assert.equal((await c.next(isMessage('user:u1', 1))).data, 'with key');
    assert.equal(ok(await l.cmd({ op: 'stats' })).connections, 1, 'later commands need no key');
  });

  it('line.allowLoopbackWithoutKey lets a loopback client publish without a key', async (t) => {
    const { line, ws } = await fixture(t, { line: { allowLoopbackWithoutKey: true } });
    const c = await ws('u1');
    const l = await line();
    const r = ok(await l.cmd({ op: 'publish', to: { user: 'u1' }, data: { open: true } }));
    assert.equal(r.delivered, 1);
    assert.deepEqual((await c.next(isMessage('user:u1', 1))).data, { open: true });
    // A wrong key is still refused.
    assertErr(await l.cmd({ op: 'stats', key: 'wrong-key-0123456789' }), 'unauthorized');
  });
});

describe('line port: operations', () => {
  it('auth then publish reaches a WebSocket client with data and event unchanged', async (t) => {
    const { authed, ws } = await fixture(t);
    const c = await ws('u1');
    const other = await ws('u2');
    const l = await authed();
    const r = ok(await l.cmd({ op: 'publish', to: { user: 'u1' }, event: 'note', data: { text: 'hi', n: [1, null, 'ü'] } }));
    assert.equal(r.delivered, 1);
    assert.equal(r.streams[0].stream, 'user:u1');
    assert.equal(r.streams[0].offset, 1);
    const m = await c.next(isMessage('user:u1', 1));
    assert.deepEqual(m, { type: 'message', stream: 'user:u1', offset: 1, epoch: r.streams[0].epoch, event: 'note', data: { text: 'hi', n: [1, null, 'ü'] } });
    await settle(other);
    assert.deepEqual(other.messages(), []);
  });

  it('answers operation errors with the same codes as the HTTP API', async (t) => {
    const { authed } = await fixture(t);
    const l = await authed();
    assertErr(await l.cmd({ op: 'publish', to: { usr: '1' }, data: 1 }), 'unknown_target');
    assertErr(await l.cmd({ op: 'publish', to: { all: false }, data: 1 }), 'unknown_target');
    assertErr(await l.cmd({ op: 'publish', to: { user: 'u1' } }), 'bad_request');
    assertErr(await l.cmd({ op: 'user' }), 'bad_request');
    assertErr(await l.cmd({ op: 'subscribe', user: 'u1', channel: 'bad name' }), 'bad_request');
    assertErr(await l.cmd({ op: 'stats', extra: 1 }), 'bad_request');
    assertErr(await l.cmd({ op: 'publishBatch', messages: [] }), 'bad_request');
  });

  it('serves every operation: publishBatch, user, users, channel, channels, subscribe, unsubscribe, disconnect, stats', async (t) => {
    const { authed, ws } = await fixture(t);
    const a = await ws('u1', ['news']);
    const b = await ws('u2');
    const l = await authed();
    const session = (await a.next((f) => f.type === 'welcome')).session;

    const sub = ok(await l.cmd({ op: 'subscribe', user: 'u1', channel: 'vip' }));
    assert.deepEqual(sub, { user: 'u1', channel: 'vip', connections: 1 });
    assert.deepEqual(await a.next((f) => f.type === 'subscribed'), { type: 'subscribed', channel: 'vip' });

    const batch = ok(
      await l.cmd({
        op: 'publishBatch',
        messages: [
          { to: { channel: 'vip' }, data: 'v1' },
          { to: { bad: 1 }, data: 'x' },
          { to: { user: 'u2' }, data: 'b1' },
        ],
      }),
    );
    assert.equal(batch.results.length, 3);
    assert.equal(batch.results[0].delivered, 1);
    assert.equal(batch.results[1].error.code, 'unknown_target');
    assert.equal(batch.results[2].delivered, 1);
    assert.equal((await a.next(isMessage('channel:vip', 1))).data, 'v1');
    assert.equal((await b.next(isMessage('user:u2', 1))).data, 'b1');

    assert.deepEqual(ok(await l.cmd({ op: 'user', user: 'u1' })), {
      user: 'u1',
      online: true,
      connections: 1,
      pending: 0,
      sessions: [{ session, transport: 'native', channels: ['vip'] }],
    });
    const users = ok(await l.cmd({ op: 'users' }));
    assert.equal(users.count, 2);
    assert.deepEqual(users.users.map((u: any) => u.user).sort(), ['u1', 'u2']);
    assert.equal(ok(await l.cmd({ op: 'users', limit: 1 })).users.length, 1);
    assert.deepEqual(ok(await l.cmd({ op: 'channel', channel: 'vip' })), { channel: 'vip', connections: 1, users: ['u1'] });
    assert.deepEqual(ok(await l.cmd({ op: 'channels' })), { count: 1, channels: [{ channel: 'vip', connections: 1, users: 1 }] });

    const stats = ok(await l.cmd({ op: 'stats' }));
    assert.equal(stats.connections, 2);
    assert.equal(stats.published, 2);

    assert.deepEqual(ok(await l.cmd({ op: 'unsubscribe', user: 'u1', channel: 'vip' })), { user: 'u1', channel: 'vip', connections: 1 });
    assert.deepEqual(await a.next((f) => f.type === 'unsubscribed'), { type: 'unsubscribed', channel: 'vip' });
    assert.equal(ok(await l.cmd({ op: 'publish', to: { channel: 'vip' }, data: 'v2' })).delivered, 0);

    assert.deepEqual(ok(await l.cmd({ op: 'disconnect', user: 'u1' })), { user: 'u1', disconnected: 1 });
    assert.equal(await a.closed(), CloseCode.Kicked);
    assert.deepEqual(ok(await l.cmd({ op: 'disconnect', user: 'u2', reconnect: true, reason: 'bye' })), { user: 'u2', disconnected: 1 });
    assert.equal(await b.closed(), CloseCode.DisconnectedByServer);
    assert.equal(b.closeReason, 'bye');
  });
});

describe('line port: framing', () => {
  it('pipelines: auth and 50 publishes in one write get 51 replies in order, messages in offset order', async (t) => {
    const { h, line, ws } = await fixture(t);
    const c = await ws('u1');
    const l = await line();
    let text = `${JSON.stringify({ op: 'auth', key: h.apiKey })}\n`;
    for (let i = 0; i < 50; i++) text += `${JSON.stringify({ op: 'publish', to: { user: 'u1' }, data: { i } })}\n`;
    l.write(text);

    const replies = await l.read(51);
    assert.deepEqual(ok(replies[0]), { authenticated: true });
    for (let i = 1; i <= 50; i++) {
      const r = ok(replies[i]);
      assert.equal(r.delivered, 1);
      assert.equal(r.streams[0].offset, i, `reply ${i} belongs to publish ${i}`);
    }
    await c.next(isMessage('user:u1', 50));
    await settle(c);
    const msgs = c.messages();
    assert.equal(msgs.length, 50);
    assert.deepEqual(
      msgs.map((m) => [m.offset, m.data.i]),
      msgs.map((_, i) => [i + 1, i]),
    );
    assert.equal(l.received.split('\n').length, 52, 'exactly one reply line per command');
  });

  it('pipelines mixed lines in one write: each reply in its place, publishes in line order', async (t) => {
    const { h, line, ws } = await fixture(t);
    const c = await ws('mx');
    const l = await line();
    const pub = (data: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ op: 'publish', to: { user: 'mx' }, data, ...extra });
    l.write(
      [
        pub(1),
        pub(0, { key: 'wrong-key-0123456789' }),
        pub(2, { key: h.apiKey }),
        JSON.stringify({ op: 'publish', to: { planet: 'mx' }, data: 0 }),
        JSON.stringify({ op: 'user', user: 'mx' }),
        pub(3),
        '{not json',
        pub(4, { idempotencyKey: 'mx-4' }),
        pub(5),
      ].join('\n') + '\n',
    );
    const replies = await l.read(9);
    assertErr(replies[0], 'unauthorized');
    assertErr(replies[1], 'unauthorized');
    assert.equal(ok(replies[2]).streams[0].offset, 1);
    assertErr(replies[3], 'unknown_target');
    assert.equal(ok(replies[4]).user, 'mx');
    assert.equal(ok(replies[5]).streams[0].offset, 2);
    assertErr(replies[6], 'bad_json');
    assert.equal(ok(replies[7]).streams[0].offset, 3);
    assert.equal(ok(replies[8]).streams[0].offset, 4);
    await c.next(isMessage('user:mx', 4));
    await settle(c);
    assert.deepEqual(
      c.messages().map((m) => m.data),
      [2, 3, 4, 5],
    );
  });

  it('accepts CRLF line endings and answers with LF', async (t) => {
    const { h, line, ws } = await fixture(t);
    const c = await ws('u1');
    const l = await line();
    l.write(`${JSON.stringify({ op: 'auth', key: h.apiKey })}\r\n${JSON.stringify({ op: 'publish', to: { user: 'u1' }, data: 'crlf' })}\r\n`);
    const [auth, pub] = await l.read(2);
    assert.deepEqual(ok(auth), { authenticated: true });
    assert.equal(ok(pub).delivered, 1);
    assert.equal((await c.next(isMessage('user:u1', 1))).data, 'crlf');
    assert.equal(l.received.includes('\r'), false, 'replies end in \\n only');
  });

  it('reassembles a command split over several writes', async (t) => {
    const { authed, ws } = await fixture(t);
    const c = await ws('u1');
    const l = await authed();
    const cmd = `${JSON.stringify({ op: 'publish', to: { user: 'u1' }, data: 'split ü 日本' })}\n`;
    const bytes = Buffer.from(cmd);
    // Byte-wise pieces, cutting inside multi-byte characters too.
    for (let i = 0; i < bytes.length; i += 7) l.socket.write(bytes.subarray(i, i + 7));
    assert.equal(ok((await l.read(1))[0]).delivered, 1);
    assert.equal((await c.next(isMessage('user:u1', 1))).data, 'split ü 日本');
  });

  it('answers a malformed line with ERR bad_json and keeps the connection usable', async (t) => {
    const { authed } = await fixture(t);
    const l = await authed();
    l.write('nope\n');
    assertErr((await l.read(1))[0], 'bad_json');
    l.write('[1,2]\n"str"\nnull\n{"op":5}\n{"no":"op"}\n');
    const errs = await l.read(5);
    for (const e of errs) assertErr(e, 'bad_request');
    assert.equal(ok(await l.cmd({ op: 'stats' })).connections, 0, 'still usable');
  });

  it('answers an unknown op with ERR bad_request', async (t) => {
    const { authed } = await fixture(t);
    const l = await authed();
    const reply = await l.cmd({ op: 'explode' });
    assertErr(reply, 'bad_request');
    assert.match(reply, /explode/);
    assertErr(await l.cmd({ op: '' }), 'bad_request');
    assert.equal(l.isClosed, false);
  });

  it('treats names inherited from Object.prototype as unknown ops', async (t) => {
    const { authed } = await fixture(t);
    const l = await authed();
    for (const op of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const reply = await l.cmd({ op });
      assert.ok(
        reply.startsWith('ERR bad_request '),
        `BUG src/api/line/server.ts: ops[cmd.op] finds Object.prototype.${op}, so {"op":"${op}"} runs it and answers ${JSON.stringify(reply)}; expected ERR bad_request (unknown op)`,
      );
    }
  });

  it('ignores empty lines (no reply)', async (t) => {
    const { authed } = await fixture(t);
    const l = await authed();
    l.write('\n\r\n   \n{"op":"stats"}\n');
    ok((await l.read(1))[0]);
    // One more command proves nothing else was queued for the blank lines.
    ok(await l.cmd({ op: 'users' }));
    assert.equal(l.lines.length, 3, 'auth + stats + users');
  });

  it('accepts a line of exactly limits.maxLineBytes', async (t) => {
    const { authed } = await fixture(t, { limits: { maxLineBytes: 1024 } });
    const l = await authed();
    const head = '{"op":"stats"';
    const exact = `${head}${' '.repeat(1024 - head.length - 1)}}`;
    assert.equal(Buffer.byteLength(exact), 1024);
    l.write(`${exact}\n`);
    ok((await l.read(1))[0]);
  });

  it('answers a line over limits.maxLineBytes with ERR frame_too_large and closes only that connection', async (t) => {
    const { h, authed, ws } = await fixture(t, { limits: { maxLineBytes: 1024 } });
    const c = await ws('u1');
    const other = await authed();
    const l = await authed();
    // A complete command before the long line in the same write is still answered, in order.
    l.write(`{"op":"stats"}\n{"op":"publish","to":{"user":"u1"},"data":"${'x'.repeat(2000)}"}\n{"op":"stats"}\n`);
    const [first, tooLarge] = await l.read(2);
    ok(first);
    assertErr(tooLarge, 'frame_too_large');
    await l.closed;
    assert.equal(l.lines.length, 3, 'nothing after the frame_too_large line');

    const r = ok(await other.cmd({ op: 'publish', to: { user: 'u1' }, data: 'other works' }));
    assert.equal(r.delivered, 1);
    assert.equal((await c.next(isMessage('user:u1', 1))).data, 'other works', 'the long line was not published');
    const fresh = await LineClient.connect(h.linePort);
    t.after(() => fresh.destroy());
    assert.deepEqual(ok(await fresh.cmd({ op: 'auth', key: h.apiKey })), { authenticated: true });
  });

  it('closes a connection whose over-long line is still being written', async (t) => {
    // A backend that streams a huge line without a newline: the server must answer and hang up, not stall with
    // both peers' buffers full. 32 MiB exceeds what loopback socket buffers can absorb.
    const { authed } = await fixture(t, { limits: { maxLineBytes: 1024 } });
    const l = await authed();
    l.socket.write(Buffer.alloc(32 * 1024 * 1024, 0x78));
    const [reply] = await l.read(1);
    assertErr(reply, 'frame_too_large');
    assert.equal(
      await l.closesWithin(5000),
      true,
      'BUG src/api/line/server.ts: after frame_too_large the server pauses the socket and half-closes it, so a peer still writing never finishes and the connection (and its buffers) stays open',
    );
  });
});
