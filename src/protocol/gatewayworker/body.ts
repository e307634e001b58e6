// Frame bodies (reference §3.1, flag bit 0): a scalar travels as its string form with BODY_IS_SCALAR set; null
// and arrays travel as serialize() output with the bit clear, and the receiver unserializes them with objects
// refused. A body that does not parse is `false` in the original; here it is reported, for the caller to decide.
import {
  PhpArray,
  PhpFloat,
  PhpValueError,
  checkWellFormed,
  phpInt,
  serialize,
  tryUnserialize,
  type PhpValue,
  type UnserializeError,
  type UnserializeLimits,
} from '../php/index.ts';
import { Flag } from './commands.ts';

export type FrameBody = { kind: 'scalar'; bytes: Buffer } | { kind: 'value'; value: PhpValue } | { kind: 'invalid'; error: UnserializeError };

/** The body as the receiver sees it: raw bytes for a scalar, else the unserialized value. */
export function readBody(frame: { flag: number; body: Buffer }, limits?: Partial<UnserializeLimits>): FrameBody {
  if (frame.flag & Flag.BODY_IS_SCALAR) return { kind: 'scalar', bytes: frame.body };
  const res = tryUnserialize(frame.body, limits);
  return res.ok ? { kind: 'value', value: res.value } : { kind: 'invalid', error: res.error };
}

/**
 * The body bytes and the BODY_IS_SCALAR bit for a value, as the original encoder writes them: strings as they are,
 * ints in decimal, true as "1", false as "", null and arrays serialized. Floats are refused (PHP would print them
 * with `precision` = 14, which nothing on this wire needs): pass their text as a string.
 */
export function bodyOf(value: PhpValue): { flag: number; body: Buffer } {
  if (value === null || value instanceof PhpArray) return { flag: 0, body: serialize(value) };
  if (value instanceof PhpFloat) throw new PhpValueError('a float body has no defined form here: send its text');
  if (Buffer.isBuffer(value)) return { flag: Flag.BODY_IS_SCALAR, body: value };
  if (typeof value === 'string') checkWellFormed(value);
  else if (typeof value !== 'boolean' && phpInt(value) === undefined) throw new PhpValueError(`${value} is not a PHP int`);
  const text = value === true ? '1' : value === false ? '' : String(value);
  return { flag: Flag.BODY_IS_SCALAR, body: Buffer.from(text) };
}
