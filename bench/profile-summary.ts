// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile`): self time per function,
// highest first; with --inclusive, the time of each function with what it called (where a path's time goes).
// Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [--inclusive]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const inclusive = args.includes('--inclusive');
const [file, topArg] = args.filter((a) => a !== '--inclusive');
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n: Node): string => {
  const url = n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^node:/, 'node:');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  let id: number | undefined = p.samples[i]!;
  // Inclusive: every function on the sample's stack, once each (recursion counted once).
  const seen = new Set<string>();
  while (id !== undefined) {
    const key = keyOf(byId.get(id)!);
    if (!seen.has(key)) {
      seen.add(key);
      self.set(key, (self.get(key) ?? 0) + dt);
    }
    if (!inclusive) break;
    id = parent.get(id);
  }
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25));
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log(`| ${inclusive ? 'total' : 'self'} ms | % | function |\n|---:|---:|---|`);
for (const [k, v] of rows) console.log(`| ${(v / 1000).toFixed(0)} | ${((100 * v) / total).toFixed(1)} | \`${k}\` |`);
