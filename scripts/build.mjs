// Build run by `npm ci` (prepare) and `npm run build`: the server bundle, the library entry and the browser SDK with
// esbuild, and the packages' type declarations (dist/types) with tsc, all at once.
// Type checking is separate (`npm run typecheck`, part of `npm test`): the declaration build skips it (noCheck), and
// `tsc -b` skips the emit altogether when no source changed since the last build, which keeps this fast.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const SERVER_EXTERNAL = ['better-sqlite3', 'ioredis', 'socket.io', 'prom-client', 'bufferutil', 'utf-8-validate'];
// pino is CommonJS and requires Node's built-ins: in an ES module bundle, `require` has to be made.
const CJS_REQUIRE = "import { createRequire as __cjsRequire } from 'node:module'; const require = __cjsRequire(import.meta.url);";
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  // The server bundles its always-loaded dependencies (zod, pino, jose): loaded from node_modules file by file, they
  // cost an idle server ~15 MB of RSS in module records and loader work (zod alone: 57 MB against 49 MB bundled).
  // Native addons and what Herald loads only when configured (ioredis, socket.io, prom-client) stay outside.
  build({
    ...common,
    entryPoints: { cli: 'src/cli.ts' },
    outdir: 'dist',
    platform: 'node',
    external: SERVER_EXTERNAL,
    banner: { js: CJS_REQUIRE },
    minifyWhitespace: true,
    minifySyntax: true,
  }),
  // The library entry leaves every package to the application's own node_modules, so it shares their copies.
  build({ ...common, entryPoints: { index: 'src/index.ts' }, outdir: 'dist', platform: 'node', packages: 'external' }),
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
