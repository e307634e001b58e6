// The per-stream sequencer of the Redis broker, against a real memory store: whatever order entries arrive in,
// a stream is handed on in offset order with no gap and no repeat, and its position tells a joining
// connection where live delivery stands.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAnnouncement } from '../../src/broker/redis.ts';
import { Sequencer, type History } from '../../src/broker/sequencer.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { StoredMessage, StreamPosition } from '../../src/store/store.ts';
import { prng } from '../helpers/prng.ts';

const retention = () => ({ maxCount: 100_000, maxAgeMs: 3_600_000 });

interface Rig {
  store: MemoryStore;
  seq: Sequencer;
  out: Envelope[];
  errors: unknown[];
  /** Appends n messages to the store without announcing them, returning their envelopes. */
  append(stream: string, n: number): Promise<Envelope[]>;
  /** Resolves once `n` envelopes were handed on (the fills are asynchronous). */
  until(n: number): Promise<void>;
  offsets(stream?: string): number[];
}

function rig(history?: (store: MemoryStore) => History): Rig {
  const store = new MemoryStore(retention);
  const out: Envelope[] = [];
  const errors: unknown[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const seq = new Sequencer(
    history?.(store) ?? store,
    (env) => {
      out.push(env);
      for (const w of [...waiters]) {
        if (out.length < w.n) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    (_stream, err) => errors.push(err),
  );
  return {
    store,
    seq,
    out,
    errors,
    async append(stream, n) {
      const envs: Envelope[] = [];
      for (let i = 0; i < n; i++) {
        const data = JSON.stringify({ i });
        const r = await store.append(stream, data);
        envs.push({ stream, offset: r.offset, epoch: r.epoch, data });
      }
      return envs;
    },
    until(n) {
      if (out.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${n} handed on`)), 5000);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    offsets(stream) {
      return out.filter((e) => stream === undefined || e.stream === stream).map((e) => e.offset);
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Sequencer', () => {
  it('starts after the committed top and hands on entries in order, each once', async () => {
    const r = rig();
    const before = await r.append('s', 3);
    await r.seq.open('s', () => Promise.resolve());
    assert.deepEqual(r.seq.delivered('s'), { offset: 3, epoch: before[0]!.epoch });
    const envs = await r.append('s', 4);
    for (const e of [...before, envs[0]!, envs[0]!, envs[1]!, envs[2]!, envs[1]!, envs[3]!]) r.seq.push(e);
    assert.deepEqual(r.offsets(), [4, 5, 6, 7], 'older than the start and repeats are dropped');
    assert.deepEqual(r.seq.delivered('s'), { offset: 7, epoch: before[0]!.epoch });
  });

  it('holds an entry that arrives ahead of a missing one and fills the gap from the store first', async () => {
    const r = rig();
    await r.seq.open('s', () => Promise.resolve());
    const envs = await r.append('s', 10);
    // 1, then 5 (2-4 lost), then 3 late, then 9 (6-8 lost), then 10.
    for (const i of [0, 4, 2, 8, 9]) r.seq.push(envs[i]!);
    await r.until(10);
    assert.deepEqual(r.offsets(), range(1, 10));
    assert.equal(r.out[1]!.data, envs[1]!.data, 'a filled entry carries the stored data');
  });

  it('reorders a stream that arrives shuffled', async () => {
    const r = rig();
    await r.seq.open('s', () => Promise.resolve());
    const envs = await r.append('s', 500);
    const shuffled = [...envs];
    const random = prng(7);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (const e of [...shuffled, ...shuffled.slice(0, 50)]) r.seq.push(e);
    await r.until(500);
    assert.deepEqual(r.offsets(), range(1, 500));
  });

  it('starts from the top before subscribing and hands on what was committed while it subscribed', async () => {
    const r = rig();
    const envs = await r.append('s', 6);
    let subscribed!: () => void;
    let subscribing!: () => void;
    const asked = new Promise<void>((resolve) => (subscribing = resolve));
    const opened = r.seq.open('s', () => {
      subscribing();
      return new Promise<void>((resolve) => (subscribed = resolve));
    });
    await asked;
    // While subscribing: old entries arrive again (dropped), 7 is committed without arriving, 8 arrives.
    for (const e of envs) r.seq.push(e);
    const later = await r.append('s', 2);
    r.seq.push(later[1]!);
    subscribed();
    await opened;
    await r.until(2);
    assert.deepEqual(r.offsets(), [7, 8], 'what came after the start, in order, 7 read from the store');
    assert.equal(r.seq.delivered('s')?.offset, 8);
    r.seq.push((await r.append('s', 1))[0]!);
    assert.deepEqual(r.offsets(), [7, 8, 9]);
  });

  it('orders streams independently and ignores streams it does not follow', async () => {
    const r = rig();
    await r.seq.open('a', () => Promise.resolve());
    await r.seq.open('b', () => Promise.resolve());
    const a = await r.append('a', 3);
    const b = await r.append('b', 3);
    const c = await r.append('c', 1);
    for (const e of [a[2]!, b[0]!, c[0]!, b[1]!, a[0]!, b[2]!, a[1]!]) r.seq.push(e);
    await r.until(6);
    assert.deepEqual(r.offsets('a'), [1, 2, 3]);
    assert.deepEqual(r.offsets('b'), [1, 2, 3]);
    assert.deepEqual(r.offsets('c'), []);
    r.seq.close('b');
    r.seq.push((await r.append('b', 1))[0]!);
    assert.equal(r.offsets('b').length, 3, 'nothing after close');
    assert.equal(r.seq.delivered('b'), undefined);
  });

  it('continues past entries that retention trimmed before the fill could read them', async () => {
    const store = new MemoryStore(() => ({ maxCount: 3, maxAgeMs: 3_600_000 }));
    const out: number[] = [];
    const seq = new Sequencer(
      store,
      (e) => out.push(e.offset),
      () => {},
    );
    await seq.open('s', () => Promise.resolve());
    let last: Envelope | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await store.append('s', '0');
      last = { stream: 's', offset: r.offset, epoch: r.epoch, data: '0' };
    }
    seq.push(last!);
    await new Promise<void>((resolve) => {
      const check = () => (out.length > 0 && out.at(-1) === 10 ? resolve() : setImmediate(check));
      check();
    });
    assert.deepEqual(out, [8, 9, 10], 'what is retained, in order, then live again');
    assert.equal(seq.delivered('s')?.offset, 10);
  });

  it('retries a fill whose read failed, and reports the failure', async () => {
    let failures = 2;
    const r = rig((store) => ({
      position: (s: string): Promise<StreamPosition> => store.position(s),
      read: (s: string, after: number, limit: number): Promise<StoredMessage[]> =>
        failures-- > 0 ? Promise.reject(new Error('store down')) : store.read(s, after, limit),
    }));
    await r.seq.open('s', () => Promise.resolve());
    const envs = await r.append('s', 3);
    r.seq.push(envs[2]!);
    await r.until(3);
    assert.deepEqual(r.offsets(), [1, 2, 3]);
    assert.equal(r.errors.length, 2);
  });

  it('resync hands on what was committed while arrivals were lost, and reports a new epoch', async () => {
    const r = rig();
    await r.seq.open('s', () => Promise.resolve());
    await r.append('s', 4);
    assert.equal(await r.seq.resync(() => Promise.resolve()), false);
    await r.until(4);
    assert.deepEqual(r.offsets(), [1, 2, 3, 4]);

    // As after Redis lost its data: the stream's history now has another epoch.
    assert.equal(await epochChangeResync(), true);
  });

  it('a failed start forgets the stream so the next open tries again', async () => {
    let fail = true;
    const r = rig((store) => ({
      position: (s: string) => (fail ? Promise.reject(new Error('down')) : store.position(s)),
      read: (s: string, after: number, limit: number) => store.read(s, after, limit),
    }));
    await assert.rejects(
      r.seq.open('s', () => Promise.resolve()),
      /down/,
    );
    assert.equal(r.seq.has('s'), false);
    fail = false;
    await r.seq.open('s', () => Promise.resolve());
    assert.deepEqual(r.seq.delivered('s')?.offset, 0);
  });
});

/** A sequencer whose store is swapped for one with another epoch between start and resync. */
async function epochChangeResync(): Promise<boolean> {
  const first = new MemoryStore(retention);
  const second = new MemoryStore(retention);
  let current = first;
  const seq = new Sequencer(
    { position: (s) => current.position(s), read: (s, a, l) => current.read(s, a, l) },
    () => {},
    () => {},
  );
  await first.append('s', '1');
  await seq.open('s', () => Promise.resolve());
  current = second;
  const changed = await seq.resync(() => Promise.resolve());
  assert.equal(seq.delivered('s')?.epoch, (await second.position('s')).epoch);
  return changed;
}

describe('announcement payloads', () => {
  it('parse offset, epoch, exclusion, event (counted in bytes) and data', () => {
    const ev = 'évènement:1';
    const msg = Buffer.concat([Buffer.from(`12:ab12::${Buffer.byteLength(ev)}:`), Buffer.from(ev), Buffer.from('{"x":"ü:"}')]);
    assert.deepEqual(parseAnnouncement('user:1', msg), { stream: 'user:1', offset: 12, epoch: 'ab12', data: '{"x":"ü:"}', event: ev });
    assert.deepEqual(parseAnnouncement('b', Buffer.from('1:e::0:null')), { stream: 'b', offset: 1, epoch: 'e', data: 'null' });
    assert.deepEqual(parseAnnouncement('b', Buffer.from('1:e:0000abcd.1z:0:null')), {
      stream: 'b',
      offset: 1,
      epoch: 'e',
      data: 'null',
      exclude: '0000abcd.1z',
    });
  });

  it('refuse malformed payloads instead of guessing', () => {
    for (const bad of ['', '1', '1:e', '1:e:0', '1:e::0', 'x:e::0:1', '0:e::0:1', '1:e::-1:1', '1:e::9:ab', '1.5:e::0:1']) {
      assert.equal(parseAnnouncement('s', Buffer.from(bad)), undefined, bad);
    }
  });
});
