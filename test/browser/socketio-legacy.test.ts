import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startCompat, type CompatHerald } from '../helpers/compat.ts';
import { onlineCountText } from '../../src/transports/socketio/online-count.ts';

/**
 * The web-msg-sender page's flow with the browser builds of socket.io-client 1.3.7 (the README's) and 1.7.4 from
 * npm, in Chromium: there XHR2 exists, so the clients poll in binary mode, the mode in which 1.3.7 restarted its
 * handshake in a loop against Engine.IO 6 (every answer not `application/octet-stream` read as "ok"). The page
 * is served from the Socket.IO port's own origin (playwright answers it), so no CORS or local-network checks
 * apply. Polling only: the mode under test.
 */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const bundle = (pkg: string, file: string) => join(dirname(require.resolve(`${pkg}/package.json`)), file);
const BUNDLES = {
  '1.3.7': bundle('socket.io-client-v1-3', 'socket.io.js'),
  '1.7.4': bundle('socket.io-client-v1-7', 'dist/socket.io.js'),
};

describe('browser: socket.io-client 1.x page on the Socket.IO port (binary polling)', { timeout: 60_000 }, () => {
  let h: CompatHerald;
  let browser: Browser;
  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set HERALD_CHROMIUM`);
    h = await startCompat({ onlineCountIntervalMs: 100 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  for (const [version, path] of Object.entries(BUNDLES)) {
    it(`${version}: one handshake, login, update_online_count, new_msg`, async () => {
      const hub = h.server.context.hub;
      // The previous version's page is gone; its session ends when Engine.IO sees the poll go (slower under load).
      await h.hubChanged(() => hub.connectionCount === 0, 20_000);
      const page = await browser.newPage();
      try {
        const origin = `http://127.0.0.1:${h.ports.socketio}`;
        await page.route(`${origin}/page.html`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>web-msg-sender</title>' }));
        await page.goto(`${origin}/page.html`);
        await page.addScriptTag({ path });
        const uid = `browser-${version}`;
        // The seed page: io(url), login on connect, show new_msg and update_online_count.
        await page.evaluate(
          ({ url, uid }) => {
            const w = window as unknown as {
              io: (u: string, o: object) => { on(e: string, f: (m: string) => void): void; emit(e: string, a: string): void; disconnect(): void };
              seen: Record<string, string[]>;
              socket?: { disconnect(): void };
            };
            w.seen = { new_msg: [], update_online_count: [], error: [] };
            const socket = w.io(url, { transports: ['polling'] });
            w.socket = socket;
            socket.on('connect', () => socket.emit('login', uid));
            for (const e of ['new_msg', 'update_online_count', 'error']) socket.on(e, (m) => w.seen[e]!.push(String(m)));
          },
          { url: origin, uid },
        );
        await h.hubChanged(() => hub.connectionsOf(uid).size === 1);
        await page.waitForFunction(
          (want) => (window as unknown as { seen: Record<string, string[]> }).seen.update_online_count!.includes(want),
          onlineCountText(1, 1),
        );
        const res = await fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&to=${uid}&content=${encodeURIComponent('消息内容')}`);
        assert.equal(await res.text(), 'ok');
        await page.waitForFunction(() => (window as unknown as { seen: Record<string, string[]> }).seen.new_msg!.includes('消息内容'));
        // One session: before the fix every poll was a new handshake, ~50 phantom sessions a second.
        assert.equal(hub.connectionCount, 1);
        assert.deepEqual(await page.evaluate(() => (window as unknown as { seen: Record<string, string[]> }).seen.error), []);
      } finally {
        // The page leaves as the seed page's user does, with a disconnect: a closed tab between two polls would
        // be noticed only at Engine.IO's ping timeout, later than the next test waits for.
        await page.evaluate(() => (window as unknown as { socket?: { disconnect(): void } }).socket?.disconnect()).catch(() => {});
        await page.close();
      }
    });
  }
});
