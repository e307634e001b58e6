import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

type Table = Record<string, unknown>[];

function markdown(table: Table): string[] {
  const cols = Object.keys(table[0] ?? {});
  return [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...table.map((row) => `| ${cols.map((c) => String(row[c])).join(' | ')} |`)];
}

/**
 * Writes a benchmark's figures to bench/results/<name>.json and .md, with the machine they came from. `extra`
 * adds notes under the main table and further titled tables to the Markdown.
 */
export function writeReport(name: string, data: unknown, table: Table, extra: { notes?: string[]; sections?: { title: string; table: Table }[] } = {}): void {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, date: new Date().toISOString() };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ machine, data }, null, 2)}\n`);
  const md = [`# ${name} benchmark`, '', `${machine.cpus} x ${machine.model}, Node ${machine.node}, ${machine.date}`, '', ...markdown(table), ''];
  if (extra.notes?.length) md.push(...extra.notes.map((n) => `- ${n}`), '');
  for (const s of extra.sections ?? []) md.push(`## ${s.title}`, '', ...markdown(s.table), '');
  writeFileSync(join(dir, `${name}.md`), md.join('\n'));
  console.log(`wrote ${join(dir, `${name}.json`)} and .md`);
}
