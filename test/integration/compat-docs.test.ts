// Keeps docs/migrating-from-workerman.md honest: every example in it runs here, as written, with only the ports
// rewritten to the test server's ephemeral ones:
//   ```json  each is a complete herald.json and must load
//   ```html  the unchanged seed pages run in a VM context whose WebSocket is `ws` and whose `io` is socket.io-client 2.x
//   ```php   each runs with php-cli and must print the documented answer
//   ```sh    curl examples run with bash; `npx herald start --profile workerman` runs in compat-cli.test.ts
// Examples that use a push secret (HERALD_PUSH_SECRET) run against a second server configured with one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import ioV2 from 'socket.io-client-v2';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { TOKEN_SECRET } from '../helpers/herald.ts';
import { codeBlocks } from '../helpers/markdown.ts';
import { RawWsClient, requirePhp, SioClient, startCompat, type CompatHerald } from '../helpers/compat.ts';

const DOC = readFileSync(new URL('../../docs/migrating-from-workerman.md', import.meta.url), 'utf8');
const SECRET = 'docs-test-push-secret-0123';

const blocks = codeBlocks;

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const rewrite = (code: string, h: CompatHerald): string =>
  code
    .replaceAll('127.0.0.1:5678', `127.0.0.1:${h.ports.text}`)
    .replaceAll('127.0.0.1:2121', `127.0.0.1:${h.ports.httpPush}`)
    .replaceAll('127.0.0.1:1234', `127.0.0.1:${h.ports.websocket}`)
    .replaceAll(":2120'", `:${h.ports.socketio}'`);

describe('docs/migrating-from-workerman.md examples', () => {
  const all = blocks(DOC);
  let plain: CompatHerald;
  let secure: CompatHerald;
  let dir: string;
  const clients: { close(): unknown }[] = [];
  before(async () => {
    requirePhp();
    dir = mkdtempSync(join(tmpdir(), 'herald-docs-'));
    plain = await startCompat();
    secure = await startCompat({ secret: SECRET });
    // The uids the examples push to are online on the secured server too.
    clients.push(await RawWsClient.login(secure, 'uid1'), await SioClient.login(secure, 2, 123));
  });
  after(async () => {
    for (const c of clients) c.close();
    await plain.close();
    await secure.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the examples this test knows how to run', () => {
    const langs = new Set(all.map((b) => b.lang));
    assert.deepEqual([...langs].sort(), ['html', 'json', 'php', 'sh']);
    const starts = all.filter((b) => b.lang === 'sh' && /herald start/.test(b.code));
    assert.deepEqual(
      starts.map((b) => b.code.trim()),
      ['npx herald start --profile workerman'],
      'the start command is run by compat-cli.test.ts',
    );
  });

  it('every json block is a valid herald.json', () => {
    for (const b of all.filter((x) => x.lang === 'json')) {
      const file = join(dir, `config-${b.line}.json`);
      writeFileSync(file, b.code);
      const c = loadConfig({ env: {}, cwd: dir, configFile: file });
      assert.equal(c.profile, 'workerman', `docs line ${b.line}`);
    }
  });

  it('the seed pages (html blocks) receive what the PHP and shell examples push', async () => {
    const html = all.filter((b) => b.lang === 'html');
    assert.equal(html.length, 2);
    const alerts: string[] = [];
    const logs: string[] = [];
    const sockets: { close(): unknown }[] = [];
    const want = (): boolean =>
      alerts.includes('{"uid":"uid1","percent":"88%"}') && logs.includes('收到消息：这个是推送的测试数据') && logs.includes('收到消息：消息内容');
    let done: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (done = resolve));
    const record = (list: string[]) => (m: string) => {
      list.push(m);
      if (want()) done();
    };
    for (const b of html) {
      const script = /<script>\n([\s\S]*?)<\/script>/.exec(b.code)![1]!;
      runInNewContext(rewrite(script, plain), {
        WebSocket: class extends WebSocket {
          constructor(url: string) {
            super(url);
            sockets.push(this);
          }
        },
        alert: record(alerts),
        io: (url: string) => {
          const s = ioV2(url, { forceNew: true, reconnection: false }) as { close(): unknown };
          sockets.push(s);
          return s;
        },
        document: { domain: '127.0.0.1' },
        console: { log: record(logs) },
      });
    }
    const hub = plain.server.context.hub;
    await plain.hubChanged(() => hub.connectionsOf('uid1').size === 1 && hub.connectionsOf('123').size === 1);

    const outputs: string[] = [];
    for (const b of all.filter((x) => x.lang === 'php' || (x.lang === 'sh' && /\bcurl\b/.test(x.code)))) {
      const h = /HERALD_PUSH_SECRET/.test(b.code) ? secure : plain;
      const file = join(dir, `example-${b.line}.${b.lang}`);
      writeFileSync(file, rewrite(b.code, h));
      const r = await run(b.lang === 'php' ? 'php' : 'bash', [file], { HERALD_PUSH_SECRET: SECRET, HERALD_TOKEN_SECRET: TOKEN_SECRET });
      assert.equal(r.code, 0, `docs line ${b.line}: ${r.stderr}`);
      if (/HERALD_TOKEN_SECRET/.test(b.code)) {
        const check = await h.server.context.tokens.verify(r.stdout.trim());
        assert.ok(check.ok && check.identity.user === 'uid1', `docs line ${b.line}: the PHP-minted token is valid for uid1`);
        continue;
      }
      assert.ok(['ok\n', "'ok'", 'ok'].includes(r.stdout), `docs line ${b.line} printed ${JSON.stringify(r.stdout)}`);
      outputs.push(r.stdout);
    }
    assert.ok(outputs.length >= 5, `ran ${outputs.length} push examples`);

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the pages did not get every push: alerts ${JSON.stringify(alerts)} logs ${JSON.stringify(logs)}`)), 5000);
    });
    await Promise.race([arrived, timeout]);
    clearTimeout(timer);
    assert.ok(
      logs.some((l) => /^当前<b>\d+<\/b>人在线，共打开<b>\d+<\/b>个页面$/.test(l)),
      'the page shows update_online_count',
    );
    for (const s of sockets) s.close();
  });
});
