// PHP serialize() for the value model of value.ts: byte for byte what PHP 8 writes with serialize_precision = -1
// (checked against php-cli by test/unit/php-serialize.test.ts). Only N, b, i, d, s and a are ever written: no
// objects or references, because GatewayClient unserializes replies with every class allowed.
import { PhpArray, PhpFloat, PhpValueError, checkWellFormed, phpInt, type PhpKey, type PhpValue } from './value.ts';

export interface SerializeOptions {
  /** Nesting beyond this throws; it also stops an array that contains itself. Default 512. */
  maxDepth?: number;
}

/**
 * A float as PHP prints it with serialize_precision = -1 (zend_gcvt with the shortest round-trip digits and 17 as
 * the exponent threshold): `0.1`, `1`, `-0`, `1.0E+25`, `1.0E-5`, `INF`, `-INF`, `NAN`.
 * JS's toExponential() gives the same shortest digits as PHP's zend_dtoa mode 0; only the layout differs.
 */
export function formatPhpFloat(n: number): string {
  if (Number.isNaN(n)) return 'NAN';
  if (n === Infinity) return 'INF';
  if (n === -Infinity) return '-INF';
  const sign = n < 0 || Object.is(n, -0) ? '-' : '';
  let digits = '0';
  let decpt = 1;
  if (n !== 0) {
    const [mantissa = '', exponent = '0'] = Math.abs(n).toExponential().split('e');
    digits = mantissa.replace('.', '');
    decpt = Number(exponent) + 1;
  }
  if (decpt < 0 ? decpt < -3 : decpt > 17) {
    const exp = decpt - 1;
    return `${sign}${digits[0]}.${digits.length > 1 ? digits.slice(1) : '0'}E${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (digits.length <= decpt) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/** A growable byte buffer: one allocation for a typical session, doubling beyond. */
class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  ascii(s: string): void {
    this.reserve(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
  bytes(b: Buffer): void {
    this.reserve(b.length);
    this.pos += b.copy(this.buf, this.pos);
  }
  /** `s:<bytes>:"<bytes>";` for a JS string (its UTF-8 bytes) or a Buffer. */
  string(s: string | Buffer): void {
    if (Buffer.isBuffer(s)) {
      this.ascii(`s:${s.length}:"`);
      this.bytes(s);
    } else {
      checkWellFormed(s);
      const len = Buffer.byteLength(s, 'utf8');
      this.ascii(`s:${len}:"`);
      this.reserve(len);
      this.pos += this.buf.write(s, this.pos, 'utf8');
    }
    this.ascii('";');
  }
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function writeInt(w: Writer, n: number | bigint): void {
  const v = phpInt(n);
  if (v === undefined) throw new PhpValueError(`${String(n)} is not a PHP int (int64); floats must be PhpFloat`);
  w.ascii(`i:${v};`);
}

function writeKey(w: Writer, k: PhpKey): void {
  if (typeof k === 'number' || typeof k === 'bigint') w.ascii(`i:${k};`);
  else w.string(k);
}

function writeValue(w: Writer, v: PhpValue, depth: number, maxDepth: number): void {
  if (v === null) w.ascii('N;');
  else if (typeof v === 'boolean') w.ascii(v ? 'b:1;' : 'b:0;');
  else if (typeof v === 'number' || typeof v === 'bigint') writeInt(w, v);
  else if (typeof v === 'string' || Buffer.isBuffer(v)) w.string(v);
  else if (v instanceof PhpFloat) w.ascii(`d:${formatPhpFloat(v.value)};`);
  else if (v instanceof PhpArray) {
    if (depth >= maxDepth) throw new PhpValueError(`arrays nested deeper than ${maxDepth} (or an array that contains itself)`);
    w.ascii(`a:${v.size}:{`);
    for (const [k, item] of v) {
      writeKey(w, k);
      writeValue(w, item, depth + 1, maxDepth);
    }
    w.ascii('}');
  } else throw new PhpValueError(`not a PHP value: ${Object.prototype.toString.call(v)}`);
}

/** serialize($value). Throws PhpValueError for what is no PHP value (a non-integral number, a lone surrogate...). */
export function serialize(value: PhpValue, options: SerializeOptions = {}): Buffer {
  const w = new Writer(256);
  writeValue(w, value, 0, options.maxDepth ?? 512);
  return w.result();
}
