// Build run by `npm ci` (prepare) and `npm run build`: the server bundle and the browser SDK, with esbuild.
// Type checking is separate (`npm run typecheck`, part of `npm test`).
import { build } from 'esbuild';

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts' }, outdir: 'dist', platform: 'node', packages: 'external' }),
  build({ ...common, entryPoints: { herald: 'client/index.ts' }, outdir: 'dist/client', platform: 'browser', minify: false }),
]);
