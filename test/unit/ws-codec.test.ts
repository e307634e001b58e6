import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  closeFrame,
  controlFrame,
  FrameParser,
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from '../../src/net/websocket/codec.ts';
import { acceptKey } from '../../src/net/websocket/handshake.ts';

type Event =
  | { kind: 'message'; data: string; binary: boolean }
  | { kind: 'ping' | 'pong'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; code: number; reason: string };

/** Records what the parser reports. */
class Recorder extends FrameParser {
  readonly events: Event[] = [];
  constructor(private readonly limit = 1024) {
    super();
  }
  protected get maxPayload(): number {
    return this.limit;
  }
  /** The parser unmasks in place, so it gets a copy: tests feed the same bytes several times. */
  feed(chunk: Buffer): this {
    this.parse(Buffer.from(chunk));
    return this;
  }
  protected onMessage(data: Buffer, binary: boolean): void {
    this.events.push({ kind: 'message', data: binary ? data.toString('hex') : data.toString(), binary });
  }
  protected onPing(data: Buffer): void {
    this.events.push({ kind: 'ping', data: data.toString() });
  }
  protected onPong(data: Buffer): void {
    this.events.push({ kind: 'pong', data: data.toString() });
  }
  protected onCloseFrame(code: number, reason: string): void {
    this.events.push({ kind: 'close', code, reason });
  }
  protected onProtocolError(code: number, reason: string): void {
    this.events.push({ kind: 'error', code, reason });
  }
}

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame as a browser sends it: masked with KEY. `len` overrides the header length (for oversize tests). */
function frame(opcode: number, payload: Buffer | string, opts: { fin?: boolean; masked?: boolean; rsv?: number; len?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, masked = true, rsv = 0 } = opts;
  const len = opts.len ?? data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([head, data]);
  KEY.copy(head, 2 + ext);
  const body = Buffer.from(data.map((b, i) => b ^ KEY[i % 4]!));
  return Buffer.concat([head, body]);
}

function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

const parseAll = (bytes: Buffer, limit?: number): Event[] => new Recorder(limit).feed(bytes).events;

