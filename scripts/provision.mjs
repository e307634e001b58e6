// `npm test`'s first step (the `pretest` script): what the suite needs beyond node_modules. The PHP, browser, TLS
// and benchmark tests run real programs from Debian's packages, and the Redis tests a real Redis, which must answer
// and never be skipped. A fresh machine lacks some of them, and `npm ci && npm test` (the README's command, and all
// that `.ci/run` runs) must pass there, so this runs after `npm ci` and before the first test. It uses only Node's
// built-ins, so it works before or without node_modules.
//
// - Everything present: one PATH lookup per command, one `php -m`, one PING: well under a second, and silent.
// - Something missing, as root (CI, a fresh machine): `apt-get update` once, then `apt-get install -y` only the
//   missing packages; their output is shown only when apt-get fails.
// - Something missing, not root: stops at once with the exact apt-get line to run, exit 1. It never asks for a
//   password or waits for input.
// - No Redis answering on 127.0.0.1:6379 (or on HERALD_TEST_REDIS_URL, which the tests use too): starts one that
//   keeps nothing on disk, and waits until it answers.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The browser test's chromium (test/browser/demo.test.ts reads the same variable). */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const REDIS_URL = new URL(process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
const REDIS_HOST = REDIS_URL.hostname === 'localhost' ? '127.0.0.1' : REDIS_URL.hostname;
const REDIS_PORT = Number(REDIS_URL.port || 6379);
/** How long a Redis this script started may take to answer (it usually takes a few milliseconds). */
const REDIS_START_MS = 10_000;

/** Is `command` an executable file in a PATH directory (what `command -v` finds, without a shell)? */
function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, command))) return true;
  }
  return false;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The PHP modules (`php -m`, lower-cased), or undefined without a php. */
function phpModules() {
  if (!onPath('php')) return undefined;
  const r = spawnSync('php', ['-m'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  if (r.status !== 0) return undefined;
  return new Set(r.stdout.split('\n').map((l) => l.trim().toLowerCase()));
}

/** The Debian packages the suite needs and are not there, in install order (each with what needs it). */
function missingPackages() {
  const php = phpModules();
  const needs = [
    ['php-cli', php !== undefined, "php: the compatibility tests run the seeds' PHP backends"],
    ['php-curl', php?.has('curl') === true, "PHP curl module: the seeds' push backends"],
    ['php-sqlite3', php?.has('pdo_sqlite') === true, 'PHP pdo_sqlite module: examples/php'],
    ['chromium', isExecutable(CHROMIUM), `${CHROMIUM}: the browser tests`],
    ['openssl', onPath('openssl'), 'openssl: certificates for the TLS tests'],
    ['gcc', onPath('gcc'), "gcc: the benchmark's C load client (its smoke test)"],
    ['redis-server', onPath('redis-server'), 'redis-server: the Redis tests and their private servers'],
    // On a new machine of this kind these two are there already; a slimmer Debian may lack them.
    ['python3', onPath('python3'), 'python3: examples/python'],
    ['curl', onPath('curl'), "curl: the documentation's shell examples"],
  ];
  return needs.filter(([, present]) => !present).map(([pkg, , why]) => ({ pkg, why }));
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Runs apt-get quietly; on failure shows everything it said and stops. */
function aptGet(args) {
  // DPkg::Lock::Timeout: another engineer's `npm test` on the same machine may be installing at the same moment.
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status === 0) return;
  const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  fail(`provision: apt-get ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})${said ? `:\n${said}` : ''}`);
}

function install(missing) {
  const pkgs = missing.map((m) => m.pkg);
  const line = `sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`;
  const list = missing.map((m) => `  ${m.pkg.padEnd(13)} ${m.why}`).join('\n');
  const root = process.getuid?.() === 0;
  if (!root || !onPath('apt-get')) {
    const how = onPath('apt-get')
      ? `Install them, then run npm test again (run as root, npm test installs them itself):\n\n  ${line}\n`
      : `This system has no apt-get: install the equivalents with its package manager. On Debian or Ubuntu:\n\n  ${line}\n`;
    fail(`npm test needs packages that are not installed:\n${list}\n\n${how}`);
  }
  process.stderr.write(`provision: installing ${pkgs.join(' ')} (apt-get, as root)\n`);
  aptGet(['update', '-qq']);
  aptGet(['install', '-y', '-qq', ...pkgs]);
  const still = missingPackages();
  if (still.length > 0) fail(`provision: still missing after apt-get install: ${still.map((m) => m.why).join('; ')}`);
}

/**
 * One PING over TCP: 'pong', 'refused' (nothing listens), or a description of what else happened. A raw
 * socket rather than redis-cli, which may itself be missing, and which says nothing useful on a non-Redis port.
 */
function ping(timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = connect({ host: REDIS_HOST, port: REDIS_PORT });
    let reply = '';
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setEncoding('latin1');
    socket.setTimeout(timeoutMs, () => done(`no answer to PING within ${timeoutMs} ms`));
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      const end = reply.indexOf('\r\n');
      if (end === -1) return;
      const line = reply.slice(0, end);
      // An error reply (-NOAUTH ...) is a Redis too; the tests, not this script, judge its settings.
      done(line === '+PONG' || line.startsWith('-') ? 'pong' : `answered ${JSON.stringify(line.slice(0, 80))} to PING`);
    });
    socket.on('close', () => done(reply === '' ? 'closed without answering PING' : `answered ${JSON.stringify(reply.slice(0, 80))}`));
    socket.on('error', (err) => done(err.code === 'ECONNREFUSED' ? 'refused' : err.message));
  });
}

async function ensureRedis() {
  const where = `${REDIS_HOST}:${REDIS_PORT}`;
  const first = await ping();
  if (first === 'pong') return;
  if (first !== 'refused') fail(`provision: the Redis the tests use, ${where}, is not usable: ${first}`);
  if (REDIS_HOST !== '127.0.0.1') fail(`provision: no Redis answers on ${where} (HERALD_TEST_REDIS_URL); start it, or unset the variable`);
  // Nothing on disk (--save "", no AOF), and a cwd outside the repository in case it writes anything at all.
  const r = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no'], {
    cwd: tmpdir(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) fail(`provision: redis-server did not start (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  // The daemon forks before it listens, so redis-server's exit says nothing: wait for its answer instead.
  const deadline = Date.now() + REDIS_START_MS;
  let last = 'refused';
  while (Date.now() < deadline) {
    last = await ping();
    if (last === 'pong') {
      process.stderr.write(`provision: started redis-server on ${where}\n`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  fail(`provision: the redis-server started on ${where} did not answer within ${REDIS_START_MS} ms (last: ${last})`);
}

const missing = missingPackages();
if (missing.length > 0) install(missing);
await ensureRedis();
