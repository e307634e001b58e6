// Herald's WebSocket frame parser (src/net/websocket/codec.ts) against `ws`'s Receiver, the reference: generated
// client byte streams (test/helpers/ws-fuzz.ts), each fed to both in chunks cut independently for each side, must
// give the same messages (opcode and bytes), pings, pongs and close frame, and the same error with the same close
// code after the same events. In one case in eight both sides get the stream one byte at a time and each event's
// byte offset must match too: an error is reported as soon as the bytes that prove it are in, on both sides.
// Herald's own results must also keep the RFC 6455 rules that hold whatever `ws` does (see rfcViolations).
//
// FUZZ_CASES=<n> (and FUZZ_SEED=<n>) for a longer run; a failure prints the seed and case index that replay it.
//
// Where `ws` and the RFC leave a choice, both parsers make the same one, so the test asserts equality there too:
// - Non-minimal length forms (a 5-byte payload in the 16- or 64-bit form) are accepted. Section 5.2 tells
//   senders to use the minimal form but gives receivers no duty to fail; accepting is the robust choice.
// - A 64-bit length with the most significant bit set (section 5.2: it MUST be 0), or any length over the limit,
//   fails the connection with 1009 once the length is read, before the masking key or payload arrive (section
//   10.4 lets an endpoint refuse frames over its limits; 7.4.1 gives 1009 for "too big to process").
// - UTF-8 is checked when a text message is complete, not fragment by fragment (section 8.1 requires failing on
//   invalid UTF-8, fast-fail being optional); the connection fails with 1007.
// - Close codes 1016-2999 (reserved, section 7.4.2) and 0-999 are refused with 1002, like 1004-1006 and 1015.
// - A message of more frames than maxFragments fails with 1008 once the frame past the limit is in; empty
//   fragments count (a flood of them costs memory and no payload bytes).
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import * as ws from 'ws';
import { FrameParser, isValidCloseCode } from '../../src/net/websocket/codec.ts';
import { BYTEWISE_MAX, FrameGen, type Limits } from '../helpers/ws-fuzz.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 6455);

/** What a parser reported: events in order, and the stream offset at which each one was reported. */
interface Run {
  events: string[];
  at: number[];
}

const hex = (b: Buffer): string => b.toString('hex');

/** Herald's parser with the case's limits, recording what it reports. */
class Herald extends FrameParser {
  readonly run: Run = { events: [], at: [] };
  offset = 0;
  constructor(private readonly limits: Limits) {
    super();
  }
  protected get maxPayload(): number {
    return this.limits.maxPayload;
  }
  protected override get maxFragments(): number {
    return this.limits.maxFragments;
  }
  feed(chunks: Buffer[]): Run {
    for (const c of chunks) {
      this.offset += c.length;
      this.parse(c);
    }
    return this.run;
  }
  private push(e: string): void {
    this.run.events.push(e);
    this.run.at.push(this.offset);
  }
  protected onMessage(data: Buffer, binary: boolean): void {
    this.push(`${binary ? 'binary' : 'text'} ${hex(data)}`);
  }
  protected onPing(data: Buffer): void {
    this.push(`ping ${hex(data)}`);
  }
  protected onPong(data: Buffer): void {
    this.push(`pong ${hex(data)}`);
  }
  protected onCloseFrame(code: number, reason: string): void {
    this.push(`close ${code} ${hex(Buffer.from(reason))}`);
  }
  protected onProtocolError(code: number): void {
    this.push(`error ${code}`);
  }
}

// `ws` exports its Receiver (an internal class without type declarations): the part of its API this test uses.
interface Receiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', f: (data: Buffer, binary: boolean) => void): this;
  on(event: 'ping' | 'pong', f: (data: Buffer) => void): this;
  on(event: 'conclude', f: (code: number, reason: Buffer) => void): this;
  on(event: 'error', f: (err: Error) => void): this;
  /** Set when the receiver fails the connection; the error itself is emitted on a later tick. */
  readonly _errored: boolean;
}
interface ReceiverOptions {
  isServer: boolean;
  maxPayload: number;
  maxFragments: number;
  skipUTF8Validation: boolean;
  allowSynchronousEvents: boolean;
}
const { Receiver } = ws as unknown as { Receiver: new (options: ReceiverOptions) => Receiver };