describe('ws-codec: FrameParser', () => {
  it('unmasks text and binary messages of every length encoding', () => {
    const long = 'x'.repeat(300);
    const huge = 'y'.repeat(70_000);
    const events = parseAll(
      Buffer.concat([frame(OP_TEXT, 'hello'), frame(OP_TEXT, long), frame(OP_BINARY, Buffer.from([1, 2, 3])), frame(OP_TEXT, huge), frame(OP_TEXT, '')]),
      100_000,
    );
    assert.deepEqual(events, [
      { kind: 'message', data: 'hello', binary: false },
      { kind: 'message', data: long, binary: false },
      { kind: 'message', data: '010203', binary: true },
      { kind: 'message', data: huge, binary: false },
      { kind: 'message', data: '', binary: false },
    ]);
  });

  it('gives the same events when the input is split at every byte boundary', () => {
    const bytes = Buffer.concat([
      frame(OP_TEXT, 'héllo wörld', { fin: false }),
      frame(OP_PING, 'p'),
      frame(OP_CONTINUATION, ' and more'),
      frame(OP_TEXT, 'z'.repeat(200)),
      frame(OP_BINARY, Buffer.from([9, 8])),
      frame(OP_CLOSE, closePayload(1000, 'bye')),
    ]);
    const whole = parseAll(bytes);
    assert.equal(whole.length, 5);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = new Recorder().feed(bytes.subarray(0, cut)).feed(bytes.subarray(cut));
      assert.deepEqual(r.events, whole, `split at ${cut}`);
    }
    // And one byte at a time.
    const r = new Recorder();
    for (let i = 0; i < bytes.length; i++) r.feed(bytes.subarray(i, i + 1));
    assert.deepEqual(r.events, whole);
  });

  it('joins fragments, with control frames interleaved between them', () => {
    const events = parseAll(
      Buffer.concat([
        frame(OP_TEXT, 'one ', { fin: false }),
        frame(OP_PING, 'a'),
        frame(OP_CONTINUATION, 'two ', { fin: false }),
        frame(OP_PONG, 'b'),
        frame(OP_CONTINUATION, 'three'),
        frame(OP_BINARY, Buffer.from([0xff]), { fin: false }),
        frame(OP_CONTINUATION, Buffer.from([0xee])),
      ]),
    );
    assert.deepEqual(events, [
      { kind: 'ping', data: 'a' },
      { kind: 'pong', data: 'b' },
      { kind: 'message', data: 'one two three', binary: false },
      { kind: 'message', data: 'ffee', binary: true },
    ]);
  });

  it('accepts UTF-8 split across fragments, and refuses invalid UTF-8 with 1007', () => {
    const euro = Buffer.from('€'); // 3 bytes
    assert.deepEqual(parseAll(Buffer.concat([frame(OP_TEXT, euro.subarray(0, 1), { fin: false }), frame(OP_CONTINUATION, euro.subarray(1))])), [
      { kind: 'message', data: '€', binary: false },
    ]);
    const bad = parseAll(Buffer.concat([frame(OP_TEXT, Buffer.from([0xc3, 0x28])), frame(OP_TEXT, 'after')]));
    assert.equal(bad.length, 1, 'nothing is parsed after an error');
    assert.deepEqual(bad[0], { kind: 'error', code: 1007, reason: 'text message is not valid UTF-8' });
    // Binary frames are not checked.
    assert.equal(parseAll(frame(OP_BINARY, Buffer.from([0xc3, 0x28])))[0]!.kind, 'message');
  });

  it('refuses an unmasked client frame with 1002', () => {
    assert.deepEqual(parseAll(frame(OP_TEXT, 'hi', { masked: false })), [{ kind: 'error', code: 1002, reason: 'client frames must be masked' }]);
  });

  it('refuses RSV bits, unknown opcodes and bad fragmentation with 1002', () => {
    const code = (bytes: Buffer): number | undefined => {
      const e = parseAll(bytes).find((x) => x.kind === 'error');
      return e?.kind === 'error' ? e.code : undefined;
    };
    assert.equal(code(frame(OP_TEXT, 'x', { rsv: 4 })), 1002, 'RSV1 (compression) was never negotiated');
    assert.equal(code(frame(OP_TEXT, 'x', { rsv: 1 })), 1002);
    for (const op of [3, 7, 0xb, 0xf]) assert.equal(code(frame(op, 'x')), 1002, `opcode ${op}`);
    assert.equal(code(frame(OP_CONTINUATION, 'x')), 1002, 'continuation without a message');
    assert.equal(code(Buffer.concat([frame(OP_TEXT, 'a', { fin: false }), frame(OP_TEXT, 'b')])), 1002, 'new message inside a fragmented one');
    assert.equal(code(frame(OP_PING, 'x', { fin: false })), 1002, 'fragmented control frame');
    assert.equal(code(frame(OP_PING, 'x'.repeat(126))), 1002, 'control frame over 125 bytes');
  });

  it('checks close frames: no payload is 1005, a 1-byte payload, a reserved code or a bad reason are errors', () => {
    assert.deepEqual(parseAll(frame(OP_CLOSE, '')), [{ kind: 'close', code: 1005, reason: '' }]);
    assert.deepEqual(parseAll(frame(OP_CLOSE, closePayload(4000, 'done'))), [{ kind: 'close', code: 4000, reason: 'done' }]);
    assert.equal((parseAll(frame(OP_CLOSE, Buffer.from([3])))[0] as { code: number }).code, 1002);
    for (const c of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      assert.equal((parseAll(frame(OP_CLOSE, closePayload(c)))[0] as { code: number }).code, 1002, `code ${c}`);
    }
    assert.equal((parseAll(frame(OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])])))[0] as { code: number }).code, 1007);
    assert.deepEqual(parseAll(Buffer.concat([frame(OP_CLOSE, closePayload(1000)), frame(OP_TEXT, 'after')])).length, 1, 'nothing after a close frame');
  });

  it('refuses a message over the limit with 1009 from its header, before its payload arrives', () => {
    assert.deepEqual(parseAll(frame(OP_TEXT, 'x'.repeat(100)), 100), [{ kind: 'message', data: 'x'.repeat(100), binary: false }]);
    const head = frame(OP_TEXT, Buffer.alloc(0), { len: 101 });
    assert.deepEqual(parseAll(head, 100), [{ kind: 'error', code: 1009, reason: 'message too big' }]);
    // A 64-bit length (2^40) is refused the same way.
    assert.equal((parseAll(frame(OP_BINARY, Buffer.alloc(0), { len: 2 ** 40 }), 100)[0] as { code: number }).code, 1009);
    // The limit applies to the whole fragmented message.
    const frag = Buffer.concat([frame(OP_TEXT, 'x'.repeat(60), { fin: false }), frame(OP_CONTINUATION, 'x'.repeat(41))]);
    assert.deepEqual(parseAll(frag, 100), [{ kind: 'error', code: 1009, reason: 'message too big' }]);
  });
});

describe('ws-codec: server frames and handshake', () => {
  it('builds unmasked control frames and close frames', () => {
    assert.deepEqual(controlFrame(OP_PONG, Buffer.from('ab')), Buffer.from([0x8a, 2, 0x61, 0x62]));
    assert.deepEqual(closeFrame(), Buffer.from([0x88, 0]));
    assert.deepEqual(closeFrame(1009, 'big'), Buffer.from([0x88, 5, 0x03, 0xf1, 0x62, 0x69, 0x67]));
    assert.equal(closeFrame(4000, 'r'.repeat(200)).length, 2 + 125, 'reason cut to fit a control frame');
  });

  it('knows which close codes a peer may send', () => {
    for (const c of [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4000, 4999]) assert.ok(isValidCloseCode(c), String(c));
    for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 5000]) assert.ok(!isValidCloseCode(c), String(c));
  });

  it('computes Sec-WebSocket-Accept as in RFC 6455 section 1.3', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});
