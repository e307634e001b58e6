// The WebSocket codec's limits in messages and fragments, and its memory bound per connection, under streams
// built to grow it: endless empty continuation frames, thousands of 1-byte fragments, a maximal fragmented message
// arriving one byte per chunk, headers claiming payloads never sent, and pings flooding a fragmented message.
//
// The bound (codec.ts, FrameParser): between chunks a parser holds at most two buffers of its own, the unfinished
// message's (at most maxPayload bytes) and the partial frame's (at most 14 + max(125, maxPayload - message bytes)),
// so at most 2 * maxPayload + 140 bytes, and never more than twice what the peer sent of the message plus 320;
// never a view of a socket chunk (which would keep the whole chunk alive), nothing per fragment. Measured with
// counters, not heap deltas: the byte size of each allocation the parser holds (`parserHeld`), after every chunk.
// A ServerWebSocket adds the pongs it writes, bounded by maxWriteBacklog (+ one pong) before it cuts the peer off.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { FrameParser, OP_BINARY, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, WS_MAX_FRAGMENTS } from '../../src/net/websocket/codec.ts';
import { ServerWebSocket } from '../../src/net/websocket/socket.ts';
import { frame } from '../helpers/raw-ws.ts';

/** Herald's default frame limit (limits.maxFrameBytes). */
const MAX_PAYLOAD = 64 * 1024;
const BOUND = 2 * MAX_PAYLOAD + 140;

/** What a parser holds between chunks, in bytes of the allocations it keeps alive; checks they are its own. */
function heldBytes(held: { buffers: Buffer[] }): number {
  assert.ok(held.buffers.length <= 2, `${held.buffers.length} buffers held`);
  let bytes = 0;
  for (const b of held.buffers) {
    // Its own allocation, not a view into a larger one (a socket chunk, a pool slab).
    assert.equal(b.byteLength, b.buffer.byteLength, 'a held buffer is a view into a larger allocation');
    bytes += b.buffer.byteLength;
  }
  return bytes;
}

/** A parser recording what it reports, with the memory it holds after each chunk. */
class Probe extends FrameParser {
  readonly messages: Buffer[] = [];
  readonly errors: number[] = [];
  pings = 0;
  /** Largest parserHeld seen after a chunk, and the worst ratio to the message bytes sent so far. */
  peak = 0;
  peakFragments = 0;
  constructor(private readonly limits: { maxPayload: number; maxFragments?: number } = { maxPayload: MAX_PAYLOAD }) {
    super();
  }
  protected get maxPayload(): number {
    return this.limits.maxPayload;
  }
  protected override get maxFragments(): number {
    return this.limits.maxFragments ?? super.maxFragments;
  }
  /** Feeds each chunk as a socket delivers it (its own allocation), checking the bound after each. */
  feed(chunks: Iterable<Buffer>, sentOfMessage?: (n: number) => number): this {
    let sent = 0;
    for (const c of chunks) {
      const own = Buffer.allocUnsafeSlow(c.length);
      c.copy(own);
      sent += c.length;
      this.parse(own);
      const held = heldBytes(this.parserHeld);
      assert.ok(held <= 2 * this.limits.maxPayload + 140, `${held} bytes held after ${sent} bytes sent`);
      if (sentOfMessage) assert.ok(held <= 2 * sentOfMessage(sent) + 320, `${held} bytes held for ${sentOfMessage(sent)} bytes of the message`);
      this.peak = Math.max(this.peak, held);
      this.peakFragments = Math.max(this.peakFragments, this.parserHeld.fragments);
    }
    return this;
  }
  protected onMessage(data: Buffer): void {
    this.messages.push(Buffer.from(data));
  }
  protected onPing(): void {
    this.pings++;
  }
  protected onPong(): void {}
  protected onCloseFrame(): void {}
  protected onProtocolError(code: number): void {
    this.errors.push(code);
  }
}

function* repeat(n: number, bytes: Buffer): Generator<Buffer> {
  for (let i = 0; i < n; i++) yield bytes;
}