/** The close code `ws` puts on its errors, under its `kStatusCode` symbol (lib/constants.js). */
function statusCode(err: Error): number {
  const key = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  return key === undefined ? -1 : Number((err as unknown as Record<symbol, unknown>)[key]);
}

/**
 * Feeds `ws`'s Receiver as its WebSocket does: a server (masked frames required), no extensions, UTF-8 checked,
 * events emitted as soon as parsed. Writes are synchronous, but an error is emitted a tick later: its position is
 * taken from `_errored` after each write, its code filled in once the event comes (the caller awaits a tick).
 */
function wsRun(chunks: Buffer[], limits: Limits): { run: Run; settled: Promise<void> } {
  const run: Run = { events: [], at: [] };
  const receiver = new Receiver({ isServer: true, ...limits, skipUTF8Validation: false, allowSynchronousEvents: true });
  let offset = 0;
  let closed = false;
  const push = (e: string): void => {
    run.events.push(e);
    run.at.push(offset);
  };
  receiver.on('message', (data, binary) => push(`${binary ? 'binary' : 'text'} ${hex(data)}`));
  receiver.on('ping', (data) => push(`ping ${hex(data)}`));
  receiver.on('pong', (data) => push(`pong ${hex(data)}`));
  receiver.on('conclude', (code, reason) => {
    closed = true;
    push(`close ${code} ${hex(reason)}`);
  });
  let errorAt = -1;
  const settled = new Promise<void>((resolve) => {
    receiver.on('error', (err) => {
      if (errorAt >= 0) {
        run.events.push(`error ${statusCode(err)}`);
        run.at.push(errorAt);
      }
      resolve();
    });
  });
  for (const c of chunks) {
    offset += c.length;
    receiver.write(c);
    if (receiver._errored) {
      errorAt = offset;
      return { run, settled };
    }
    // After a close frame the receiver has ended: nothing more may be written (nor is parsed by Herald).
    if (closed) break;
  }
  return { run, settled: Promise.resolve() };
}

/** RFC 6455 rules Herald's results must keep, whatever the reference does. */
function rfcViolations(run: Run, limits: Limits): string[] {
  const out: string[] = [];
  run.events.forEach((e, i) => {
    const [kind, a, b] = e.split(' ');
    const last = i === run.events.length - 1;
    if ((kind === 'close' || kind === 'error') && !last) out.push(`events after "${e}" (section 7.1.7, 5.5.1)`);
    if (kind === 'text' && !isUtf8(Buffer.from(a!, 'hex'))) out.push(`invalid UTF-8 delivered (section 8.1): ${e}`);
    if ((kind === 'text' || kind === 'binary') && a!.length / 2 > limits.maxPayload) out.push(`message over maxPayload: ${a!.length / 2} bytes`);
    if ((kind === 'ping' || kind === 'pong') && a!.length / 2 > 125) out.push(`control frame over 125 bytes (section 5.5): ${e}`);
    if (kind === 'close' && a !== '1005' && !isValidCloseCode(Number(a))) out.push(`close code ${a} accepted (section 7.4)`);
    if (kind === 'close' && !isUtf8(Buffer.from(b!, 'hex'))) out.push(`close reason not UTF-8 (section 5.5.1)`);
    if (kind === 'error' && ![1002, 1007, 1008, 1009].includes(Number(a))) out.push(`failed with code ${a}`);
  });
  return out;
}

/** What the streams must exercise, each in at least 1 case in 2000. */
const COVERED = [
  ...Array.from({ length: 16 }, (_, op) => `opcode ${op}`),
  ...Array.from({ length: 7 }, (_, i) => `rsv ${i + 1}`),
  ...['unmasked', 'zero key', '7-bit length', '16-bit length', '64-bit length', 'non-minimal length', '64-bit length, top bit set'],
  ...['fragmented text', 'fragmented binary', 'empty fragment', 'UTF-8 character split across fragments', 'invalid UTF-8'],
  ...['control frame inside a fragmented message', 'control frame over 125 bytes', 'fragmented control frame', 'message never finished'],
  ...['close without a code', 'close with 1 byte', 'close with a valid code', 'close with an invalid code', 'frames after a close frame'],
  'stream cut short',
];

