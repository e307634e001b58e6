import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ROOT } from '../../src/paths.ts';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { TestClient } from '../helpers/ws-client.ts';

const run = promisify(execFile);

/** The copyable backend examples (examples/*): each inserts a row into SQLite, then publishes it to `orders`. */
const EXAMPLES = [
  { name: 'php', cmd: 'php', file: join(ROOT, 'examples/php/push.php'), user: 'php-backend' },
  { name: 'node', cmd: process.execPath, file: join(ROOT, 'examples/node/push.mjs'), user: 'node-backend' },
  { name: 'python', cmd: 'python3', file: join(ROOT, 'examples/python/push.py'), user: 'python-backend' },
];

describe('backend examples: insert, then push', () => {
  let h: TestHerald;
  let client: TestClient;
  let work: string;

  before(async () => {
    h = await startHerald();
    client = await TestClient.welcome(h.wsUrl, await h.token('viewer', ['orders']));
    client.send({ type: 'subscribe', channel: 'orders', id: 1 });
    await client.next((f) => f.type === 'subscribed' && f.id === 1);
    // A project directory as a user would have it: data/secrets.json next to where the example runs.
    work = mkdtempSync(join(tmpdir(), 'herald-examples-'));
    mkdirSync(join(work, 'data'));
    writeFileSync(join(work, 'data', 'secrets.json'), JSON.stringify({ apiKey: h.apiKey, tokenSecret: 'unused' }));
  });

  after(async () => {
    client?.ws.close();
    await h?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const ex of EXAMPLES) {
    it(`${ex.name}: the row lands in the database and a connected client receives it`, async () => {
      const item = `${ex.name} "espresso" <beans> & ünïcode`;
      const db = join(work, `${ex.name}.db`);
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HERALD_URL: h.url, HERALD_API_KEY: h.apiKey, HERALD_DB: db };
      const { stdout } = await run(ex.cmd, [ex.file, item, '4'], { cwd: work, env, timeout: 20_000 });
      assert.match(stdout, /^order #1 stored and pushed: \{"delivered":1,/);

      const frame = await client.next((f) => f.type === 'message' && f.data?.item === item);
      assert.equal(frame.stream, 'channel:orders');
      assert.equal(frame.event, 'order');
      assert.equal(frame.data.id, 1);
      assert.equal(frame.data.quantity, 4);
      assert.equal(frame.data.user, ex.user);

      const conn = new Database(db, { readonly: true });
      const rows = conn.prepare('SELECT id, item, quantity, user FROM orders').all();
      conn.close();
      assert.deepEqual(rows, [{ id: 1, item, quantity: 4, user: ex.user }]);
    });

    it(`${ex.name}: reads the API key from ./data/secrets.json, and the default database is ./data/demo.db`, async () => {
      const item = `${ex.name} from secrets.json`;
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HERALD_URL: h.url };
      await run(ex.cmd, [ex.file, item], { cwd: work, env, timeout: 20_000 });
      const frame = await client.next((f) => f.type === 'message' && f.data?.item === item);
      assert.equal(frame.data.quantity, 1);
      const conn = new Database(join(work, 'data', 'demo.db'), { readonly: true });
      const row = conn.prepare('SELECT item FROM orders WHERE id = ?').get(frame.data.id);
      conn.close();
      assert.deepEqual(row, { item });
    });

    it(`${ex.name}: a wrong API key fails loudly (non-zero exit, the server's answer on stderr)`, async () => {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HERALD_URL: h.url, HERALD_API_KEY: 'wrong-key-0123456789', HERALD_DB: join(work, 'wrong.db') };
      await assert.rejects(run(ex.cmd, [ex.file, 'x'], { cwd: work, env, timeout: 20_000 }), (err: { code?: number; stderr?: string }) => {
        assert.notEqual(err.code, 0);
        assert.match(err.stderr ?? '', /HTTP 401/);
        return true;
      });
    });
  }
});
