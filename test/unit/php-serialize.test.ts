// Differential tests of the PHP serialize()/unserialize() codec against real php-cli (one process, one batch):
// PHP serializes generated values and our encoder must write the same bytes; our decoder must read PHP's bytes
// back to the same value; PHP must unserialize our bytes to the same value; array_replace_recursive and the
// JSON bridge are compared with PHP's own. Malformed input is in php-unserialize-malformed.test.ts.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  PhpArray,
  PhpFloat,
  PhpJsonError,
  PhpValueError,
  arrayReplaceRecursive,
  formatPhpFloat,
  jsonToPhp,
  jsonToSession,
  phpEqual,
  phpToJson,
  serialize,
  sessionToJson,
  unserialize,
  type PhpValue,
} from '../../src/protocol/php/index.ts';
import { runPhpBatch, PHP_READ_INPUT } from '../helpers/php-batch.ts';
import { fromExport, genFloat, genRaw, PHP_BUILD, tagOf, toPhp, type Raw, type Tag } from '../helpers/php-values.ts';
import { prng } from '../helpers/prng.ts';

const SEED = 0x5e71a1;
const VALUES = 6000;
const FLOATS = 3000;
const MERGES = 600;

interface PhpAnswer {
  ser: string; // hex of serialize(build(tag))
  back: Tag | null; // export_value(unserialize(our bytes)), null when PHP refused them
  json: string | null; // json_encode(build(tag)) or null when PHP cannot
}

const PHP = `${PHP_BUILD}
${PHP_READ_INPUT}
foreach ($in['values'] as $c) {
  $v = build($c['tag']);
  $ours = hex2bin($c['ours']);
  $u = unserialize($ours, ['allowed_classes' => false]);
  $ok = $u !== false || $ours === 'b:0;';
  $j = json_encode($v);
  echo json_encode(['ser' => bin2hex(serialize($v)), 'back' => $ok ? export_value($u) : null, 'json' => $j === false ? null : $j]), "\\n";
}
foreach ($in['merges'] as $m) {
  echo json_encode(bin2hex(serialize(array_replace_recursive(build($m[0]), build($m[1]))))), "\\n";
}
foreach ($in['jsons'] as $t) {
  $d = json_decode($t, true);
  echo json_encode(bin2hex(serialize($d))), "\\n";
}
`;

function rawArray(r: () => number): Raw {
  for (;;) {
    const v = genRaw(r);
    if (v.t === 'a') return v;
  }
}

/** Mismatches as readable lines, at most five, for the assertion message. */
function report(failures: string[]): string {
  return `${failures.length} mismatches, first: \n${failures.slice(0, 5).join('\n')}`;
}

