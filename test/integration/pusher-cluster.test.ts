// The Pusher protocol on two nodes sharing one Redis: presence members, client events, `socket_id` exclusion and
// webhooks are those of one server, and a node that dies takes its members with it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, describe, it } from 'node:test';
import PusherServer from 'pusher';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { runHerald } from '../helpers/process.ts';
import { APP, portOf, RawPusher, sdk } from '../helpers/pusher.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { hmacHex } from '../../src/transports/pusher/sign.ts';

type Raw = RawPusher & { socketId: string };
interface Hook {
  name: string;
  channel: string;
  user_id?: string;
}

/** A webhook receiver that checks every signature with the `pusher` SDK and keeps the events in arrival order. */
async function receiver(): Promise<{ url: string; events: Hook[]; next(pred: (e: Hook) => boolean): Promise<Hook>; server: Server }> {
  const events: Hook[] = [];
  const waiters: { pred: (e: Hook) => boolean; resolve: (e: Hook) => void }[] = [];
  const verifier = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hook = verifier.webhook({ headers: req.headers as Record<string, string>, rawBody: Buffer.concat(chunks).toString() });
      assert.ok(hook.isValid(), 'every webhook is signed with the app secret');
      for (const e of hook.getEvents() as Hook[]) {
        events.push(e);
        for (const w of [...waiters]) {
          if (!w.pred(e)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    events,
    server,
    next: (pred) => {
      const seen = events.find(pred);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

const join = (c: Raw, channel: string, user: string, info?: unknown): Promise<unknown> => {
  const channelData = JSON.stringify({ user_id: user, user_info: info });
  return c.subscribe(channel, { auth: `${APP.key}:${hmacHex(APP.secret, `${c.socketId}:${channel}:${channelData}`)}`, channel_data: channelData });
};
const presenceOf = (f: { data?: unknown }) => (JSON.parse(f.data as string) as { presence: { ids: string[]; count: number } }).presence;

describe('pusher on two nodes (Redis)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('presence, client events, exclusion and webhooks span the nodes', async () => {
    const hooks = await receiver();
    cleanups.push(() => new Promise<void>((resolve) => hooks.server.close(() => resolve())));
    const prefix = `herald-test:${randomBytes(4).toString('hex')}:`;
    const node = async (): Promise<TestHerald> => {
      const h = await startHerald({ redis: { url: REDIS_URL, prefix, presenceHeartbeatMs: 200 }, pusher: { apps: [{ ...APP, webhookUrl: hooks.url }] } });
      cleanups.push(() => h.close());
      return h;
    };
    const [n0, n1] = [await node(), await node()];
    const raw = async (h: TestHerald): Promise<Raw> => {
      const c = await RawPusher.connect(h);
      cleanups.push(() => c.close());
      return c;
    };
    const [c1, c2, c3] = [await raw(n0), await raw(n1), await raw(n1)];

    await join(c3, 'presence-room', '2', { name: 'Bo' });
    await hooks.next((e) => e.name === 'channel_occupied');
    const joined1 = presenceOf((await join(c1, 'presence-room', '1', { name: 'Al' })) as { data: string });
    assert.deepEqual([...joined1.ids].sort(), ['1', '2']);
    const added = await c3.next((f) => f.event === 'pusher_internal:member_added');
    assert.deepEqual(JSON.parse(added.data as string), { user_id: '1', user_info: { name: 'Al' } });
    // User 1's second socket, on the other node: still one member, and no second member_added anywhere.
    const joined2 = presenceOf((await join(c2, 'presence-room', '1', { name: 'Al' })) as { data: string });
    assert.equal(joined2.count, 2);

    // A client event from node 1 reaches node 0's socket with the sender's user_id, and not the sender.
    c3.send({ event: 'client-typing', channel: 'presence-room', data: { on: true } });
    const typing = await c1.next((f) => f.event === 'client-typing');
    assert.deepEqual(typing, { event: 'client-typing', channel: 'presence-room', data: { on: true }, user_id: '2' });
    await c2.next((f) => f.event === 'client-typing');

    // A trigger on node 0 that excludes a socket of node 1 skips exactly that socket.
    await sdk(n0).trigger('presence-room', 'note', 'x', { socket_id: c3.socketId });
    await c2.next((f) => f.event === 'note');
    await c1.next((f) => f.event === 'note');
    await sdk(n0).trigger('presence-room', 'after', 'y');
    await c3.next((f) => f.event === 'after');
    assert.deepEqual(c3.events('note'), [], 'the excluded socket got nothing');

    // Queries on either node answer for both.
    const users = (await (await sdk(n0).get({ path: '/channels/presence-room/users' })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['1', '2']);

    // User 1 leaves on both nodes: one member_removed, after the last socket.
    c1.close();
    c2.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-room' } });
    const removed = await c3.next((f) => f.event === 'pusher_internal:member_removed');
    assert.deepEqual(JSON.parse(removed.data as string), { user_id: '1' });
    c3.close();
    // Each node sends its own webhooks, in its own order: user 1's were decided on node 0 (its first socket, and
    // perhaps its last), the others on node 1, so every expected event is awaited, not just the last one.
    const label = (e: Hook) => `${e.name}${e.user_id === undefined ? '' : ` ${e.user_id}`}`;
    const expected = ['channel_occupied', 'member_added 2', 'member_added 1', 'member_removed 1', 'member_removed 2', 'channel_vacated'];
    for (const want of expected) await hooks.next((e) => e.channel === 'presence-room' && label(e) === want);
    const seen = hooks.events.filter((e) => e.channel === 'presence-room').map(label);
    // channel_occupied came first (awaited above before anyone else joined); member and channel events each exactly
    // once for the whole cluster, and one client_event, from c3.
    const members = seen.filter((x) => !x.startsWith('client_event'));
    assert.equal(members[0], 'channel_occupied');
    assert.deepEqual([...members].sort(), [...expected].sort());
    assert.equal(seen.filter((x) => x.startsWith('client_event')).length, 1);
    assert.equal(c3.events('pusher_internal:member_added').length, 1);
  });

  it("a node that dies takes its members with it: the other node's sockets get member_removed", async () => {
    const prefix = `herald-test:${randomBytes(4).toString('hex')}:`;
    const redis = { url: REDIS_URL, prefix, presenceHeartbeatMs: 200 };
    const survivor = await startHerald({ redis, pusher: { apps: [{ ...APP }] } });
    cleanups.push(() => survivor.close());
    const dir = mkdtempSync(joinPath(tmpdir(), 'herald-pusher-node-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(joinPath(dir, 'herald.json'), JSON.stringify({ redis, pusher: { apps: [APP] } }));
    const proc = runHerald(['start', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', dir, '--config', joinPath(dir, 'herald.json')], {
      HERALD_API_KEY: 'test-api-key-0123456789',
      HERALD_TOKEN_SECRET: 'test-token-secret-0123456789abcdef0123456789',
      HERALD_LOG_LEVEL: 'info',
    });
    cleanups.push(async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
    });
    const url = (await proc.waitLog((l) => typeof l.http === 'string')).http as string;
    const doomed = (await RawPusher.connect({ url } as TestHerald)) as Raw;
    const watcher = (await RawPusher.connect(survivor)) as Raw;
    cleanups.push(() => watcher.close());
    await join(watcher, 'presence-room', 'w');
    await join(doomed, 'presence-room', 'd');
    await watcher.next((f) => f.event === 'pusher_internal:member_added');
    proc.child.kill('SIGKILL');
    const removed = await watcher.next((f) => f.event === 'pusher_internal:member_removed', 10_000);
    assert.deepEqual(JSON.parse(removed.data as string), { user_id: 'd' });
    const users = (await (await sdk(survivor).get({ path: '/channels/presence-room/users' })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users, [{ id: 'w' }]);
    assert.equal(portOf(survivor) > 0, true);
  });
});
