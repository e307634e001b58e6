// PHP serialize() for the value model of value.ts: byte for byte what PHP 8 writes with serialize_precision = -1
// (checked against php-cli by test/unit/php-serialize.test.ts). Only N, b, i, d, s and a are ever written: no
// objects or references, because GatewayClient unserializes replies with every class allowed.
import { PhpArray, PhpFloat, PhpValueError, checkWellFormed, phpInt, type PhpValue } from './value.ts';

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

/**
 * The output as a JS string of text, encoded to UTF-8 once at the end (V8 joins string pieces cheaply); binary
 * strings are the exception, kept as Buffers between text parts.
 */
class Out {
  text = '';
  parts: Buffer[] = [];

  /** `s:<bytes>:"<bytes>";` for a JS string (its UTF-8 bytes) or a Buffer. */
  string(s: string | Buffer): void {
    if (Buffer.isBuffer(s)) {
      this.parts.push(Buffer.from(`${this.text}s:${s.length}:"`), s);
      this.text = '";';
    } else this.text += `s:${utf8Length(s)}:"${s}";`;
  }

  result(): Buffer {
    if (this.parts.length === 0) return Buffer.from(this.text, 'utf8');
    this.parts.push(Buffer.from(this.text, 'utf8'));
    return Buffer.concat(this.parts);
  }
}

/** UTF-8 byte length, refusing lone surrogates (they have no UTF-8 form); native for long strings. */
function utf8Length(s: string): number {
  if (s.length > 64) {
    checkWellFormed(s);
    return Buffer.byteLength(s, 'utf8');
  }
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) checkWellFormed(s);
      n += 2; // two UTF-16 units, four bytes
      i++;
    } else n += 2;
  }
  return n;
}

function intText(n: number | bigint): string {
  const v = phpInt(n);
  if (v === undefined) throw new PhpValueError(`${String(n)} is not a PHP int (int64); floats must be PhpFloat`);
  return `i:${v};`;
}

function writeValue(o: Out, v: PhpValue, depth: number, maxDepth: number): void {
  if (v === null) o.text += 'N;';
  else if (typeof v === 'boolean') o.text += v ? 'b:1;' : 'b:0;';
  else if (typeof v === 'number' || typeof v === 'bigint') o.text += intText(v);
  else if (typeof v === 'string' || Buffer.isBuffer(v)) o.string(v);
  else if (v instanceof PhpFloat) o.text += `d:${formatPhpFloat(v.value)};`;
  else if (v instanceof PhpArray) {
    if (depth >= maxDepth) throw new PhpValueError(`arrays nested deeper than ${maxDepth} (or an array that contains itself)`);
    o.text += `a:${v.size}:{`;
    v.forEach((item, k) => {
      if (typeof k === 'number' || typeof k === 'bigint') o.text += `i:${k};`;
      else o.string(k);
      writeValue(o, item, depth + 1, maxDepth);
    });
    o.text += '}';
  } else throw new PhpValueError(`not a PHP value: ${Object.prototype.toString.call(v)}`);
}

/** serialize($value). Throws PhpValueError for what is no PHP value (a non-integral number, a lone surrogate...). */
export function serialize(value: PhpValue, options: SerializeOptions = {}): Buffer {
  const o = new Out();
  writeValue(o, value, 0, options.maxDepth ?? 512);
  return o.result();
}
