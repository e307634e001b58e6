import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { GwClient, PhpWorker } from '../helpers/gatewayworker.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';

/** The real binary (dist build: `npm run build`): `herald start --profile gatewayworker`, ports moved to 0 by a config file. */
describe('gateway: herald start --profile gatewayworker (the real binary)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-gateway-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opens the Register, the inner port and the client listener, warns about a Register beyond loopback without a secret, serves a PHP worker and its clients, and stops on SIGTERM', async () => {
    const cfg = join(dir, 'herald.json');
    writeFileSync(
      cfg,
      JSON.stringify({ host: '127.0.0.1', port: 0, line: { port: 0 }, gateway: { register: '0.0.0.0:0', listen: 'websocket://127.0.0.1:0', startPort: 0 } }),
    );
    const p = runHerald(['start', '--profile', 'gatewayworker', '--config', cfg, '--data-dir', join(dir, 'data')], {
      HERALD_GATEWAY_PING_INTERVAL: '30',
      HERALD_GATEWAY_PING_DATA: '{"type":"ping"}',
    });
    let worker: PhpWorker | undefined;
    try {
      const open = await p.waitLog((l) => typeof l.gateway === 'object' && l.gateway !== null);
      const g = open.gateway as Record<'gatewayRegister' | 'gatewayInner' | 'listen', { port: number }>;
      assert.ok(
        p.logs.some((l) => l.level === 40 && /gateway.register .* without gateway.secret/.test(String(l.msg))),
        'warns that the Register listens beyond loopback without a secret',
      );
      worker = await PhpWorker.start(`127.0.0.1:${g.gatewayRegister.port}`);
      const h = { client: g.listen.port } as Parameters<typeof GwClient.open>[0];
      const c = await GwClient.open(h);
      assert.equal(c.id.slice(8, 12), g.gatewayInner.port.toString(16).padStart(4, '0'));
      c.ws.send('hi');
      await c.messages.next((m) => m === 'echo:hi');
      p.child.kill('SIGTERM');
      assert.equal((await c.closed).code, 1001);
      await worker.lines.next((l) => l.startsWith(`close ${c.id}`));
      assert.equal((await p.exited).code, 0);
      const late = new WebSocket(`ws://127.0.0.1:${g.listen.port}/`);
      const err = await new Promise<Error>((resolve) => late.on('error', resolve));
      assert.match(err.message, /ECONNREFUSED/);
    } finally {
      p.child.kill('SIGKILL');
      await worker?.stop();
    }
  });

  it('refuses an inner port on the Register port, with a clear message', async () => {
    const r = await runHeraldOnce(['start', '--profile', 'gatewayworker', '--data-dir', join(dir, 'x')], { HERALD_GATEWAY_START_PORT: '1236' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /port 1236 is configured for both gateway.register and gateway.startPort/);
  });
});
