// A safe PHP unserialize(): scalars and arrays only, nothing is ever instantiated.
//
// Accepts what PHP 8's unserialize accepts for N, b, i, d, s and a (including its leniencies: `i:+5;`, `i:007;`,
// `s:01:"a";`, `d:.5;`, `d:1.;`, a repeated key overwriting in place), and refuses, with a typed error:
// - objects, custom-serialized objects and enums (O:, C:, E:), which PHP would instantiate;
// - references (r:, R:) and the legacy escaped string S:, which serialize() of scalars and arrays never writes;
// - what PHP 8.2 lets through but is a sign of damage: bytes after the value (PHP ignores them) and an `i:` beyond
//   int64 (PHP silently clamps it);
// - inputs beyond the limits. Every declared length or count is checked against the bytes left before anything
//   is allocated, so `s:2147483647:"` or `a:2147483647:{` costs nothing.
import { isUtf8 } from 'node:buffer';
import { PhpArray, PhpFloat, phpInt, type PhpKey, type PhpValue } from './value.ts';

export interface UnserializeLimits {
  /** Input size. Default 10 485 760 (GatewayWorker's package limit). */
  maxBytes: number;
  /** Array nesting (a scalar is depth 0, `a:0:{}` depth 1). Default 64. */
  maxDepth: number;
  /** Values in the whole input, array entries and nested arrays included. Default 100 000. */
  maxElements: number;
}

export const DEFAULT_UNSERIALIZE_LIMITS: Readonly<UnserializeLimits> = Object.freeze({ maxBytes: 10_485_760, maxDepth: 64, maxElements: 100_000 });

export type UnserializeErrorCode =
  | 'truncated' // the input ends inside a value
  | 'syntax' // a byte that no PHP value allows there
  | 'length' // a declared string length or element count that the bytes do not match
  | 'range' // an int beyond int64
  | 'key' // an array key that is neither int nor string
  | 'object' // O:, C:, E:
  | 'reference' // r:, R:
  | 'unsupported' // S: (escaped strings, never written by PHP 7+)
  | 'trailing' // bytes after the value
  | 'too_large'
  | 'too_deep'
  | 'too_many_elements';

export class UnserializeError extends Error {
  override readonly name = 'UnserializeError';
  constructor(
    readonly code: UnserializeErrorCode,
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

export type UnserializeResult = { ok: true; value: PhpValue } | { ok: false; error: UnserializeError };

const enum C {
  QUOTE = 0x22,
  PLUS = 0x2b,
  MINUS = 0x2d,
  DOT = 0x2e,
  ZERO = 0x30,
  NINE = 0x39,
  COLON = 0x3a,
  SEMI = 0x3b,
  OPEN = 0x7b,
  CLOSE = 0x7d,
}

/** The smallest array entry, `i:0;N;`: a declared count above (bytes left) / 6 cannot be honest. */
const MIN_ENTRY_BYTES = 6;
/** `d:` bodies as PHP's lexer reads them: [+-]int, [+-]decimal, either with an exponent, NAN, INF, -INF. */
const FLOAT = /^(?:[+-]?(?:[0-9]+|[0-9]*\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][+-]?[0-9]+)?|NAN|-?INF)$/;

class Reader {
  pos = 0;
  elements = 0;
  constructor(
    readonly buf: Buffer,
    readonly limits: UnserializeLimits,
  ) {}

  fail(code: UnserializeErrorCode, message: string, at = this.pos): never {
    throw new UnserializeError(code, at, message);
  }

  /** Reads `byte` or fails: truncated at the end, syntax otherwise. */
  expect(byte: number, what: string): void {
    if (this.pos >= this.buf.length) this.fail('truncated', `input ends where ${what} was expected`);
    if (this.buf[this.pos] !== byte) this.fail('syntax', `expected ${what}`);
    this.pos++;
  }

