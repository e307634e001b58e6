// The Pusher webhook sender against a real receiver on port 0, every request checked by the `pusher` SDK's own
// WebHook (what a Laravel or Node app runs), never by our signing code.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import { pino } from 'pino';
import { PusherWebhooks, type PusherWebhookEvent, type PusherWebhookOptions } from '../../src/transports/pusher/webhooks.ts';

const APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };
const sdk = (secret = APP.secret) => new PusherServer({ appId: APP.id, key: APP.key, secret, cluster: 'mt1' });

// Every request received and every log line emits `change`, so a test waits for what it expects, not for a delay.
const changes = new EventEmitter();
function until(pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pred()) return;
      changes.off('change', check);
      resolve();
    };
    changes.on('change', check);
    check();
  });
}

interface Hit {
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  res: http.ServerResponse;
}

/** The SDK's view of one request: throws unless it is valid for `secret`. */
function verified(hit: Hit, secret = APP.secret): { events: PusherWebhookEvent[]; time: Date } {
  const hook = sdk(secret).webhook({ headers: hit.headers, rawBody: hit.rawBody });
  assert.ok(hook.isValid(), `invalid webhook: ${JSON.stringify(hit.headers)} ${hit.rawBody}`);
  return { events: hook.getEvents() as unknown as PusherWebhookEvent[], time: hook.getTime() };
}

type Answer = (hit: Hit, index: number) => void;

