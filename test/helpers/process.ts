import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ROOT } from '../../src/paths.ts';

export const BIN = `${ROOT}/bin/herald.js`;

export interface HeraldProcess {
  child: ChildProcess;
  /** Parsed pino log lines seen so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line matching `pred`. */
  waitLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the whole log has been read (after exit). */
  stdoutDone: Promise<unknown>;
}

/**
 * Runs the real `herald` binary (the dist build) as a child process and follows its JSON log. With `fdLimit`, it
 * runs under `ulimit -n <fdLimit>` (through bash, which sets the limit and then becomes the process).
 */
export function runHerald(args: string[], env: NodeJS.ProcessEnv = {}, opts: { fdLimit?: number } = {}): HeraldProcess {
  const options = { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  const child =
    opts.fdLimit === undefined
      ? spawn(process.execPath, [BIN, ...args], options)
      : spawn('bash', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, BIN, ...args], options);
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const lines = createInterface({ input: child.stdout! });
  const stdoutDone = once(lines, 'close');
  lines.on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = { msg: line };
    }
    logs.push(entry);
    for (const w of [...waiters]) {
      if (w.pred(entry)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    child,
    logs,
    exited,
    stdoutDone,
    waitLog(pred, timeoutMs = 10_000) {
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line; stderr: ${stderr}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => reject(new Error(`herald exited before the log line; stderr: ${stderr}`)));
      });
    },
  };
}

/** Runs the binary to completion and returns exit code, stdout and stderr. */
export async function runHeraldOnce(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