/** Empty continuation frames, `n` of them in one buffer. */
const emptyConts = (n: number, last = false): Buffer =>
  Buffer.concat(Array.from({ length: n }, (_, i) => frame(OP_CONTINUATION, '', { fin: last && i === n - 1 })));

describe('ws-codec limits: frames per message, empty ones included', () => {
  it('a message of maxFragments frames, all but one empty, is delivered; one frame more is refused with 1008', () => {
    for (const max of [1, 2, 3, 8]) {
      const ok = Buffer.concat([frame(OP_TEXT, 'x', { fin: max === 1 }), ...(max > 1 ? [emptyConts(max - 1, true)] : [])]);
      const p = new Probe({ maxPayload: 100, maxFragments: max }).feed([ok]);
      assert.deepEqual([p.messages.map(String), p.errors], [['x'], []], `${max} frames`);
      const over = Buffer.concat([frame(OP_TEXT, '', { fin: false }), emptyConts(max, true)]);
      const q = new Probe({ maxPayload: 100, maxFragments: max }).feed([over]);
      assert.deepEqual([q.messages, q.errors], [[], [1008]], `${max + 1} frames, all empty`);
    }
  });

  it('control frames between fragments do not count; a parser that sets no limit gets WS_MAX_FRAGMENTS', () => {
    const pings = Buffer.concat(Array.from({ length: 10 }, () => frame(OP_PING, 'p')));
    const p = new Probe({ maxPayload: 100, maxFragments: 2 }).feed([frame(OP_BINARY, 'a', { fin: false }), pings, frame(OP_CONTINUATION, 'b')]);
    assert.deepEqual([p.messages.map(String), p.pings, p.errors], [['ab'], 10, []]);
    // No override (as the gateway's connections): endless empty continuations end at the default limit.
    const start = frame(OP_TEXT, '', { fin: false });
    const q = new Probe().feed([start, emptyConts(WS_MAX_FRAGMENTS - 1), frame(OP_CONTINUATION, '')]);
    assert.deepEqual([q.errors, q.peakFragments], [[1008], WS_MAX_FRAGMENTS]);
  });
});

describe(`ws-codec memory per connection: at most 2 * maxPayload + 140 = ${BOUND} bytes held`, () => {
  it('endless empty continuation frames, each in its own 4 KB chunk of pongs, hold nothing and end at the limit', () => {
    // Each chunk: an empty continuation, then pongs. A parser keeping a view of each empty fragment would keep
    // every chunk alive: 16 K chunks of 4 KB, 64 MB for a message of 0 bytes.
    const pongs = Buffer.concat(Array.from({ length: 31 }, () => frame(OP_PONG, Buffer.alloc(125 - 4))));
    const chunk = Buffer.concat([frame(OP_CONTINUATION, '', { fin: false }), pongs]);
    const p = new Probe().feed([frame(OP_TEXT, '', { fin: false })]).feed(repeat(WS_MAX_FRAGMENTS, chunk));
    assert.deepEqual([p.errors, p.peak, p.peakFragments], [[1008], 0, WS_MAX_FRAGMENTS]);
  });

  it('maxFragments 1-byte fragments (the most allowed), one per chunk, hold about the message bytes, and deliver it whole', () => {
    const n = WS_MAX_FRAGMENTS;
    const data = Buffer.from(Array.from({ length: n }, (_, i) => 0x61 + (i % 26)));
    const frames = (function* (): Generator<Buffer> {
      for (let i = 0; i < n; i++) yield frame(i === 0 ? OP_TEXT : OP_CONTINUATION, data.subarray(i, i + 1), { fin: i === n - 1 });
    })();
    // Sent so far of the message: 7 bytes per 1-byte frame.
    const p = new Probe().feed(frames, (sent) => Math.ceil(sent / 7));
    assert.deepEqual([p.errors, p.messages.length, p.peakFragments], [[], 1, n - 1]);
    assert.ok(p.messages[0]!.equals(data));
    assert.ok(p.peak <= 2 * n + 256, `peak ${p.peak}`);
  });

  it('a maxPayload message in 4 fragments, one byte per chunk, with pings between, holds at most twice what came', () => {
    const data = Buffer.alloc(MAX_PAYLOAD, 0x5a);
    const q = MAX_PAYLOAD / 4;
    const stream = Buffer.concat(
      [0, 1, 2, 3].flatMap((i) => [frame(i === 0 ? OP_BINARY : OP_CONTINUATION, data.subarray(i * q, (i + 1) * q), { fin: i === 3 }), frame(OP_PING, 'x')]),
    );
    const bytes = (function* (): Generator<Buffer> {
      for (let i = 0; i < stream.length; i++) yield stream.subarray(i, i + 1);
    })();
    const p = new Probe().feed(bytes, (sent) => sent);
    assert.deepEqual([p.errors, p.pings, p.messages.length], [[], 4, 1]);
    assert.ok(p.messages[0]!.equals(data));
    assert.ok(p.peak <= BOUND, `peak ${p.peak}`);
  });

  it('a header claiming maxPayload holds 64 bytes until its payload comes', () => {
    for (const len of [MAX_PAYLOAD, 1000, 126]) {
      const head = frame(OP_BINARY, Buffer.alloc(0), { len });
      assert.deepEqual([new Probe().feed([head]).peak, new Probe().feed([...head].map((b) => Buffer.from([b]))).peak], [64, 64], `claimed ${len}`);
    }
  });
});

