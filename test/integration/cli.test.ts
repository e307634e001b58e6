import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';
import { TestClient } from '../helpers/ws-client.ts';

describe('herald CLI (the real binary)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with generated secrets, serves a token user, and shuts down gracefully on SIGTERM with 4000', async () => {
    const dataDir = join(dir, 'data');
    const p = runHerald(['start', '--port', '0', '--line-port', '0', '--host', '127.0.0.1', '--data-dir', dataDir]);
    try {
      const ready = await p.waitLog((l) => typeof l.http === 'string');
      const url = ready.http as string;
      assert.ok(
        p.logs.some((l) => String(l.msg).includes('generated an API key')),
        'says it generated secrets',
      );
      const secretsFile = join(dataDir, 'secrets.json');
      assert.equal(statSync(secretsFile).mode & 0o777, 0o600, 'secrets file is private');
      const { apiKey } = JSON.parse(readFileSync(secretsFile, 'utf8')) as { apiKey: string };

      const tok = await runHeraldOnce(['token', '42', '--data-dir', dataDir, '--channels', 'news', '--ttl', '10m']);
      assert.equal(tok.code, 0, tok.stderr);
      const client = await TestClient.welcome(`${url.replace(/^http/, 'ws')}/ws`, tok.stdout.trim());

      const res = await fetch(`${url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: '42' }, data: { text: 'hi' } }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual((await client.next((f) => f.type === 'message')).data, { text: 'hi' });

      p.child.kill('SIGTERM');
      assert.equal(await client.closed(), CloseCode.Shutdown);
      const exit = await p.exited;
      assert.equal(exit.code, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('reuses the generated secrets on the next start', async () => {
    const dataDir = join(dir, 'reuse');
    const first = runHerald(['start', '--port', '0', '--line-port', '0', '--data-dir', dataDir]);
    await first.waitLog((l) => typeof l.http === 'string');
    first.child.kill('SIGTERM');
    await first.exited;
    const before = readFileSync(join(dataDir, 'secrets.json'), 'utf8');
    const second = runHerald(['start', '--port', '0', '--line-port', '0', '--data-dir', dataDir]);
    await second.waitLog((l) => typeof l.http === 'string');
    assert.ok(!second.logs.some((l) => String(l.msg).includes('generated')));
    second.child.kill('SIGTERM');
    await second.exited;
    assert.equal(readFileSync(join(dataDir, 'secrets.json'), 'utf8'), before);
  });

  it('rejects contradictory or invalid configuration at start with a clear message', async () => {
    const samePort = await runHeraldOnce(['start', '--port', '7311', '--line-port', '7311', '--data-dir', join(dir, 'x')]);
    assert.equal(samePort.code, 2);
    assert.match(samePort.stderr, /port 7311 is configured for both HTTP and the line port/);

    const badEnv = await runHeraldOnce(['start', '--data-dir', join(dir, 'x')], { HERALD_PORT: 'eighty' });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /HERALD_PORT: expected a number/);

    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ port: 8080, prot: 1 }));
    const badFile = await runHeraldOnce(['start', '--config', cfg]);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /prot/);

    const missing = await runHeraldOnce(['start', '--config', join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /config file not found/);

    const unknownFlag = await runHeraldOnce(['start', '--prot', '1']);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /prot/);
  });

  it('token refuses a bad ttl and a missing user', async () => {
    const dataDir = join(dir, 'data');
    const noUser = await runHeraldOnce(['token', '--data-dir', dataDir]);
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /usage: herald token/);
    const badTtl = await runHeraldOnce(['token', 'u', '--ttl', 'forever', '--data-dir', dataDir]);
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.stderr, /--ttl/);
  });
});
