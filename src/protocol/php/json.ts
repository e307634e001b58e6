// The bridge between PHP values and JSON-able JS values, for sessions: GatewayWorker keeps a connection's session
// as serialize($_SESSION) bytes, Herald's connection API speaks JSON objects. It maps what json_encode and
// json_decode($text, true) map, and refuses, with a PhpJsonError naming the path, what would not survive:
// - strings that are not UTF-8 (json_encode fails on them too), INF and NAN (likewise), ints that no JS number
//   holds exactly (beyond 2^53 and not a multiple of a large enough power of 2);
// - on the way in, non-finite numbers, lone surrogates, and anything that is not JSON (undefined, functions...).
// What is lost on the way out, inherent to JS values: the int/float distinction of integral floats (PHP 1.0 becomes
// JS 1, which comes back as int 1), and the position of integer-like keys of a non-list array (JS objects list
// them first, ascending).
import { unserialize, type UnserializeLimits } from './unserialize.ts';
import { serialize } from './serialize.ts';
import { PhpArray, PhpFloat, PhpValueError, checkWellFormed, phpInt, type PhpValue } from './value.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type PhpJsonErrorCode = 'binary_string' | 'non_finite' | 'big_int' | 'lone_surrogate' | 'not_json' | 'not_array';

export class PhpJsonError extends Error {
  override readonly name = 'PhpJsonError';
  constructor(
    readonly code: PhpJsonErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(`${path || '(top)'}: ${message}`);
  }
}

function keyPath(path: string, key: string | number | bigint): string {
  return `${path}[${JSON.stringify(String(key))}]`;
}

/** A PHP value as json_decode(json_encode($v), true) would see it, in JS: a list array becomes a JS array. */
export function phpToJson(v: PhpValue, path = ''): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (BigInt(Number(v)) === v) return Number(v);
    throw new PhpJsonError('big_int', path, `int ${v} has no exact JS number`);
  }
  if (Buffer.isBuffer(v)) throw new PhpJsonError('binary_string', path, 'string is not valid UTF-8');
  if (v instanceof PhpFloat) {
    if (!Number.isFinite(v.value)) throw new PhpJsonError('non_finite', path, `${v.value} is not a JSON number`);
    return v.value;
  }
  if (v.isList()) return Array.from(v.values(), (item, i) => phpToJson(item, `${path}[${i}]`));
  const out: JsonObject = {};
  for (const [k, item] of v) {
    if (Buffer.isBuffer(k)) throw new PhpJsonError('binary_string', path, 'array key is not valid UTF-8');
    out[String(k)] = phpToJson(item, keyPath(path, k));
  }
  return out;
}

/** A JSON value as PHP's json_decode($text, true) gives it: objects become arrays with PHP's key rules. */
export function jsonToPhp(v: unknown, path = ''): PhpValue {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new PhpJsonError('non_finite', path, `${v} is not a JSON number`);
    if (Number.isSafeInteger(v)) return v === 0 ? 0 : v;
    // Beyond 2^53, what PHP would read from JSON.stringify(v): json_decode takes the digits JS writes (an int when
    // they fit int64, as "-9223372036854776000" does not), not the binary value they approximate.
    const n = Number.isInteger(v) && Math.abs(v) < 1e21 ? phpInt(BigInt(String(v))) : undefined;
    return n ?? new PhpFloat(v);
  }
  if (typeof v === 'string') return checkedString(v, path);
  if (Array.isArray(v)) return PhpArray.list(v.map((item, i) => jsonToPhp(item, `${path}[${i}]`)));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out = new PhpArray();
    for (const [k, item] of Object.entries(v)) {
      const p = keyPath(path, k);
      out.set(checkedString(k, p), jsonToPhp(item, p));
    }
    return out;
  }
  throw new PhpJsonError('not_json', path, `${typeof v} is not a JSON value`);
}

function checkedString(s: string, path: string): string {
  try {
    checkWellFormed(s);
  } catch (err) {
    if (err instanceof PhpValueError) throw new PhpJsonError('lone_surrogate', path, err.message);
    throw err;
  }
  return s;
}

/**
 * Session bytes (ext_data) as a JSON object: empty bytes are an empty session, as GatewayWorker's `a:0:{}`; a
 * list-shaped session becomes an object with keys "0", "1"... Throws UnserializeError for bytes that do not parse
 * (or hold objects) and PhpJsonError for a session that is not an array or has no JSON form.
 */
export function sessionToJson(bytes: Buffer | string, limits?: Partial<UnserializeLimits>): JsonObject {
  if (bytes.length === 0) return {};
  const v = unserialize(bytes, limits);
  if (!(v instanceof PhpArray)) throw new PhpJsonError('not_array', '', 'a session must be a PHP array');
  const out: JsonObject = {};
  for (const [k, item] of v) {
    if (Buffer.isBuffer(k)) throw new PhpJsonError('binary_string', '', 'session key is not valid UTF-8');
    out[String(k)] = phpToJson(item, keyPath('', k));
  }
  return out;
}

/** A JSON object as session bytes: serialize() of the PHP array json_decode($json, true) would give. */
export function jsonToSession(session: JsonObject): Buffer {
  return serialize(jsonToPhp(session));
}
