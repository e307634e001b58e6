import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../../src/paths.ts';
import { startHerald, type TestHerald } from '../helpers/herald.ts';

/**
 * The demo (/) and the admin dashboard (/admin) in a real browser: Debian's chromium driven by playwright-core
 * (no browser download). Every wait is for an event or a DOM state, never a fixed sleep.
 */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const DOCS_IMAGES = join(ROOT, 'docs', 'images');
const WAIT = { timeout: 10_000 };

describe('browser: live-list demo and admin dashboard', { timeout: 90_000 }, () => {
  let h: TestHerald;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set HERALD_CHROMIUM`);
    mkdirSync(SHOTS, { recursive: true });
    h = await startHerald({ dev: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  /** A browser context is one "browser profile": tabs in it share storage, like one person's browser. */
  const newContext = async (): Promise<BrowserContext> => {
    const c = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    contexts.push(c);
    return c;
  };

  const failures: string[] = [];
  const openDemo = async (context: BrowserContext, user: string): Promise<Page> => {
    const page = await context.newPage();
    page.on('pageerror', (err) => failures.push(`${user}: ${err.message}`));
    await page.goto(`${h.url}/?user=${encodeURIComponent(user)}`);
    await page.waitForSelector('body[data-live="true"]', WAIT);
    await page.waitForSelector('#state[data-state="connected"]', WAIT);
    return page;
  };

  /** Waits until the page's "online now" list shows exactly these users with these tab counts. */
  const presence = (page: Page, expected: Record<string, number>) =>
    page.waitForFunction(
      (want) => {
        const got: Record<string, number> = {};
        for (const li of Array.from(document.querySelectorAll<HTMLElement>('#online li'))) got[li.dataset.user!] = Number(li.dataset.connections);
        return JSON.stringify(got) === JSON.stringify(want);
      },
      expected,
      WAIT,
    );

  const rowText = (page: Page, id: number) => page.locator(`#orders tbody tr[data-id="${id}"] td:nth-child(2)`).textContent(WAIT);
  const notices = (page: Page) => page.locator('#notices li span').allTextContents();
  const waitNotices = (page: Page, n: number) => page.waitForFunction((k) => document.querySelectorAll('#notices li').length === k, n, WAIT);
  const text = (page: Page, selector: string, expected: string) =>
    page.waitForFunction(([sel, want]) => document.querySelector(sel)?.textContent === want, [selector, expected] as const, WAIT);

  let alice1: Page;
  let alice2: Page;
  let bob: Page;

  it('two users and a second tab see each other online', async () => {
    const aliceBrowser = await newContext();
    alice1 = await openDemo(aliceBrowser, 'alice');
    alice2 = await openDemo(aliceBrowser, 'alice');
    bob = await openDemo(await newContext(), 'bob');
    for (const p of [alice1, alice2, bob]) await presence(p, { alice: 2, bob: 1 });
    assert.equal(await bob.locator('#who').textContent(), 'Signed in as bob');
  });

  it('a row inserted through the form shows on every page, as text', async () => {
    const item = '<img src=x onerror="window.pwned=1"> espresso beans';
    await bob.fill('#item', item);
    await bob.fill('#quantity', '3');
    await bob.click('#place');
    for (const p of [alice1, alice2, bob]) {
      assert.equal(await rowText(p, 1), item);
      assert.equal(await p.locator('#orders tbody img').count(), 0, 'pushed data must never be parsed as HTML');
      assert.equal(await p.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    }
  });

  it('a row inserted by a backend call (POST /demo/orders) shows on every page', async () => {
    const token = await h.token('carol', ['orders']);
    const res = await fetch(`${h.url}/demo/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'oat milk', quantity: 6 }),
    });
    assert.equal(res.status, 201);
    const { order } = (await res.json()) as { order: { id: number; user: string } };
    assert.equal(order.user, 'carol');
    for (const p of [alice1, alice2, bob]) assert.equal(await rowText(p, order.id), 'oat milk');
    // The list is what the database holds: a page opened now loads the same rows.
    const list = (await (await fetch(`${h.url}/demo/orders`)).json()) as { orders: { id: number }[] };
    assert.deepEqual(
      list.orders.map((o) => o.id),
      [2, 1],
    );
  });

  it('before sign-in only the sign-in card shows (not an empty order list while the database has orders)', async () => {
    const page = await (await newContext()).newPage();
    page.on('pageerror', (err) => failures.push(`signed out: ${err.message}`));
    await page.goto(`${h.url}/`);
    await page.waitForSelector('#signin', { state: 'visible', ...WAIT });
    // The page hides these with the hidden attribute, which a display rule of the stylesheet once overrode.
    for (const sel of ['#app', '#order-form', '#orders', '#orders-empty', '#online', '#who']) {
      assert.equal(await page.locator(sel).isVisible(), false, `${sel} is not shown before sign-in`);
    }
    assert.equal(await page.evaluate(() => getComputedStyle(document.getElementById('app')!).display), 'none');
    await page.screenshot({ path: join(SHOTS, 'demo-signed-out.png'), fullPage: true });
    // Should the hidden form be submitted anyway (by a script), the page says what to do, not what the API wants.
    await page.evaluate(() => {
      (document.getElementById('item') as HTMLInputElement).value = 'tea';
      (document.getElementById('order-form') as HTMLFormElement).requestSubmit();
    });
    await text(page, '#order-error', 'Sign in first: choose a user name above.');

    // Signing in shows the orders the database holds.
    await page.fill('#signin-user', 'erin');
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('body[data-live="true"]', WAIT);
    assert.equal(await page.locator('#app').isVisible(), true);
    assert.equal(await page.locator('#signin').isVisible(), false);
    assert.equal(await page.locator('#orders-empty').isVisible(), false);
    assert.deepEqual(await page.locator('#orders tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id)), ['2', '1']);
    await page.close();
    for (const p of [alice1, alice2, bob]) await presence(p, { alice: 2, bob: 1 });
  });

  it("a private notification reaches only its user's tabs", async () => {
    // Bob's order (above) notified bob. Now alice orders from her second tab: both of her tabs get her notice.
    await alice2.fill('#item', 'croissants');
    await alice2.click('#place');
    for (const p of [alice1, alice2]) await waitNotices(p, 1);
    for (const p of [alice1, alice2, bob]) assert.equal(await rowText(p, 3), 'croissants');
    await waitNotices(bob, 1);
    // Delivery is ordered per connection, and bob's notice was published before alice's: had it gone to alice's
    // tabs, it would be there by now.
    for (const p of [alice1, alice2]) assert.deepEqual(await notices(p), ['Order #3 placed: 1 × croissants']);
    assert.match((await notices(bob))[0]!, /^Order #1 placed: 3 × <img src=x/);
    await bob.screenshot({ path: join(SHOTS, 'demo-bob.png'), fullPage: true });
    await alice1.screenshot({ path: join(SHOTS, 'demo-alice.png'), fullPage: true });
  });

  it('the dashboard shows the connection counts and follows a page closing', async () => {
    const admin = await (await newContext()).newPage();
    admin.on('pageerror', (err) => failures.push(`admin: ${err.message}`));
    await admin.goto(`${h.url}/admin`);
    await admin.waitForSelector('#signin:not([hidden])', WAIT);
    await admin.fill('#key', 'wrong-key-0123456789');
    await admin.press('#key', 'Enter');
    await text(admin, '#signin-error', 'That API key is not valid for this server.');
    await admin.fill('#key', h.apiKey);
    await admin.click('#signin-form button[type=submit]');
    await text(admin, '#stat-connections', '3');
    await text(admin, '#stat-users', '2');
    await text(admin, '#stat-channels', '1');
    await admin.waitForSelector('#users li[data-user="alice"]', WAIT);
    await admin.waitForSelector('#channels tr[data-channel="orders"]', WAIT);
    // The failed sign-in shows up among the errors.
    await admin.waitForSelector('#errors tr[data-code="unauthorized"]', WAIT);

    // Look up a user: her two connections, both on the orders channel.
    await admin.selectOption('#lookup-kind', 'user');
    await admin.fill('#lookup-name', 'alice');
    await admin.press('#lookup-name', 'Enter');
    await admin.waitForFunction(() => document.querySelectorAll('#lookup-result tbody tr').length === 2, undefined, WAIT);
    assert.deepEqual(await admin.locator('#lookup-result tbody td:nth-child(3)').allTextContents(), ['orders', 'orders']);

    // The dashboard's test publish, as it is: an announcement on every open demo page, and the dashboard says so.
    await admin.click('#publish-form button[type=submit]');
    await admin.waitForFunction(
      () => document.querySelector('#publish-result')?.textContent?.startsWith('Published: delivered to 3 connection(s) on channel orders'),
      undefined,
      WAIT,
    );
    assert.match(
      (await admin.locator('#publish-result').textContent())!,
      /^Published: delivered to 3 connection\(s\) on channel orders \((alice, bob|bob, alice)\)\. Open demo pages \(\/\) show it as an announcement\.\n/,
    );
    for (const p of [alice1, alice2, bob]) {
      await p.waitForSelector('#announcements li:has-text("hello from the admin dashboard")', WAIT);
      assert.deepEqual(await p.locator('#announcements .text').allTextContents(), ['hello from the admin dashboard']);
    }
    await bob.screenshot({ path: join(SHOTS, 'demo-announcement.png'), fullPage: true });
    await admin.screenshot({ path: join(SHOTS, 'admin-test-publish.png'), fullPage: true });

    // Publish a test message to bob from the dashboard: it lands in bob's notifications only.
    await admin.selectOption('#pub-kind', 'user');
    await admin.fill('#pub-target', 'bob');
    await admin.fill('#pub-data', '{"text":"hello bob, from the operator"}');
    await admin.click('#publish-form button[type=submit]');
    await admin.waitForFunction(
      () => document.querySelector('#publish-result')?.textContent?.startsWith('Published: delivered to 1 connection'),
      undefined,
      WAIT,
    );
    await waitNotices(bob, 2);
    assert.equal((await notices(bob))[0], 'hello bob, from the operator');

    // Some traffic for the chart: a burst after each of the dashboard's polls (paced by its own 1 s poll, not a
    // sleep), to the orders channel under an event the demo pages ignore. Each is delivered to the 3 pages.
    const polls = Number(await admin.evaluate(() => document.body.dataset.polls));
    for (const [i, n] of [4, 9, 6, 12, 8].entries()) {
      await admin.waitForFunction((k) => Number(document.body.dataset.polls) >= k, polls + i + 1, WAIT);
      const r = await h.api('POST', '/api/publish/batch', {
        messages: Array.from({ length: n }, (_, j) => ({ to: { channel: 'orders' }, event: 'tick', data: j })),
      });
      assert.equal(r.status, 200);
    }
    await admin.waitForFunction((k) => Number(document.body.dataset.polls) >= k, polls + 6, WAIT);
    assert.notEqual(await admin.locator('#chart polyline.line.out').getAttribute('points'), null);
    await admin.screenshot({ path: join(SHOTS, 'admin.png'), fullPage: true });

    // A page closes: the dashboard and the other pages follow.
    await alice2.close();
    await text(admin, '#stat-connections', '2');
    await text(admin, '#stat-users', '2');
    for (const p of [alice1, bob]) await presence(p, { alice: 1, bob: 1 });
    await admin.waitForSelector('#users li[data-user="alice"] .meta:text("1 connection")', WAIT);

    // Then bob's: one user left.
    await bob.close();
    await text(admin, '#stat-connections', '1');
    await text(admin, '#stat-users', '1');
    await presence(alice1, { alice: 1 });

    await admin.screenshot({ path: join(SHOTS, 'admin-after-close.png'), fullPage: true });

    // Sign out clears the key from this tab.
    await admin.click('#signout');
    await admin.waitForSelector('#signin:not([hidden])', WAIT);
    assert.equal(await admin.evaluate(() => sessionStorage.getItem('herald-admin:key')), null);

    // The README's pictures are refreshed on request only, so a test run never changes tracked files.
    if (process.env.UPDATE_DOC_IMAGES === '1') {
      mkdirSync(DOCS_IMAGES, { recursive: true });
      copyFileSync(join(SHOTS, 'demo-bob.png'), join(DOCS_IMAGES, 'demo.png'));
      copyFileSync(join(SHOTS, 'admin.png'), join(DOCS_IMAGES, 'admin.png'));
    }
  });

  it('the minimal connect page is still served at /playground.html', async () => {
    const page = await (await newContext()).newPage();
    await page.goto(`${h.url}/playground.html`);
    await page.fill('#user', 'dave');
    await page.click('#connect');
    await page.waitForSelector('#state[data-state="connected"]', WAIT);
    const r = await h.api('POST', '/api/publish', { to: { user: 'dave' }, data: { text: 'hi dave' } });
    assert.equal(r.status, 200);
    await page.waitForFunction(() => document.querySelector('#log li.message pre')?.textContent?.includes('hi dave'), undefined, WAIT);
  });

  it('raised no page errors', () => {
    assert.deepEqual(failures, []);
  });
});
