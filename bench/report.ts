import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** Writes a benchmark's figures to bench/results/<name>.json and .md, with the machine they came from. */
export function writeReport(name: string, data: unknown, table: Record<string, unknown>[]): void {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, date: new Date().toISOString() };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ machine, data }, null, 2)}\n`);
  const cols = Object.keys(table[0] ?? {});
  const md = [
    `# ${name} benchmark`,
    '',
    `${machine.cpus} x ${machine.model}, Node ${machine.node}, ${machine.date}`,
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...table.map((row) => `| ${cols.map((c) => String(row[c])).join(' | ')} |`),
    '',
  ].join('\n');
  writeFileSync(join(dir, `${name}.md`), md);
  console.log(`wrote ${join(dir, `${name}.json`)} and .md`);
}
