import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TokenService } from '../../src/auth/tokens.ts';
import { API_KEY, TOKEN_SECRET } from '../helpers/herald.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { TestClient } from '../helpers/ws-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'herald-workers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('herald start --workers N', () => {
  it('runs N processes on one port that act as one server through Redis', async () => {
    const env = {
      HERALD_API_KEY: API_KEY,
      HERALD_TOKEN_SECRET: TOKEN_SECRET,
      HERALD_REDIS_URL: REDIS_URL,
      HERALD_REDIS_PREFIX: `herald-test:${randomBytes(4).toString('hex')}:`,
    };
    const p = runHerald(['start', '--workers', '2', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', join(dir, 'w')], env);
    try {
      const first = await p.waitLog((l) => typeof l.http === 'string');
      const second = await p.waitLog((l) => typeof l.http === 'string' && l.pid !== first.pid);
      assert.equal(first.http, second.http, 'both workers serve the same port');
      const url = first.http as string;
      const tokens = new TokenService(TOKEN_SECRET);
      // Round-robin hands consecutive connections to different workers.
      const clients = [];
      for (let i = 0; i < 4; i++) clients.push(await TestClient.welcome(`${url.replace(/^http/, 'ws')}/ws`, await tokens.sign('w1', { ttlSeconds: 600 })));
      const sessions = new Set(clients.map((c) => String(c.frames[0]!.session).split('.')[0]));
      assert.equal(sessions.size, 2, 'the connections landed on both workers');
      const res = await fetch(`${url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: { user: 'w1' }, data: 'everywhere' }),
      });
      assert.equal(res.status, 200);
      for (const c of clients) assert.equal((await c.next((f) => f.type === 'message')).data, 'everywhere');
      const stats = (await (await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as {
        cluster: { nodes: number; connections: number };
      };
      assert.deepEqual([stats.cluster.nodes, stats.cluster.connections], [2, 4]);
      for (const c of clients) c.close();
      p.child.kill('SIGTERM');
      assert.equal((await p.exited).code, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('refuses several workers without Redis, and says why', async () => {
    const r = await runHeraldOnce(['start', '--workers', '2', '--port', '0', '--data-dir', join(dir, 'n')], {
      HERALD_API_KEY: API_KEY,
      HERALD_TOKEN_SECRET: TOKEN_SECRET,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers 2 needs Redis/);
  });
});
