// Herald on a Sentinel-watched Redis: two nodes find the master through three sentinels, and N numbered messages
// are published through both while the master fails over, planned (SENTINEL FAILOVER) and unplanned (SIGKILL).
// Every client, SDK and raw protocol alike, must end with every acknowledged publish, once, in offset order;
// publishes meanwhile are answered 200 or 503 `unavailable`, within a bound, never 500.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Herald } from '../../client/index.ts';
import { TokenService } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig, waitReplicas } from '../../src/config.ts';
import { nodeApi, removeNodeDirs, startNode, stopAll, type Node } from '../helpers/cluster.ts';
import { TOKEN_SECRET } from '../helpers/herald.ts';
import { poll, startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel.ts';
import { memoryStorage, nextEvent, sdkClient } from '../helpers/sdk.ts';
import { TestClient } from '../helpers/ws-client.ts';
import type { Got, Published, Tally } from '../helpers/numbered.ts';
import { Redis } from 'ioredis';

const tokens = new TokenService(TOKEN_SECRET);
const MESSAGES = Number(process.env.SENTINEL_MESSAGES ?? 1500);
const IN_FLIGHT = 8;
/** No publish may take longer than this, failover or not (WAIT's timeout is 1 s, a connection attempt's 5 s). */
const BOUND_MS = 8000;
const TARGETS = [{ user: 'alice' }, { user: 'bob' }, { channel: 'room' }, { all: true }] as const;
const STREAMS = ['user:alice', 'user:bob', 'channel:room', 'broadcast'];

/**
 * lost: an acknowledged publish the client never got at its offset (a different message at that offset, an
 * offset reused after a failover, counts as the acknowledged one lost); duplicated: a message (by seq) or an
 * offset received twice; out of order: an offset below one received before on the same stream.
 */
function tally(got: readonly Got[], published: Published, streams: readonly string[]): Tally {
  const t: Tally = { checked: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
  for (const stream of streams) {
    const want = published.get(stream)!;
    const right = new Set<number>();
    const seqs = new Set<number>();
    let last = 0;
    for (const g of got.filter((x) => x.stream === stream)) {
      if (seqs.has(g.seq)) t.duplicated++;
      else if (want.get(g.offset) === g.seq) right.add(g.offset);
      if (g.offset <= last) t.outOfOrder++;
      seqs.add(g.seq);
      last = Math.max(last, g.offset);
    }
    for (const o of want.keys()) if (!right.has(o)) t.lost++;
    t.checked += want.size;
  }
  return t;
}

interface Outcome {
  published: Published;
  unavailable: number;
  /** When the first and the last 503 were answered (ms since the publishing began). */
  refused: [number, number] | undefined;
  slowestMs: number;
  ms: number;
}

/**
 * Publishes MESSAGES numbered messages, message i to TARGETS[i % 4] through node i % 2, IN_FLIGHT at a time; a
 * 503 is retried (on the other node) with the same idempotency key, as a backend would. Anything but 200 or 503
 * `unavailable`, or an answer slower than BOUND_MS, fails the test.
 */
async function publishAll(nodes: Node[], onProgress: (done: number) => void): Promise<Outcome> {
  const published: Published = new Map(STREAMS.map((s) => [s, new Map()]));
  const out: Outcome = { published, unavailable: 0, refused: undefined, slowestMs: 0, ms: 0 };
  const started = Date.now();
  let nextSeq = 0;
  let done = 0;
  const worker = async () => {
    for (let seq = nextSeq++; seq < MESSAGES; seq = nextSeq++) {
      for (let attempt = 0; ; attempt++) {
        const t0 = Date.now();
        const r = await nodeApi(nodes[(seq + attempt) % nodes.length]!, 'POST', '/api/publish', {
          to: TARGETS[seq % TARGETS.length],
          data: { seq },
          idempotencyKey: `m${seq}`,
        });
        out.slowestMs = Math.max(out.slowestMs, Date.now() - t0);
        if (r.status === 200) {
          const s = r.body.streams[0] as { stream: string; offset: number };
          published.get(s.stream)!.set(s.offset, seq);
          break;
        }
        assert.equal(r.status, 503, `publish ${seq}: unexpected ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'unavailable');
        out.unavailable++;
        out.refused = [out.refused?.[0] ?? Date.now() - started, Date.now() - started];
        assert.ok(attempt < 3000, `publish ${seq} never succeeded`);
        // A backend's retry backoff while there is no master, not a wait for an event.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  out.ms = Date.now() - started;
  return out;
}

interface Client {
  name: string;
  got: () => Got[];
  streams: string[];
  /** Waits until the client holds `n` messages (or the deadline passes; the tally then tells what is missing). */
  until: (n: number) => Promise<unknown>;
  close: () => void;
  notRecovered?: () => number;
}

function sdk(nodes: Node[], first: number, user: string): { client: Herald; entry: Client } {
  const got: Got[] = [];
  let notRecovered = 0;
  const client = sdkClient({
    url: (attempt) => nodes[(first + attempt) % nodes.length]!.ws,
    token: () => tokens.sign(user, { channels: ['room'], ttlSeconds: 600 }),
    storage: memoryStorage(),
    ackIntervalMs: 20,
  });
  client.on('message', (m) => got.push({ stream: m.stream, offset: m.offset, seq: (m.data as { seq: number }).seq }));
  client.on('recovery', (r) => void (r.recovered || notRecovered++));
  const streams = [`user:${user}`, 'channel:room', 'broadcast'];
  return {
    client,
    entry: {
      name: `sdk ${user} (node ${first})`,
      got: () => got,
      streams,
      until: (n) => (got.length >= n ? Promise.resolve() : nextEvent(client, 'message', () => got.length >= n, 20_000).catch(() => undefined)),
      close: () => client.close(),
      notRecovered: () => notRecovered,
    },
  };
}

async function raw(node: Node, index: number, user: string): Promise<{ c: TestClient; entry: Client }> {
  const c = await TestClient.welcome(node.ws, await tokens.sign(user, { channels: ['room'], ttlSeconds: 600 }));
  c.send({ type: 'subscribe', channel: 'room', id: 1 });
  await c.next((f) => f.type === 'subscribed' && f.id === 1);
  const got = () =>
    c
      .messages()
      .filter((m) => typeof m.stream === 'string')
      .map((m) => ({ stream: m.stream as string, offset: m.offset as number, seq: (m.data as { seq: number }).seq }));
  return {
    c,
    entry: {
      name: `raw ${user} (node ${index})`,
      got,
      streams: [`user:${user}`, 'channel:room', 'broadcast'],
      until: (n) => (got().length >= n ? Promise.resolve() : c.next(() => got().length >= n, 20_000).catch(() => undefined)),
      close: () => c.close(),
    },
  };
}

function refusedFor(o: Outcome): string {
  return o.refused === undefined ? 'none' : `from ${o.refused[0]} to ${o.refused[1]} ms`;
}

function expected(published: Published, streams: readonly string[]): number {
  return streams.reduce((n, s) => n + published.get(s)!.size, 0);
}

describe('Redis Sentinel settings', () => {
  it('the fence defaults to one replica with sentinels and to none with one server; both are set from the environment', () => {
    const env = { HERALD_REDIS_SENTINELS: '127.0.0.1:26379' };
    assert.equal(waitReplicas(loadConfig({ configFile: false, env })), 1);
    assert.equal(waitReplicas(loadConfig({ configFile: false, env: { HERALD_REDIS_URL: 'redis://127.0.0.1:6379' } })), 0);
    const set = loadConfig({ configFile: false, env: { ...env, HERALD_REDIS_WAIT_REPLICAS: '2', HERALD_REDIS_WAIT_TIMEOUT_MS: '250' } });
    assert.deepEqual([waitReplicas(set), set.redis.waitTimeoutMs], [2, 250]);
    assert.equal(waitReplicas(loadConfig({ configFile: false, env: { ...env, HERALD_REDIS_WAIT_REPLICAS: '0' } })), 0);
    assert.throws(() => loadConfig({ configFile: false, env: { ...env, HERALD_REDIS_WAIT_REPLICAS: '-1' } }), ConfigError);
  });
});

describe('Redis Sentinel', () => {
  let set: SentinelSet;
  before(async () => {
    set = await startSentinelSet();
  });
  after(async () => {
    await set?.close();
    removeNodeDirs();
  });

  it('HERALD_REDIS_SENTINELS and HERALD_REDIS_SENTINEL_NAME reach ioredis: a node stores on the master the sentinels name', async () => {
    const prefix = `herald-sentinel:${randomBytes(4).toString('hex')}:`;
    const [node] = [await startNode({ sentinels: set.sentinels, name: set.name }, prefix)];
    try {
      const r = await nodeApi(node!, 'POST', '/api/publish', { to: { user: 'carol' }, data: { hello: 1 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const master = new Redis({ port: await set.masterPort(), host: '127.0.0.1' });
      try {
        // The stream's offset counter: field `t` of its hash `<prefix>{<stream>}` (store/redis.ts).
        assert.equal(await master.hget(`${prefix}{user:carol}`, 't'), '1');
      } finally {
        master.disconnect();
      }
    } finally {
      await stopAll([node!]);
    }
  });

  // The fence: a planned failover needs every replica (2) to confirm, a crash one (docs/guarantees.md). Set
  // SENTINEL_WAIT to run both with another count (0: no fence) and see what each loses; losses are asserted only
  // with these defaults.
  const fences = { planned: 2, unplanned: 1 };
  const waitOverride = process.env.SENTINEL_WAIT;
  for (const kind of ['planned', 'unplanned'] as const) {
    const wait = waitOverride === undefined ? fences[kind] : Number(waitOverride);
    const title = kind === 'planned' ? 'SENTINEL FAILOVER' : 'SIGKILL of the master';
    it(`${title} while publishing through two nodes: every acknowledged publish reaches every client once, in order`, async () => {
      // A failover with a replica still resyncing from the previous one would measure the resync, not Herald.
      await set.waitReplicas(await set.masterPort(), 2);
      const prefix = `herald-sentinel:${randomBytes(4).toString('hex')}:`;
      const target = { sentinels: set.sentinels, name: set.name };
      const env = { HERALD_REDIS_WAIT_REPLICAS: String(wait) };
      const nodes = [await startNode(target, prefix, env), await startNode(target, prefix, env)];
      const clients: Client[] = [];
      try {
        for (const [i, user] of ['alice', 'bob'].entries()) {
          const { client, entry } = sdk(nodes, i, user);
          await client.connect();
          await client.subscribe('room');
          clients.push(entry);
        }
        const raws = [await raw(nodes[0]!, 0, 'bob'), await raw(nodes[1]!, 1, 'alice')];
        clients.push(...raws.map((r) => r.entry));

        let progress = (_done: number): void => {};
        const at = (n: number) => new Promise<void>((resolve) => (progress = (done) => done >= n && resolve()));
        let failoverMs = 0;
        const fault = (async () => {
          await at(MESSAGES / 3);
          const t0 = Date.now();
          if (kind === 'unplanned') {
            // The master dies while its replicas lag behind it (as across a network): it has run IN_FLIGHT appends
            // past them. Without the fence those were acknowledged and announced, and the failover loses them.
            const master = new Redis({ port: await set.masterPort(), host: '127.0.0.1' });
            const appended = async () => (await Promise.all(STREAMS.map((st) => master.hget(`${prefix}{${st}}`, 't')))).reduce((n, v) => n + Number(v ?? 0), 0);
            try {
              const before = await appended();
              await set.pauseReplicas();
              // Until IN_FLIGHT appends ran ahead, or 400 ms: with the fence the nodes' writers wait in WAIT meanwhile, and
              // replicas stopped for longer than `down-after-milliseconds` could not be promoted.
              const until = Date.now() + 400;
              await poll('the master to run ahead of its replicas', async () => (await appended()) >= before + IN_FLIGHT || Date.now() > until);
            } finally {
              master.disconnect();
            }
          }
          const port = kind === 'planned' ? await set.failover() : await set.killMaster();
          failoverMs = Date.now() - t0;
          return port;
        })();
        const outcome = await publishAll(nodes, (done) => progress(done));
        const newMaster = await fault;

        const results: string[] = [];
        for (const c of clients) {
          await c.until(expected(outcome.published, c.streams));
          const t = tally(c.got(), outcome.published, c.streams);
          results.push(`${c.name}: ${t.checked} checked, ${t.lost} lost, ${t.duplicated} duplicated, ${t.outOfOrder} out of order`);
        }
        console.log(
          `sentinel ${kind} failover (${title}, WAIT ${wait}, ${failoverMs} ms until every sentinel named ${newMaster}): ${MESSAGES} publishes over 2 nodes in ${outcome.ms} ms, ` +
            `${outcome.unavailable} answered 503 and retried (${refusedFor(outcome)}), slowest answer ${outcome.slowestMs} ms;\n  ${results.join(';\n  ')}`,
        );
        // The raw clients never reconnect, so what they got is the nodes' own catch-up after the failover: a node
        // that closed them (a failed catch-up read, retried instead since) would show here as their losses.
        for (const r of raws) assert.equal(r.c.closeCode, undefined, `${r.entry.name} stayed connected`);
        for (const [i, c] of clients.entries()) {
          const t = tally(c.got(), outcome.published, c.streams);
          if (wait === fences[kind]) assert.equal(t.lost, 0, results[i]);
          assert.deepEqual([t.duplicated, t.outOfOrder], [0, 0], results[i]);
          assert.equal(c.notRecovered?.() ?? 0, 0, `${c.name}: every resume recovered`);
        }
        for (const n of nodes) await n.proc.waitLog((l) => String(l.msg).startsWith('redis reconnected: catching up'));
        assert.ok(outcome.slowestMs < BOUND_MS, `slowest publish answer ${outcome.slowestMs} ms`);

        // The control subscribers follow the new master too: a push to a connection on the other node arrives.
        const session = raws[1]!.c.frames.find((f) => f.type === 'welcome')!.session as string;
        const pushed = await poll('a push across nodes after the failover', async () => {
          const r = await nodeApi(nodes[0]!, 'POST', '/api/publish', { to: { connection: session }, data: { pushed: true } });
          return r.status === 200 && r.body.delivered === 1 ? r : undefined;
        });
        assert.equal(pushed.body.delivered, 1);
        await raws[1]!.c.next((f) => f.type === 'message' && (f.data as { pushed?: boolean }).pushed === true);
      } catch (err) {
        for (const [i, n] of nodes.entries()) {
          for (const l of n.proc.logs) if (Number(l.level) >= 40) console.log(`node ${i}: ${JSON.stringify(l)}`);
        }
        throw err;
      } finally {
        for (const c of clients) c.close();
        await stopAll(nodes);
      }
    });
  }
});
