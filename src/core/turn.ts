/**
 * "At the end of this event-loop turn", for the writes that coalesce per turn (outbox frames, line-protocol
 * replies): normally `setImmediate`, the check phase of this iteration when called from I/O callbacks.
 *
 * Called from inside the check phase, `setImmediate` would wait a whole iteration. That is where an SQLite commit
 * runs (it is itself an immediate) and resolves its appends, whose continuations deliver and answer. So the commit
 * calls `flushThisTurn` first: until its promise continuations have run, `atTurnEnd` queues on `process.nextTick`,
 * which Node runs once the microtask queue is empty, before it moves on.
 */
let thisTurn = false;

export function flushThisTurn(): void {
  if (thisTurn) return;
  thisTurn = true;
  // Queued behind the continuations the commit's resolves queued already. Node drains every microtask (and the ones
  // they queue) before it runs the ticks queued meanwhile, so `endThisTurn` runs once every continuation has run
  // (and chosen `nextTick`), and the flushes they queued run right after it.
  queueMicrotask(queueEnd);
}

function queueEnd(): void {
  process.nextTick(endThisTurn);
}

function endThisTurn(): void {
  thisTurn = false;
}

/** Runs `fn` once the current turn's work is done (see above). */
export function atTurnEnd(fn: () => void): void {
  if (thisTurn) process.nextTick(fn);
  else setImmediate(fn);
}