/** A ServerWebSocket over an in-memory socket whose peer never reads: every write stays in the socket's buffer. */
class Conn extends ServerWebSocket {
  messages = 0;
  constructor(socket: Duplex) {
    super(socket);
  }
  protected get maxPayload(): number {
    return MAX_PAYLOAD;
  }
  protected get maxWriteBacklog(): number {
    return 16 * 1024;
  }
  protected onMessage(): void {
    this.messages++;
  }
  protected onSocketClose(): void {}
  start(): this {
    this.attach(Buffer.alloc(0));
    return this;
  }
  get held(): number {
    return heldBytes(this.parserHeld);
  }
}

describe('ws-codec memory per connection: pings flooding a fragmented message', () => {
  it('are answered up to maxWriteBacklog unread bytes (+ one pong), then the peer is cut off; nothing is buffered', async () => {
    const socket = new Duplex({ read() {}, write() {} }); // write() never calls back: the peer does not read
    const conn = new Conn(socket).start();
    const closed = new Promise((resolve) => socket.once('close', resolve));
    conn.receive(frame(OP_TEXT, 'start ', { fin: false }));
    const ping = frame(OP_PING, Buffer.alloc(125, 0x70));
    let sent = 0;
    while (!socket.destroyed && sent < 10_000) {
      conn.receive(Buffer.from(ping));
      sent++;
      assert.ok(socket.writableLength <= 16 * 1024 + 127, `${socket.writableLength} bytes unsent`);
      assert.equal(conn.held, 256, 'only the message buffer (the first fragment, grown to 256)');
    }
    assert.ok(socket.destroyed, `still up after ${sent} pings`);
    assert.equal(sent, Math.floor((16 * 1024) / 127) + 2, 'pongs of 127 bytes until the backlog passed 16 KB, then the cut-off');
    await closed;
    assert.equal(conn.held, 0, 'dropped with the socket');
  });

  it('are all answered when the peer reads, and the message still arrives', () => {
    let pongs = 0;
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (chunk[0] === (0x80 | OP_PONG)) pongs++;
        cb();
      },
    });
    const conn = new Conn(socket).start();
    conn.receive(frame(OP_TEXT, 'start ', { fin: false }));
    for (let i = 0; i < 5000; i++) conn.receive(frame(OP_PING, 'p'));
    conn.receive(frame(OP_CONTINUATION, 'end'));
    assert.deepEqual([pongs, conn.messages, socket.writableLength, conn.held], [5000, 1, 0, 0]);
  });
});
