// Child processes that speak JSON lines (the peers' driver, the C load client), and /proc readers for their CPU
// time and RSS. Every child is tracked in `live` so the orchestrator can stop what is left, each by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ROOT, sleep, twoCores } from './config.ts';

export type Msg = Record<string, unknown> & { event?: string };

export const live = new Set<Proc>();

export class Proc {
  readonly child: ChildProcess;
  private queue: Msg[] = [];
  private waiters: { event: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  exited = false;
  stderr = '';

  constructor(cmd: string, args: string[], opts: { cpu?: number; env?: NodeJS.ProcessEnv; cwd?: string }) {
    // Raise the fd limit to the hard limit, and pin to one core when there are two (server on 0, load on 1).
    const pin = twoCores && opts.cpu !== undefined ? ['taskset', '-c', String(opts.cpu)] : [];
    this.child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pin, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? ROOT,
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        return;
      }
      const i = this.waiters.findIndex((w) => w.event === m.event);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.queue.push(m);
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.stdin!.on('error', () => undefined);
    live.add(this);
    this.child.on('exit', (code, signal) => {
      live.delete(this);
      this.exited = true;
      // Nothing more will come: fail whoever waits now instead of at their timeout.
      for (const w of this.waiters.splice(0))
        w.reject(new Error(`pid ${this.pid} exited (${signal ?? code}) while waiting for "${w.event}"; stderr: ${this.stderr.slice(-800)}`));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(`${line}\n`);
  }

  wait(event: string, timeoutMs: number): Promise<Msg> {
    const i = this.queue.findIndex((m) => m.event === event);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.exited) return Promise.reject(new Error(`pid ${this.pid} has exited; stderr: ${this.stderr.slice(-800)}`));
    return new Promise((resolve, reject) => {
      const w = { event, resolve: (m: Msg) => (clearTimeout(timer), resolve(m)), reject: (e: Error) => (clearTimeout(timer), reject(e)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout waiting for "${event}" from pid ${this.pid}; stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async ask(line: string, event: string, timeoutMs = 10_000): Promise<Msg> {
    this.send(line);
    return this.wait(event, timeoutMs);
  }

  /** Asks the process to quit; SIGKILL (to its own PID) after 3 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = (ms: number) => Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(ms)]);
    this.send('quit');
    await exited(3000);
    if (!this.exited) this.child.kill('SIGKILL');
    if (!this.exited) await exited(1000);
  }
}

/** Stops every child still running (a failed workload may leave its client behind), each by its own PID. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** utime + stime of a process, in clock ticks (TICK_HZ per second). */
export function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

export function rssKB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
