// The TypeScript model of PHP values, as PHP's serialize() and unserialize() see them.
//
// - int (PHP int64): a `number` when it is a safe integer (|n| <= 2^53 - 1), else a `bigint`. The decoder always
//   produces that canonical form, so equal PHP ints are equal JS values; the encoder also takes any integral
//   `number` or `bigint` in the int64 range. Ints are the common case (connection ids, counts), hence plain numbers.
// - float: a `PhpFloat` box, because a JS number cannot say whether PHP had 1 or 1.0 and the wire keeps the
//   difference (`i:1;` vs `d:1;`).
// - string: PHP strings are bytes. A JS `string` stands for its UTF-8 bytes; a `Buffer` for bytes that are not valid
//   UTF-8. The decoder yields a string exactly when the bytes are valid UTF-8, so text stays convenient and binary
//   sessions or bodies survive byte for byte. Strings with lone surrogates have no UTF-8 form and are refused.
// - array: `PhpArray`, an ordered map whose keys follow PHP's rule: a string key that is a canonical decimal int64
//   ("5", "-3"; not "05", "-0", "+1", " 1") is that int, so "1" and 1 are one key. Setting an existing key keeps its
//   position, as in PHP.
import { isUtf8 } from 'node:buffer';

export class PhpFloat {
  constructor(readonly value: number) {}
}

export type PhpInt = number | bigint;
export type PhpString = string | Buffer;
export type PhpKey = PhpInt | PhpString;
export type PhpValue = null | boolean | PhpInt | PhpFloat | PhpString | PhpArray;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** An invalid value handed to the model or the encoder (a programming error, not bad wire input). */
export class PhpValueError extends TypeError {
  override readonly name = 'PhpValueError';
}

/** The canonical JS form of a PHP int, or undefined when it is not an int64. */
export function phpInt(n: number | bigint): PhpInt | undefined {
  if (typeof n === 'number') {
    if (Number.isSafeInteger(n)) return n === 0 ? 0 : n;
    if (!Number.isInteger(n)) return undefined;
    n = BigInt(n);
  }
  if (n < INT64_MIN || n > INT64_MAX) return undefined;
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Throws for a JS string with a lone surrogate: it has no UTF-8 bytes, so it is no PHP string. */
export function checkWellFormed(s: string): void {
  if (SURROGATE.test(s) && !(s as string & { isWellFormed(): boolean }).isWellFormed())
    throw new PhpValueError('string with a lone UTF-16 surrogate has no UTF-8 form');
}

/** PHP's numeric-string key rule (ZEND_HANDLE_NUMERIC_STR): canonical decimal, no "-0", within int64. */
const NUMERIC_KEY = /^(?:0|-?[1-9][0-9]{0,18})$/;

function normalizeKey(key: PhpKey): PhpKey {
  if (typeof key === 'string') {
    checkWellFormed(key);
    const c = key.charCodeAt(0);
    if (key.length <= 20 && ((c >= 0x30 && c <= 0x39) || c === 0x2d) && NUMERIC_KEY.test(key)) {
      const n = phpInt(BigInt(key));
      if (n !== undefined) return n;
    }
    return key;
  }
  if (Buffer.isBuffer(key)) return isUtf8(key) ? normalizeKey(key.toString('utf8')) : key;
  const n = phpInt(key);
  if (n === undefined) throw new PhpValueError(`array key ${String(key)} is not an int64`);
  return n;
}

/**
 * The Map key of a normalized PHP key. A non-UTF-8 byte key becomes a string that starts with a lone surrogate:
 * no text key can (they are refused), so two different PHP keys never share a slot.
 */
type Slot = number | bigint | string;
function slotOf(key: PhpKey): Slot {
  return Buffer.isBuffer(key) ? `\uDC00${key.toString('latin1')}` : key;
}

export class PhpArray implements Iterable<[PhpKey, PhpValue]> {
  readonly #slots = new Map<Slot, [PhpKey, PhpValue]>();
  /** PHP 8.2's next free index for push (`$a[] = v`): one past the largest non-negative int key ever set. */
  #next: number | bigint = 0;

  /** From [key, value] pairs, in order; repeated keys keep the first position and the last value, as in PHP. */
  static from(entries: Iterable<readonly [PhpKey, PhpValue]>): PhpArray {
    const a = new PhpArray();
    for (const [k, v] of entries) a.set(k, v);
    return a;
  }

  /** A PHP list: keys 0..n-1. */
  static list(values: Iterable<PhpValue>): PhpArray {
    const a = new PhpArray();
    for (const v of values) a.push(v);
    return a;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: PhpKey): PhpValue | undefined {
    return this.#slots.get(slotOf(normalizeKey(key)))?.[1];
  }

  has(key: PhpKey): boolean {
    return this.#slots.has(slotOf(normalizeKey(key)));
  }

  set(key: PhpKey, value: PhpValue): this {
    const k = normalizeKey(key);
    const slot = slotOf(k);
    const entry = this.#slots.get(slot);
    if (entry) entry[1] = value;
    else this.#slots.set(slot, [k, value]);
    if ((typeof k === 'number' || typeof k === 'bigint') && k >= this.#next) {
      this.#next = typeof k === 'number' ? (k + 1 === 2 ** 53 ? 2n ** 53n : k + 1) : k < INT64_MAX ? k + 1n : INT64_MAX;
    }
    return this;
  }

  push(value: PhpValue): this {
    const k = phpInt(this.#next);
    if (k === undefined || this.has(k)) throw new PhpValueError('no free integer key left to push to');
    return this.set(k, value);
  }

  delete(key: PhpKey): boolean {
    return this.#slots.delete(slotOf(normalizeKey(key)));
  }

  /** Visits the entries in order; cheaper than the iterators on hot paths. */
  forEach(fn: (value: PhpValue, key: PhpKey) => void): void {
    this.#slots.forEach((entry) => fn(entry[1], entry[0]));
  }

  *keys(): IterableIterator<PhpKey> {
    for (const [k] of this.#slots.values()) yield k;
  }

  *values(): IterableIterator<PhpValue> {
    for (const [, v] of this.#slots.values()) yield v;
  }

  *entries(): IterableIterator<[PhpKey, PhpValue]> {
    for (const [k, v] of this.#slots.values()) yield [k, v];
  }

  [Symbol.iterator](): IterableIterator<[PhpKey, PhpValue]> {
    return this.entries();
  }

  /** Keys 0, 1, ... n-1 in that order: what json_encode writes as a JSON list. */
  isList(): boolean {
    let i = 0;
    for (const [k] of this.#slots.values()) if (k !== i++) return false;
    return true;
  }
}

/** Deep equality under the model (keys and order count; NaN equals NaN; -0 and 0 floats differ, as their bytes do). */
export function phpEqual(a: PhpValue, b: PhpValue): boolean {
  if (a instanceof PhpFloat) return b instanceof PhpFloat && Object.is(a.value, b.value);
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (a instanceof PhpArray) {
    if (!(b instanceof PhpArray) || a.size !== b.size) return false;
    const bi = b.entries();
    for (const [k, v] of a) {
      const next = bi.next();
      if (next.done) return false;
      const [bk, bv] = next.value;
      if (Buffer.isBuffer(k) ? !(Buffer.isBuffer(bk) && k.equals(bk)) : k !== bk) return false;
      if (!phpEqual(v, bv)) return false;
    }
    return true;
  }
  return a === b;
}
