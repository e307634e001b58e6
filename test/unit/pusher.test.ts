import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameEncoder, heraldData } from '../../src/transports/pusher/frames.ts';
import { AppNames, connectionIdOf, heraldChannel, pusherChannel, socketIdOf } from '../../src/transports/pusher/names.ts';
import { checkRequest, hmacHex, verifyAuth } from '../../src/transports/pusher/sign.ts';
import { isValidChannel } from '../../src/domain/streams.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';

describe('pusher names', () => {
  it('maps Pusher channel names onto valid Herald channels one to one', () => {
    for (const [p, h] of [
      ['orders', 'orders'],
      ['private-orders.1', 'private-orders.1'],
      ['presence-room=@_-', 'presence-room=@_-'],
      ['a,b;c', 'a+2Cb+3Bc'],
      ['#server-to-user-7', '#server-to-user-7'],
    ]) {
      assert.equal(heraldChannel(p!), h);
      assert.ok(isValidChannel(h));
      assert.equal(pusherChannel(h!), p);
    }
    for (const bad of ['', 'a b', 'a+b', 'a:b', 'a/b', 'x'.repeat(165), 'é', ';'.repeat(70)]) assert.equal(heraldChannel(bad), undefined, bad);
    assert.equal(pusherChannel('a:b'), undefined);
    assert.equal(pusherChannel('a+b'), undefined);
  });

  it('turns connection ids into socket_ids and back', () => {
    assert.equal(socketIdOf('0000abcd.z'), `${0xabcd}.35`);
    assert.equal(connectionIdOf(`${0xabcd}.35`), '0000abcd.z');
    assert.equal(connectionIdOf(socketIdOf('ffffffff.1b')), 'ffffffff.1b');
    assert.equal(connectionIdOf('1.2.3'), undefined);
    assert.equal(connectionIdOf('99999999999.1'), undefined);
  });
});

describe('pusher data and frames', () => {
  it('keeps JSON data verbatim and stores anything else as a JSON string; the frame gives the same bytes back', () => {
    for (const s of ['{"a":1}', ' {"a" : 1} ', '[1]', '12', 'true', 'null', '"raw"', 'text', '{bad', '', 'nul']) {
      const stored = heraldData(s);
      JSON.parse(stored);
      const frame = frameEncoder(new AppNames(''))({ stream: 'channel:c', offset: 1, epoch: 'e', data: stored, event: 'ev' });
      const text = frame.subarray(frame[1]! < 126 ? 2 : 4).toString();
      assert.equal((JSON.parse(text) as { data: string }).data, s);
    }
    assert.equal(heraldData('{"a":1}'), '{"a":1}');
    assert.equal(heraldData('"raw"'), '"\\"raw\\""');
  });
});

describe('pusher signatures (worked examples of the reference)', () => {
  it('checks channel auth over the exact channel_data', () => {
    assert.equal(hmacHex(SECRET, '1234.1234:private-foobar'), '58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4');
    const php = '{"user_id":"7","user_info":{"name":"Jos\\u00e9","url":"https:\\/\\/x.test\\/u\\/7"}}';
    const auth = `${KEY}:4561eebbe1ffff4a65891cddcb5e15186365c53c4adc28d86a6530821d9eddba`;
    assert.ok(verifyAuth(KEY, SECRET, auth, `1234.1234:presence-room.1:${php}`));
    const reencoded = JSON.stringify(JSON.parse(php));
    assert.ok(!verifyAuth(KEY, SECRET, auth, `1234.1234:presence-room.1:${reencoded}`));
    assert.ok(!verifyAuth(KEY, SECRET, `other:${auth.split(':')[1]}`, `1234.1234:presence-room.1:${php}`));
    assert.ok(!verifyAuth(KEY, SECRET, 'no-colon', 'x'));
  });

  it('checks HTTP API signatures as the SDKs sign them', () => {
    const now = 1353088179 * 1000;
    const body = Buffer.from('{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}');
    const params = new URLSearchParams({
      auth_key: KEY,
      auth_timestamp: '1353088179',
      auth_version: '1.0',
      body_md5: 'ec365a775a4cd0599faeb73354201b6f',
      auth_signature: 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c',
    });
    const req = { method: 'POST', path: '/apps/3/events', params, body };
    assert.equal(checkRequest(req, KEY, SECRET, 600, now), undefined);
    assert.match(String(checkRequest(req, KEY, SECRET, 600, now + 601_000)), /auth_timestamp/);
    assert.equal(checkRequest(req, KEY, SECRET, 0, now + 10 ** 9), undefined, 'window 0: no freshness check');
    assert.match(String(checkRequest({ ...req, body: Buffer.from('{}') }, KEY, SECRET, 600, now)), /body_md5/);
    assert.match(String(checkRequest({ ...req, path: '/apps/4/events' }, KEY, SECRET, 600, now)), /signature invalid/);
    const get = new URLSearchParams(
      'auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&info=user_count%2Csubscription_count&auth_signature=ce51a16cc9240742230d2230cc04b2b4c02e31504dbaf44296f5c905155dcf65',
    );
    assert.equal(checkRequest({ method: 'GET', path: '/apps/3/channels/presence-room.1', params: get, body: Buffer.alloc(0) }, KEY, SECRET, 0, now), undefined);
  });
});

