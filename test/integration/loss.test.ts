// The loss test of docs/guarantees.md: every message is counted while clients drop, go offline and come back on
// new connections, and the server is killed with SIGKILL (twice) and restarted on the same data directory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Herald, HeraldMessage } from '../../client/index.ts';
import { TokenService } from '../../src/auth/tokens.ts';
import { API_KEY, startHerald, TOKEN_SECRET } from '../helpers/herald.ts';
import { runHerald, type HeraldProcess } from '../helpers/process.ts';
import { freePort } from '../helpers/redis.ts';
import { memoryStorage, nextEvent, sdkClient } from '../helpers/sdk.ts';
import { prng } from '../helpers/prng.ts';

const USERS = 4;
const MESSAGES = 3000;
const BATCH = 50;

type Target = { user: string } | { channel: string } | { all: true };
const targetOf = (seq: number): Target => (seq % 10 === 0 ? { all: true } : seq % 3 === 0 ? { channel: 'loss' } : { user: `u${seq % USERS}` });

test('no message is lost or duplicated across disconnects, offline periods and SIGKILL restarts', async () => {
  const seed = Number(process.env.LOSS_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-loss-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  // Move passes of the SQLite append log every 100 messages (in chunks of 25, a turn each): the kills land in them.
  const env = { HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET, HERALD_LOG_LEVEL: 'warn', HERALD_STORE_INDEX_AFTER_ROWS: '100' };
  const args = ['start', '--host', '127.0.0.1', '--port', String(port), '--line-port', '0', '--data-dir', dataDir];
  const base = `http://127.0.0.1:${port}`;
  let proc: HeraldProcess = runHerald(args, { ...env, HERALD_LOG_LEVEL: 'info' });
  await proc.waitLog((l) => typeof l.http === 'string');
  const restart = async () => {
    proc = runHerald(args, { ...env, HERALD_LOG_LEVEL: 'info' });
    await proc.waitLog((l) => typeof l.http === 'string');
  };

  const tokens = new TokenService(TOKEN_SECRET);
  const seqWatchers = new Set<(m: HeraldMessage) => void>();
  /** Resolves when any client receives a message with seq in [from, to]: the server is then inside that batch. */
  const firstOf = (from: number, to: number) =>
    new Promise<void>((resolve) => {
      const w = (m: HeraldMessage) => {
        const seq = (m.data as { seq: number }).seq;
        if (seq >= from && seq <= to) {
          seqWatchers.delete(w);
          resolve();
        }
      };
      seqWatchers.add(w);
    });
  // One durable storage per user: a client that goes away and a brand-new connection later are the same browser.
  const users = Array.from({ length: USERS }, (_, i) => ({
    id: `u${i}`,
    storage: memoryStorage(),
    received: [] as HeraldMessage[],
    client: undefined as Herald | undefined,
    recoveredFalse: 0,
    log: [] as string[],
  }));
  const open = async (u: (typeof users)[number]) => {
    const c = sdkClient({
      url: `ws://127.0.0.1:${port}/ws`,
      token: () => tokens.sign(u.id, { channels: ['*'], ttlSeconds: 3600 }),
      storage: u.storage,
      ackIntervalMs: 20,
    });
    c.on('message', (m) => {
      u.received.push(m);
      for (const w of [...seqWatchers]) w(m);
    });
    if (process.env.LOSS_DEBUG) {
      c.on('recovery', (r) => u.log.push(`recovery ${r.stream} ${r.recovered} after ${u.received.length}`));
      c.on('disconnected', (d) => u.log.push(`disconnected ${d.code} after ${u.received.length}`));
      c.on('connected', () => u.log.push(`connected after ${u.received.length} pos=${JSON.stringify(c.positions())}`));
    }
    c.on('recovery', (r) => {
      if (!r.recovered) u.recoveredFalse++;
    });
    u.client = c;
    await c.connect();
    await c.subscribe('loss');
  };
  for (const u of users) await open(u);

  const counts = { batches: 0, retries: 0, kills: 0, serverDisconnects: 0, offline: 0, storedBeforeKill: [] as number[] };
  const post = (body: unknown) =>
    fetch(`${base}/api/publish/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const killAt = new Set([Math.floor(MESSAGES / BATCH / 3), Math.floor((2 * MESSAGES) / BATCH / 3)]);
  const offline: { until: number; user: (typeof users)[number] }[] = [];

  for (let b = 0; b * BATCH < MESSAGES; b++) {
    const messages = Array.from({ length: BATCH }, (_, k) => {
      const seq = b * BATCH + k + 1;
      return { to: targetOf(seq), data: { seq }, idempotencyKey: `m${seq}` };
    });
    let afterKill = false;
    if (killAt.has(b)) {
      // Kill while this batch is being published: the first of its messages has reached a client, so part of it
      // is stored and part is not; the retry below must store the rest and duplicate nothing.
      const started = firstOf(b * BATCH + 1, (b + 1) * BATCH);
      const inflight = post({ messages }).then(
        (r) => r.status,
        () => 0,
      );
      await started;
      proc.child.kill('SIGKILL');
      await proc.exited;
      await inflight;
      counts.kills++;
      afterKill = true;
      await restart();
    }
    for (;;) {
      const res = await post({ messages }).catch(() => undefined);
      if (res?.status === 200) {
        const body = (await res.json()) as { results: { error?: unknown; duplicate?: boolean }[] };
        assert.ok(
          body.results.every((r) => r.error === undefined),
          JSON.stringify(body.results.find((r) => r.error)),
        );
        if (afterKill) counts.storedBeforeKill.push(body.results.filter((r) => r.duplicate === true).length);
        break;
      }
      counts.retries++;
      await restart();
    }
    counts.batches++;
    // Disruptions between batches: a server-side disconnect (the client reconnects and resumes), or a user going
    // offline for a few batches and coming back on a brand-new connection.
    const r = random();
    const u = users[Math.floor(random() * USERS)]!;
    if (r < 0.25 && u.client !== undefined) {
      await fetch(`${base}/api/users/${u.id}/disconnect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reconnect: true }),
      });
      counts.serverDisconnects++;
    } else if (r < 0.4 && u.client !== undefined) {
      u.client.close();
      u.client = undefined;
      offline.push({ until: b + 1 + Math.floor(random() * 5), user: u });
      counts.offline++;
    }
    for (const o of offline.filter((x) => x.until <= b)) {
      offline.splice(offline.indexOf(o), 1);
      await open(o.user);
    }
  }
  for (const o of offline.splice(0)) await open(o.user);

  const expected = (u: (typeof users)[number]) => {
    const out: Record<string, number[]> = { [`user:${u.id}`]: [], 'channel:loss': [], broadcast: [] };
    for (let seq = 1; seq <= MESSAGES; seq++) {
      const t = targetOf(seq);
      if ('all' in t) out.broadcast!.push(seq);
      else if ('channel' in t) out['channel:loss']!.push(seq);
      else if (t.user === u.id) out[`user:${u.id}`]!.push(seq);
    }
    return out;
  };
  let checked = 0;
  for (const u of users) {
    const want = expected(u);
    const total = Object.values(want).reduce((n, l) => n + l.length, 0);
    if (u.received.length < total) {
      await nextEvent(u.client!, 'message', () => u.received.length >= total, 30_000).catch((err: Error) => {
        const report = Object.entries(want).map(([stream, seqs]) => {
          const got = new Set(u.received.filter((m) => m.stream === stream).map((m) => (m.data as { seq: number }).seq));
          return `${stream}: missing ${seqs
            .filter((q) => !got.has(q))
            .slice(0, 20)
            .join(',')}`;
        });
        if (process.env.LOSS_DEBUG) {
          console.log(u.log.join('\n'));
          console.log(u.received.map((m) => `${m.stream}#${m.offset}=${(m.data as { seq: number }).seq}`).join(' '));
        }
        throw new Error(`${err.message}; seed ${seed}; ${u.id} got ${u.received.length}/${total}; ${report.join('; ')}; ${JSON.stringify(counts)}`);
      });
    }
    for (const [stream, seqs] of Object.entries(want)) {
      const got = u.received.filter((m) => m.stream === stream).map((m) => (m.data as { seq: number }).seq);
      assert.deepEqual(got, seqs, `${u.id} ${stream}: exactly the published sequence, in order (seed ${seed})`);
      const offsets = u.received.filter((m) => m.stream === stream).map((m) => m.offset);
      assert.deepEqual(
        offsets,
        Array.from({ length: offsets.length }, (_, i) => i + 1),
        `${u.id} ${stream}: offsets dense from 1`,
      );
      checked += got.length;
    }
    assert.equal(u.recoveredFalse, 0, `${u.id} never lost history within retention`);
    u.client!.close();
  }
  proc.child.kill('SIGTERM');
  await proc.exited;
  console.log(
    `loss test (seed ${seed}): ${MESSAGES} messages, ${USERS} users, ${counts.kills} SIGKILL restarts, ${counts.retries} publish retries, ` +
      `${counts.serverDisconnects} server disconnects, ${counts.offline} offline periods; of the ${BATCH}-message batches cut by the kills, ` +
      `${counts.storedBeforeKill.join(' and ')} messages were stored before the kill and returned as duplicates on retry; ${checked} deliveries checked: 0 lost, 0 duplicated, 0 out of order`,
  );
});

test('past retention the client is told recovered: false', async () => {
  const h = await startHerald({ history: { rules: [{ pattern: 'tiny', maxCount: 3 }] } });
  try {
    const storage = memoryStorage();
    const a = sdkClient({ url: h.wsUrl, token: () => h.token('p1', ['*']), storage });
    await a.connect();
    await a.subscribe('tiny');
    const first = nextEvent(a, 'message');
    await h.api('POST', '/api/publish', { to: { channel: 'tiny' }, data: 1 });
    await first;
    a.close();
    for (let i = 2; i <= 10; i++) await h.api('POST', '/api/publish', { to: { channel: 'tiny' }, data: i });
    const b = sdkClient({ url: h.wsUrl, token: () => h.token('p1', ['*']), storage });
    const got: unknown[] = [];
    b.on('message', (m) => got.push(m.data));
    await b.connect();
    const rec = nextEvent(b, 'recovery', (r) => r.channel === 'tiny');
    await b.subscribe('tiny');
    assert.equal((await rec).recovered, false);
    if (got.length < 3) await nextEvent(b, 'message', () => got.length >= 3);
    assert.deepEqual(got, [8, 9, 10], 'what is still retained is delivered');
    b.close();
  } finally {
    await h.close();
  }
});
