// Generated PHP values for the differential tests. A `Raw` value is what both sides build from: PHP from its tag
// (`$a[$k] = $v`, so PHP applies its own key rules), Herald through PhpArray.from (its key rules), so the key
// normalisation is tested too, not assumed. Floats travel as JS's shortest text, ints as decimal text, strings as hex.
import { isUtf8 } from 'node:buffer';
import { PhpArray, PhpFloat, phpInt, type PhpKey, type PhpValue } from '../../src/protocol/php/index.ts';

export type RawKey = { t: 'i'; v: bigint } | { t: 's'; v: Buffer };
export type Raw =
  { t: 'n' } | { t: 'b'; v: boolean } | { t: 'i'; v: bigint } | { t: 'f'; v: number } | { t: 's'; v: Buffer } | { t: 'a'; entries: [RawKey, Raw][] };
export type Tag = [string, ...unknown[]];

type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const u32 = (r: Rand): number => Math.floor(r() * 2 ** 32);

export function genInt(r: Rand): bigint {
  const k = r();
  if (k < 0.4) return BigInt(Math.floor(r() * 310) - 10);
  if (k < 0.6) return BigInt(u32(r) - 2 ** 31);
  if (k < 0.75)
    return pick(r, [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) + 1n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 0n, -1n]);
  return BigInt.asIntN(64, (BigInt(u32(r)) << 32n) | BigInt(u32(r)));
}

const SPECIAL_FLOATS = [
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  5e-324,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2.2250738585072014e-308,
  1e15,
  1e16,
  1e17,
  1e21,
  1e-4,
  1e-5,
  0.1,
  0.2 + 0.1,
  1 / 3,
  2 ** 53,
  2 ** 63,
  123456789012345680,
  1.5e25,
  -1.5e-7,
];

export function genFloat(r: Rand): number {
  const k = r();
  if (k < 0.25) {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(u32(r), 0);
    b.writeUInt32BE(u32(r), 4);
    return b.readDoubleBE(0);
  }
  if (k < 0.45) return (Math.floor(r() * 2_000_001) - 1_000_000) / 10 ** Math.floor(r() * 9);
  if (k < 0.6) return Math.floor(r() * 1000) * 10 ** (Math.floor(r() * 50) - 25);
  if (k < 0.75) return pick(r, SPECIAL_FLOATS);
  if (k < 0.9) return (r() - 0.5) * 10 ** (Math.floor(r() * 40) - 20);
  return 2 ** (Math.floor(r() * 2000) - 1000) * (r() < 0.5 ? -1 : 1);
}

const WORDS = [
  '',
  'a',
  'hi',
  'room_id',
  'client_name',
  'Ann',
  'José',
  'é',
  '中文',
  '😀 ok',
  'a"b',
  's:1:"x";',
  '}',
  ';',
  '\n',
  '\0',
  'N;',
  '5',
  '-3',
  '05',
  '-0',
  '0',
  '1.5',
  ' 1',
  '+1',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
];

export function genString(r: Rand): Buffer {
  const k = r();
  if (k < 0.55) return Buffer.from(pick(r, WORDS));
  if (k < 0.7) return Buffer.from(String(genInt(r)));
  if (k < 0.85) {
    let s = '';
    const n = Math.floor(r() * 40);
    for (let i = 0; i < n; i++) s += String.fromCodePoint(r() < 0.7 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0xd7ff) + 1);
    return Buffer.from(s);
  }
  const b = Buffer.alloc(Math.floor(r() * 64));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  return b;
}

export function genKey(r: Rand): RawKey {
  return r() < 0.45 ? { t: 'i', v: genInt(r) } : { t: 's', v: genString(r) };
}

