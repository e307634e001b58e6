// Generated client-to-server WebSocket byte streams for the codec's differential test against `ws`'s Receiver
// (test/unit/websocket-codec-differential.test.ts): mostly well-formed traffic, so that streams reach deep into
// messages, with every way to break RFC 6455 mixed in — any opcode 0-15, RSV bits, unmasked frames, 7/16/64-bit
// lengths (non-minimal forms, lengths over the limit, 64-bit lengths with high bits or the top bit set),
// fragmentation with empty fragments and control frames in between, UTF-8 (valid or not) cut across fragments,
// close frames with any code and reason, continuations without a message, messages inside unfinished ones, bytes
// after a close frame, and streams cut in the middle of a frame.
import { isValidCloseCode } from '../../src/net/websocket/codec.ts';
import { prng } from './prng.ts';

/** Longest stream fed one byte per chunk. */
export const BYTEWISE_MAX = 4096;

export interface Limits {
  maxPayload: number;
  /** Frames per message; 0: no limit. */
  maxFragments: number;
}

export interface FuzzCase {
  limits: Limits;
  bytes: Buffer;
  /** Frames in the stream (cut ones included), for the report. */
  frames: number;
  /** What the stream exercises (opcodes, mutations, fragmentation, ...), so the test can show it covers each. */
  tags: Set<string>;
}

interface FrameSpec {
  op: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  /** Length form; the minimal one by default (RFC 6455 section 5.2). */
  form?: 7 | 16 | 64;
  /** A length to write instead of the payload's: [high 32 bits, low 32 bits] of the 64-bit form, or a number. */
  claim?: number | [number, number];
  zeroKey?: boolean;
}

// Characters whose UTF-8 forms sit at the edges of the encoding: 1-4 bytes, the last before and first after the
// surrogates, U+FFFF, U+10FFFF, a BOM.
const VALID = [
  'a',
  ' ',
  '{',
  '\u0000',
  '\u007f',
  '\u0080',
  'é',
  '\u07ff',
  '\u0800',
  '€',
  '\ud7ff',
  '\ue000',
  '\ufeff',
  '\uffff',
  '😀',
  '\u{10000}',
  '\u{10ffff}',
].map((s) => Buffer.from(s));
// Invalid UTF-8: lone continuation bytes, overlong forms of every length, UTF-16 surrogates, past U+10FFFF, 5- and
// 6-byte forms, bytes that never occur, and sequences cut short.
const INVALID = [
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xe0, 0x9f, 0xbf],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf0, 0x8f, 0xbf, 0xbf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
].map((b) => Buffer.from(b));

const CLOSE_CODES = [
  0, 1, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2000, 2999, 3000, 3999, 4000, 4999, 5000,
  65535,
];

