// Malformed PHP serialize() input: truncations at every byte and random mutations of valid samples, judged against
// real php-cli (one process, one batch): whatever we accept, PHP accepts with the same value; whatever PHP accepts
// and we refuse is one of the documented refusals (trailing bytes, ints beyond int64, objects, references). Then
// the limits and the hostile declared lengths, which must fail typed and before any allocation.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { phpEqual, serialize, tryUnserialize, unserialize, UnserializeError, type UnserializeErrorCode } from '../../src/protocol/php/index.ts';
import { runPhpBatch, PHP_READ_INPUT } from '../helpers/php-batch.ts';
import { fromExport, genRaw, PHP_BUILD, toPhp, type Tag } from '../helpers/php-values.ts';
import { prng } from '../helpers/prng.ts';

const SEED = 0xbad5e1;
const SAMPLES = 400;
const MUTATIONS = 12_000;
/** What PHP 8.2 lets through and we refuse on purpose (see src/protocol/php/unserialize.ts). */
const DELIBERATE: ReadonlySet<UnserializeErrorCode> = new Set(['trailing', 'range', 'object', 'reference', 'unsupported']);

const PHP = `${PHP_BUILD}
${PHP_READ_INPUT}
foreach ($in as $h) {
  $s = hex2bin($h);
  $u = @unserialize($s, ['allowed_classes' => false]);
  $ok = $u !== false || $s === 'b:0;';
  echo json_encode($ok ? export_value($u) : null), "\\n";
}
`;

const MUTANT_BYTES = Buffer.from('0123456789:;"{}-+.aisdbNOCErRS\0\xff', 'latin1');

function mutate(r: () => number, s: Buffer): Buffer {
  const at = Math.floor(r() * s.length);
  const k = r();
  const byte = Buffer.from([MUTANT_BYTES[Math.floor(r() * MUTANT_BYTES.length)] as number]);
  if (k < 0.4) return Buffer.concat([s.subarray(0, at), byte, s.subarray(at + 1)]);
  if (k < 0.7) return Buffer.concat([s.subarray(0, at), byte, s.subarray(at)]);
  if (k < 0.9) return Buffer.concat([s.subarray(0, at), s.subarray(at + 1)]);
  // A declared length or count off by one, the classic corruption.
  const text = s.toString('latin1');
  const m = [...text.matchAll(/[sa]:(\d+):/g)];
  const hit = m[Math.floor(r() * m.length)];
  if (!hit || hit.index === undefined) return Buffer.concat([s, byte]);
  const n = Number(hit[1]) + (r() < 0.5 ? 1 : -1);
  return Buffer.concat([s.subarray(0, hit.index + 2), Buffer.from(String(Math.max(0, n))), s.subarray(hit.index + 2 + (hit[1] as string).length)]);
}

describe('PHP unserialize: malformed input against php-cli', () => {
  const r = prng(SEED);
  const samples: Buffer[] = [];
  while (samples.length < SAMPLES) {
    const b = serialize(toPhp(genRaw(r)));
    if (b.length <= 400) samples.push(b);
  }
  const truncations = samples.flatMap((s) => Array.from({ length: s.length }, (_, i) => s.subarray(0, i)));
  const mutants: Buffer[] = [];
  for (let i = 0; i < MUTATIONS; i++) mutants.push(mutate(r, samples[i % samples.length] as Buffer));
  const cases = [...truncations, ...mutants];
  let php: (Tag | null)[] = [];
  before(async () => {
    const lines = await runPhpBatch(
      PHP,
      cases.map((c) => c.toString('hex')),
    );
    assert.equal(lines.length, cases.length);
    php = lines.map((l) => JSON.parse(l) as Tag | null);
  });

  it(`every truncation of ${SAMPLES} samples is a typed error, as PHP refuses them too`, () => {
    assert.ok(truncations.length > 10_000, `${truncations.length} truncations`);
    truncations.forEach((t, i) => {
      const res = tryUnserialize(t);
      assert.equal(res.ok, false, `accepted a truncation: ${t.toString('latin1')}`);
      assert.equal(php[i], null, `PHP accepted a truncation: ${t.toString('latin1')}`);
    });
  });

  it(`${MUTATIONS} mutants: we accept only what PHP accepts, with PHP's value; we refuse more only on purpose`, (t) => {
    const divergences = new Map<string, number>();
    let bothAccept = 0;
    let bothRefuse = 0;
    mutants.forEach((m, j) => {
      const theirs = php[truncations.length + j] ?? null;
      const ours = tryUnserialize(m);
      if (ours.ok) {
        assert.notEqual(theirs, null, `we accept what PHP refuses: ${m.toString('latin1')}`);
        assert.ok(phpEqual(ours.value, fromExport(theirs as Tag)), `values differ for ${m.toString('latin1')}`);
        bothAccept++;
      } else if (theirs === null) bothRefuse++;
      else {
        assert.ok(DELIBERATE.has(ours.error.code), `PHP accepts, we refuse with ${ours.error.code}: ${m.toString('latin1')}`);
        divergences.set(ours.error.code, (divergences.get(ours.error.code) ?? 0) + 1);
      }
    });
    t.diagnostic(`both accept ${bothAccept}, both refuse ${bothRefuse}, refused on purpose ${JSON.stringify([...divergences])}`);
    // Both sides of the comparison must have been exercised.
    assert.ok(bothAccept > 500 && bothRefuse > 2000, `accepted ${bothAccept}, refused ${bothRefuse}, on purpose ${JSON.stringify([...divergences])}`);
  });
});