  /** The bytes up to (not including) the next `stop` byte, which is consumed; at most `max` bytes. */
  until(stop: number, max: number, what: string): string {
    const start = this.pos;
    const end = Math.min(this.buf.length, start + max + 1);
    const at = this.buf.indexOf(stop, start);
    if (at === -1 || at >= end) {
      if (at === -1 && end === this.buf.length) this.fail('truncated', `input ends inside ${what}`);
      this.fail('syntax', `${what} too long or unterminated`);
    }
    this.pos = at + 1;
    return this.buf.toString('latin1', start, at);
  }

  /** An unsigned decimal length or count (PHP's uiv: digits only, leading zeros allowed), ended by `:`. */
  size(what: string): number {
    const buf = this.buf;
    const start = this.pos;
    let n = 0;
    let i = start;
    for (; i < buf.length; i++) {
      const c = buf[i] as number;
      if (c < C.ZERO || c > C.NINE) break;
      // Past 2^53 the value is far beyond any input this reader accepts: stop counting, the caller refuses it.
      if (n < Number.MAX_SAFE_INTEGER / 10) n = n * 10 + (c - C.ZERO);
    }
    if (i === buf.length) this.fail('truncated', `input ends inside ${what}`);
    if (i === start || buf[i] !== C.COLON) this.fail('syntax', `${what} is not a decimal number`, i);
    this.pos = i + 1;
    return n;
  }

  count(): void {
    if (++this.elements > this.limits.maxElements) this.fail('too_many_elements', `more than ${this.limits.maxElements} values`);
  }

  value(depth: number): PhpValue {
    this.count();
    const at = this.pos;
    if (at + 1 >= this.buf.length) this.fail('truncated', 'input ends before a value');
    const type = this.buf[at];
    if (type === 0x4e /* N */) {
      this.pos++;
      this.expect(C.SEMI, '";" after N');
      return null;
    }
    if (this.buf[at + 1] !== C.COLON) this.fail('syntax', 'expected ":" after the type letter', at + 1);
    this.pos += 2;
    switch (type) {
      case 0x62 /* b */: {
        const text = this.until(C.SEMI, 1, 'a bool');
        if (text !== '0' && text !== '1') this.fail('syntax', 'a bool must be 0 or 1', at);
        return text === '1';
      }
      case 0x69 /* i */:
        return this.int(at);
      case 0x64 /* d */: {
        const text = this.until(C.SEMI, 400, 'a float');
        if (!FLOAT.test(text)) this.fail('syntax', 'not a PHP float', at);
        return new PhpFloat(text === 'NAN' ? NaN : text === 'INF' ? Infinity : text === '-INF' ? -Infinity : Number(text));
      }
      case 0x73 /* s */:
        return this.string();
      case 0x61 /* a */:
        return this.array(depth + 1, at);
      case 0x4f /* O */:
      case 0x43 /* C */:
      case 0x45 /* E */:
        return this.fail('object', 'objects and enums are refused: only scalars and arrays are accepted', at);
      case 0x72 /* r */:
      case 0x52 /* R */:
        return this.fail('reference', 'references are not supported', at);
      case 0x53 /* S */:
        return this.fail('unsupported', 'escaped strings (S:) are not supported', at);
      default:
        return this.fail('syntax', 'unknown type letter', at);
    }
  }

  int(at: number): number | bigint {
    const buf = this.buf;
    let i = this.pos;
    const sign = buf[i];
    if (sign === C.MINUS || sign === C.PLUS) i++;
    const digits = i;
    let n = 0;
    for (; i < buf.length; i++) {
      const c = buf[i] as number;
      if (c < C.ZERO || c > C.NINE) break;
      n = n * 10 + (c - C.ZERO);
    }
    if (i === buf.length) this.fail('truncated', 'input ends inside an int');
    if (i === digits || buf[i] !== C.SEMI) this.fail('syntax', 'not a decimal int', at);
    this.pos = i + 1;
    // Up to 15 digits the double arithmetic above is exact; longer ints are read again as a BigInt, unless they
    // have more significant digits than any int64 (which also keeps a megabyte of digits away from BigInt).
    if (i - digits <= 15) return sign === C.MINUS ? (n === 0 ? 0 : -n) : n;
    let first = digits;
    while (first < i - 1 && buf[first] === C.ZERO) first++;
    const v = i - first > 19 ? undefined : phpInt(BigInt((sign === C.MINUS ? '-' : '') + buf.toString('latin1', first, i)));
    if (v === undefined) this.fail('range', 'int beyond int64', at);
    return v;
  }

