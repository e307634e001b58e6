// The fast lane against llhttp: the same bytes, in the same chunks, read by the fast lane (and by Node for what
// it hands over) and by Node's parser alone (test/helpers/llhttp-oracle.ts). The requests executed, in order with
// their method, target, Authorization and body, and how the connection stands at the end (waiting, closed,
// rejected) must be the same for every case. FUZZ_CASES=1000000 (and FUZZ_SEED) for a longer run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CORPUS, generate, MAX_BODY, splits } from '../helpers/http-cases.ts';
import { laneReads, nodeReads, type Outcome } from '../helpers/llhttp-oracle.ts';
import { prng } from '../helpers/prng.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 16);

const show = (o: Outcome): string =>
  JSON.stringify({
    end: o.end,
    executed: o.executed.map((e) => `${e.method} ${e.url} auth=${JSON.stringify(e.authorization)} body=${e.body.length}B`),
    upgrade: o.upgrade,
  });
const describeCase = (bytes: Buffer, chunks: Buffer[]): string => `${JSON.stringify(bytes.toString('latin1'))} in ${chunks.length} chunks`;

function compare(bytes: Buffer, chunks: Buffer[], divergences: string[]): ReturnType<typeof laneReads> {
  const node = nodeReads(chunks);
  const lane = laneReads(chunks, MAX_BODY);
  // A handshake must reach the upgrade listener with the same target, raw and parsed headers, and following bytes.
  const same = (o: Outcome): string => JSON.stringify([o.end, o.executed, o.upgrade]);
  if (same(node) !== same(lane)) divergences.push(`${describeCase(bytes, chunks)}\n  node: ${show(node)}\n  lane: ${show(lane)}`);
  return lane;
}

test('every corpus case, whole and split at every byte, reads as llhttp reads it', () => {
  const divergences: string[] = [];
  const r = prng(SEED);
  for (const c of CORPUS) {
    compare(c.bytes, [c.bytes], divergences);
    compare(c.bytes, splits(r, c.bytes, true), divergences);
    for (let k = 0; k < 20; k++) compare(c.bytes, splits(r, c.bytes, false), divergences);
  }
  assert.deepEqual(divergences.slice(0, 5), [], `${divergences.length} divergences`);
});

test(`${CASES} generated cases (seed ${SEED}) read as llhttp reads them`, () => {
  const r = prng(SEED);
  const divergences: string[] = [];
  let executedByLane = 0;
  let handedOver = 0;
  let upgradedByLane = 0;
  for (let i = 0; i < CASES; i++) {
    const bytes = generate(r);
    const chunks = splits(r, bytes, r() < 0.02);
    const lane = compare(bytes, chunks, divergences);
    if (lane.byLane > 0) executedByLane++;
    if (lane.handedOver) handedOver++;
    if (lane.end === 'upgrade' && !lane.handedOver) upgradedByLane++;
    if (divergences.length >= 20) break;
  }
  assert.deepEqual(divergences.slice(0, 5), [], `${divergences.length} divergences (stopped at 20)`);
  // The cases exercise both sides of the lane's decision, not only one.
  assert.ok(executedByLane > CASES / 10, `the lane executed requests in ${executedByLane} cases`);
  assert.ok(handedOver > CASES / 4, `the lane handed ${handedOver} cases to Node`);
  assert.ok(upgradedByLane > CASES / 50, `the lane took ${upgradedByLane} WebSocket handshakes itself`);
});