const servers: http.Server[] = [];
const senders: PusherWebhooks[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close(0)));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A receiver; by default it answers 200 at once. */
async function receiver(answer: Answer = (h) => h.res.end()) {
  const hits: Hit[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = { headers: req.headers, rawBody: Buffer.concat(chunks).toString(), res };
      hits.push(hit);
      answer(hit, hits.length - 1);
      changes.emit('change');
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pusher/webhook`;
  /** The events of the requests answered 2xx, in the order received. */
  const accepted = () => hits.filter((h) => h.res.writableEnded && h.res.statusCode < 300).flatMap((h) => verified(h).events);
  return { url, hits, accepted, connections: () => connections };
}

interface LogLine {
  level: number;
  msg: string;
  dropped?: number;
}

function sender(url: string, options: Partial<PusherWebhookOptions> = {}, app: { key?: string; secret?: string } = {}) {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s) as LogLine);
        changes.emit('change');
      },
    },
  );
  const hooks = new PusherWebhooks({ key: APP.key, secret: APP.secret, ...app, webhookUrl: url }, log, { batchDelayMs: 5, ...options });
  senders.push(hooks);
  return { hooks, lines };
}

const occupied = (channel: string): PusherWebhookEvent => ({ name: 'channel_occupied', channel });
const WARN = 40;
const ERROR = 50;

describe('pusher webhooks sender', { timeout: 20_000 }, () => {
  it('posts one event that the pusher SDK finds valid, with the exact headers', async () => {
    const r = await receiver();
    const { hooks } = sender(r.url);
    const before = Date.now();
    hooks.emit(occupied('test_channel'));
    await until(() => r.hits.length === 1);
    const hit = r.hits[0]!;
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers['x-pusher-key'], APP.key);
    assert.match(String(hit.headers['x-pusher-signature']), /^[0-9a-f]{64}$/);
    const { events, time } = verified(hit);
    assert.deepEqual(events, [{ name: 'channel_occupied', channel: 'test_channel' }]);
    assert.ok(time.getTime() >= before && time.getTime() <= Date.now(), `time_ms ${time.getTime()}`);
    await hooks.close(1000);
    assert.deepEqual([hooks.sent, hooks.failed, hooks.dropped], [1, 0, 0]);
  });

  it('a wrong secret or key makes the SDK refuse it (the check can fail)', async () => {
    const r = await receiver();
    const { hooks } = sender(r.url, {}, { secret: 'not-the-secret' });
    hooks.emit(occupied('a'));
    await until(() => r.hits.length === 1);
    const hit = r.hits[0]!;
    assert.equal(sdk().webhook({ headers: hit.headers, rawBody: hit.rawBody }).isValid(), false);
    assert.equal(sdk('not-the-secret').webhook({ headers: hit.headers, rawBody: hit.rawBody }).isValid(), true);
    const wrongKey = sender(r.url, {}, { key: 'other-key' }).hooks;
    wrongKey.emit(occupied('b'));
    await until(() => r.hits.length === 2);
    assert.equal(sdk().webhook({ headers: r.hits[1]!.headers, rawBody: r.hits[1]!.rawBody }).isValid(), false);
  });

  it('sends the events of one turn in one batch, in emit order, and later ones over the same connection', async () => {
    const r = await receiver();
    const { hooks } = sender(r.url);
    const all: PusherWebhookEvent[] = [
      { name: 'channel_occupied', channel: 'presence-room' },
      { name: 'member_added', channel: 'presence-room', user_id: '7' },
      { name: 'client_event', channel: 'presence-room', event: 'client-typing', data: '{"x":"é\\n"}', socket_id: '123.456', user_id: '7' },
      { name: 'client_event', channel: 'private-a', event: 'client-x', data: 'plain', socket_id: '1.2' },
      { name: 'subscription_count', channel: 'room', subscription_count: 3 },
      { name: 'cache_miss', channel: 'cache-x' },
      { name: 'member_removed', channel: 'presence-room', user_id: '7' },
      { name: 'channel_vacated', channel: 'presence-room' },
    ];
    for (const e of all) hooks.emit(e);
    await until(() => r.hits.length === 1);
    assert.deepEqual(verified(r.hits[0]!).events, all);
    hooks.emit(occupied('later'));
    await until(() => r.hits.length === 2);
    assert.deepEqual(verified(r.hits[1]!).events, [occupied('later')]);
    assert.equal(r.connections(), 1, 'the keep-alive agent reuses its socket');
  });

  it('events emitted while a request is in flight follow it in the next batch', async () => {
    let release = () => {};
    const r = await receiver((h, i) => {
      if (i === 0) release = () => h.res.end();
      else h.res.end();
    });
    const { hooks } = sender(r.url);
    hooks.emit(occupied('a'));
    await until(() => r.hits.length === 1);
    hooks.emit(occupied('b'));
    hooks.emit(occupied('c'));
    release();
    await until(() => r.hits.length === 2);
    assert.deepEqual(r.accepted(), ['a', 'b', 'c'].map(occupied));
  });

  it('resends the same batch after 500, 500, then 200; events arrive once, in order', async () => {
    const r = await receiver((h, i) => {
      // Emitted while the first batch is failing: must wait behind it.
      if (i === 0) s.hooks.emit(occupied('d'));
      h.res.statusCode = i < 2 ? 500 : 200;
      h.res.end();
    });
    const s = sender(r.url, { minBackoffMs: 10, maxBackoffMs: 20 });
    const hooks = s.hooks;
    for (const c of ['a', 'b', 'c']) hooks.emit(occupied(c));
    await until(() => r.hits.length === 4);
    assert.equal(r.hits[1]!.rawBody, r.hits[0]!.rawBody, 'a retry sends the same bytes');
    assert.equal(r.hits[2]!.rawBody, r.hits[0]!.rawBody);
    assert.equal(r.hits[2]!.headers['x-pusher-signature'], r.hits[0]!.headers['x-pusher-signature']);
    await hooks.close(1000);
    assert.deepEqual(r.accepted(), ['a', 'b', 'c', 'd'].map(occupied));
    assert.deepEqual([hooks.sent, hooks.failed, hooks.dropped], [4, 2, 0]);
    const retries = s.lines.filter((l) => l.level === WARN && /retrying/.test(l.msg));
    assert.equal(retries.length, 2);
  });

  it('retries a receiver that does not answer within the request timeout', async () => {
    const r = await receiver((h, i) => {
      if (i > 0) h.res.end();
    });
    const { hooks } = sender(r.url, { requestTimeoutMs: 500, minBackoffMs: 10 });
    hooks.emit(occupied('slow'));
    await until(() => r.hits.length === 2);
    await hooks.close(1000);
    assert.deepEqual([hooks.sent, hooks.failed, hooks.dropped], [1, 1, 0]);
  });

  it('drops a batch still failing at the end of the retry window, logging how many events, then goes on', async () => {
    const r = await receiver((h) => {
      h.res.statusCode = h.rawBody.includes('"a"') ? 503 : 200;
      h.res.end();
    });
    const { hooks, lines } = sender(r.url, { minBackoffMs: 10, maxBackoffMs: 20, retryWindowMs: 30 });
    hooks.emit(occupied('a'));
    hooks.emit(occupied('b'));
    await until(() => lines.some((l) => l.level === ERROR));
    const error = lines.find((l) => l.level === ERROR)!;
    assert.equal(error.dropped, 2);
    assert.match(error.msg, /2 events dropped/);
    assert.equal(hooks.dropped, 2);
    hooks.emit(occupied('c'));
    await hooks.close(1000);
    assert.deepEqual(r.accepted(), [occupied('c')]);
    assert.equal(hooks.sent, 1);
  });

  it('keeps at most maxQueuedEvents behind the batch in flight: the oldest are dropped, counted and logged', async () => {
    let release = () => {};
    const r = await receiver((h, i) => {
      if (i === 0) release = () => h.res.end();
      else h.res.end();
    });
    const { hooks, lines } = sender(r.url, { maxQueuedEvents: 5, maxBatchEvents: 2 });
    hooks.emit(occupied('e0'));
    await until(() => r.hits.length === 1);
    for (let i = 1; i <= 12; i++) hooks.emit(occupied(`e${i}`));
    assert.equal(hooks.dropped, 7, 'e1..e7 dropped as e8..e12 came');
    release();
    await until(() => r.accepted().length === 6);
    assert.deepEqual(r.accepted(), ['e0', 'e8', 'e9', 'e10', 'e11', 'e12'].map(occupied));
    assert.deepEqual(
      r.hits.map((h) => verified(h).events.length),
      [1, 2, 2, 1],
    );
    const warn = lines.find((l) => l.level === WARN && /queue is full/.test(l.msg));
    assert.equal(warn?.dropped, 7);
  });

  it('close() sends what is queued without waiting for the batch delay, then drops and logs what is left', async () => {
    const r = await receiver();
    const { hooks } = sender(r.url, { batchDelayMs: 60_000 });
    hooks.emit(occupied('x'));
    hooks.emit(occupied('y'));
    await hooks.close(5000);
    assert.deepEqual(r.accepted(), ['x', 'y'].map(occupied));
    assert.deepEqual([hooks.sent, hooks.dropped], [2, 0]);
    hooks.emit(occupied('after'));
    assert.equal(hooks.dropped, 1, 'an event emitted after close is counted');

    // A receiver that is gone: close gives up at its timeout, and says so.
    const gone = http.createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((resolve) => gone.close(resolve));
    const dead = sender(`http://127.0.0.1:${port}/`, { batchDelayMs: 60_000, minBackoffMs: 10 });
    for (const c of ['p', 'q', 'r']) dead.hooks.emit(occupied(c));
    const started = Date.now();
    await dead.hooks.close(200);
    assert.ok(Date.now() - started < 2000);
    assert.equal(dead.hooks.dropped, 3);
    assert.ok(dead.hooks.failed >= 1);
    const error = dead.lines.find((l) => l.level === ERROR);
    assert.equal(error?.dropped, 3);
    assert.match(error!.msg, /3 events dropped, unsent when the sender closed/);
  });

  it('keeps no process alive: one that emits to a dead receiver and never closes the sender exits', async () => {
    const module = fileURLToPath(new URL('../../src/transports/pusher/webhooks.ts', import.meta.url));
    const script = `
      import { PusherWebhooks } from ${JSON.stringify(module)};
      const log = { warn: () => {}, error: () => {} };
      const hooks = new PusherWebhooks({ key: 'k', secret: 's', webhookUrl: 'http://127.0.0.1:1/' }, log, { minBackoffMs: 60000 });
      hooks.emit({ name: 'channel_occupied', channel: 'a' });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
    const killer = setTimeout(() => child.kill(), 10_000);
    const [code, signal] = (await new Promise((resolve) => child.on('exit', (c, sig) => resolve([c, sig])))) as [number | null, string | null];
    clearTimeout(killer);
    assert.deepEqual([code, signal], [0, null], 'exited by itself');
  });
});
