// Keeps docs/pusher.md honest: every example in it runs here, as written, with only the addresses rewritten to the
// test servers' ephemeral ones:
//   ```sh   the environment start command runs the real binary; the Laravel .env's keys drive the `pusher` SDK as
//           Laravel's `reverb` connection builds it
//   ```json the herald.json loads, and its second app's namespace is what the text says
//   ```js   both Echo setups run in Node (a `window` global, `import.meta.env` from the .env) against Herald; the
//           connector's imports resolve as a bundler resolves them (`herald/echo` is this package)
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import PusherServer from 'pusher';
import PusherJs from 'pusher-js';
import { loadConfig } from '../../src/config.ts';
import { ROOT } from '../../src/paths.ts';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { codeBlocks } from '../helpers/markdown.ts';
import { runHerald } from '../helpers/process.ts';
import { connected, Pusher, RawPusher } from '../helpers/pusher.ts';

const DOC = readFileSync(join(ROOT, 'docs/pusher.md'), 'utf8');
const all = codeBlocks(DOC);
const blocks = (lang: string) => all.filter((b) => b.lang === lang);

/** `A=1 B=2 cmd` lines and `.env` lines as variables. */
function envOf(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/\b([A-Z][A-Z0-9_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

describe('docs/pusher.md examples', () => {
  let dir: string;
  const cleanups: (() => Promise<void> | void)[] = [];
  before(() => {
    dir = mkdtempSync(join(ROOT, '.pusher-docs-'));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the examples this test knows how to run', () => {
    assert.deepEqual(
      all.map((b) => b.lang),
      ['sh', 'json', 'sh', 'js', 'js'],
    );
  });

  it('starts an app from the environment, as shown', async () => {
    const [start] = blocks('sh');
    assert.match(start!.code.trim(), /^(\w+=\S+ )+npx herald start$/);
    const env = envOf(start!.code);
    const proc = runHerald(['start', '--host', '127.0.0.1', '--port', '0', '--line-port', '0', '--data-dir', dir], {
      ...env,
      HERALD_API_KEY: 'docs-api-key-0123456789',
      HERALD_TOKEN_SECRET: 'docs-token-secret-0123456789abcdef0123456789',
      HERALD_LOG_LEVEL: 'info',
    });
    cleanups.push(async () => {
      proc.child.kill('SIGTERM');
      await proc.exited;
    });
    const url = (await proc.waitLog((l) => typeof l.http === 'string')).http as string;
    const c = await RawPusher.open({ url } as TestHerald, env.HERALD_PUSHER_KEY);
    cleanups.push(() => c.close());
    await c.next((f) => f.event === 'pusher:connection_established');
    await c.subscribe('news');
    const port = new URL(url).port;
    const sdk = new PusherServer({
      appId: env.HERALD_PUSHER_APP_ID!,
      key: env.HERALD_PUSHER_KEY!,
      secret: env.HERALD_PUSHER_SECRET!,
      host: '127.0.0.1',
      port,
      useTLS: false,
    });
    await sdk.trigger('news', 'hello', { from: 'docs' });
    assert.equal((await c.next((f) => f.event === 'hello')).data, '{"from":"docs"}');
  });

  it('loads the herald.json, whose second app lives under its id', async () => {
    const file = join(dir, 'herald.json');
    writeFileSync(file, blocks('json')[0]!.code);
    const config = loadConfig({ configFile: file, env: {}, cwd: dir });
    assert.deepEqual(
      config.pusher.apps.map((a) => [a.id, a.key]),
      [
        ['3', 'app-key'],
        ['shop', 'shop-key'],
      ],
    );
    // "the `shop` app's `news` is Herald's `shop/news`": a native publish there reaches a shop-key socket.
    const apps = config.pusher.apps.map(({ webhookUrl: _hook, ...app }) => app);
    const h = await startHerald({ pusher: { apps } });
    cleanups.push(() => h.close());
    const c = await RawPusher.open(h, 'shop-key');
    cleanups.push(() => c.close());
    await c.next((f) => f.event === 'pusher:connection_established');
    await c.subscribe('news');
    assert.equal((await h.api('POST', '/api/publish', { to: { channel: 'shop/news' }, event: 'native', data: 1 })).status, 200);
    assert.deepEqual(await c.next((f) => f.event === 'native'), { event: 'native', channel: 'news', data: '1' });
  });

  describe('the Laravel setups', () => {
    let h: TestHerald;
    let env: Record<string, string>;
    before(async () => {
      env = envOf(blocks('sh')[1]!.code);
      h = await startHerald({ pusher: { apps: [{ id: env.REVERB_APP_ID!, key: env.REVERB_APP_KEY!, secret: env.REVERB_APP_SECRET! }] } });
      cleanups.push(() => h.close());
    });
    /** Laravel's `reverb` connection: the SDK with the .env's keys, host and port (rewritten to the test server). */
    const laravel = (): PusherServer =>
      new PusherServer({
        appId: env.REVERB_APP_ID!,
        key: env.REVERB_APP_KEY!,
        secret: env.REVERB_APP_SECRET!,
        host: '127.0.0.1',
        port: new URL(h.url).port,
        useTLS: env.REVERB_SCHEME === 'https',
      });

    /**
     * Runs a ```js block as an ES module beside the package (so `herald/echo` resolves to it), in a page whose
     * `window` is the global object and which already has pusher-js there (as a Laravel page's bootstrap sets it).
     */
    async function runPage(code: string, name: string): Promise<{ Echo: { connector: { pusher: Pusher } } }> {
      const g = globalThis as Record<string, unknown>;
      g.Pusher = PusherJs;
      g.window = globalThis;
      const viteEnv = JSON.stringify({ VITE_REVERB_APP_KEY: env.REVERB_APP_KEY, VITE_REVERB_HOST: '127.0.0.1', VITE_REVERB_PORT: Number(new URL(h.url).port) });
      const head = code.includes('import Echo') ? '' : "import Echo from 'laravel-echo';\n";
      const file = join(dir, `${name}.mjs`);
      writeFileSync(file, `${head}${code.replaceAll('import.meta.env', viteEnv)}`);
      await import(file);
      const page = { Echo: g.Echo as { connector: { pusher: Pusher } } };
      delete g.Echo;
      delete g.Pusher;
      delete g.window;
      return page;
    }

    it("Echo with broadcaster 'reverb' hears an event the backend triggers", async () => {
      const page = await runPage(blocks('js')[0]!.code, 'reverb');
      const echo = page.Echo as unknown as { channel(n: string): { listen(e: string, cb: (d: unknown) => void): void }; disconnect(): void };
      cleanups.push(() => echo.disconnect());
      await connected(page.Echo.connector.pusher);
      const got = new Promise((resolve) => echo.channel('orders').listen('OrderShipped', resolve));
      await new Promise<void>((resolve) => page.Echo.connector.pusher.channel('orders')!.bind('pusher:subscription_succeeded', () => resolve()));
      await laravel().trigger('orders', 'App\\Events\\OrderShipped', { id: 1 });
      assert.deepEqual(await got, { id: 1 });
    });

    it('the Herald connector gets what it missed while disconnected', async () => {
      const page = await runPage(blocks('js')[1]!.code, 'connector');
      const echo = page.Echo as unknown as { channel(n: string): { listen(e: string, cb: (d: unknown) => void): void }; disconnect(): void };
      cleanups.push(() => echo.disconnect());
      const pusher = page.Echo.connector.pusher;
      await connected(pusher);
      const got: unknown[] = [];
      let wake: () => void = () => {};
      echo.channel('orders').listen('OrderShipped', (d: unknown) => {
        got.push(d);
        wake();
      });
      await new Promise<void>((resolve) => pusher.channel('orders')!.bind('pusher:subscription_succeeded', () => resolve()));
      await laravel().trigger('orders', 'App\\Events\\OrderShipped', { id: 1 });
      const conns = (await h.api('GET', '/api/channels/orders/connections')).body as { connections: { connection: string; transport: string }[] };
      const gone = new Promise<void>((resolve) =>
        pusher.connection.bind('state_change', ({ current }: { current: string }) => current === 'connecting' && resolve()),
      );
      for (const c of conns.connections) await h.api('POST', `/api/connections/${c.connection}/close`, { reconnect: true });
      await gone;
      await laravel().trigger('orders', 'App\\Events\\OrderShipped', { id: 2 });
      while (got.length < 2) await new Promise<void>((resolve) => (wake = resolve));
      assert.deepEqual(got, [{ id: 1 }, { id: 2 }]);
    });
  });
});