describe('pusher config', () => {
  it('takes one app from HERALD_PUSHER_* (all three or none), off when unset', () => {
    const env = { HERALD_PUSHER_APP_ID: '3', HERALD_PUSHER_KEY: 'k', HERALD_PUSHER_SECRET: 's' };
    const apps = loadConfig({ configFile: false, env }).pusher.apps;
    assert.deepEqual(
      apps.map((a) => [a.id, a.key, a.secret, a.activityTimeout]),
      [['3', 'k', 's', 120]],
    );
    assert.deepEqual(loadConfig({ configFile: false, env: {} }).pusher.apps, []);
    assert.throws(() => loadConfig({ configFile: false, env: { HERALD_PUSHER_KEY: 'k' } }), ConfigError);
  });

  it('takes the app webhook URL from HERALD_PUSHER_WEBHOOK_URL; none by default', () => {
    const env = { HERALD_PUSHER_APP_ID: '3', HERALD_PUSHER_KEY: 'k', HERALD_PUSHER_SECRET: 's' };
    assert.equal(loadConfig({ configFile: false, env }).pusher.apps[0]!.webhookUrl, undefined);
    assert.ok(!('webhookUrl' in loadConfig({ configFile: false, env }).pusher.apps[0]!));
    const url = 'https://app.test/pusher/webhook?x=1';
    assert.equal(loadConfig({ configFile: false, env: { ...env, HERALD_PUSHER_WEBHOOK_URL: url } }).pusher.apps[0]!.webhookUrl, url);
    assert.equal(loadConfig({ configFile: false, env: { ...env, HERALD_PUSHER_WEBHOOK_URL: '' } }).pusher.apps[0]!.webhookUrl, undefined);
    assert.throws(
      () => loadConfig({ configFile: false, env: { ...env, HERALD_PUSHER_WEBHOOK_URL: 'ftp://app.test/hook' } }),
      (err: Error) => err instanceof ConfigError && /pusher\.apps\.0\.webhookUrl: must be an http:\/\/ or https:\/\/ URL/.test(err.message),
    );
    // Alone it would have no app to go to: refused rather than ignored.
    assert.throws(() => loadConfig({ configFile: false, env: { HERALD_PUSHER_WEBHOOK_URL: url } }), /HERALD_PUSHER_WEBHOOK_URL needs/);
  });

  it('checks an app webhookUrl from the file or overrides: http or https, a URL', () => {
    const app = { id: '3', key: 'k', secret: 's' };
    // `unknown`: a JSON file can hold anything there.
    const load = (webhookUrl: unknown) =>
      loadConfig({ configFile: false, env: {}, overrides: { pusher: { apps: [{ ...app, webhookUrl: webhookUrl as string }] } } });
    assert.equal(load('http://127.0.0.1:8080/hook').pusher.apps[0]!.webhookUrl, 'http://127.0.0.1:8080/hook');
    assert.equal(load('https://user:pass@app.test/hook').pusher.apps[0]!.webhookUrl, 'https://user:pass@app.test/hook');
    for (const bad of ['ftp://app.test/hook', 'javascript:alert(1)', 'app.test/hook', 'http://', '', 42]) {
      assert.throws(() => load(bad), ConfigError, String(bad));
    }
  });
});
