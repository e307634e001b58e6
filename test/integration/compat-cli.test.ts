import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { php, RawWsClient, requirePhp, SioClient, TextClient } from '../helpers/compat.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';

/** The real binary (dist build): `herald start --profile workerman`, ports moved to 0 by a config file. */
describe('compat: herald start --profile workerman (the real binary)', () => {
  let dir: string;
  before(() => {
    requirePhp();
    dir = mkdtempSync(join(tmpdir(), 'herald-compat-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("opens the four listeners, warns about the insecure defaults it keeps, serves the seeds' clients, and stops on SIGTERM", async () => {
    const cfg = join(dir, 'herald.json');
    const any = { port: 0, host: '127.0.0.1' };
    writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', port: 0, line: { port: 0 }, compat: { websocket: any, text: any, socketio: any, httpPush: any } }));
    const p = runHerald(['start', '--profile', 'workerman', '--config', cfg, '--data-dir', join(dir, 'data')]);
    try {
      const open = await p.waitLog((l) => typeof l.compat === 'object' && l.compat !== null);
      const addr = open.compat as Record<'websocket' | 'text' | 'socketio' | 'httpPush', { port: number }>;
      await p.waitLog((l) => typeof l.http === 'string');
      assert.ok(
        p.logs.some((l) => l.level === 40 && /trusts any uid/.test(String(l.msg))),
        'warns that logins trust any uid',
      );
      assert.ok(
        p.logs.some((l) => l.level === 40 && /without a secret/.test(String(l.msg))),
        'warns that push ports have no secret',
      );

      const ports = { websocket: addr.websocket.port, text: addr.text.port, socketio: addr.socketio.port, httpPush: addr.httpPush.port };
      const page = await RawWsClient.open(`ws://127.0.0.1:${ports.websocket}`);
      page.ws.send('uid1');
      const sio = SioClient.create(2, ports.socketio, 'uid1');
      await sio.counts.next((s) => s.includes('<b>1</b>人在线，共打开<b>2</b>'), 5000, 'both pages counted');
      assert.equal(await php('text-push.php', [String(ports.text), 'uid1']), 'ok\n');
      assert.equal(await page.messages.next(), '{"uid":"uid1","percent":"88%"}');
      assert.equal(await sio.newMsg.next(), '{"uid":"uid1","percent":"88%"}');
      assert.equal(await php('http-push-curl.php', [`http://127.0.0.1:${ports.httpPush}/`, 'uid1', 'hi']), "'ok'");
      assert.equal(await sio.newMsg.next((m) => m === 'hi'), 'hi');

      p.child.kill('SIGTERM');
      assert.equal(await page.closed, 1001);
      assert.equal(await sio.disconnects.next(), 'transport close');
      assert.equal((await p.exited).code, 0);
      sio.close();
      const t = await TextClient.open(ports.text).catch((err: Error) => err);
      assert.ok(t instanceof Error, 'the text port is closed after shutdown');
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it("refuses a line port left on 5678 next to the profile's text port, with a clear message", async () => {
    const r = await runHeraldOnce(['start', '--profile', 'workerman', '--line-port', '5678', '--data-dir', join(dir, 'x')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /port 5678 is configured for both the line port \(line.port\) and compat.text/);
  });
});
