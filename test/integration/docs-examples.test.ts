// Keeps docs/api.md honest: every shell example that calls curl (and the line-port examples) runs against a real
// server and must succeed.
//
// Conventions in docs/api.md, inside a ```sh block:
//   # expect error   the example shows an error on purpose: it must still exit 0 and print an error body
//   # expect text    the output is not JSON (e.g. /metrics); it must exit 0 and print something
// Every other curl example must exit 0 and print JSON without an "error" key anywhere.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHerald, type TestHerald } from '../helpers/herald.ts';
import { codeBlocks, type Block } from '../helpers/markdown.ts';
import { TestClient } from '../helpers/ws-client.ts';

const DOC_PATH = new URL('../../docs/api.md', import.meta.url);
const DOC = readFileSync(DOC_PATH, 'utf8');

const blocks = codeBlocks;

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function hasErrorKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasErrorKey);
  if (typeof v === 'object' && v !== null) return Object.entries(v).some(([k, x]) => k === 'error' || hasErrorKey(x));
  return false;
}

function available(bin: string): boolean {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const all = blocks(DOC);
const curlBlocks = all.filter((b) => b.lang === 'sh' && /\bcurl\b/.test(b.code));
const lineShellBlocks = all.filter((b) => b.lang === 'sh' && !/\bcurl\b/.test(b.code) && /\b5678\b/.test(b.code));
const programs = all.filter((b) => b.lang === 'php' || b.lang === 'python');
function title(b: Block): string {
  const url = /http:\/\/localhost:8080(\S*?)'?(?:\s|$)/.exec(b.code);
  if (url) {
    const method = /-X\s+(\w+)/.exec(b.code)?.[1] ?? 'GET';
    const kind = /^# expect error$/m.test(b.code) ? ' (error example)' : '';
    return `docs/api.md:${b.line}: curl ${method} ${url[1]}${kind}`;
  }
  return `docs/api.md:${b.line}: ${
    b.code
      .split('\n')
      .find((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('<?php'))
      ?.trim() ?? ''
  }`;
}

describe('docs/api.md examples', () => {
  let h: TestHerald;
  let client: TestClient;
  let env: Record<string, string>;
  const rewrite = (code: string) =>
    code
      .replaceAll('http://localhost:8080', h.url)
      .replaceAll('/dev/tcp/127.0.0.1/5678', `/dev/tcp/127.0.0.1/${h.linePort}`)
      .replaceAll('127.0.0.1:5678', `127.0.0.1:${h.linePort}`)
      .replaceAll('port=5678', `port=${h.linePort}`);

  before(async () => {
    h = await startHerald();
    // The examples talk to user 42; have them online so the examples publish to someone.
    client = await TestClient.welcome(h.wsUrl, await h.token('42', ['news']));
    // Keep curl off any proxy configured in the environment.
    env = { KEY: h.apiKey, HERALD_API_KEY: h.apiKey, no_proxy: '*', NO_PROXY: '*' };
  });
  after(async () => {
    if (client.closeCode === undefined) client.close();
    await client.closed().catch(() => undefined);
    await h.close();
  });

  it('has curl examples, error examples and line-port examples to check', () => {
    assert.ok(curlBlocks.length >= 10, `found ${curlBlocks.length} curl blocks`);
    assert.ok(
      curlBlocks.some((b) => /^# expect error$/m.test(b.code)),
      'at least one "# expect error" example',
    );
    assert.ok(lineShellBlocks.length >= 1, 'a shell line-port example');
    assert.deepEqual(programs.map((b) => b.lang).sort(), ['php', 'python']);
    for (const b of curlBlocks) assert.match(b.code, /http:\/\/localhost:8080\//, `${title(b)} targets the dev server URL`);
  });

  for (const b of curlBlocks) {
    it(title(b), async () => {
      // An earlier example may have kicked user 42 (the disconnect examples): the next ones find them online again.
      if (client.closeCode !== undefined) client = await TestClient.welcome(h.wsUrl, await h.token('42', ['news']));
      const expectError = /^# expect error$/m.test(b.code);
      const expectText = /^# expect text$/m.test(b.code);
      const { code, stdout, stderr } = await run('bash', ['-c', rewrite(b.code)], env);
      assert.equal(code, 0, `exit status of the example; stderr: ${stderr}`);
      if (expectText) {
        assert.ok(stdout.trim().length > 0, 'the example prints something');
        return;
      }
      let body: unknown;
      assert.doesNotThrow(() => (body = JSON.parse(stdout)), `output is JSON: ${stdout}`);
      if (expectError) {
        const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
        assert.equal(typeof e?.code, 'string', `an error example prints an error body: ${stdout}`);
        assert.equal(typeof e?.message, 'string');
      } else {
        assert.equal(hasErrorKey(body), false, `no error in ${stdout}`);
      }
    });
  }

  for (const b of lineShellBlocks) {
    it(title(b), async () => {
      const { code, stdout, stderr } = await run('bash', ['-c', rewrite(b.code)], env);
      assert.equal(code, 0, `exit status; stderr: ${stderr}`);
      const lines = stdout.split('\n').filter((l) => l !== '');
      assert.ok(lines.length > 0, 'the example prints reply lines');
      for (const l of lines) assert.match(l, /^OK /, `every reply is OK: ${stdout}`);
    });
  }

  for (const b of programs) {
    const bin = b.lang === 'php' ? 'php' : 'python3';
    it(`${title(b)} (${b.lang} example)`, { skip: available(bin) ? false : `${bin} is not installed` }, async () => {
      const code = rewrite(b.code);
      assert.notEqual(code, b.code, 'the example names the line port 5678');
      const res = b.lang === 'php' ? await run(bin, ['-r', code.replace(/^<\?php\s*/, '')], env) : await run(bin, ['-c', code], env);
      assert.equal(res.code, 0, `exit status; stdout: ${res.stdout}; stderr: ${res.stderr}`);
      assert.doesNotMatch(res.stdout + res.stderr, /error|warning|exception|traceback/i);
    });
  }
});
