import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { gatewayWarnings } from '../../src/config/gateway.ts';
import { channelGroup, groupChannel, keyOfJson, phpKeyOf } from '../../src/gateway/keys.ts';
import { serialize } from '../../src/protocol/php/index.ts';
import { parseStr } from '../../src/transports/gateway/upgrade-data.ts';

describe('gateway mode: config', () => {
  it('--profile gatewayworker enables it with the defaults; HERALD_GATEWAY_* set every option', () => {
    const c = loadConfig({ configFile: false, env: {}, flags: { profile: 'gatewayworker' } });
    assert.equal(c.gateway.enabled, true);
    assert.equal(c.gateway.register, '127.0.0.1:1236');
    assert.equal(c.gateway.listen, 'websocket://0.0.0.0:8282');
    assert.equal(c.gateway.startPort, 2000);
    const e = loadConfig({
      configFile: false,
      env: {
        HERALD_PROFILE: 'gatewayworker',
        HERALD_GATEWAY_REGISTER: '10.0.0.2:1300',
        HERALD_GATEWAY_LISTEN: 'text://0.0.0.0:9000',
        HERALD_GATEWAY_LAN_IP: '10.0.0.2',
        HERALD_GATEWAY_START_PORT: '2300',
        HERALD_GATEWAY_PING_INTERVAL: '10',
        HERALD_GATEWAY_PING_DATA: '{"type":"ping"}',
        HERALD_GATEWAY_PING_NOT_RESPONSE_LIMIT: '2',
        HERALD_GATEWAY_SECRET: 'k',
      },
    });
    assert.deepEqual(
      { ...e.gateway },
      {
        enabled: true,
        register: '10.0.0.2:1300',
        listen: 'text://0.0.0.0:9000',
        lanIp: '10.0.0.2',
        startPort: 2300,
        pingInterval: 10,
        pingData: '{"type":"ping"}',
        pingNotResponseLimit: 2,
        secret: 'k',
        maxMessageBytes: 10 * 1024 * 1024,
        maxPendingBytesPerClient: 1024 * 1024,
      },
    );
  });

  it('refuses a lanIp that is no IPv4 and a listen address without a protocol', () => {
    assert.throws(() => loadConfig({ configFile: false, env: { HERALD_GATEWAY_LAN_IP: 'gw.local' } }), ConfigError);
    assert.throws(() => loadConfig({ configFile: false, env: { HERALD_GATEWAY_LISTEN: '0.0.0.0:8282' } }), /websocket:\/\/host:port/);
  });

  it('warns when the Register or the inner port listen beyond loopback without a secret', () => {
    const base = loadConfig({ configFile: false, env: {}, flags: { profile: 'gatewayworker' } }).gateway;
    assert.deepEqual(gatewayWarnings(base), []);
    assert.equal(gatewayWarnings({ ...base, register: '0.0.0.0:1236', lanIp: '10.0.0.5' }).length, 2);
    assert.deepEqual(gatewayWarnings({ ...base, register: '0.0.0.0:1236', secret: 's' }), []);
  });
});

describe('gateway mode: keys and groups', () => {
  it('PHP key identity: 1 and "1" are one key, "01" is not; floats truncate, booleans are 1/0, null is ""', () => {
    assert.deepEqual([1, '1', '01', 1.9, true, false, null, [1]].map(keyOfJson), ['1', '1', '01', '1', '1', '0', '', undefined]);
    assert.deepEqual(['1', '01', '-3', 'x', '9223372036854775808'].map(phpKeyOf), [1, '01', -3, 'x', '9223372036854775808']);
  });

  it('groups map one-to-one to channels: valid names are themselves, anything else (and the gw. prefix) is escaped', () => {
    for (const g of ['room1', '1', 'a b', 'école', 'gw.x', '', 'x'.repeat(300)]) assert.equal(channelGroup(groupChannel(g)), g);
    assert.equal(groupChannel('room1'), 'room1');
    assert.equal(groupChannel('a b'), 'gw.612062');
    assert.equal(groupChannel('gw.x'), 'gw.67772e78');
  });
});

describe('gateway mode: the ON_WEBSOCKET_CONNECT query and cookie parsing (parse_str)', () => {
  it('parses lists, maps, plus and percent escapes, and dots in names as PHP does', () => {
    assert.equal(
      serialize(parseStr('uid=7&tags[]=a&tags[]=b&m[k]=v&a.b=1&s=x+y%21')).toString(),
      'a:5:{s:3:"uid";s:1:"7";s:4:"tags";a:2:{i:0;s:1:"a";i:1;s:1:"b";}s:1:"m";a:1:{s:1:"k";s:1:"v";}s:3:"a_b";s:1:"1";s:1:"s";s:4:"x y!";}',
    );
  });
});