export function genRaw(r: Rand, depth = 0): Raw {
  const k = r();
  if (depth < 4 && k < (depth === 0 ? 0.35 : 0.2)) {
    const n = Math.floor(r() * (depth === 0 ? 9 : 5));
    const list = r() < 0.3;
    const entries: [RawKey, Raw][] = [];
    for (let i = 0; i < n; i++) {
      const key: RawKey = list
        ? { t: 'i', v: BigInt(i) }
        : r() < 0.1 && entries.length > 0
          ? (entries[Math.floor(r() * entries.length)] as [RawKey, Raw])[0]
          : genKey(r);
      entries.push([key, genRaw(r, depth + 1)]);
    }
    return { t: 'a', entries };
  }
  if (k < 0.42) return { t: 'i', v: genInt(r) };
  if (k < 0.6) return { t: 'f', v: genFloat(r) };
  if (k < 0.88) return { t: 's', v: genString(r) };
  if (k < 0.95) return { t: 'b', v: r() < 0.5 };
  return { t: 'n' };
}

export function keyOf(k: RawKey): PhpKey {
  return k.t === 'i' ? (phpInt(k.v) as PhpKey) : k.v;
}

export function toPhp(raw: Raw): PhpValue {
  switch (raw.t) {
    case 'n':
      return null;
    case 'b':
      return raw.v;
    case 'i':
      return phpInt(raw.v) as PhpValue;
    case 'f':
      return new PhpFloat(raw.v);
    case 's':
      return isUtf8(raw.v) ? raw.v.toString('utf8') : Buffer.from(raw.v);
    case 'a':
      return PhpArray.from(raw.entries.map(([k, v]) => [keyOf(k), toPhp(v)]));
  }
}

function floatText(n: number): string {
  if (Number.isNaN(n)) return 'NAN';
  if (Object.is(n, -0)) return '-0';
  return n === Infinity ? 'INF' : n === -Infinity ? '-INF' : String(n);
}

/** The tag PHP builds the value from (see PHP_BUILD). */
export function tagOf(raw: Raw | RawKey): Tag {
  switch (raw.t) {
    case 'n':
      return ['n'];
    case 'b':
      return ['b', raw.v];
    case 'i':
      return ['i', raw.v.toString()];
    case 'f':
      return ['f', floatText(raw.v)];
    case 's':
      return ['s', raw.v.toString('hex')];
    case 'a':
      return ['a', raw.entries.map(([k, v]) => [tagOf(k), tagOf(v)])];
  }
}

/** PHP: build($tag) makes the value; export($v) writes it back as a tag, floats as their 8 bytes (exact). */
export const PHP_BUILD = `
function build($t) {
  switch ($t[0]) {
    case 'n': return null;
    case 'b': return $t[1];
    case 'i': return (int)$t[1];
    case 'f': return $t[1] === 'INF' ? INF : ($t[1] === '-INF' ? -INF : ($t[1] === 'NAN' ? NAN : (float)$t[1]));
    case 's': return (string)hex2bin($t[1]);
    case 'a': $a = []; foreach ($t[1] as $e) { $a[build($e[0])] = build($e[1]); } return $a;
  }
  throw new Exception('bad tag');
}
function export_value($v) {
  if (is_null($v)) return ['n'];
  if (is_bool($v)) return ['b', $v];
  if (is_int($v)) return ['i', (string)$v];
  if (is_float($v)) return ['d', bin2hex(pack('E', $v))];
  if (is_string($v)) return ['s', bin2hex($v)];
  if (is_array($v)) { $o = []; foreach ($v as $k => $x) { $o[] = [export_value($k), export_value($x)]; } return ['a', $o]; }
  return ['?', gettype($v)];
}
`;

/** A value PHP exported (export_value) in the model. */
export function fromExport(t: Tag): PhpValue {
  const [kind, v] = t;
  switch (kind) {
    case 'n':
      return null;
    case 'b':
      return v as boolean;
    case 'i':
      return phpInt(BigInt(v as string)) as PhpValue;
    case 'd':
      return new PhpFloat(Buffer.from(v as string, 'hex').readDoubleBE(0));
    case 's': {
      const b = Buffer.from(v as string, 'hex');
      return isUtf8(b) ? b.toString('utf8') : b;
    }
    case 'a':
      return PhpArray.from((v as [Tag, Tag][]).map(([k, x]) => [fromExport(k) as PhpKey, fromExport(x)]));
  }
  throw new Error(`PHP exported an unexpected type: ${JSON.stringify(t)}`);
}
