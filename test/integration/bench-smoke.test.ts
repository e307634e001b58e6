// Smoke test for the side-by-side benchmark: `npm run bench -- --quick` runs end to end (C load client compiled with
// gcc, Herald and its peers on every workload) and writes its JSON report. Not a performance assertion.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

it('npm run bench -- --quick runs and writes bench/results/bench-quick.json', { skip: hasGcc ? false : 'gcc is not installed', timeout: 110_000 }, () => {
  const startedAt = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--no-bun-install'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 105_000,
    env: { ...process.env, BUN: '' },
  });
  assert.equal(r.status, 0, `bench exited with ${r.status} ${r.signal ?? ''}\n${r.stderr.slice(-3000)}`);
  const file = join(ROOT, 'bench', 'results', 'bench-quick.json');
  assert.ok(statSync(file).mtimeMs >= startedAt - 1000, 'the report was written by this run');
  const report = JSON.parse(readFileSync(file, 'utf8')) as { machine: unknown; data: Record<string, unknown> };
  assert.ok(report.machine);
  for (const key of ['quick', 'config', 'machine', 'bun', 'variants']) assert.ok(key in report.data, `data.${key}`);
  const variants = report.data.variants as { name: string; error?: string; idle?: unknown; broadcast: Record<string, Record<string, unknown>>; unicast?: Record<string, unknown> }[];
  assert.deepEqual(
    variants.map((v) => v.name).filter((n) => n !== 'bun'),
    ['herald', 'ws', 'socket.io'],
  );
  for (const v of variants) {
    assert.equal(v.error, undefined, `${v.name}: ${v.error}`);
    assert.ok(v.idle, `${v.name}: idle memory`);
    const b = Object.values(v.broadcast)[0]!;
    for (const key of ['single', 'burst10', 'paced']) assert.ok(key in b, `${v.name}: broadcast.${key}`);
    assert.ok((b.single as { delivered: number }).delivered > 0, `${v.name}: deliveries counted`);
    assert.ok(v.unicast && 'http1' in v.unicast && 'http8' in v.unicast, `${v.name}: unicast`);
  }
  const herald = variants.find((v) => v.name === 'herald')!;
  assert.ok(herald.unicast && 'line' in herald.unicast && 'batch' in herald.unicast, 'herald: line port and batch');
});
