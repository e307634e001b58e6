import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found by walking up: the same code runs from src/ (tsx) and bundled from dist/. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'herald') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the herald package root');
    dir = up;
  }
}

export const ROOT = findRoot();
export const PUBLIC_DIR = join(ROOT, 'public');
export const SDK_FILE = join(ROOT, 'dist', 'client', 'herald.js');
/** Herald's Laravel Echo connector with laravel-echo inside (client/echo.ts), for pages without a bundler. */
export const ECHO_FILE = join(ROOT, 'dist', 'client', 'herald-echo.js');
export const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
