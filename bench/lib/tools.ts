// The bench's tools: the C load client (compiled here with gcc) and Bun (found, or installed from npm in full mode).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BENCH, FLAGS, log, quick, RESULTS, ROOT } from './config.ts';

export function buildLoadClient(): string {
  const bin = join(RESULTS, '.bin', 'wsload');
  mkdirSync(join(RESULTS, '.bin'), { recursive: true });
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, join(BENCH, 'load', 'wsload.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed (the bench needs gcc): ${r.stderr || r.error}`);
  return bin;
}

const version = (bin: string): string => spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();

export function findBun(): { bin?: string; note: string } {
  const candidates = [process.env.BUN, join(ROOT, 'node_modules', '.bin', 'bun'), join(RESULTS, '.tools', 'node_modules', '.bin', 'bun')];
  const onPath = spawnSync('sh', ['-c', 'command -v bun'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.unshift(onPath);
  for (const c of candidates) {
    if (c && existsSync(c) && spawnSync(c, ['--version'], { timeout: 10_000 }).status === 0) return { bin: c, note: `bun ${version(c)}` };
  }
  if (quick || FLAGS.noBunInstall) return { note: 'bun not found (not installed in --quick mode; run the full bench or set BUN=/path/to/bun)' };
  log('bun not found: installing it from npm into bench/results/.tools (npm install --no-save bun)');
  const dir = join(RESULTS, '.tools');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"name":"bench-tools","private":true}\n');
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', 'bun'], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  const bin = join(dir, 'node_modules', '.bin', 'bun');
  if (r.status === 0 && existsSync(bin) && spawnSync(bin, ['--version'], { timeout: 10_000 }).status === 0) {
    return { bin, note: `bun ${version(bin)} (installed from npm for the bench)` };
  }
  return { note: `bun could not be installed here (${(r.stderr || String(r.error)).trim().split('\n').slice(-1)[0]}); Bun skipped` };
}
