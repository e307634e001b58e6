// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile`): self time per function,
// highest first. Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const n = byId.get(p.samples[i]!)!;
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const url = n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^node:/, 'node:');
  const key = `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25));
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('| self ms | % | function |\n|---:|---:|---|');
for (const [k, v] of rows) console.log(`| ${(v / 1000).toFixed(0)} | ${((100 * v) / total).toFixed(1)} | \`${k}\` |`);
