import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../../src/paths.ts';
import { freePort } from '../helpers/redis.ts';

/**
 * scripts/provision.mjs, `npm test`'s first step, run for real: as a user that is not root (through setpriv when
 * the suite runs as root, as CI does), with a PATH that holds only the programs a case wants present. Installing
 * as root is what every CI run on a fresh machine does; it is not repeated here.
 */

/**
 * The promise the script makes when it cannot install, or has nothing to do: done within a second. Measured
 * beyond a bare `node -e ''` started the same way just before, so that a machine loaded by other work (node's
 * own start then takes most of a second) does not count against the script.
 */
const WITHIN_MS = 1000;
const NOBODY = 65534;

/**
 * The command's file, from the system directories first: the cases run as nobody, who cannot follow a link into
 * root's home (where a PATH may put pyenv's python3, say).
 */
function which(command: string): string {
  const dirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(delimiter)];
  for (const dir of dirs) {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${command} is not installed (the suite's own provisioning installs it)`);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

async function runNode(nodeArgs: string[], env: NodeJS.ProcessEnv, opts: { asNobody?: boolean } = {}): Promise<Run> {
  const root = process.getuid?.() === 0;
  // setpriv (util-linux, on every Debian) drops to nobody without a login shell or a password prompt.
  const [cmd, args] =
    opts.asNobody === true && root
      ? [which('setpriv'), [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const started = performance.now();
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr, ms: performance.now() - started };
}

/** Runs the script and, just before it, a bare node the same way; `ms` is the script's time beyond that. */
async function runTimed(script: string, env: NodeJS.ProcessEnv, opts: { asNobody?: boolean } = {}): Promise<Run> {
  const bare = await runNode(['-e', ''], env, opts);
  assert.equal(bare.code, 0, bare.stderr);
  const r = await runNode([script], env, opts);
  return { ...r, ms: r.ms - bare.ms };
}

/** One RESP command over TCP; resolves with the first chunk of the reply. */
async function redis(port: number, command: string[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`*${command.length}\r\n${command.map((c) => `$${Buffer.byteLength(c)}\r\n${c}\r\n`).join('')}`);
  const [data] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return data.toString('latin1');
}

async function shutdownRedis(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  socket.write('*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n');
  // Redis closes the connection as it exits.
  await closed;
}

describe('scripts/provision.mjs (npm test provisions its machine)', () => {
  let dir: string;
  let script: string;
  /** Makes a directory holding links to exactly these commands, for PATH. */
  let binWith: (name: string, commands: string[]) => string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-provision-'));
    // A copy that nobody can read, wherever the checkout lives (the script needs nothing beside it).
    chmodSync(dir, 0o755);
    script = join(dir, 'provision.mjs');
    copyFileSync(join(ROOT, 'scripts', 'provision.mjs'), script);
    chmodSync(script, 0o644);
    binWith = (name, commands) => {
      const bin = join(dir, name);
      mkdirSync(bin, { mode: 0o755 });
      for (const c of commands) symlinkSync(which(c), join(bin, c));
      return bin;
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('not root and nothing installed: stops at once with the exact apt-get line, exit 1', async () => {
    const bin = binWith('only-apt', ['apt-get']);
    const r = await runTimed(script, { PATH: bin, HERALD_CHROMIUM: join(dir, 'no-chromium') }, { asNobody: true });
    assert.equal(r.code, 1, r.stderr);
    const line = 'sudo apt-get update && sudo apt-get install -y php-cli php-curl php-sqlite3 chromium openssl gcc redis-server python3 curl';
    assert.ok(
      r.stderr.split('\n').some((l) => l.trim() === line),
      `the exact line, alone on its line, in:\n${r.stderr}`,
    );
    assert.match(r.stderr, /^npm test needs packages that are not installed:\n {2}php-cli /);
    assert.equal(r.stdout, '');
    assert.ok(r.ms < WITHIN_MS, `took ${r.ms.toFixed(0)} ms beyond a bare node start`);
  });

  it('not root, php without its curl and pdo_sqlite modules: names only those two packages', async () => {
    const bin = binWith('no-modules', ['apt-get', 'php', 'openssl', 'gcc', 'redis-server', 'python3', 'curl']);
    // An empty scan directory: php loads none of the extension .ini files that php-curl and php-sqlite3 install.
    const noIni = join(dir, 'no-ini');
    mkdirSync(noIni, { mode: 0o755 });
    const chromium = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
    const r = await runTimed(script, { PATH: bin, PHP_INI_SCAN_DIR: noIni, HERALD_CHROMIUM: chromium }, { asNobody: true });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes('\n  sudo apt-get update && sudo apt-get install -y php-curl php-sqlite3\n'), r.stderr);
    assert.ok(r.ms < WITHIN_MS, `took ${r.ms.toFixed(0)} ms beyond a bare node start`);
  });

  it('everything present and Redis answering: silent, exit 0, within a second', async () => {
    const r = await runTimed(script, { ...process.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '');
    assert.ok(r.ms < WITHIN_MS, `took ${r.ms.toFixed(0)} ms beyond a bare node start`);
  });

  it('starts a Redis when none answers (here on a free port, through HERALD_TEST_REDIS_URL) and waits for it', async () => {
    const port = await freePort();
    const r = await runNode([script], { ...process.env, HERALD_TEST_REDIS_URL: `redis://127.0.0.1:${port}/0` });
    try {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `provision: started redis-server on 127.0.0.1:${port}\n`);
      // It answered before the script exited: nothing to wait for here.
      assert.equal(await redis(port, ['PING']), '+PONG\r\n');
      // It keeps nothing on disk.
      assert.equal(await redis(port, ['CONFIG', 'GET', 'save']), '*2\r\n$4\r\nsave\r\n$0\r\n\r\n');
      assert.equal(await redis(port, ['CONFIG', 'GET', 'appendonly']), '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n');
      // A second run finds it and does nothing.
      const again = await runNode([script], { ...process.env, HERALD_TEST_REDIS_URL: `redis://127.0.0.1:${port}/0` });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stderr, '');
    } finally {
      if (r.code === 0) await shutdownRedis(port);
    }
  });
});