export class FrameGen {
  private readonly r: () => number;
  private tags = new Set<string>();
  constructor(seed: number) {
    this.r = prng(seed);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    // A random block repeated: large payloads cost no more to make than small ones.
    const block = Math.min(n, 64);
    for (let i = 0; i < block; i++) b[i] = this.int(0, 255);
    for (let i = block; i < n; i++) b[i] = b[i - block]!;
    return b;
  }
  /** About `n` bytes of valid UTF-8, or with one invalid sequence somewhere when `bad`. */
  text(n: number, bad = false): Buffer {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < n) {
      const c = this.chance(0.6) ? VALID[0]! : this.pick(VALID);
      parts.push(c);
      size += c.length;
      if (size < n && n > 200 && parts.length > 16) {
        // Long texts: repeat what is there (whole characters, so still valid).
        const unit = Buffer.concat(parts);
        parts.length = 0;
        parts.push(Buffer.concat(Array.from({ length: Math.floor(n / unit.length) }, () => unit)));
        size = parts[0]!.length;
      }
    }
    if (bad) this.tag('invalid UTF-8');
    if (bad) parts.splice(this.int(0, parts.length), 0, this.pick(INVALID));
    return Buffer.concat(parts);
  }

  /** One frame on the wire, with a random masking key (RFC 6455 section 5.3). */
  encode(f: FrameSpec): Buffer {
    const len = f.payload.length;
    const claim = f.claim ?? len;
    const [hi, lo] = typeof claim === 'number' ? [Math.floor(claim / 2 ** 32), claim >>> 0] : claim;
    const form = f.form ?? (hi > 0 || lo > 0xffff ? 64 : lo > 125 ? 16 : 7);
    const masked = f.masked ?? true;
    this.tag(`opcode ${f.op}`, (f.rsv ?? 0) > 0 && `rsv ${f.rsv}`, !masked && 'unmasked', f.zeroKey && 'zero key', `${form}-bit length`);
    if (form === 64 && hi >= 2 ** 31) this.tag('64-bit length, top bit set');
    if ((form === 16 && lo <= 125) || (form === 64 && hi === 0 && lo <= 0xffff)) this.tag('non-minimal length');
    const ext = form === 7 ? 0 : form === 16 ? 2 : 8;
    const head = 2 + ext + (masked ? 4 : 0);
    const out = Buffer.allocUnsafe(head + len);
    out[0] = ((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.op;
    out[1] = (masked ? 0x80 : 0) | (form === 7 ? lo & 0x7f : form === 16 ? 126 : 127);
    if (form === 16) out.writeUInt16BE(lo & 0xffff, 2);
    if (form === 64) {
      out.writeUInt32BE(hi >>> 0, 2);
      out.writeUInt32BE(lo, 6);
    }
    if (!masked) {
      f.payload.copy(out, head);
      return out;
    }
    const key = head - 4;
    for (let i = 0; i < 4; i++) out[key + i] = f.zeroKey ? 0 : this.int(0, 255);
    for (let i = 0; i < len; i++) out[head + i] = f.payload[i]! ^ out[key + (i & 3)]!;
    return out;
  }

  /** Now and then, one thing wrong (or unusual but allowed) with a frame. */
  private mutate(f: FrameSpec): FrameSpec {
    if (!this.chance(0.06)) return f;
    switch (this.int(0, 4)) {
      case 0:
        return { ...f, rsv: this.int(1, 7) };
      case 1:
        return { ...f, masked: false };
      case 2:
        // Non-minimal length forms: senders MUST NOT use them (section 5.2); receivers accept them (see the test).
        return { ...f, form: f.payload.length > 0xffff ? 64 : this.pick([16, 64] as const) };
      case 3:
        return { ...f, zeroKey: true };
      default:
        return { ...f, fin: !(f.fin ?? true) };
    }
  }

  private tag(...names: (string | false | undefined)[]): void {
    for (const n of names) if (n) this.tags.add(n);
  }

  private control(limits: Limits): FrameSpec {
    const op = this.pick([0x9, 0xa]);
    const r = this.r();
    if (r < 0.05) return (this.tag('control frame over 125 bytes'), { op, payload: this.bytes(this.int(126, 140)) });
    if (r < 0.1) return (this.tag('fragmented control frame'), { op, payload: this.bytes(this.int(0, 10)), fin: false });
    return { op, payload: this.bytes(this.pick([0, 1, 4, this.int(0, 20), this.int(0, Math.min(125, limits.maxPayload + 10)), 125])) };
  }

  private close(): FrameSpec {
    const r = this.r();
    if (r < 0.15) return (this.tag('close without a code'), { op: 0x8, payload: Buffer.alloc(0) });
    if (r < 0.2) return (this.tag('close with 1 byte'), { op: 0x8, payload: this.bytes(1) });
    const code = Buffer.allocUnsafe(2);
    const n = this.chance(0.1) ? this.int(0, 65535) : this.pick(CLOSE_CODES);
    code.writeUInt16BE(n);
    this.tag(isValidCloseCode(n) ? 'close with a valid code' : 'close with an invalid code');
    const reason = this.chance(0.05) ? this.text(this.int(124, 130)) : this.text(this.int(0, 30), this.chance(0.15));
    return { op: 0x8, payload: Buffer.concat([code, reason]) };
  }

  /** A frame with any opcode 0-15 and any FIN bit. */
  private raw(): FrameSpec {
    return { op: this.int(0, 15), fin: this.chance(0.5), payload: this.chance(0.5) ? this.bytes(this.int(0, 20)) : this.text(this.int(0, 20)) };
  }

  /** A data frame claiming a length the limits refuse, its payload never sent. */
  private huge(limits: Limits): FrameSpec {
    const op = this.pick([0x1, 0x2, 0x0]);
    const payload = this.bytes(this.int(0, 8));
    switch (this.int(0, 4)) {
      case 0:
        return { op, payload, claim: this.int(limits.maxPayload + 1, Math.max(limits.maxPayload + 1, 0xffff)), form: limits.maxPayload < 0xffff ? 16 : 64 };
      case 1:
        return { op, payload, claim: [0, this.int(limits.maxPayload + 1, 2 ** 32 - 1)], form: 64 };
      case 2:
        // Needs more than 32 bits but fits in 2^53 - 1.
        return { op, payload, claim: [this.int(1, 2 ** 21 - 1), this.int(0, 2 ** 32 - 1)], form: 64 };
      case 3:
        return { op, payload, claim: [this.int(2 ** 21, 2 ** 31 - 1), this.int(0, 2 ** 32 - 1)], form: 64 };
      default:
        // The most significant bit set, which section 5.2 forbids.
        return { op, payload, claim: [this.int(2 ** 31, 2 ** 32 - 1), this.int(0, 2 ** 32 - 1)], form: 64 };
    }
  }

  /** A text or binary message, whole or in fragments (some empty), with control frames between the fragments. */
  private message(limits: Limits, out: FrameSpec[]): void {
    const binary = this.chance(0.4);
    const { maxPayload: max, maxFragments } = limits;
    const size = this.pick([0, this.int(1, 40), this.int(0, max + 8), this.int(max - 1, max + 1), max > 65_536 ? this.int(65_536, max) : 3]);
    const data = binary ? this.bytes(Math.max(0, size)) : this.text(Math.max(0, size), this.chance(0.15));
    let k = this.pick([1, 1, this.int(2, 5), this.int(2, 8)]);
    if (maxFragments > 0 && maxFragments < 64 && this.chance(0.15)) k = this.int(maxFragments - 1, maxFragments + 1);
    const cuts = Array.from({ length: k - 1 }, () => (this.chance(0.2) ? 0 : this.int(0, data.length))).sort((a, b) => a - b);
    if (k > 1) this.tag(`fragmented ${binary ? 'binary' : 'text'}`);
    for (let i = 0; i < k; i++) {
      const payload = data.subarray(i === 0 ? 0 : cuts[i - 1], i === k - 1 ? data.length : cuts[i]);
      if (i > 0 && payload.length === 0) this.tag('empty fragment');
      if (i > 0 && !binary && payload.length > 0 && (payload[0]! & 0xc0) === 0x80) this.tag('UTF-8 character split across fragments');
      if (i === k - 1 && this.chance(0.04)) return this.tag('message never finished');
      out.push(this.mutate({ op: i === 0 ? (binary ? 0x2 : 0x1) : 0x0, payload, fin: i === k - 1 }));
      if (i < k - 1 && this.chance(0.25)) {
        this.tag('control frame inside a fragmented message');
        out.push(this.mutate(this.chance(0.95) ? this.control(limits) : this.close()));
      }
    }
  }

  /** One case: limits shared by both parsers and a stream of frames, maybe cut short. */
  next(): FuzzCase {
    this.tags = new Set();
    const limits: Limits = {
      maxPayload: this.chance(0.003) ? 70_000 : this.pick([64, 125, 300, 1024]),
      maxFragments: this.pick([0, 3, 8, 16 * 1024]),
    };
    const specs: FrameSpec[] = [];
    for (let n = this.int(1, 6); n > 0; n--) {
      const r = this.r();
      if (r < 0.45) this.message(limits, specs);
      else if (r < 0.62) specs.push(this.mutate(this.control(limits)));
      else if (r < 0.72) specs.push(this.mutate(this.close()));
      else if (r < 0.87) specs.push(this.mutate(this.raw()));
      else if (r < 0.92) specs.push(this.mutate({ op: 0x0, payload: this.text(this.int(0, 10)), fin: this.chance(0.5) }));
      else specs.push(this.mutate(this.huge(limits)));
    }
    if (specs.slice(0, -1).some((f) => f.op === 0x8)) this.tag('frames after a close frame');
    let bytes = Buffer.concat(specs.map((f) => this.encode(f)));
    if (this.chance(0.1)) {
      bytes = bytes.subarray(0, this.int(0, bytes.length));
      this.tag('stream cut short');
    }
    return { limits, bytes, frames: specs.length, tags: this.tags };
  }

  /**
   * The stream as a socket might deliver it: whole, byte by byte, or cut at random places; fresh buffers. Long
   * streams are not cut byte by byte: `ws` joins its chunks with Array.shift, quadratic in their number.
   */
  chunks(bytes: Buffer, mode = this.pick(['whole', 'bytes', 'small', 'any', 'any'] as const)): Buffer[] {
    if (mode === 'bytes' && bytes.length > BYTEWISE_MAX) mode = 'small';
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = mode === 'whole' ? bytes.length : mode === 'bytes' ? 1 : mode === 'small' ? this.int(1, 16) : this.int(1, bytes.length);
      out.push(Buffer.from(bytes.subarray(at, at + n)));
      at += n;
    }
    return out;
  }
}
