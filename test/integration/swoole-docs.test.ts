// Keeps docs/migrating-from-swoole.md honest: every example in it runs here, as written, with only the addresses
// rewritten to the test servers' ephemeral ones:
//   ```html  seed 004's page runs in a VM context whose WebSocket is `ws`, against Herald and the PHP webhook
//   ```json  a herald.json must load; a webhook event must have exactly the shape (and the values sent) of a real one
//   ```php   the webhook is examples/php/swoole-echo.php verbatim (run by php -S here); the other runs with php-cli
//   ```sh    curl examples run with bash (KEY, FD set); the start commands run in swoole-cli.test.ts
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { ROOT } from '../../src/paths.ts';
import { RawWsClient, requirePhp } from '../helpers/compat.ts';
import { API_KEY } from '../helpers/herald.ts';
import { codeBlocks } from '../helpers/markdown.ts';
import { Lines, nodeBackend, startPhpServer, startSwoole, type SwooleHerald } from '../helpers/swoole.ts';

const DOC = readFileSync(new URL('../../docs/migrating-from-swoole.md', import.meta.url), 'utf8');
const EXAMPLE = join(ROOT, 'examples/php/swoole-echo.php');
const all = codeBlocks(DOC);

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The structure of a JSON value: keys (recursively) and types, values left out. */
function shape(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return typeof v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
}

