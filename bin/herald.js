#!/usr/bin/env node
// Runs the build made by `npm ci` (prepare). From a source checkout without dist/, run `npm run build` first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(dist))) {
  process.stderr.write('herald: dist/ is missing; run `npm ci` (or `npm run build`) in the herald folder first\n');
  process.exit(2);
}
const { main } = await import(dist.href);
await main(process.argv.slice(2));
