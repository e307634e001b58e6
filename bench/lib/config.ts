// The bench's flags, sizes and shared constants. Imported by every other bench module; reads process.argv once.
import { cpus } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

/** Command-line flags of `npm run bench`. */
export const FLAGS = {
  quick: argv.includes('--quick'),
  only: flag('--only')?.split(','),
  skipStore: argv.includes('--skip-store'),
  skipCluster: argv.includes('--skip-cluster'),
  /** Leave out the Redis deployment suite (bench/redis-cluster.ts: one Redis, Cluster 1 and 3 shards, --workers 2). */
  skipRedisCluster: argv.includes('--skip-redis-cluster'),
  skipGateway: argv.includes('--skip-gateway'),
  /** Leave out the herald-pusher variant (the Pusher protocol rows and targets). */
  skipPusher: argv.includes('--skip-pusher'),
  /** Leave out the herald-compat variant (Workerman profile: uid websocket and Text port rows, Workerman references). */
  skipCompat: argv.includes('--skip-compat'),
  /** Leave out the reconnect storm (workloads/storm.ts). */
  skipStorm: argv.includes('--skip-storm'),
  /** Skip the variants x workloads table (run only the suites that follow it). */
  skipMain: argv.includes('--skip-main'),
  noBunInstall: argv.includes('--no-bun-install'),
  profile: argv.includes('--profile'),
  /** The soak alone (bench/soak.ts; `--soak-minutes`, `--soak-clients`). */
  soak: argv.includes('--soak'),
  /** Only these workloads (peers.ts `Workload`), e.g. `--workloads http,batch`; the clients they need are opened. */
  workloads: flag('--workloads')?.split(','),
};
export const quick = FLAGS.quick;

export const ROOT = join(import.meta.dirname, '..', '..');
export const BENCH = join(import.meta.dirname, '..');
export const RESULTS = join(BENCH, 'results');
export const API_KEY = 'bench-api-key-0123456789abcdef';
export const TOKEN_SECRET = 'bench-token-secret-0123456789abcdef0123456789';
/** The Pusher app of the herald-pusher variant. */
export const PUSHER_APP = { id: 'bench', key: 'bench-pusher-key', secret: 'bench-pusher-secret-0123456789abcdef' } as const;
export const TICK_HZ = 100; // USER_HZ for /proc/<pid>/stat
export const twoCores = cpus().length >= 2;
export const started = Date.now();

/** Every timed measurement runs this many times on the same connections; the table shows the median. */
export const RUNS = 3;

export interface BenchConfig {
  /** Broadcast audiences. */
  ns: number[];
  /** Messages per one-at-a-time burst, by N. */
  single: Record<number, number>;
  /** Messages per 10-per-turn burst, by N. */
  burst10: Record<number, number>;
  /** Paced sweep levels, deliveries/s. */
  rates: number[];
  /** Seconds per paced level (per run). */
  pacedSec: number;
  idleN: number;
  /** HTTP unicast requests per run, and the number of connected users they go to. */
  unicastCount: number;
  unicastN: number;
  lineCount: number;
  batchCount: number;
  /** Seconds a single workload may take before the client gives up waiting. */
  timeoutSec: number;
}

export const CFG: BenchConfig = quick
  ? {
      ns: [500],
      single: { 500: 30 },
      burst10: { 500: 100 },
      rates: [50_000],
      pacedSec: 0.3,
      idleN: 1000,
      unicastCount: 1000,
      unicastN: 500,
      lineCount: 5000,
      batchCount: 5000,
      timeoutSec: 20,
    }
  : {
      ns: [1000, 10_000],
      // 200k and 500k deliveries per run: a few seconds for the slowest variants (socket.io, Herald's EIO3 listener),
      // so that 3 runs of everything fit the 15-minute budget.
      single: { 1000: 200, 10000: 20 },
      burst10: { 1000: 500, 10000: 50 },
      rates: [25_000, 50_000, 100_000, 200_000, 400_000, 800_000],
      pacedSec: 2,
      idleN: 19_500, // hard fd limit here is 20000 per process
      unicastCount: 20_000,
      unicastN: 10_000,
      lineCount: 100_000,
      batchCount: 100_000,
      timeoutSec: 60,
    };

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A settling pause: a quarter as long in --quick, which only checks that everything runs. */
export const settle = (ms: number): Promise<void> => sleep(quick ? ms / 4 : ms);
export const log = (s: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
};