describe('docs/migrating-from-swoole.md examples', () => {
  let dir: string;
  before(() => {
    requirePhp();
    dir = mkdtempSync(join(tmpdir(), 'herald-swoole-docs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the examples this test knows how to run', () => {
    assert.deepEqual([...new Set(all.map((b) => b.lang))].sort(), ['html', 'json', 'php', 'sh']);
    const starts = all.filter((b) => b.lang === 'sh' && !/\bcurl\b/.test(b.code));
    assert.deepEqual(
      starts.map((b) => b.code.trim()),
      ['php -S 127.0.0.1:9000 examples/php/swoole-echo.php &\nHERALD_WEBHOOK_URL=http://127.0.0.1:9000/ npx herald start --profile swoole'],
      'the start commands: swoole-cli.test.ts runs this PHP server and this binary',
    );
  });

  it('the webhook shown is examples/php/swoole-echo.php, verbatim', () => {
    const php = all.filter((b) => b.lang === 'php');
    assert.equal(php[0]?.code, readFileSync(EXAMPLE, 'utf8'));
  });

  it('every herald.json loads, with the swoole listener on', () => {
    const configs = all.filter((b) => b.lang === 'json' && !/"type":/.test(b.code));
    assert.ok(configs.length >= 1);
    for (const b of configs) {
      const file = join(dir, `config-${b.line}.json`);
      writeFileSync(file, b.code);
      const c = loadConfig({ env: {}, cwd: dir, configFile: file });
      assert.equal(c.swoole.enabled, true, `docs line ${b.line}`);
      assert.equal(c.swoole.port, 9501, `docs line ${b.line}`);
    }
  });

  it('every webhook event shown has the shape of the real one, and the values this flow sends', async () => {
    const b = await nodeBackend((_c, res) => res.end());
    const h = await startSwoole({}, { webhook: { url: b.url } });
    try {
      const c = await RawWsClient.open(h.url9501('/?room=1'), {
        headers: { origin: 'http://your_server_ip', 'user-agent': 'Mozilla/5.0', cookie: 'PHPSESSID=9k2' },
      });
      c.ws.send('你好');
      c.ws.send(Buffer.from([0, 1, 2, 255]));
      c.ws.close(1001);
      const close = await b.calls.next((x) => x.body.type === 'close', 'the close event');
      const real = b.calls.items.map((x) => x.body as Record<string, unknown>);
      const events = all.filter((x) => x.lang === 'json' && /"type":/.test(x.code));
      assert.equal(events.length, 4);
      for (const ex of events) {
        const shown = JSON.parse(ex.code) as Record<string, any>;
        const match = real.find((r) => r.type === shown.type && (r.binary === true) === (shown.binary === true));
        assert.ok(match, `docs line ${ex.line}: a real ${shown.type} event`);
        assert.deepEqual(shape(shown), shape(match), `docs line ${ex.line}: the fields of a real ${shown.type} event`);
        for (const k of ['type', 'user', 'transport', 'data', 'binary', 'code', 'path', 'query'] as const) {
          if (k in shown) assert.deepEqual(shown[k], match[k], `docs line ${ex.line}: ${k}`);
        }
        if (shown.type === 'open') assert.deepEqual(Object.keys(shown.headers).sort(), Object.keys(match.headers as object).sort());
      }
      assert.equal(close.body.code, 1001);
    } finally {
      await h.close();
      await b.close();
    }
  });

  describe('the page, the PHP webhook, and pushes from curl and PHP', () => {
    let php: Awaited<ReturnType<typeof startPhpServer>>;
    let h: SwooleHerald;
    const logs = new Lines();
    const sockets: WebSocket[] = [];
    let fd = '';
    before(async () => {
      php = await startPhpServer(EXAMPLE, { HERALD_API_KEY: API_KEY });
      h = await startSwoole({}, { webhook: { url: php.url } });
      const page = all.find((b) => b.lang === 'html')!;
      const script = /<script>\n([\s\S]*?)<\/script>/.exec(page.code)![1]!;
      runInNewContext(script.replaceAll('your_server_ip:9501', `127.0.0.1:${h.port}`), {
        WebSocket: class extends WebSocket {
          constructor(url: string) {
            super(url);
            sockets.push(this);
          }
        },
        console: { log: (m: string) => logs.push(m) },
      });
      await logs.next((l) => l === '已连接到WebSocket服务器', 'the page to connect');
      fd = /客户端ID:(\S+)$/.exec(await php.log.next((l) => l.includes('新的连接已建立,客户端ID:'), 'the open event'))![1]!;
    });
    after(async () => {
      for (const s of sockets) s.terminate();
      await h?.close();
      await php?.close();
    });

    it('the page gets the reply to what it sends', async () => {
      sockets[0]!.send('你好');
      await logs.next((l) => l === '收到服务器的消息:已收到你的消息:你好', 'the reply on the page');
    });

    it('each curl example exits 0, answers JSON without an error, and reaches the page', async () => {
      const curls = all.filter((b) => b.lang === 'sh' && /\bcurl\b/.test(b.code));
      assert.equal(curls.length, 3);
      for (const b of curls) {
        const file = join(dir, `curl-${b.line}.sh`);
        writeFileSync(file, `set -e\n${b.code.replaceAll('http://localhost:8080', h.url)}`);
        const r = await run('bash', [file], { KEY: API_KEY, FD: fd });
        assert.equal(r.code, 0, `docs line ${b.line}: ${r.stderr}`);
        // Two curls in one block print two bodies back to back.
        for (const line of r.stdout.trim().replaceAll('}{', '}\n{').split('\n')) {
          const body = JSON.parse(line) as Record<string, unknown>;
          assert.equal(body.error, undefined, `docs line ${b.line}: ${line}`);
        }
      }
      for (const text of ['订单已发货', '你有一条新消息', '系统公告']) await logs.next((l) => l === `收到服务器的消息:${text}`, text);
      assert.equal(h.server.context.hub.get(fd)?.user, '42', 'bound by the example');
    });

    it('the PHP class pushes, tells the connection exists, and closes it', async () => {
      const file = join(dir, 'herald-server.php');
      writeFileSync(file, all.filter((b) => b.lang === 'php')[1]!.code);
      const r = await run('php', [file, fd, '来自PHP'], { HERALD_URL: h.url, HERALD_API_KEY: API_KEY });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'bool(true)\nbool(true)\nbool(true)\n');
      await logs.next((l) => l === '收到服务器的消息:来自PHP', 'the push from PHP');
      await logs.next((l) => l === '与WebSocket服务器的连接已关闭', 'the page closed');
      await php.log.next((l) => l.endsWith(`连接已关闭,客户端ID:${fd}`), 'the close event');
    });
  });
});