describe('PHP unserialize: refusals and limits', () => {
  const code = (input: Buffer | string, limits?: Parameters<typeof unserialize>[1]) => {
    const res = tryUnserialize(input, limits);
    assert.equal(res.ok, false, `accepted ${String(input).slice(0, 80)}`);
    return res.ok ? undefined : res.error.code;
  };

  it('never instantiates: objects, custom objects and enums are refused, also nested', () => {
    assert.equal(code('O:8:"stdClass":0:{}'), 'object');
    assert.equal(code('C:11:"ArrayObject":21:{x:i:0;a:0:{};m:a:0:{}}'), 'object');
    assert.equal(code('E:7:"Foo:Bar";'), 'object');
    assert.equal(code('a:1:{s:1:"u";O:4:"Evil":1:{s:3:"cmd";s:2:"id";}}'), 'object');
    assert.throws(
      () => unserialize('O:8:"stdClass":0:{}'),
      (e) => e instanceof UnserializeError && /objects/.test(e.message) && e.offset === 0,
    );
  });

  it('refuses references, escaped strings, bytes after the value and ints beyond int64', () => {
    assert.equal(code('a:2:{i:0;i:1;i:1;R:2;}'), 'reference');
    assert.equal(code('a:1:{i:0;r:1;}'), 'reference');
    assert.equal(code('S:1:"\\61";'), 'unsupported');
    assert.equal(code('i:1;i:2;'), 'trailing');
    assert.equal(code('i:9223372036854775808;'), 'range');
    assert.equal(code('a:1:{d:1;i:1;}'), 'key');
    assert.equal(code('a:1:{i:0;N;'), 'truncated');
    assert.equal(code('a:1:{i:0;N;i:1;N;}'), 'length');
    assert.equal(code('s:3:"ab";'), 'length');
    assert.equal(code('s:1:"ab";'), 'length');
    assert.equal(code('s:3:"ab'), 'truncated');
  });

  it('rejects huge declared lengths and counts from the bytes at hand, without allocating them', () => {
    assert.equal(code('s:2147483647:"a";'), 'truncated');
    assert.equal(code('s:99999999999999999999999999:"a";'), 'truncated');
    assert.equal(code(`i:${'9'.repeat(1_000_000)};`), 'range');
    assert.equal(code('a:2147483647:{i:0;N;}'), 'length');
    assert.equal(code(`a:4294967295:{${'i:0;N;'.repeat(10)}}`), 'length');
  });

  it('enforces the depth, element and byte limits, with no stack overflow on deep input', () => {
    const deep = 'a:1:{i:0;'.repeat(100_000) + 'N;' + '}'.repeat(100_000);
    assert.equal(code(deep, { maxBytes: 2_000_000 }), 'too_deep');
    assert.equal(code('a:1:{i:0;'.repeat(4) + 'N;' + '}'.repeat(4), { maxDepth: 3 }), 'too_deep');
    assert.ok(tryUnserialize('a:1:{i:0;'.repeat(3) + 'N;' + '}'.repeat(3), { maxDepth: 3 }).ok);
    const wide = `a:1000:{${Array.from({ length: 1000 }, (_, i) => `i:${i};N;`).join('')}}`;
    assert.equal(code(wide, { maxElements: 999 }), 'too_many_elements');
    assert.ok(tryUnserialize(wide, { maxElements: 1001 }).ok);
    assert.equal(code('s:5:"hello";', { maxBytes: 11 }), 'too_large');
  });

  it('reads what PHP writes for a session and a GatewayWorker reply', () => {
    const v = unserialize('a:2:{i:42;a:2:{i:0;i:1;i:1;i:7;}s:3:"bob";a:0:{}}');
    assert.equal(serialize(v).toString(), 'a:2:{i:42;a:2:{i:0;i:1;i:1;i:7;}s:3:"bob";a:0:{}}');
  });
});
