// The Register's text lines (reference §2): the exact lines of the table, PHP's json_encode for the address list
// and json_decode for the lines we build (one php-cli process, one batch), what the Register does with each kind
// of bad line, and the line splitter's limits.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  broadcastAddressesLine,
  gatewayConnectLine,
  LineReader,
  parseRegisterLine,
  PING_LINE,
  workerConnectLine,
} from '../../src/protocol/gatewayworker/index.ts';
import { runPhpBatch, PHP_READ_INPUT } from '../helpers/php-batch.ts';
import { prng } from '../helpers/prng.ts';

const SEED = 0x1236;
const CASES = 500;

const PHP = `${PHP_READ_INPUT}
foreach ($in['lists'] as $l) echo json_encode(json_encode(['event' => 'broadcast_addresses', 'addresses' => $l]) . "\\n"), "\\n";
foreach ($in['lines'] as $l) echo json_encode(json_decode($l, true)), "\\n";
`;

describe('Register lines: differential against PHP json_encode/json_decode', () => {
  const r = prng(SEED);
  const text = () => {
    const n = Math.floor(r() * 12);
    let s = '';
    for (let i = 0; i < n; i++)
      s += r() < 0.8 ? String.fromCharCode(32 + Math.floor(r() * 95)) : String.fromCodePoint([0, 9, 10, 0x7f, 0xe9, 0x4e2d, 0x1f600][Math.floor(r() * 7)]!);
    return s;
  };
  const address = () => (r() < 0.8 ? `${Math.floor(r() * 256)}.0.0.${Math.floor(r() * 256)}:${Math.floor(r() * 65536)}` : text());
  const lists = Array.from({ length: CASES }, () => Array.from({ length: Math.floor(r() * 5) }, address));
  const secrets = Array.from({ length: CASES }, text);
  const lines = secrets.flatMap((s, i) => [gatewayConnectLine(address() + String(i), s), workerConnectLine(s)]);
  let php: string[] = [];
  before(async () => {
    php = await runPhpBatch(PHP, { lists, lines });
    assert.equal(php.length, lists.length + lines.length);
  });

  it(`broadcastAddressesLine() equals json_encode for ${CASES} lists`, () => {
    lists.forEach((l, i) => assert.equal(broadcastAddressesLine(l), JSON.parse(php[i]!)));
  });

  it('PHP json_decode reads our gateway_connect and worker_connect lines, whatever the secret', () => {
    lines.forEach((line, i) => {
      const decoded = JSON.parse(php[lists.length + i]!);
      assert.deepEqual(decoded, JSON.parse(line));
      const parsed = parseRegisterLine(line.slice(0, -1));
      assert.ok(parsed.ok);
      assert.equal((parsed.message as { secretKey: string }).secretKey, decoded.secret_key);
    });
  });
});

describe('Register lines: the reference table and refusals', () => {
  it('builds the lines byte for byte', () => {
    assert.equal(gatewayConnectLine('127.0.0.1:2300', ''), '{"event":"gateway_connect", "address":"127.0.0.1:2300", "secret_key":""}\n');
    assert.equal(workerConnectLine(''), '{"event":"worker_connect","secret_key":""}\n');
    assert.equal(PING_LINE, '{"event":"ping"}\n');
    assert.equal(
      broadcastAddressesLine(['127.0.0.1:2300', '127.0.0.1:2301']),
      '{"event":"broadcast_addresses","addresses":["127.0.0.1:2300","127.0.0.1:2301"]}\n',
    );
    assert.equal(broadcastAddressesLine([]), '{"event":"broadcast_addresses","addresses":[]}\n');
  });

  it('parses every event, a missing secret as ""', () => {
    assert.deepEqual(parseRegisterLine('{"event":"worker_connect"}'), { ok: true, message: { event: 'worker_connect', secretKey: '' } });
    assert.deepEqual(parseRegisterLine('{"event":"gateway_connect", "address":"10.0.0.2:2300", "secret_key":"k"}'), {
      ok: true,
      message: { event: 'gateway_connect', address: '10.0.0.2:2300', secretKey: 'k' },
    });
    assert.deepEqual(parseRegisterLine(Buffer.from('{"event":"ping"}')), { ok: true, message: { event: 'ping' } });
    assert.deepEqual(parseRegisterLine('{"event":"broadcast_addresses","addresses":{"0":"a:1","2":"b:2"}}'), {
      ok: true,
      message: { event: 'broadcast_addresses', addresses: ['a:1', 'b:2'] },
    });
  });

  it('says which bad lines get the error line and which a silent close', () => {
    const refusal = (line: string) => {
      const p = parseRegisterLine(line);
      assert.equal(p.ok, false, line);
      return p.ok ? undefined : p.refusal;
    };
    assert.equal(refusal('not json'), 'bad_request');
    assert.equal(refusal('[1]'), 'bad_request');
    assert.equal(refusal('{"event":""}'), 'bad_request');
    assert.equal(refusal('{"secret_key":""}'), 'bad_request');
    assert.equal(refusal('{"event":"nope"}'), 'unknown_event');
    assert.equal(refusal('{"event":7}'), 'unknown_event');
    assert.equal(refusal('{"event":"gateway_connect","secret_key":""}'), 'no_address');
    assert.equal(refusal('{"event":"gateway_connect","address":""}'), 'no_address');
    assert.equal(refusal('{"event":"worker_connect","secret_key":1}'), 'bad_secret');
    assert.equal(refusal('{"event":"broadcast_addresses","addresses":"x"}'), 'bad_addresses');
    assert.equal(refusal('{"event":"broadcast_addresses","addresses":[1]}'), 'bad_addresses');
  });
});

describe('Register lines: the splitter', () => {
  it('splits at LF and drops every trailing CR/LF, however the bytes are cut', () => {
    const stream = Buffer.from('{"event":"ping"}\r\n\r\n{"event":"worker_connect","secret_key":""}\nrest');
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new LineReader();
      const got = [...reader.push(stream.subarray(0, cut)).lines, ...reader.push(stream.subarray(cut)).lines].map(String);
      assert.deepEqual(got, ['{"event":"ping"}', '', '{"event":"worker_connect","secret_key":""}'], `cut at ${cut}`);
    }
  });

  it('refuses a line beyond the limit, with or without its LF, and stays refused', () => {
    const a = new LineReader(10);
    assert.deepEqual(a.push(Buffer.from('0123456789\n')).lines.map(String), ['0123456789']);
    assert.equal(a.push(Buffer.from('0123456789A\n')).error, 'line_too_long');
    assert.equal(a.push(Buffer.from('x\n')).error, 'line_too_long');
    const b = new LineReader(10);
    assert.equal(b.push(Buffer.from('012345')).error, undefined);
    assert.equal(b.push(Buffer.from('67890')).error, 'line_too_long');
  });
});