const show = (r: Run, withOffsets: boolean): string =>
  r.events.map((e, i) => (e.length > 90 ? `${e.slice(0, 90)}…` : e) + (withOffsets ? ` @${r.at[i]}` : '')).join(' | ');

test(`${CASES} generated frame streams (seed ${SEED}) parse as ws's Receiver parses them`, async () => {
  const divergences: string[] = [];
  const violations: string[] = [];
  const seen = new Map<string, number>();
  const count = (k: string): void => void seen.set(k, (seen.get(k) ?? 0) + 1);
  let frames = 0;
  let cases = 0;
  const tags = new Map<string, number>();
  let bytes = 0;
  const batch: (() => void)[] = [];
  const settle: Promise<void>[] = [];
  for (let i = 0; i < CASES; i++) {
    // One generator per case: a failing case replays alone from its index.
    const g = new FrameGen(SEED * 1_000_003 + i);
    const c = g.next();
    cases++;
    for (const t of c.tags) tags.set(t, (tags.get(t) ?? 0) + 1);
    frames += c.frames;
    bytes += c.bytes.length;
    const lockstep = g.chance(1 / 8) && c.bytes.length <= BYTEWISE_MAX;
    const herald = new Herald(c.limits).feed(g.chunks(c.bytes, lockstep ? 'bytes' : undefined));
    const ref = wsRun(g.chunks(c.bytes, lockstep ? 'bytes' : undefined), c.limits);
    settle.push(ref.settled);
    batch.push(() => {
      for (const e of herald.events) count(e.startsWith('error') ? e : e.split(' ')[0]!);
      for (const v of rfcViolations(herald, c.limits)) violations.push(`case ${i}: ${v}`);
      const same = herald.events.join('\n') === ref.run.events.join('\n') && (!lockstep || herald.at.join() === ref.run.at.join());
      if (!same) {
        divergences.push(
          `case ${i} (FUZZ_SEED=${SEED}, ${JSON.stringify(c.limits)}${lockstep ? ', byte by byte' : ''}): ${hex(c.bytes).slice(0, 400)}\n` +
            `  herald: ${show(herald, lockstep)}\n  ws:     ${show(ref.run, lockstep)}`,
        );
      }
    });
    // Every 500 cases, let `ws` emit its pending errors, then compare.
    if (batch.length === 500 || i === CASES - 1) {
      await Promise.all(settle);
      for (const check of batch) check();
      batch.length = 0;
      settle.length = 0;
      if (divergences.length >= 20) break;
    }
  }
  console.log(`# ${cases} cases, ${frames} frames, ${(bytes / 1e6).toFixed(1)} MB; Herald reported: ${JSON.stringify(Object.fromEntries(seen))}`);
  console.log(`# cases per feature: ${JSON.stringify(Object.fromEntries([...tags].sort()))}`);
  assert.deepEqual(divergences.slice(0, 5), [], `${divergences.length} divergences (stopped at 20)`);
  assert.deepEqual(violations.slice(0, 5), [], `${violations.length} RFC violations`);
  // The streams reach every outcome, often enough to mean something.
  for (const k of ['text', 'binary', 'ping', 'pong', 'close', 'error 1002', 'error 1007', 'error 1008', 'error 1009']) {
    assert.ok((seen.get(k) ?? 0) > cases / 500, `${k}: ${seen.get(k) ?? 0} times`);
  }
  const missing = COVERED.filter((t) => (tags.get(t) ?? 0) < cases / 2000);
  assert.deepEqual(missing, [], `rare in the streams: ${missing.map((t) => `${t} (${tags.get(t) ?? 0})`).join(', ')}`);
});
