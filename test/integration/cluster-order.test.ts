// A backend behind a load balancer publishes through every node at once: each stream (one user, one channel,
// everyone) gets its messages from two or three nodes interleaved, at full speed. Every client, SDK and raw
// protocol alike, must receive each stream complete, once, in offset order; also while a node is killed and
// Redis restarts in the middle.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Herald } from '../../client/index.ts';
import { TokenService } from '../../src/auth/tokens.ts';
import { nodeApi, removeNodeDirs, startNode, stopAll, type Node } from '../helpers/cluster.ts';
import { TOKEN_SECRET } from '../helpers/herald.ts';
import { REDIS_URL, startOwnRedis, type OwnRedis } from '../helpers/redis.ts';
import { memoryStorage, nextEvent, sdkClient } from '../helpers/sdk.ts';
import { tally, type Got, type Published } from '../helpers/numbered.ts';
import { TestClient } from '../helpers/ws-client.ts';

const tokens = new TokenService(TOKEN_SECRET);
after(removeNodeDirs);

const MESSAGES = 3000;
const IN_FLIGHT = 24;
const TARGETS = [{ user: 'alice' }, { channel: 'room' }, { all: true }] as const;
const STREAMS = ['user:alice', 'channel:room', 'broadcast'];

/**
 * Publishes MESSAGES numbered messages, message i to TARGETS[i % 3] through node (i / 3) % nodes, so each stream
 * alternates between the nodes, IN_FLIGHT at a time. A publish that fails (node killed, Redis down) is retried on
 * the next node with its idempotency key, as a backend would. `onProgress` sees the count of answered publishes.
 */
