// The broker's catch-up after a Redis reconnect, over a real sequencer and memory store whose reads fail for a
// while (as they do when the connection drops again right after it came back, during a Sentinel failover): the
// catch-up retries, and connected clients are asked to resume only when the history is gone or the reads keep failing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { CatchUp } from '../../src/broker/catch-up.ts';
import { Sequencer } from '../../src/broker/sequencer.ts';
import type { Envelope } from '../../src/domain/streams.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const log = pino({ level: 'silent' });
const fast = { retries: 3, firstDelayMs: 1, maxDelayMs: 4 };

interface Rig {
  store: MemoryStore;
  out: Envelope[];
  resumed: string[];
  catchUp: CatchUp;
  /** Reads of the store's position fail while this is above 0, each failing read counting it down. */
  failing: { reads: number; attempts: number };
  /** Resolves once `n` resync attempts were made and the last one settled. */
  attempts(n: number): Promise<void>;
  handedOn(n: number): Promise<void>;
  resumedOnce(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = new MemoryStore(() => ({ maxCount: 1000, maxAgeMs: 60_000 }));
  const out: Envelope[] = [];
  const resumed: string[] = [];
  const failing = { reads: 0, attempts: 0 };
  let onEvent = () => {};
  const seq = new Sequencer(
    {
      position: (s) => (failing.reads > 0 ? (failing.reads--, Promise.reject(new Error("Stream isn't writeable"))) : store.position(s)),
      read: (s, after, limit) => store.read(s, after, limit),
    },
    (env) => {
      out.push(env);
      onEvent();
    },
    () => {},
  );
  await seq.open('user:bob', () => Promise.resolve());
  const resync = () => {
    const p = seq.resync(() => Promise.resolve());
    failing.attempts++;
    void p.then(onEvent, onEvent);
    return p;
  };
  const catchUp = new CatchUp(
    resync,
    (reason) => {
      resumed.push(reason);
      onEvent();
    },
    log,
    fast,
  );
  // The catch-up's retry timers are unref'd (they must not keep a stopping server alive): the wait holds the loop.
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const alive = setInterval(() => {}, 1000);
      const check = () => {
        if (!done()) return;
        clearInterval(alive);
        resolve();
      };
      onEvent = () => setImmediate(check);
      check();
    });
  return {
    store,
    out,
    resumed,
    catchUp,
    failing,
    attempts: (n) => until(() => failing.attempts >= n),
    handedOn: (n) => until(() => out.length >= n),
    resumedOnce: () => until(() => resumed.length > 0),
  };
}

describe('broker catch-up after a reconnect', () => {
  it('retries a failed read and hands on what was committed meanwhile, without sending clients away', async () => {
    const r = await rig();
    await r.store.append('user:bob', '"missed 1"');
    await r.store.append('user:bob', '"missed 2"');
    r.failing.reads = 2;
    r.catchUp.start('redis reconnected');
    await r.handedOn(2);
    assert.deepEqual(
      r.out.map((e) => [e.offset, e.data]),
      [
        [1, '"missed 1"'],
        [2, '"missed 2"'],
      ],
    );
    assert.equal(r.failing.attempts, 3, 'two failed reads, then one that worked');
    assert.deepEqual(r.resumed, []);
  });

  it('asks clients to resume once the reads kept failing through every retry', async () => {
    const r = await rig();
    r.failing.reads = Infinity;
    r.catchUp.start('redis reconnected');
    await r.resumedOnce();
    assert.equal(r.failing.attempts, fast.retries + 1);
    assert.deepEqual(r.resumed, ['catching up after the redis reconnect failed: asking local clients to resume']);
  });

  it('a newer catch-up takes over: the older one stops retrying', async () => {
    const r = await rig();
    r.failing.reads = 1;
    r.catchUp.start('first reconnect');
    r.catchUp.start('second reconnect');
    await r.store.append('user:bob', '"late"');
    await r.handedOn(1);
    // The first failed once and was superseded; the second worked at once: two attempts, not three.
    await r.attempts(2);
    // A retry of the first would come 1 ms after its failure: give it five times that, with the loop held, to show.
    await new Promise((resolve) => setTimeout(resolve, 5 * fast.maxDelayMs));
    assert.equal(r.failing.attempts, 2);
    assert.deepEqual(r.resumed, []);
  });
});
