// Keeps docs/library.md honest: every ```js block is a complete program, run with node as written, except that the
// ports it names become 0 (port: 8080, listen(3000)) and the secrets it reads come from the environment. A block
// followed by "Output:" and a ```text block must print exactly those lines, where `…` stands for any text (ports,
// epochs). The programs import 'herald' and 'herald/client' by name: they run from inside the package, so Node
// resolves the names through package.json `exports` to the build, as in an installed package.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../../src/paths.ts';
import { API_KEY, TOKEN_SECRET } from '../helpers/herald.ts';
import { codeBlocks, type Block } from '../helpers/markdown.ts';

const DOC = readFileSync(join(ROOT, 'docs', 'library.md'), 'utf8');
const DIR = join(ROOT, 'test-results', 'library-docs');

interface Example {
  program: Block;
  output: string[] | undefined;
}

function examples(md: string): Example[] {
  const blocks = codeBlocks(md);
  const out: Example[] = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'js') return;
    const next = blocks[i + 1];
    const between =
      next === undefined
        ? ''
        : md
            .split('\n')
            .slice(b.line + b.code.split('\n').length, next.line - 1)
            .join('\n')
            .trim();
    const output = next?.lang === 'text' && between === 'Output:' ? next.code.trimEnd().split('\n') : undefined;
    out.push({ program: b, output });
  });
  return out;
}

const rewrite = (code: string): string => code.replaceAll('port: 8080', 'port: 0').replaceAll('.listen(3000', '.listen(0');

function line(expected: string): RegExp {
  return new RegExp(
    `^${expected
      .split('…')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

function runNode(file: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET };
    execFile(process.execPath, [file], { cwd, env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('docs/library.md examples', () => {
  const all = examples(DOC);
  // Where a program would write (a data directory, say): not the repository.
  const cwd = mkdtempSync(join(tmpdir(), 'herald-library-docs-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('has programs to run, each with the output it prints', () => {
    assert.ok(all.length >= 3, `found ${all.length} js blocks`);
    for (const e of all) assert.ok(e.output, `docs/library.md:${e.program.line}: a js block is followed by "Output:" and a text block`);
    assert.ok(
      all.some((e) => /\bserver: app\b/.test(e.program.code)),
      'an example attaches to an http.Server',
    );
  });

  for (const { program, output } of all) {
    const section = [...DOC.slice(0, DOC.split('\n').slice(0, program.line).join('\n').length).matchAll(/^## (.+)$/gm)].pop()?.[1] ?? '';
    it(`docs/library.md:${program.line}: ${section}`, async () => {
      mkdirSync(DIR, { recursive: true });
      const file = join(DIR, `example-${program.line}.mjs`);
      writeFileSync(file, rewrite(program.code));
      const r = await runNode(file, cwd);
      assert.equal(r.code, 0, `exit status; stdout: ${r.stdout}; stderr: ${r.stderr}`);
      assert.equal(r.stderr, '', 'nothing on stderr');
      const got = r.stdout.trimEnd().split('\n');
      assert.equal(got.length, output!.length, `prints ${output!.length} lines:\n${r.stdout}`);
      got.forEach((l, i) => assert.match(l, line(output![i]!), `line ${i + 1} as documented`));
    });
  }
});
