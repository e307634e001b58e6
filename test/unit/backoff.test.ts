import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, RESTART_GRACE_MS } from '../../client/backoff.ts';
import { reconnectWindowMs } from '../../src/transports/native/endpoint.ts';

/** A Backoff on a clock and a random source the test sets. */
function backoff(): { b: Backoff; clock: { now: number }; rnd: { v: number } } {
  const clock = { now: 1_000_000 };
  const rnd = { v: 0.5 };
  return {
    b: new Backoff(
      500,
      30_000,
      () => clock.now,
      () => rnd.v,
    ),
    clock,
    rnd,
  };
}

test('full jitter: the ceiling doubles with each failure up to the maximum, and a welcome starts it over', () => {
  const { b, rnd } = backoff();
  rnd.v = 0.999999;
  const ceilings = Array.from({ length: 9 }, () => Math.round(b.next()));
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  b.reset();
  assert.equal(Math.round(b.next()), 500);
});

test("after a server's shutdown frame: every attempt at a random moment within its window, until the window and the grace end", () => {
  const { b, clock, rnd } = backoff();
  for (let k = 0; k < 5; k++) b.next(); // a client that had failed before: its ceiling is 8 s now
  b.restarting(4000);
  rnd.v = 0.25;
  assert.equal(b.next(), 1000, 'a random moment within the server-given window');
  // Refused while the server is not back: redrawn within the window, not a growing ceiling, not a fixed short wait
  // that would bring every refused client back at once.
  for (const r of [0, 0.5, 0.999]) {
    rnd.v = r;
    assert.equal(b.next(), r * 4000);
  }
  clock.now += 4000 + RESTART_GRACE_MS;
  rnd.v = 0.999999;
  assert.equal(Math.round(b.next()), 16000, 'past the window and the grace, the doubling goes on where it was');
  b.restarting(2000);
  b.reset();
  assert.equal(Math.round(b.next()), 500, 'a welcome ends the restart mode');
});

test('the window a server gives: its clients over the rate it takes them in, 0.5 s at least, 120 s at most', () => {
  assert.equal(reconnectWindowMs(1, 4000), 500);
  assert.equal(reconnectWindowMs(19_500, 3000), 6500);
  assert.equal(reconnectWindowMs(100_000, 4000), 25_000);
  assert.equal(reconnectWindowMs(10_000_000, 4000), 120_000);
});
