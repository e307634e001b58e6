// client_id (reference §4) against PHP (one php-cli process, one batch): bin2hex(pack('NnN', ...)) over generated
// gateway IPs, ports and connection ids, and ip2long/long2ip over generated and malformed addresses.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  decodeClientId,
  encodeClientId,
  gatewayAddress,
  ipToLong,
  longToIp,
  parseGatewayAddress,
  type ClientIdParts,
} from '../../src/protocol/gatewayworker/index.ts';
import { runPhpBatch, PHP_READ_INPUT } from '../helpers/php-batch.ts';
import { prng } from '../helpers/prng.ts';

const SEED = 0xc1d;
const IDS = 3000;
const IPS = 2000;

const PHP = `${PHP_READ_INPUT}
foreach ($in['ids'] as $p) echo bin2hex(pack('NnN', $p[0], $p[1], $p[2])), "\\n";
foreach ($in['ips'] as $s) { $l = ip2long($s); echo json_encode([$l, $l === false ? null : long2ip($l)]), "\\n"; }
`;

describe('client_id: differential against PHP', () => {
  const r = prng(SEED);
  const u32 = () => (r() < 0.1 ? [0, 1, 0x7f000001, 0xffffffff][Math.floor(r() * 4)]! : Math.floor(r() * 2 ** 32));
  const ids: ClientIdParts[] = Array.from({ length: IDS }, () => ({ ip: u32(), port: r() < 0.1 ? 65535 : Math.floor(r() * 65536), connectionId: u32() }));
  const octet = () => {
    const k = r();
    if (k < 0.85) return String(Math.floor(r() * 256));
    return ['256', '01', '00', '-1', ' 1', '1 ', '0x1', '', '999', '1e1'][Math.floor(r() * 10)]!;
  };
  const ips = Array.from({ length: IPS }, () => {
    const parts = Array.from({ length: r() < 0.9 ? 4 : Math.floor(r() * 6) }, octet);
    return parts.join(r() < 0.97 ? '.' : '..');
  });
  let phpIds: string[] = [];
  let phpIps: [number | false, string | null][] = [];
  before(async () => {
    const lines = await runPhpBatch(PHP, { ids: ids.map((p) => [p.ip, p.port, p.connectionId]), ips });
    assert.equal(lines.length, IDS + IPS);
    phpIds = lines.slice(0, IDS);
    phpIps = lines.slice(IDS).map((l) => JSON.parse(l) as [number | false, string | null]);
  });

  it(`encodeClientId() equals bin2hex(pack('NnN')) for ${IDS} generated ids, and decodes back`, () => {
    ids.forEach((p, i) => {
      const id = encodeClientId(p);
      assert.equal(id, phpIds[i]);
      assert.deepEqual(decodeClientId(id), p);
      assert.deepEqual(decodeClientId(id.toUpperCase()), p);
    });
  });

  it(`ipToLong() and longToIp() equal ip2long() and long2ip() for ${IPS} addresses, malformed ones included`, () => {
    let valid = 0;
    ips.forEach((s, i) => {
      const [long, back] = phpIps[i]!;
      assert.equal(ipToLong(s) ?? false, long, JSON.stringify(s));
      if (long !== false) {
        valid++;
        assert.equal(longToIp(long), back);
      }
    });
    assert.ok(valid > IPS / 3 && valid < IPS, `${valid} valid addresses`);
  });
});

describe('client_id: the reference example and validation', () => {
  it('gateway 127.0.0.1:2300, connection 1 is 7f00000108fc00000001', () => {
    const parts = { ip: ipToLong('127.0.0.1')!, port: 2300, connectionId: 1 };
    assert.equal(encodeClientId(parts), '7f00000108fc00000001');
    assert.equal(gatewayAddress(decodeClientId('7f00000108fc00000001')!), '127.0.0.1:2300');
  });

  it('refuses ids that are not exactly 20 hex characters', () => {
    for (const bad of ['', '7f00000108fc0000000', '7f00000108fc000000011', '7f00000108fc0000000g', ' 7f00000108fc0000000', '7f00000108fc00000001\n']) {
      assert.equal(decodeClientId(bad), undefined, JSON.stringify(bad));
    }
    assert.throws(() => encodeClientId({ ip: -1, port: 1, connectionId: 1 }), RangeError);
    assert.throws(() => encodeClientId({ ip: 1, port: 65536, connectionId: 1 }), RangeError);
    assert.throws(() => encodeClientId({ ip: 1, port: 1, connectionId: 2 ** 32 }), RangeError);
  });

  it('parses announced inner addresses', () => {
    assert.deepEqual(parseGatewayAddress('127.0.0.1:2300'), { ip: 0x7f000001, port: 2300 });
    for (const bad of ['127.0.0.1', 'localhost:2300', '127.0.0.1:65536', '127.0.0.1:02300', '127.0.0.1:', '[::1]:2300']) {
      assert.equal(parseGatewayAddress(bad), undefined, bad);
    }
  });
});
