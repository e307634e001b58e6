import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, usesRedis, waitReplicas } from '../../src/config.ts';

const cwd = mkdtempSync(join(tmpdir(), 'herald-config-'));

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ env: {}, cwd });
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, './data');
    assert.equal(c.line.port, 5678);
    assert.equal(c.line.host, '127.0.0.1');
    assert.equal(c.line.allowLoopbackWithoutKey, false);
    assert.equal(c.dev, false);
  });

  it('layers file < env < flags', () => {
    const file = join(cwd, 'layers.json');
    writeFileSync(file, JSON.stringify({ port: 1000, host: '127.0.0.1', line: { port: 2000 }, logLevel: 'warn' }));
    const c = loadConfig({ cwd, configFile: file, env: { HERALD_PORT: '3000', HERALD_LINE_PORT: '4000' }, flags: { port: '5000' } });
    assert.equal(c.port, 5000);
    assert.equal(c.line.port, 4000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.logLevel, 'warn');
  });

  it('reads herald.json from the working directory when no --config is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-config-'));
    writeFileSync(join(dir, 'herald.json'), JSON.stringify({ port: 9999 }));
    assert.equal(loadConfig({ cwd: dir, env: {} }).port, 9999);
  });

  it('rejects bad values, unknown keys and contradictions with messages that name them', () => {
    const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
      [{ cwd, env: { HERALD_PORT: '99999' } }, /port/],
      [{ cwd, env: { HERALD_DEV: 'maybe' } }, /HERALD_DEV: expected a boolean/],
      [{ cwd, env: {}, overrides: { tokenSecret: 'short' } }, /tokenSecret must be at least 32/],
      [{ cwd, env: {}, overrides: { port: 7000, line: { port: 7000 } } }, /both HTTP and the line port/],
      [{ cwd, env: {}, overrides: { webhook: { events: ['connect'] } } }, /webhook.events is set but webhook.url is not/],
      [{ cwd, env: {}, flags: { nope: '1' } }, /unknown option --nope/],
      [{ cwd, env: {}, overrides: { limits: { maxFrameBytes: 1 } } }, /limits.maxFrameBytes/],
      [{ cwd, env: { HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_CLUSTER: 'a:7000' } }, /one of redis.url, redis.cluster/],
      [{ cwd, env: { HERALD_REDIS_SENTINELS: 'a:26379,b' } }, /host:port/],
      [{ cwd, env: { HERALD_REDIS_PREFIX: 'h{x}:' } }, /must not contain \{ or \}/],
    ];
    for (const [src, re] of cases) {
      assert.throws(
        () => loadConfig(src),
        (err: Error) => err instanceof ConfigError && re.test(err.message),
        String(re),
      );
    }
    const file = join(cwd, 'unknown.json');
    writeFileSync(file, JSON.stringify({ line: { prot: 1 } }));
    assert.throws(() => loadConfig({ cwd, env: {}, configFile: file }), /line/);
  });

  it('allows the same port for HTTP and line port on different interfaces', () => {
    const c = loadConfig({ cwd, env: {}, overrides: { host: '127.0.0.2', port: 7000, line: { host: '127.0.0.1', port: 7000 } } });
    assert.equal(c.line.port, 7000);
  });

  it('reads Redis Cluster seeds and Sentinels from comma-separated environment variables', () => {
    const c = loadConfig({ cwd, env: { HERALD_REDIS_CLUSTER: 'a:7000, b:7001' } });
    assert.deepEqual(c.redis.cluster, ['a:7000', 'b:7001']);
    assert.equal(usesRedis(c), true);
    // The failover fence is on by default on a Cluster (lowered at startup if a master has no replica), and settable.
    assert.equal(waitReplicas(c), 1);
    assert.equal(waitReplicas(loadConfig({ cwd, env: { HERALD_REDIS_CLUSTER: 'a:7000', HERALD_REDIS_WAIT_REPLICAS: '2' } })), 2);
    assert.equal(waitReplicas(loadConfig({ cwd, env: { HERALD_REDIS_CLUSTER: 'a:7000', HERALD_REDIS_WAIT_REPLICAS: '0' } })), 0);
    const s = loadConfig({ cwd, env: { HERALD_REDIS_SENTINELS: 's1:26379,s2:26380', HERALD_REDIS_SENTINEL_NAME: 'herald' } });
    assert.deepEqual(s.redis.sentinels, ['s1:26379', 's2:26380']);
    assert.equal(s.redis.sentinelName, 'herald');
    assert.equal(usesRedis(loadConfig({ cwd, env: {} })), false);
  });
});