async function publishAll(nodes: Node[], alive: (n: number) => boolean, onProgress: (done: number) => void): Promise<Published> {
  const published: Published = new Map(STREAMS.map((s) => [s, new Map()]));
  let nextSeq = 0;
  let done = 0;
  const worker = async () => {
    for (let seq = nextSeq++; seq < MESSAGES; seq = nextSeq++) {
      let node = Math.floor(seq / 3) % nodes.length;
      for (let attempt = 0; ; attempt++) {
        if (!alive(node)) node = (node + 1) % nodes.length;
        const r = await nodeApi(nodes[node]!, 'POST', '/api/publish', { to: TARGETS[seq % 3], data: { seq }, idempotencyKey: `m${seq}` }).catch(
          () => undefined,
        );
        if (r?.status === 200) {
          const s = r.body.streams[0] as { stream: string; offset: number };
          published.get(s.stream)!.set(s.offset, seq);
          break;
        }
        assert.ok(r === undefined || r.status === 503, `publish ${seq}: unexpected ${r?.status} ${JSON.stringify(r?.body)}`);
        assert.ok(attempt < 2000, `publish ${seq} never succeeded`);
        node = (node + 1) % nodes.length;
        // A backend's retry backoff while a node or Redis is down, not a wait for an event.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return published;
}

interface SdkEntry {
  name: string;
  client: Herald;
  got: Got[];
  streams: string[];
  notRecovered: number;
}

function sdkEntry(nodes: Node[], first: number, user: string): SdkEntry {
  const client = sdkClient({
    // Each reconnect moves to the next node, so a client on a killed node resumes elsewhere.
    url: (attempt) => nodes[(first + attempt) % nodes.length]!.ws,
    token: () => tokens.sign(user, { channels: ['room'], ttlSeconds: 600 }),
    storage: memoryStorage(),
    ackIntervalMs: 20,
  });
  const e: SdkEntry = { name: `sdk ${user} (node ${first})`, client, got: [], streams: [`user:${user}`, 'channel:room', 'broadcast'], notRecovered: 0 };
  client.on('message', (m) => e.got.push({ stream: m.stream, offset: m.offset, seq: (m.data as { seq: number }).seq }));
  client.on('recovery', (r) => void (r.recovered || e.notRecovered++));
  return e;
}

async function rawClient(node: Node, user: string): Promise<{ name: string; c: TestClient; got: () => Got[]; streams: string[] }> {
  const c = await TestClient.welcome(node.ws, await tokens.sign(user, { channels: ['room'], ttlSeconds: 600 }));
  c.send({ type: 'subscribe', channel: 'room', id: 1 });
  await c.next((f) => f.type === 'subscribed' && f.id === 1);
  const got = () =>
    c.messages().map((m) => ({ stream: m.stream as string, offset: m.offset as number, seq: (JSON.parse(JSON.stringify(m.data)) as { seq: number }).seq }));
  return { name: `raw ${user} (${node.url})`, c, got, streams: [`user:${user}`, 'channel:room', 'broadcast'] };
}

function expectedCount(published: Published, streams: readonly string[]): number {
  return streams.reduce((n, s) => n + (published.get(s)?.size ?? 0), 0);
}

describe('per-stream order across nodes', () => {
  for (const { count, faults } of [
    { count: 2, faults: false },
    { count: 3, faults: false },
    { count: 3, faults: true },
  ]) {
    const title = `${count} nodes, each stream published through all of them at full speed${faults ? ', a node SIGKILLed and Redis restarted meanwhile' : ''}`;
    it(`${title}: every client gets each stream complete, once, in order`, async () => {
      let own: OwnRedis | undefined;
      if (faults) own = await startOwnRedis();
      const redisUrl = own?.url ?? REDIS_URL;
      const prefix = `herald-order:${randomBytes(4).toString('hex')}:`;
      const nodes: Node[] = [];
      for (let i = 0; i < count; i++) nodes.push(await startNode(redisUrl, prefix));
      const dead = new Set<number>();
      const sdks = [sdkEntry(nodes, 0, 'alice'), sdkEntry(nodes, 1, 'bob')];
      const raws: Awaited<ReturnType<typeof rawClient>>[] = [];
      try {
        for (const e of sdks) {
          await e.client.connect();
          await e.client.subscribe('room');
        }
        // Raw clients on the nodes that stay up: a raw client does not reconnect by itself.
        for (let i = 1; i < count; i++) raws.push(await rawClient(nodes[i]!, i === 1 ? 'alice' : 'bob'));

        let faultsDone: Promise<void> = Promise.resolve();
        let progress = (_done: number): void => {};
        if (faults) {
          const at = (n: number) => new Promise<void>((resolve) => (progress = (done) => done >= n && resolve()));
          faultsDone = (async () => {
            await at(MESSAGES / 3);
            // Kill the node alice's SDK client is on, with publishes in flight through it.
            dead.add(0);
            nodes[0]!.proc.child.kill('SIGKILL');
            await nodes[0]!.proc.exited;
            await at((2 * MESSAGES) / 3);
            const back = Promise.all(nodes.slice(1).map((n) => n.proc.waitLog((l) => String(l.msg).startsWith('redis reconnected'), 30_000)));
            await own!.stop();
            await own!.start();
            await back;
          })();
        }
        const started = Date.now();
        const published = await publishAll(
          nodes,
          (n) => !dead.has(n),
          (done) => progress(done),
        );
        const ms = Date.now() - started;
        await faultsDone;

        const results: string[] = [];
        for (const e of sdks) {
          const total = expectedCount(published, e.streams);
          if (e.got.length < total) await nextEvent(e.client, 'message', () => e.got.length >= total, 30_000).catch(() => undefined);
          const t = tally(e.got, published, e.streams, 'ORDER_DEBUG');
          results.push(`${e.name}: ${t.checked} checked, ${t.lost} lost, ${t.duplicated} duplicated, ${t.outOfOrder} out of order`);
          assert.deepEqual([t.lost, t.duplicated, t.outOfOrder], [0, 0, 0], results.at(-1));
          assert.equal(e.notRecovered, 0, `${e.name}: every resume recovered`);
        }
        for (const r of raws) {
          const total = expectedCount(published, r.streams);
          if (r.got().length < total) await r.c.next(() => r.got().length >= total, 30_000).catch(() => undefined);
          const t = tally(r.got(), published, r.streams, 'ORDER_DEBUG');
          results.push(`${r.name}: ${t.checked} checked, ${t.lost} lost, ${t.duplicated} duplicated, ${t.outOfOrder} out of order`);
          assert.deepEqual([t.lost, t.duplicated, t.outOfOrder], [0, 0, 0], results.at(-1));
          assert.equal(r.c.closeCode, undefined, `${r.name} stayed connected`);
        }
        console.log(`order test, ${title}: ${MESSAGES} publishes in ${ms} ms;\n  ${results.join(';\n  ')}`);
      } finally {
        for (const e of sdks) e.client.close();
        for (const r of raws) r.c.close();
        await stopAll(nodes);
        await own?.close();
      }
    });
  }
});
