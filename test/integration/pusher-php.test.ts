import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { runPhp } from '../helpers/php-batch.ts';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Channel, Members } from 'pusher-js';
import { PusherConfigSchema } from '../../src/config/pusher.ts';
import { ROOT } from '../../src/paths.ts';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { APP, connected, nextEvent, portOf, pusherClient, pusherJs, startPusherHerald, subscribed, type Pusher } from '../helpers/pusher.ts';

/**
 * A PHP backend against Herald's Pusher HTTP API: Debian's php-cli running test/fixtures/php/pusher-trigger.php,
 * which builds bodies and signatures as pusher-http-php does (PHP's json_encode, `channel` for one channel,
 * body_md5 on every POST) and sends them with PHP's own HTTP; and pusher-auth.php, the app's channel authorizer.
 * What the PHP side sends is received by pusher-js clients (Node).
 */
const TRIGGER_PHP = join(ROOT, 'test', 'fixtures', 'php', 'pusher-trigger.php');
const AUTH_PHP = join(ROOT, 'test', 'fixtures', 'php', 'pusher-auth.php');

interface PhpResult {
  body: string;
  query: string;
  string_to_sign: string;
  auth_signature: string;
  status?: number;
  content_type?: string | null;
  response?: string;
}

interface PhpCall {
  call: 'trigger' | 'triggerBatch';
  args: unknown[];
  /** Where to send it; omitted: build and sign only. */
  h?: TestHerald;
  secret?: string;
  timestamp?: number;
  timestamp_offset?: number;
}

/** Runs pusher-trigger.php with one call (its values JSON-decoded into PHP arrays) and returns what it printed. */
function php({ h, secret, ...rest }: PhpCall): Promise<PhpResult> {
  const input = { ...rest, app: { ...APP, secret: secret ?? APP.secret }, ...(h ? { base: `http://127.0.0.1:${portOf(h)}` } : {}) };
  return runPhp([TRIGGER_PHP], input).then((out) => JSON.parse(out) as PhpResult);
}

/** The app's auth endpoint answer from pusher-auth.php: the exact body a PHP app returns. */
function phpAuth(socketId: string, channel: string, user?: { id: string; info: unknown }): Promise<string> {
  const args = [AUTH_PHP, APP.key, APP.secret, socketId, channel, ...(user ? [user.id, JSON.stringify(user.info)] : [])];
  return new Promise((resolve, reject) =>
    execFile('php', args, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout))),
  );
}

/**
 * Every frame's text as pusher-js's own socket received it, before pusher-js decodes it: the only place where
 * `data` can be compared byte for byte (pusher-js hands the app `JSON.parse(data)`).
 */
function rawTexts(p: Pusher): string[] {
  const texts: string[] = [];
  p.connection.connection.transport.bind('message', (m: { data: string }) => texts.push(m.data));
  return texts;
}

/** The `data` string of the first frame received for `event` on `channel`. */
function rawData(texts: string[], channel: string, event: string): unknown {
  const frame = texts.map((t) => JSON.parse(t) as { event: string; channel?: string; data?: unknown }).find((f) => f.event === event && f.channel === channel);
  assert.ok(frame, `a ${event} frame on ${channel}`);
  return frame.data;
}