describe('PHP serialize: differential against php-cli', () => {
  const r = prng(SEED);
  const raws: Raw[] = [];
  for (let i = 0; i < VALUES; i++) raws.push(genRaw(r));
  for (let i = 0; i < FLOATS; i++) raws.push({ t: 'f', v: genFloat(r) });
  const values = raws.map(toPhp);
  const ours = values.map((v) => serialize(v));
  const merges: [Raw, Raw][] = [];
  for (let i = 0; i < MERGES; i++) merges.push([rawArray(r), rawArray(r)]);
  /** JSON texts as JS writes them, from the values that have a JSON form. */
  const jsons: string[] = [];
  for (const v of values) {
    try {
      jsons.push(JSON.stringify(phpToJson(v)));
    } catch (err) {
      if (!(err instanceof PhpJsonError)) throw err;
    }
  }

  let answers: PhpAnswer[] = [];
  let mergeAnswers: string[] = [];
  let jsonAnswers: string[] = [];
  before(async () => {
    const lines = await runPhpBatch(PHP, {
      values: raws.map((raw, i) => ({ tag: tagOf(raw), ours: (ours[i] as Buffer).toString('hex') })),
      merges: merges.map(([a, b]) => [tagOf(a), tagOf(b)]),
      jsons,
    });
    assert.equal(lines.length, raws.length + merges.length + jsons.length, 'one answer line per case');
    answers = lines.slice(0, raws.length).map((l) => JSON.parse(l) as PhpAnswer);
    mergeAnswers = lines.slice(raws.length, raws.length + merges.length).map((l) => JSON.parse(l) as string);
    jsonAnswers = lines.slice(raws.length + merges.length).map((l) => JSON.parse(l) as string);
  });

  it(`our serialize() writes PHP's bytes for ${VALUES} values and ${FLOATS} floats`, () => {
    const failures: string[] = [];
    answers.forEach((a, i) => {
      const mine = (ours[i] as Buffer).toString('hex');
      if (a.ser !== mine) failures.push(`php ${Buffer.from(a.ser, 'hex').toString('latin1')}\nours ${(ours[i] as Buffer).toString('latin1')}`);
    });
    assert.equal(failures.length, 0, report(failures));
  });

  it("our unserialize() reads PHP's bytes back to the generated value", () => {
    const failures: string[] = [];
    answers.forEach((a, i) => {
      const got = unserialize(Buffer.from(a.ser, 'hex'));
      if (!phpEqual(got, values[i] as PhpValue)) failures.push(Buffer.from(a.ser, 'hex').toString('latin1'));
    });
    assert.equal(failures.length, 0, report(failures));
  });

  it('PHP unserialize() reads our bytes back to the generated value', () => {
    const failures: string[] = [];
    answers.forEach((a, i) => {
      if (a.back === null || !phpEqual(fromExport(a.back), values[i] as PhpValue)) failures.push((ours[i] as Buffer).toString('latin1'));
    });
    assert.equal(failures.length, 0, report(failures));
  });

  it(`arrayReplaceRecursive() equals PHP's array_replace_recursive over ${MERGES} pairs`, () => {
    const failures: string[] = [];
    merges.forEach(([a, b], i) => {
      const mine = serialize(arrayReplaceRecursive(toPhp(a) as PhpArray, toPhp(b) as PhpArray)).toString('hex');
      if (mine !== mergeAnswers[i])
        failures.push(`php ${Buffer.from(mergeAnswers[i] ?? '', 'hex').toString('latin1')}\nours ${Buffer.from(mine, 'hex').toString('latin1')}`);
    });
    assert.equal(failures.length, 0, report(failures));
  });

  it('phpToJson() agrees with json_encode(), and fails exactly where it fails (ints beyond 2^53 aside)', () => {
    const failures: string[] = [];
    let compared = 0;
    answers.forEach((a, i) => {
      let mine: unknown;
      try {
        mine = phpToJson(values[i] as PhpValue);
      } catch (err) {
        assert.ok(err instanceof PhpJsonError);
        if (err.code !== 'big_int' && a.json !== null) failures.push(`we refused (${err.message}) what PHP encodes: ${a.json}`);
        return;
      }
      compared++;
      if (a.json === null) failures.push(`PHP refused what we encode: ${JSON.stringify(mine)}`);
      else assert.deepEqual(mine, JSON.parse(a.json));
    });
    assert.equal(failures.length, 0, report(failures));
    assert.ok(compared > VALUES / 2, `compared ${compared}`);
  });

  it("jsonToPhp() equals json_decode($json, true) for JS's JSON texts", () => {
    const failures: string[] = [];
    jsons.forEach((text, i) => {
      const mine = serialize(jsonToPhp(JSON.parse(text))).toString('hex');
      if (mine !== jsonAnswers[i]) failures.push(`${text}\nphp ${Buffer.from(jsonAnswers[i] ?? '', 'hex').toString('latin1')}`);
    });
    assert.equal(failures.length, 0, report(failures));
  });
});

