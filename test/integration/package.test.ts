// Herald as an installed package: `npm pack`, install the tarball into an empty project, and use both entry points
// from there (`herald` on the server, `herald/client` with `ws` as its WebSocket), then type-check a TypeScript file
// against the installed declarations. Needs the build (`npm test` runs it first) and the npm registry or cache.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ROOT } from '../../src/paths.ts';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The version the repository itself installed, so the temporary project can come from npm's cache. */
const installed = (name: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

// Both entry points, as an application would use them. Prints one JSON object for the test to check.
const RUN_MJS = `
import { createServer } from 'node:http';
import { ApiError, createHerald } from 'herald';
import { Herald } from 'herald/client';
import WebSocket from 'ws';

const base = {
  host: '127.0.0.1',
  port: 0,
  line: { enabled: false },
  store: { type: 'memory' },
  logLevel: 'warn',
  apiKey: 'package-test-api-key-0123',
  tokenSecret: 'package-test-token-secret-0123456789abcdef',
};
const out = {};

// 1. On a port of its own, with the SDK as the client.
const herald = createHerald(base);
await herald.listen();
out.own = { port: herald.port, url: herald.url, wsUrl: herald.wsUrl };
const client = new Herald({ url: herald.wsUrl, token: () => herald.token('42', { channels: ['news'] }), WebSocket, storage: null });
await client.connect();
await client.subscribe('news');
const received = new Promise((resolve) => client.on('message', resolve));
out.own.reply = await herald.publish({ to: { channel: 'news' }, event: 'headline', data: { title: 'from the package' } });
const m = await received;
out.own.message = { stream: m.stream, channel: m.channel, event: m.event, data: m.data, offset: m.offset };
try {
  await herald.publish({ to: { room: 'x' }, data: 1 });
} catch (err) {
  out.own.error = { apiError: err instanceof ApiError, code: err.code, status: err.status };
}
const http = await fetch(herald.url + '/api/publish', {
  method: 'POST',
  headers: { authorization: 'Bearer ' + herald.apiKey, 'content-type': 'application/json' },
  body: JSON.stringify({ to: { user: '42' }, data: 'over HTTP' }),
});
out.own.http = { status: http.status, body: await http.json() };
client.close();
await herald.close();

// 2. Attached to the application's own http.Server: its routes stay its own.
const app = createServer((req, res) => {
  if (attached.handleRequest(req, res)) return;
  res.end('app route ' + req.url);
});
const attached = createHerald({ ...base, server: app, path: '/realtime' });
await attached.listen();
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
out.attached = { port: attached.port, appPort: app.address().port, wsUrl: attached.wsUrl };
const ws = new WebSocket(attached.wsUrl + '?token=' + (await attached.token('7')));
const frames = [];
const message = new Promise((resolve, reject) => {
  ws.on('error', reject);
  ws.on('message', (raw) => {
    const f = JSON.parse(String(raw));
    frames.push(f.type);
    if (f.type === 'message') resolve(f);
  });
});
await new Promise((resolve) => ws.once('open', resolve));
const api = await fetch(attached.url + '/api/publish', {
  method: 'POST',
  headers: { authorization: 'Bearer ' + attached.apiKey, 'content-type': 'application/json' },
  body: JSON.stringify({ to: { user: '7' }, event: 'note', data: { text: 'through the app port' } }),
});
out.attached.api = { status: api.status, body: await api.json() };
out.attached.message = await message;
out.attached.frames = frames;
out.attached.appRoute = await (await fetch(attached.url + '/hello')).text();
out.attached.noKey = (await fetch(attached.url + '/api/stats')).status;
const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
await attached.close();
out.attached.closeCode = await closed;
out.attached.appRouteAfterClose = await (await fetch(attached.url + '/still-here')).text();
await new Promise((resolve) => app.close(resolve));
console.log(JSON.stringify(out));
`;

// Compiled with the package's declarations only: wrong option names and targets must be type errors.
const CHECK_TS = `
import { createServer } from 'node:http';
import { ApiError, createHerald, ErrorCode, type Herald, type HeraldOptions, type PublishReply } from 'herald';
import { Herald as Client, type HeraldMessage } from 'herald/client';

const options: HeraldOptions = { port: 0, store: { type: 'memory' }, line: { enabled: false }, history: { channelMaxCount: 50 } };
const herald: Herald = createHerald(options);
await herald.listen();
const reply: PublishReply = await herald.publish({ to: { channels: ['news', 'sport'] }, event: 'headline', data: { title: 'x' } });
const offsets: number[] = reply.streams.map((s) => s.offset);
const status: 'stored' | 'delivered' = reply.status;
const port: number = herald.port;
const line: number | undefined = herald.linePort;
const token: string = await herald.token('42', { channels: ['news'], ttlSeconds: 60 });

// @ts-expect-error an unknown option is a type error, as it is a configuration error
createHerald({ prot: 8080 });
// @ts-expect-error a store is sqlite or memory
createHerald({ store: { type: 'postgres' } });
// @ts-expect-error the target shapes are the documented ones
await herald.publish({ to: { room: 'x' }, data: 1 });

const app = createServer((req, res) => {
  if (herald.handleRequest(req, res)) return;
  res.end();
});
createHerald({ server: app, path: '/realtime' });

try {
  await herald.publish({ to: { user: '' }, data: null });
} catch (err) {
  if (err instanceof ApiError && err.code === ErrorCode.UnknownTarget) console.log(err.status);
}

const client = new Client({ url: herald.wsUrl, token: async () => token });
client.on('message', (m: HeraldMessage) => console.log(m.stream, m.offset, m.data));
const subscribed: Promise<void> = client.subscribe('news');
void subscribed;
void [offsets, status, port, line];
await herald.close();
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
  files: ['check.ts'],
};

describe('the packed package, installed into a new project', { timeout: 180_000 }, () => {
  let dir: string;
  let project: string;
  let tarball: string;

  before(async () => {
    for (const f of ['dist/index.js', 'dist/client/herald.js', 'dist/types/src/index.d.ts', 'dist/types/client/index.d.ts']) {
      assert.ok(existsSync(join(ROOT, f)), `${f} is missing: run \`npm run build\` first (npm test does)`);
    }
    dir = mkdtempSync(join(tmpdir(), 'herald-pack-'));
    project = join(dir, 'app');
    mkdirSync(project);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('npm pack: the tarball holds the builds, the declarations, the pages and the CLI', async (t: TestContext) => {
    t.diagnostic('npm pack (the build is the one npm test just made)');
    const r = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT);
    assert.equal(r.code, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info!.filename);
    const files = info!.files.map((f) => f.path);
    for (const f of [
      'bin/herald.js',
      'dist/cli.js',
      'dist/index.js',
      'dist/client/herald.js',
      'dist/types/src/index.d.ts',
      'dist/types/client/index.d.ts',
      'public/index.html',
      'package.json',
    ]) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.tsbuildinfo')), 'no sources, tests or build state');
    t.diagnostic(`${info!.filename}: ${files.length} files`);
  });

  it('npm install of the tarball', async (t: TestContext) => {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'herald-package-test', private: true, type: 'module' }, null, 2));
    // --ignore-scripts: the dependencies' native builds (better-sqlite3 compiles for a minute) are not what this
    // tests; with the memory store nothing loads them. ws and @types/node are what an application brings itself.
    const args = [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--ignore-scripts',
      tarball,
      `ws@${installed('ws')}`,
      `@types/node@${installed('@types/node')}`,
    ];
    t.diagnostic(`npm ${args.join(' ')}`);
    const r = await run(NPM, args, project, 120_000);
    assert.equal(r.code, 0, `npm install failed:\n${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(join(project, 'node_modules', 'herald', 'dist', 'index.js')));
  });

  it("createHerald from 'herald': an SDK client from 'herald/client' gets what herald.publish sends; attached to an http.Server", async (t: TestContext) => {
    writeFileSync(join(project, 'run.mjs'), RUN_MJS);
    t.diagnostic('node run.mjs: own port with the SDK over ws, then attached to an application http.Server');
    const r = await run(process.execPath, ['run.mjs'], project, 30_000);
    assert.equal(r.code, 0, `run.mjs failed:\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout) as { own: any; attached: any };

    assert.ok(out.own.port > 0);
    assert.equal(out.own.wsUrl, `ws://127.0.0.1:${out.own.port}/ws`);
    assert.deepEqual(out.own.reply, {
      delivered: 1,
      streams: [{ stream: 'channel:news', offset: 1, epoch: out.own.reply.streams[0].epoch }],
      status: 'stored',
    });
    assert.deepEqual(out.own.message, { stream: 'channel:news', channel: 'news', event: 'headline', data: { title: 'from the package' }, offset: 1 });
    assert.deepEqual(out.own.error, { apiError: true, code: 'unknown_target', status: 400 });
    assert.equal(out.own.http.status, 200);
    assert.equal(out.own.http.body.delivered, 1);
    t.diagnostic(`own port ${out.own.port}: publish -> ${JSON.stringify(out.own.reply)}; the SDK client got ${JSON.stringify(out.own.message)}`);

    assert.equal(out.attached.port, out.attached.appPort, "attached, Herald reports the application's port");
    assert.equal(out.attached.wsUrl, `ws://127.0.0.1:${out.attached.appPort}/realtime`);
    assert.equal(out.attached.api.status, 200);
    assert.equal(out.attached.api.body.delivered, 1);
    assert.deepEqual(
      { type: out.attached.message.type, stream: out.attached.message.stream, event: out.attached.message.event, data: out.attached.message.data },
      { type: 'message', stream: 'user:7', event: 'note', data: { text: 'through the app port' } },
    );
    assert.equal(out.attached.frames[0], 'welcome');
    assert.equal(out.attached.appRoute, 'app route /hello');
    assert.equal(out.attached.noKey, 401);
    assert.equal(out.attached.closeCode, 4000, 'close() tells attached clients to reconnect');
    assert.equal(out.attached.appRouteAfterClose, 'app route /still-here', "close() leaves the application's server serving");
    t.diagnostic(`attached to the app's port ${out.attached.appPort}: /realtime got ${JSON.stringify(out.attached.message.data)}, /hello stayed the app's`);
  });

  it('tsc --noEmit in the new project: the declarations of both entry points type-check an application', async (t: TestContext) => {
    writeFileSync(join(project, 'check.ts'), CHECK_TS);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    t.diagnostic('tsc --noEmit -p . (strict, NodeNext, skipLibCheck false)');
    const r = await run(process.execPath, [TSC, '--noEmit', '-p', '.'], project);
    assert.equal(r.code, 0, `tsc found errors:\n${r.stdout}\n${r.stderr}`);
  });
});
