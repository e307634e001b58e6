// What a (re)connecting client is replayed on one stream, against a real memory store: continue from its own
// position or the user's acknowledged one (the floor), say `recovered: false` whenever that cannot be done without
// a gap, and, with several nodes, stop the replay where live delivery stands.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capToDelivered, planRecovery, type RecoveryPlan } from '../../src/core/recovery.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { Position } from '../../src/store/store.ts';

const STREAM = 'user:alice';

/** A memory store holding `n` messages in STREAM, keeping the last `keep` of them. */
async function storeWith(n: number, keep = 100_000): Promise<{ store: MemoryStore; epoch: string }> {
  const store = new MemoryStore(() => ({ maxCount: keep, maxAgeMs: 3_600_000 }));
  for (let i = 1; i <= n; i++) await store.append(STREAM, JSON.stringify({ i }));
  return { store, epoch: (await store.position(STREAM)).epoch };
}

const offsets = (plan: RecoveryPlan) => plan.messages.map((m) => m.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
const OTHER_EPOCH = 'an-epoch-that-was-lost';

describe('planRecovery: the client has a position', () => {
  it('in the same epoch: replays what came after it, recovered', async () => {
    const { store, epoch } = await storeWith(5);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch }, { replayAll: false });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [3, 4, 5]);
    assert.deepEqual(
      plan.messages.map((m) => m.data),
      ['{"i":3}', '{"i":4}', '{"i":5}'],
    );
    assert.deepEqual(plan.position, { top: 5, first: 1, epoch });
  });

  it('at the top: nothing to replay, recovered', async () => {
    const { store, epoch } = await storeWith(5);
    const plan = await planRecovery(store, STREAM, { offset: 5, epoch }, { replayAll: false });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), []);
  });

  it('beyond the top (an offset never stored: corrupted, foreign, or a store that lost its newest entries): not recovered, treated as no position', async () => {
    // Continuing from 9 would skip offsets 6 to 9 when they are given to the next messages. (A client ahead of this
    // node's live delivery, with several nodes, is still within the store's top: capToDelivered, below.)
    const { store, epoch } = await storeWith(5);
    const inbox = await planRecovery(store, STREAM, { offset: 9, epoch }, { replayAll: true });
    assert.equal(inbox.recovered, false);
    assert.equal(inbox.from, 0);
    assert.deepEqual(offsets(inbox), [1, 2, 3, 4, 5], 'an inbox replays everything retained');
    const channel = await planRecovery(store, STREAM, { offset: 6, epoch }, { replayAll: false });
    assert.equal(channel.recovered, false);
    assert.equal(channel.from, undefined, 'a channel or broadcast goes live');
    assert.deepEqual(offsets(channel), []);
  });

  it('beyond the top, with an acknowledged position: continues from the acknowledged one, not recovered', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 60, epoch }, { floor: { offset: 4, epoch }, replayAll: true });
    assert.equal(plan.recovered, false);
    assert.equal(plan.from, 4);
    assert.deepEqual(offsets(plan), [5, 6]);
  });

  it('in an empty stream, position 0: recovered', async () => {
    const { store, epoch } = await storeWith(0);
    const plan = await planRecovery(store, STREAM, { offset: 0, epoch }, { replayAll: false });
    assert.equal(plan.recovered, true);
    assert.deepEqual(plan.position, { top: 0, first: 1, epoch });
  });

  it('in another epoch: not recovered, and it goes live', async () => {
    const { store } = await storeWith(5);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch: OTHER_EPOCH }, { replayAll: false });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), []);
    assert.equal(plan.position.top, 5);
  });

  it('in another epoch, for an inbox: not recovered, and everything retained is replayed', async () => {
    const { store } = await storeWith(5);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch: OTHER_EPOCH }, { replayAll: true });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), [1, 2, 3, 4, 5]);
  });

  it('behind what is retained: not recovered, and what is retained is replayed', async () => {
    const { store, epoch } = await storeWith(10, 3);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch }, { replayAll: false });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), [8, 9, 10]);
    assert.deepEqual(plan.position, { top: 10, first: 8, epoch });
  });

  it('just before the first retained message: nothing was trimmed that it lacks, recovered', async () => {
    const { store, epoch } = await storeWith(10, 3);
    const plan = await planRecovery(store, STREAM, { offset: 7, epoch }, { replayAll: false });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [8, 9, 10]);
  });
});

