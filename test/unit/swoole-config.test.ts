import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { swooleWarnings } from '../../src/config/swoole.ts';

const cwd = mkdtempSync(join(tmpdir(), 'herald-swoole-config-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

describe('config: profile swoole', () => {
  it('is off by default; the profile turns it on at 0.0.0.0:9501, open mode, 64 pending, 64 KiB messages', () => {
    assert.equal(loadConfig({ env: {}, cwd }).swoole.enabled, false);
    const c = loadConfig({ env: {}, cwd, flags: { profile: 'swoole' } });
    assert.equal(c.profile, 'swoole');
    assert.deepEqual(c.swoole, { enabled: true, host: '0.0.0.0', port: 9501, requireToken: false, maxPending: 64, maxMessageBytes: 64 * 1024 });
    assert.equal(c.compat.websocket.enabled, false, 'the Workerman listeners stay off');
    assert.equal(c.line.port, 5678, 'the line port stays where it was');
  });

  it('takes HERALD_PROFILE, HERALD_SWOOLE_HOST, HERALD_SWOOLE_PORT and HERALD_SWOOLE_REQUIRE_TOKEN', () => {
    const c = loadConfig({
      cwd,
      env: { HERALD_PROFILE: 'swoole', HERALD_SWOOLE_HOST: '127.0.0.1', HERALD_SWOOLE_PORT: '9601', HERALD_SWOOLE_REQUIRE_TOKEN: 'true' },
    });
    assert.equal(c.swoole.enabled, true);
    assert.equal(c.swoole.host, '127.0.0.1');
    assert.equal(c.swoole.port, 9601);
    assert.equal(c.swoole.requireToken, true);
  });

  it('takes the same keys from herald.json, which win over the profile and lose to the environment', () => {
    const file = join(cwd, 'swoole.json');
    writeFileSync(file, JSON.stringify({ profile: 'swoole', swoole: { port: 9700, maxPending: 8, requireToken: true } }));
    const c = loadConfig({ cwd, configFile: file, env: { HERALD_SWOOLE_PORT: '9800' } });
    assert.equal(c.swoole.enabled, true);
    assert.equal(c.swoole.port, 9800);
    assert.equal(c.swoole.maxPending, 8);
    assert.equal(c.swoole.requireToken, true);
    // Without the profile the section alone turns it on too.
    assert.equal(loadConfig({ env: {}, cwd, overrides: { swoole: { enabled: true } } }).swoole.port, 9501);
  });

  it('refuses unknown keys, bad values and port clashes with a message naming both', () => {
    assert.throws(() => loadConfig({ env: {}, cwd, overrides: { swoole: { prot: 1 } as never } }), ConfigError);
    assert.throws(() => loadConfig({ env: {}, cwd, overrides: { swoole: { maxPending: 0 } } }), /swoole.maxPending/);
    assert.throws(() => loadConfig({ env: { HERALD_PROFILE: 'swool' }, cwd }), /profile/);
    assert.throws(
      () => loadConfig({ env: { HERALD_PROFILE: 'swoole', HERALD_PORT: '9501' }, cwd }),
      /port 9501 is configured for both HTTP \(port\) and swoole \(swoole.port\)/,
    );
    assert.throws(
      () => loadConfig({ env: {}, cwd, overrides: { profile: 'workerman', swoole: { enabled: true, port: 1234 } } }),
      /port 1234 is configured for both compat.websocket and swoole \(swoole.port\)/,
    );
    // Different interfaces may share a port number.
    const ok = loadConfig({ env: {}, cwd, overrides: { host: '127.0.0.1', port: 9501, swoole: { enabled: true, host: '127.0.0.2' } } });
    assert.equal(ok.swoole.port, 9501);
  });

  it('warns loudly about open mode and a missing webhook, and not once both are set', () => {
    const open = loadConfig({ env: {}, cwd, flags: { profile: 'swoole' } });
    const w = swooleWarnings(open);
    assert.deepEqual(
      w.map((x) => x.option),
      ['swoole.requireToken', 'webhook.url'],
    );
    assert.match(w[0]!.message, /^OPEN MODE: swoole \(0\.0\.0\.0:9501\) accepts any client without a token/);
    const safe = loadConfig({
      env: { HERALD_WEBHOOK_URL: 'http://127.0.0.1:9000/', HERALD_SWOOLE_REQUIRE_TOKEN: '1' },
      cwd,
      flags: { profile: 'swoole' },
    });
    assert.deepEqual(swooleWarnings(safe), []);
    assert.deepEqual(swooleWarnings(loadConfig({ env: {}, cwd })), [], 'nothing when the listener is off');
  });
});