describe('PHP serialize: fixed cases from the reference (§6.4, §8)', () => {
  it('writes the documented forms', () => {
    const s = (v: PhpValue) => serialize(v).toString();
    assert.equal(s(null), 'N;');
    assert.equal(s(true), 'b:1;');
    assert.equal(s(-7), 'i:-7;');
    assert.equal(s(new PhpFloat(0.1)), 'd:0.1;');
    assert.equal(s(new PhpFloat(1)), 'd:1;');
    assert.equal(s(new PhpFloat(1e25)), 'd:1.0E+25;');
    assert.equal(s(new PhpFloat(-0)), 'd:-0;');
    assert.equal(s(new PhpFloat(-Infinity)), 'd:-INF;');
    assert.equal(s('é'), 's:2:"é";');
    assert.equal(s(PhpArray.list(['a', 'b'])), 'a:2:{i:0;s:1:"a";i:1;s:1:"b";}');
    assert.equal(s(2n ** 63n - 1n), 'i:9223372036854775807;');
  });

  it('merges sessions as UPDATE_SESSION does (the §6.4 example)', () => {
    const base = unserialize('a:2:{s:7:"room_id";s:1:"1";s:11:"client_name";s:3:"Ann";}') as PhpArray;
    const update = PhpArray.from([
      ['client_name', 'Bea'],
      ['prefs', PhpArray.from([['lang', 'en']])],
    ]);
    assert.equal(
      serialize(arrayReplaceRecursive(base, update)).toString(),
      'a:3:{s:7:"room_id";s:1:"1";s:11:"client_name";s:3:"Bea";s:5:"prefs";a:1:{s:4:"lang";s:2:"en";}}',
    );
    assert.equal(serialize(arrayReplaceRecursive(PhpArray.list([1, 2, 3]), PhpArray.list([9]))).toString(), 'a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}');
  });

  it('normalises numeric-string keys as PHP does', () => {
    const a = PhpArray.from([
      ['5', 'x'],
      [5, 'y'],
      ['05', 'z'],
      ['-0', 'w'],
      ['-9223372036854775808', 'min'],
      ['9223372036854775808', 'over'],
    ]);
    assert.deepEqual([...a.keys()], [5, '05', '-0', -(2n ** 63n), '9223372036854775808']);
    assert.equal(a.get('5'), 'y');
  });

  it('keeps binary strings and keys byte for byte', () => {
    const bin = Buffer.from([0xff, 0x00, 0x22, 0x3b]);
    const a = PhpArray.from([[bin, bin]]);
    const bytes = serialize(a);
    assert.deepEqual(bytes, Buffer.concat([Buffer.from('a:1:{s:4:"'), bin, Buffer.from('";s:4:"'), bin, Buffer.from('";}')]));
    assert.ok(phpEqual(unserialize(bytes), a));
  });

  it('refuses values PHP has no form for', () => {
    assert.throws(() => serialize(1.5), PhpValueError);
    assert.throws(() => serialize(2n ** 63n), PhpValueError);
    assert.throws(() => serialize('\uD800'), PhpValueError);
    const loop = new PhpArray();
    loop.set('self', loop);
    assert.throws(() => serialize(loop), PhpValueError);
  });

  it('formats floats at the exponent thresholds as PHP does', () => {
    assert.equal(formatPhpFloat(1e16), '10000000000000000');
    assert.equal(formatPhpFloat(1e17), '1.0E+17');
    assert.equal(formatPhpFloat(0.0001), '0.0001');
    assert.equal(formatPhpFloat(0.00001), '1.0E-5');
    assert.equal(formatPhpFloat(5e-324), '5.0E-324');
  });

  it('bridges sessions: JSON object <-> serialized PHP array', () => {
    assert.deepEqual(sessionToJson(''), {});
    assert.deepEqual(sessionToJson('a:0:{}'), {});
    assert.deepEqual(sessionToJson('a:2:{s:7:"room_id";i:1;s:4:"tags";a:2:{i:0;s:1:"a";i:1;s:1:"b";}}'), { room_id: 1, tags: ['a', 'b'] });
    assert.equal(jsonToSession({ room_id: 1, client_name: 'Ann' }).toString(), 'a:2:{s:7:"room_id";i:1;s:11:"client_name";s:3:"Ann";}');
    assert.throws(
      () => sessionToJson('i:1;'),
      (e) => e instanceof PhpJsonError && e.code === 'not_array',
    );
    assert.throws(
      () => sessionToJson('a:1:{s:1:"x";d:NAN;}'),
      (e) => e instanceof PhpJsonError && e.code === 'non_finite' && e.path === '["x"]',
    );
    assert.throws(
      () => jsonToPhp({ f: () => 1 }),
      (e) => e instanceof PhpJsonError && e.code === 'not_json',
    );
  });
});
