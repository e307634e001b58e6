import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../../src/paths.ts';
import { RawWsClient, requirePhp } from '../helpers/compat.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';
import { startPhpServer } from '../helpers/swoole.ts';

const KEY = 'swoole-cli-api-key-0123456789';

/** The real binary (dist build): `herald start --profile swoole`, the port moved to 0 by a config file. */
describe('herald start --profile swoole (the real binary)', () => {
  let dir: string;
  before(() => {
    requirePhp();
    dir = mkdtempSync(join(tmpdir(), 'herald-swoole-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opens the 9501 listener, warns about open mode, answers through the PHP webhook, and stops with 1001 on SIGTERM', async () => {
    const php = await startPhpServer(join(ROOT, 'examples/php/swoole-echo.php'), { HERALD_API_KEY: KEY });
    const cfg = join(dir, 'herald.json');
    writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', port: 0, line: { port: 0 }, swoole: { host: '127.0.0.1', port: 0 } }));
    const p = runHerald(['start', '--profile', 'swoole', '--config', cfg, '--data-dir', join(dir, 'data'), '--webhook-url', php.url], {
      HERALD_API_KEY: KEY,
    });
    try {
      const open = await p.waitLog((l) => typeof l.compat === 'object' && l.compat !== null);
      const addr = open.compat as Record<string, { host: string; port: number }>;
      assert.deepEqual(Object.keys(addr), ['swoole'], 'only the swoole listener: the Workerman ones stay off');
      assert.equal(addr.swoole!.host, '127.0.0.1');
      await p.waitLog((l) => typeof l.http === 'string');
      const warning = p.logs.find((l) => l.level === 40 && /^OPEN MODE: swoole/.test(String(l.msg)));
      assert.ok(warning, 'warns that anyone may connect without a token');
      assert.equal(warning.compat, 'swoole.requireToken');

      const page = await RawWsClient.open(`ws://127.0.0.1:${addr.swoole!.port}`);
      page.ws.send('你好');
      assert.equal(await page.messages.next(), '已收到你的消息:你好');

      p.child.kill('SIGTERM');
      assert.equal(await page.closed, 1001);
      assert.equal((await p.exited).code, 0);
      await php.log.next((l) => l.includes('连接已关闭,客户端ID:'), 'the close event, posted before the process exited');
    } finally {
      p.child.kill('SIGKILL');
      await php.close();
    }
  });

  it("refuses an HTTP port on 9501, the profile's swoole port, with a clear message", async () => {
    const r = await runHeraldOnce(['start', '--profile', 'swoole', '--port', '9501', '--data-dir', join(dir, 'x')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /port 9501 is configured for both HTTP \(port\) and swoole \(swoole.port\)/);
  });
});