describe('pusher: a PHP backend (pusher-http-php signing, PHP json_encode, PHP HTTP)', () => {
  const { cleanups } = perTestCleanup(afterEach);
  const herald = async (): Promise<TestHerald> => {
    const h = await startPusherHerald();
    cleanups.push(() => h.close());
    return h;
  };
  const client = async (h: TestHerald, opts?: Parameters<typeof pusherClient>[1]): Promise<{ p: Pusher; socketId: string; texts: string[] }> => {
    const p = pusherClient(h, opts);
    cleanups.push(() => p.disconnect());
    const socketId = await connected(p);
    return { p, socketId, texts: rawTexts(p) };
  };

  it("signs the reference's worked example (§10.1, PHP body row) exactly", async () => {
    const r = await php({ call: 'trigger', args: ['my-channel', 'my-event', { message: 'hello' }], timestamp: 1353088179 });
    assert.equal(r.body, '{"name":"my-event","data":"{\\"message\\":\\"hello\\"}","channel":"my-channel"}');
    assert.equal(
      r.string_to_sign,
      'POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=4fca006a845789fc0374ac1cfde14c12',
    );
    assert.equal(r.auth_signature, 'f1d5ff7566617256d2d6f2959fd6eb130781d1c6b8c72882d6f49f82adbe3d1b');
  });

  it('trigger() on one channel ("channel", PHP-escaped data) reaches pusher-js with data byte for byte', async () => {
    const h = await herald();
    const c = await client(h);
    const ch = await subscribed(c.p, 'my-channel');
    const got = nextEvent(ch, 'order.shipped');
    const value = { name: 'José', url: 'https://x.test/o/1', note: 'a "quoted" <b>', tags: ['ü', '€'], n: 1.5 };
    const r = await php({ h, call: 'trigger', args: ['my-channel', 'order.shipped', value] });
    assert.equal(r.status, 200);
    assert.equal(r.content_type, 'application/json');
    assert.deepEqual(JSON.parse(r.response!), {});
    const sent = JSON.parse(r.body) as { name: string; data: string; channel?: string; channels?: string[] };
    assert.equal(sent.channel, 'my-channel');
    assert.equal(sent.channels, undefined);
    // PHP's json_encode escaped it: what the server must pass on untouched.
    assert.ok(sent.data.includes('Jos\\u00e9') && sent.data.includes('https:\\/\\/x.test\\/o\\/1'), sent.data);
    assert.deepEqual((await got).data, value);
    assert.equal(rawData(c.texts, 'my-channel', 'order.shipped'), sent.data);
  });

  it('triggerBatch() of two events reaches two channels', async () => {
    const h = await herald();
    const c = await client(h);
    const one = await subscribed(c.p, 'orders-1');
    const two = await subscribed(c.p, 'orders-2');
    const gotOne = nextEvent(one, 'e1');
    const gotTwo = nextEvent(two, 'e2');
    const r = await php({
      h,
      call: 'triggerBatch',
      args: [
        [
          { channel: 'orders-1', name: 'e1', data: { x: 1, path: '/a/b' } },
          { channel: 'orders-2', name: 'e2', data: 'raw é' },
        ],
      ],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.response!), { batch: {} });
    const batch = (JSON.parse(r.body) as { batch: { data: string }[] }).batch;
    assert.deepEqual((await gotOne).data, { x: 1, path: '/a/b' });
    // A PHP string is JSON-encoded too ("raw é" goes out as "\"raw \\u00e9\""); pusher-js decodes it back.
    assert.equal((await gotTwo).data, 'raw é');
    assert.equal(rawData(c.texts, 'orders-1', 'e1'), batch[0]!.data);
    assert.equal(rawData(c.texts, 'orders-2', 'e2'), batch[1]!.data);
    assert.equal(batch[1]!.data, '"raw \\u00e9"');
  });

  it('trigger() with socket_id leaves out that connection and reaches the other', async () => {
    const h = await herald();
    const a = await client(h);
    const b = await client(h);
    const chA = await subscribed(a.p, 'room');
    const chB = await subscribed(b.p, 'room');
    const aEvents: string[] = [];
    chA.bind_global((event: string) => {
      if (!event.startsWith('pusher')) aEvents.push(event);
    });
    const atB = nextEvent(chB, 'toOthers');
    const r = await php({ h, call: 'trigger', args: ['room', 'toOthers', { by: 'a' }, { socket_id: a.socketId }] });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { socket_id?: string }).socket_id, a.socketId);
    assert.deepEqual((await atB).data, { by: 'a' });
    // An event to everyone reaches A after it; the one before never did (one connection, events in order).
    const atA = nextEvent(chA, 'everyone');
    assert.equal((await php({ h, call: 'trigger', args: ['room', 'everyone', 1] })).status, 200);
    await atA;
    assert.deepEqual(aEvents, ['everyone']);
  });

  it("a presence subscription authorized by PHP's answer (\\u00e9, \\/ in channel_data) succeeds with the decoded user_info", async () => {
    // The reference's example (§5): this exact body for socket 1234.1234.
    assert.equal(
      await phpAuth('1234.1234', 'presence-room.1', { id: '7', info: { name: 'José', url: 'https://x.test/u/7' } }),
      '{"auth":"278d425bdf160c739803:4561eebbe1ffff4a65891cddcb5e15186365c53c4adc28d86a6530821d9eddba","channel_data":"{\\"user_id\\":\\"7\\",\\"user_info\\":{\\"name\\":\\"Jos\\\\u00e9\\",\\"url\\":\\"https:\\\\/\\\\/x.test\\\\/u\\\\/7\\"}}"}',
    );

    const h = await herald();
    const info = { name: 'José', url: 'https://x.test/u/7' };
    // Another member first, authorized by the Node SDK, who sees the PHP-authorized user join.
    const other = await client(h, { presence: { user_id: '8', user_info: { name: 'Bob' } } });
    const otherCh = await subscribed(other.p, 'presence-room.1');
    const joined = new Promise<{ id: string; info: unknown }>((resolve) => otherCh.bind('pusher:member_added', resolve));

    // pusher-js whose channel authorization is the PHP app's answer, parsed as pusher-js parses an ajax answer.
    const answers: string[] = [];
    const p = pusherJs(h, {
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, callback) => {
          phpAuth(socketId, channelName, { id: '7', info }).then(
            (body) => {
              answers.push(body);
              callback(null, JSON.parse(body) as { auth: string; channel_data: string });
            },
            (e: Error) => callback(e, null),
          );
        },
      },
    });
    cleanups.push(() => p.disconnect());
    const ch: Channel = await subscribed(p, 'presence-room.1');
    assert.equal(answers.length, 1);
    const channelData = (JSON.parse(answers[0]!) as { channel_data: string }).channel_data;
    assert.ok(channelData.includes('Jos\\u00e9') && channelData.includes('https:\\/\\/x.test\\/u\\/7'), channelData);

    const members = (ch as unknown as { members: Members }).members;
    assert.deepEqual(members.me, { id: '7', info });
    assert.equal(members.count, 2);
    assert.deepEqual(members.get('8'), { id: '8', info: { name: 'Bob' } });
    assert.deepEqual(await joined, { id: '7', info });
  });

  it('refuses a wrong secret and a stale timestamp (401), too many channels or batch events (400), each with a JSON body', async () => {
    const h = await herald();
    const c = await client(h);
    const ch = await subscribed(c.p, 'guarded');
    const delivered: string[] = [];
    ch.bind_global((event: string) => {
      if (!event.startsWith('pusher')) delivered.push(event);
    });
    const windowSeconds = PusherConfigSchema.parse({}).timestampWindowSeconds;
    assert.ok(windowSeconds > 0);

    const refusals: [string, PhpCall, number][] = [
      ['wrong secret', { call: 'trigger', args: ['guarded', 'bad', 1], secret: 'not-the-secret' }, 401],
      ['stale timestamp', { call: 'trigger', args: ['guarded', 'stale', 1], timestamp_offset: -(windowSeconds + 60) }, 401],
      ['future timestamp', { call: 'trigger', args: ['guarded', 'future', 1], timestamp_offset: windowSeconds + 60 }, 401],
      ['101 channels', { call: 'trigger', args: [['guarded', ...Array.from({ length: 100 }, (_, i) => `c-${i}`)], 'many', 1] }, 400],
      ['11 batch events', { call: 'triggerBatch', args: [Array.from({ length: 11 }, (_, i) => ({ channel: 'guarded', name: `b${i}`, data: i }))] }, 400],
    ];
    for (const [what, call, status] of refusals) {
      const r = await php({ h, ...call });
      assert.equal(r.status, status, what);
      assert.equal(r.content_type, 'application/json', what);
      const body = JSON.parse(r.response!) as { error?: unknown };
      assert.equal(typeof body.error, 'string', `${what}: ${r.response}`);
    }
    // Within the window is fine; and it is the first event the subscriber gets: nothing refused was delivered.
    const ok = nextEvent(ch, 'fresh');
    assert.equal((await php({ h, call: 'trigger', args: ['guarded', 'fresh', 1], timestamp_offset: -(windowSeconds - 60) })).status, 200);
    await ok;
    assert.deepEqual(delivered, ['fresh']);
    // 100 channels and 10 batch events are within the limits.
    assert.equal((await php({ h, call: 'trigger', args: [Array.from({ length: 100 }, (_, i) => `c-${i}`), 'hundred', 1] })).status, 200);
    assert.equal(
      (await php({ h, call: 'triggerBatch', args: [Array.from({ length: 10 }, (_, i) => ({ channel: `c-${i}`, name: 'ten', data: i }))] })).status,
      200,
    );
  });
});