describe('planRecovery: the floor (the user acknowledged position)', () => {
  it('later than the client position: continues from the floor', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch }, { floor: { offset: 4, epoch }, replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [5, 6]);
  });

  it('earlier than the client position: continues from the client position', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 5, epoch }, { floor: { offset: 3, epoch }, replayAll: true });
    assert.deepEqual(offsets(plan), [6]);
    assert.equal(plan.recovered, true);
  });

  it('without a client position (a new device of a known user): continues from the floor', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, undefined, { floor: { offset: 4, epoch }, replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [5, 6]);
  });

  it('past a client position that history no longer reaches: what lies between was acknowledged, recovered', async () => {
    const { store, epoch } = await storeWith(10, 3);
    const plan = await planRecovery(store, STREAM, { offset: 2, epoch }, { floor: { offset: 8, epoch }, replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [9, 10]);
  });

  it('itself behind what is retained: not recovered', async () => {
    const { store, epoch } = await storeWith(10, 3);
    const plan = await planRecovery(store, STREAM, undefined, { floor: { offset: 3, epoch }, replayAll: true });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), [8, 9, 10]);
  });

  it('beyond the top: ignored, the client position counts', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 3, epoch }, { floor: { offset: 50, epoch }, replayAll: true });
    assert.equal(plan.recovered, true);
    assert.equal(plan.from, 3);
    assert.deepEqual(offsets(plan), [4, 5, 6]);
  });

  it('in another epoch: ignored, the client position counts', async () => {
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 3, epoch }, { floor: { offset: 5, epoch: OTHER_EPOCH }, replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [4, 5, 6]);
  });

  it('does not hide that the client position was in a lost epoch: not recovered', async () => {
    // The store lost its history (a new epoch); another device of the user has acknowledged messages since. This
    // client's position belongs to the lost history, so what came after it there is gone for this client, and
    // docs/guarantees.md promises `recovered: false` for a new epoch, as without a floor.
    const { store, epoch } = await storeWith(6);
    const plan = await planRecovery(store, STREAM, { offset: 40, epoch: OTHER_EPOCH }, { floor: { offset: 4, epoch }, replayAll: true });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), [5, 6]);
  });
});

describe('planRecovery: no position at all', () => {
  it('an inbox on a brand-new device replays everything retained, recovered', async () => {
    const { store } = await storeWith(4);
    const plan = await planRecovery(store, STREAM, undefined, { replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), [1, 2, 3, 4]);
  });

  it('an inbox on a brand-new device whose oldest messages were trimmed: replays the rest, not recovered', async () => {
    const { store } = await storeWith(10, 3);
    const plan = await planRecovery(store, STREAM, undefined, { replayAll: true });
    assert.equal(plan.recovered, false);
    assert.deepEqual(offsets(plan), [8, 9, 10]);
  });

  it('an empty inbox: nothing to replay, recovered', async () => {
    const { store } = await storeWith(0);
    const plan = await planRecovery(store, STREAM, undefined, { replayAll: true });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), []);
  });

  it('a channel or broadcast: goes live without a replay, recovered', async () => {
    const { store, epoch } = await storeWith(4);
    const plan = await planRecovery(store, STREAM, undefined, { replayAll: false });
    assert.equal(plan.recovered, true);
    assert.deepEqual(offsets(plan), []);
    assert.deepEqual(plan.position, { top: 4, first: 1, epoch });
  });
});

describe('planRecovery: long histories', () => {
  for (const n of [999, 1000, 1001, 2000, 2500]) {
    it(`reads ${n} messages page by page, all of them once, in order`, async () => {
      const { store } = await storeWith(n);
      const plan = await planRecovery(store, STREAM, undefined, { replayAll: true });
      assert.deepEqual(offsets(plan), range(1, n));
    });
  }

  it('pages from the client position too', async () => {
    const { store, epoch } = await storeWith(2600);
    const plan = await planRecovery(store, STREAM, { offset: 100, epoch }, { replayAll: false });
    assert.deepEqual(offsets(plan), range(101, 2600));
    assert.equal(plan.recovered, true);
  });
});

describe('capToDelivered', () => {
  async function plan(): Promise<{ full: RecoveryPlan; epoch: string }> {
    const { store, epoch } = await storeWith(10);
    return { full: await planRecovery(store, STREAM, { offset: 4, epoch }, { replayAll: false }), epoch };
  }

  it('stops the replay where live delivery stands when that is lower than the top', async () => {
    const { full, epoch } = await plan();
    const capped = capToDelivered(full, { offset: 7, epoch });
    assert.deepEqual(capped.position, { top: 7, first: 1, epoch });
    assert.deepEqual(offsets(capped), [5, 6, 7]);
    assert.equal(capped.recovered, true);
    // The plan it was given is left as it was.
    assert.equal(full.position.top, 10);
    assert.deepEqual(offsets(full), [5, 6, 7, 8, 9, 10]);
  });

  it('can cap the replay to nothing', async () => {
    const { full, epoch } = await plan();
    const capped = capToDelivered(full, { offset: 3, epoch });
    assert.equal(capped.position.top, 3);
    assert.deepEqual(offsets(capped), []);
  });

  it('leaves the plan alone when live delivery is at or past the top, unknown, or in another epoch', async () => {
    const { full, epoch } = await plan();
    const untouched: (Position | undefined)[] = [{ offset: 10, epoch }, { offset: 12, epoch }, undefined, { offset: 7, epoch: OTHER_EPOCH }];
    for (const delivered of untouched) {
      const same = capToDelivered(full, delivered);
      assert.equal(same, full, JSON.stringify(delivered));
      assert.deepEqual(offsets(same), [5, 6, 7, 8, 9, 10]);
    }
  });
});