  string(): string | Buffer {
    const at = this.pos - 2;
    const len = this.size('a string length');
    this.expect(C.QUOTE, "'\"' before the string bytes");
    const start = this.pos;
    if (len > this.buf.length - start) this.fail('truncated', `string of ${len} bytes declared, ${this.buf.length - start} left`, at);
    this.pos = start + len;
    if (this.buf[this.pos] !== C.QUOTE) this.fail(this.pos >= this.buf.length ? 'truncated' : 'length', `the string is not ${len} bytes long`, at);
    this.pos++;
    this.expect(C.SEMI, '";" after a string');
    const end = start + len;
    if (len <= 64) {
      let ascii = true;
      for (let i = start; i < end && ascii; i++) ascii = (this.buf[i] as number) < 0x80;
      if (ascii) return this.buf.toString('latin1', start, end);
    }
    const bytes = this.buf.subarray(start, end);
    // A copy for binary strings, so a small string does not keep the whole input alive.
    return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
  }

  key(): PhpKey {
    const at = this.pos;
    if (at + 1 >= this.buf.length) this.fail('truncated', 'input ends before an array key');
    const type = this.buf[at];
    if (this.buf[at + 1] !== C.COLON)
      this.fail(type === C.CLOSE ? 'length' : 'syntax', type === C.CLOSE ? 'fewer entries than declared' : 'expected an array key');
    this.pos += 2;
    if (type === 0x69) return this.int(at);
    if (type === 0x73) return this.string();
    return this.fail('key', 'an array key must be an int or a string', at);
  }

  array(depth: number, at: number): PhpArray {
    if (depth > this.limits.maxDepth) this.fail('too_deep', `arrays nested deeper than ${this.limits.maxDepth}`, at);
    const n = this.size('an element count');
    if (n > (this.buf.length - this.pos) / MIN_ENTRY_BYTES) this.fail('length', `${n} entries declared, the input is too short`, at);
    if (n > this.limits.maxElements) this.fail('too_many_elements', `more than ${this.limits.maxElements} values`, at);
    this.expect(C.OPEN, '"{"');
    const out = new PhpArray();
    for (let i = 0; i < n; i++) {
      const k = this.key();
      out.set(k, this.value(depth));
    }
    if (this.pos < this.buf.length && this.buf[this.pos] !== C.CLOSE) this.fail('length', 'more entries than declared');
    this.expect(C.CLOSE, '"}"');
    return out;
  }
}

function limitsOf(limits: Partial<UnserializeLimits> | undefined): UnserializeLimits {
  return limits ? { ...DEFAULT_UNSERIALIZE_LIMITS, ...limits } : DEFAULT_UNSERIALIZE_LIMITS;
}

/** unserialize($bytes, ['allowed_classes' => false]) with the refusals above; throws UnserializeError. */
export function unserialize(input: Buffer | string, limits?: Partial<UnserializeLimits>): PhpValue {
  const l = limitsOf(limits);
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (byteLength > l.maxBytes) throw new UnserializeError('too_large', 0, `input of ${byteLength} bytes, the limit is ${l.maxBytes}`);
  const r = new Reader(typeof input === 'string' ? Buffer.from(input) : input, l);
  const value = r.value(0);
  if (r.pos !== r.buf.length) r.fail('trailing', 'bytes after the value');
  return value;
}

/** unserialize() without exceptions: a typed error result instead. */
export function tryUnserialize(input: Buffer | string, limits?: Partial<UnserializeLimits>): UnserializeResult {
  try {
    return { ok: true, value: unserialize(input, limits) };
  } catch (err) {
    if (err instanceof UnserializeError) return { ok: false, error: err };
    throw err;
  }
}
