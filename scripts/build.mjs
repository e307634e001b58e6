// Build run by `npm ci` (prepare) and `npm run build`: the server bundle, the library entry and the browser SDK with
// esbuild, and the packages' type declarations (dist/types) with tsc, all at once.
// Type checking is separate (`npm run typecheck`, part of `npm test`): the declaration build skips it (noCheck), and
// `tsc -b` skips the emit altogether when no source changed since the last build, which keeps this fast.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts' }, outdir: 'dist', platform: 'node', packages: 'external' }),
  build({ ...common, entryPoints: { herald: 'client/index.ts' }, outdir: 'dist/client', platform: 'browser', minify: false }),
  // The Echo connector: for bundlers (`herald/echo`, laravel-echo from the application), and served by Herald at
  // /sdk/herald-echo.js with laravel-echo inside, for pages without a bundler.
  build({ ...common, entryPoints: { echo: 'client/echo.ts' }, outdir: 'dist/client', platform: 'browser', external: ['laravel-echo'] }),
  build({ ...common, entryPoints: { 'herald-echo': 'client/echo.ts' }, outdir: 'dist/client', platform: 'browser' }),
  promisify(execFile)(process.execPath, [tsc, '-b', 'tsconfig.build.json']).catch((err) => {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw new Error('declaration build failed (tsc -b tsconfig.build.json)');
  }),
]);
