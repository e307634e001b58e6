// One php-cli process per test file: the PHP source is given inline (`php -r`), the batch goes in on stdin as one
// JSON document and the answers come back on stdout, one JSON document per line, in input order.
import { spawn } from 'node:child_process';

/** PHP options the differential tests pin, whatever php.ini says. */
const INI = ['-d', 'serialize_precision=-1', '-d', 'precision=14', '-d', 'memory_limit=1G', '-d', 'display_errors=stderr', '-d', 'error_reporting=-1'];

/** Runs `code` (without `<?php`) with `input` on stdin; resolves with stdout's lines; rejects on a non-zero exit. */
export async function runPhpBatch(code: string, input: unknown): Promise<string[]> {
  const text = await runPhp([...INI, '-r', code], input);
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Runs php-cli with `args` and `input` (as JSON) on stdin; resolves with stdout; rejects on a non-zero exit. */
export function runPhp(args: string[], input: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('php', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new Error(`php-cli could not be started (npm test's pretest installs it): ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`php exited with ${code}: ${Buffer.concat(err).toString().slice(0, 2000)}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** The PHP reader for the batch: `$in` holds the decoded input (JSON objects as PHP arrays). */
export const PHP_READ_INPUT = '$in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);';
