// Reconnect storm (issue 15, must-have 2): `herald start` (a child process, the default SQLite store in a temp data
// dir so history survives the restart, fixed port so the clients come back to the same address), N native clients
// in the C load client (wsload resume mode: token auth frame, position of `user:u<i>` resent on every reconnect,
// the SDK's reconnect policy: the window of the server's shutdown frame, then quick retries, else full jitter), numbered messages published to every user in turn at a steady rate before, during
// and after a restart (SIGTERM, wait for the exit, start again). Measured from the SIGTERM: the old process gone,
// the new one listening, every client welcomed again ("back"), and every client holding every message accepted
// before that moment ("caught up"). After a few more seconds of publishing the publisher stops and every client
// must hold every message ever accepted: lost (must be 0), duplicated, out of order.
//
// The publisher is the backend's part: `POST /api/publish/batch`, one batch in flight, so what is accepted is a
// prefix of the round robin (message k to user u<k mod N>, data {"n": k div N + 1}); a batch refused or cut by the
// restart is retried until accepted, with an idempotency key per message so a retry of a batch the old server
// stored publishes nothing twice. Messages count as published only once accepted.
import { Agent, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TokenService } from '../../src/auth/tokens.ts';
import { API_KEY, FLAGS, log, nowUs, quick, RESULTS, ROOT, sleep, TOKEN_SECRET } from '../lib/config.ts';
import { Proc, type Msg } from '../lib/proc.ts';
import { freePort, loadClient } from '../lib/session.ts';

/** The SDK's defaults (client/index.ts: minBackoffMs 500, maxBackoffMs 30,000), which wsload resume mirrors. */
export const STORM_BACKOFF = { minMs: 500, maxMs: 30_000 };

export const STORM = quick
  ? { n: 200, rate: 400, preSec: 1, postSec: 1, backTimeoutSec: 30 }
  : // 5,000 messages/s over 19,500 users: about one message per user every 4 s, so a client that takes a few
    // seconds to come back has missed something to be replayed, while the publisher stays far below Herald's limits.
    { n: 19_500, rate: 5000, preSec: 3, postSec: 3, backTimeoutSec: 120 };

export interface StormResult {
  n: number;
  connected: number;
  /** Messages/s offered by the publisher, and the backoff the clients use. */
  rate: number;
  backoffMs: { min: number; max: number };
  /** Seconds from the SIGTERM. */
  exitSeconds: number;
  listeningSeconds: number;
  backSeconds: number;
  caughtSeconds: number;
  /** Accepted messages: at the moment every client was back (the mark), and in all. */
  markMessages: number;
  published: number;
  /** Publish batches refused or cut by the restart, then retried. */
  retries: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Recovery frames that said `recovered: false` for a client that sent a position (must be 0). */
  unrecovered: number;
  drops: number;
  close4000: number;
  /** Shutdown frames received (the server's reconnect window, one per client told to reconnect). */
  shutdownFrames: number;
  resets: number;
  /** Connection attempts that failed before a welcome (refused while the server was down, reset). */
  failedAttempts: number;
  reconnects: number;
  /** Attempts given up after 20 s without a welcome (the SDK's connectTimeoutMs), stuck in SYN retransmits. */
  timeouts: number;
  /**
   * The kernel's TcpExt ListenOverflows and ListenDrops during the storm (host-wide): connections dropped because
   * the listen queue was full. Herald admits every connection the fd limit allows; the accept queue is the only
   * other gate, and a dropped SYN costs its client the kernel's retransmit delay (1 s, then 3, 7, 15 s...).
   */
  listenOverflows: number;
  listenDrops: number;
  /** The raw-TCP reference's time to accept n connections (idle workload, same run), scaled when at another N. */
  rawAcceptSeconds?: number;
  rawNote?: string;
}

/** Publishes the round robin in batches, one in flight, retried until accepted. */
class Publisher {
  accepted = 0;
  retries = 0;
  private stopping = false;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly done: Promise<void>;

  constructor(
    private readonly port: number,
    private readonly n: number,
    private readonly rate: number,
  ) {
    this.done = this.loop();
    // Handled where stop() awaits it; without this a failed loop would be an unhandled rejection until then.
    this.done.catch(() => undefined);
  }

  private post(from: number, count: number): Promise<boolean> {
    const messages = Array.from({ length: count }, (_, i) => {
      const k = from + i;
      return { to: { user: `u${k % this.n}` }, data: { n: Math.floor(k / this.n) + 1 }, idempotencyKey: `storm-${k}` };
    });
    const body = JSON.stringify({ messages });
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/api/publish/batch',
          method: 'POST',
          agent: this.agent,
          timeout: 10_000,
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            if (res.statusCode !== 200) return resolve(false);
            try {
              const r = JSON.parse(text) as { results?: { error?: unknown }[] };
              resolve(r.results?.length === count && r.results.every((x) => x.error === undefined));
            } catch {
              resolve(false);
            }
          });
          res.on('error', () => resolve(false));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end(body);
    });
  }

  private async loop(): Promise<void> {
    const t0 = Date.now();
    // Pacing, not synchronisation: what is due by now goes out in one batch (up to limits.maxBatch), so a backlog
    // built while the server was down is caught up when it returns, as a backend's queue would be.
    while (!this.stopping) {
      const count = Math.min(Math.floor(((Date.now() - t0) / 1000) * this.rate) - this.accepted, 1000);
      if (count <= 0) {
        await sleep(10);
        continue;
      }
      const deadline = Date.now() + 60_000;
      while (!(await this.post(this.accepted, count))) {
        this.retries++;
        if (Date.now() > deadline) throw new Error(`storm publisher: batch at ${this.accepted} refused for 60 s`);
        await sleep(50);
      }
      this.accepted += count;
    }
  }

  /** Stops after the batch in flight is accepted. */
  async stop(): Promise<number> {
    this.stopping = true;
    await this.done;
    this.agent.destroy();
    return this.accepted;
  }
}

/** `herald start` on 127.0.0.1:<port> with the data dir; resolves when its startup line says it listens. */
async function startHerald(dir: string, port: number): Promise<Proc> {
  const cfg = join(dir, 'herald.json');
  writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', port, line: { enabled: false } }));
  const env = { PATH: process.env.PATH, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET, HERALD_LOG_LEVEL: 'info' };
  const prof = FLAGS.profile ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles', 'storm')] : [];
  const p = new Proc('node', [...prof, join(ROOT, 'bin', 'herald.js'), 'start', '--config', cfg, '--data-dir', join(dir, 'data')], { cpu: 0, env });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`herald did not start in 30 s: ${p.stderr.slice(-500)}`)), 30_000);
    const lines = createInterface({ input: p.child.stdout! });
    lines.on('line', (l) => {
      // Herald's warnings and errors (a connection limit reached, a failed shutdown) belong in the bench's log.
      if (/"level":(4|5|6)0/.test(l)) log(`  herald: ${l.slice(0, 400)}`);
      if (!l.includes('"http":"http://')) return;
      clearTimeout(timer);
      resolve();
    });
    p.child.once('exit', (code) => reject(new Error(`herald exited (${code}) before listening: ${p.stderr.slice(-500)}`)));
  });
  return p;
}

/** TcpExt counters of the host (Linux /proc/net/netstat); zeros where it is not readable. */
function tcpExt(): { overflows: number; drops: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'));
    const [names, values] = [lines[0]!.split(' '), lines[1]!.split(' ')];
    const get = (k: string): number => Number(values[names.indexOf(k)] ?? 0);
    return { overflows: get('ListenOverflows'), drops: get('ListenDrops') };
  } catch {
    return { overflows: 0, drops: 0 };
  }
}

const exited = (p: Proc): Promise<void> => (p.exited ? Promise.resolve() : new Promise((r) => p.child.once('exit', () => r())));

/** Waits for the `caught` answering `mark <k>` (a late one of an earlier mark is skipped). */
async function caught(cli: Proc, k: number, timeoutMs: number): Promise<Msg | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return undefined;
    const m = await cli.wait('caught', left).catch(() => undefined);
    if (m === undefined || Number(m.mark) === k) return m;
  }
}

export async function storm(raw?: { connected: number; connectSeconds: number }): Promise<StormResult> {
  const { n, rate, preSec, postSec, backTimeoutSec } = STORM;
  const dir = mkdtempSync(join(tmpdir(), 'herald-storm-'));
  const tokens = new TokenService(TOKEN_SECRET);
  const file = join(RESULTS, '.bin', `storm-tokens-${n}.txt`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(await tokens.sign(`u${i}`, { ttlSeconds: 6 * 3600 }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const port = await freePort();
  let srv = await startHerald(dir, port);
  const args = ['resume', '127.0.0.1', String(port), file, String(n), '256', String(STORM_BACKOFF.minMs), String(STORM_BACKOFF.maxMs)];
  const cli = new Proc(loadClient(), args, { cpu: 1 });
  let pub: Publisher | undefined;
  try {
    const connected = await cli.wait('connected', 180_000);
    if (Number(connected.ok) < n) throw new Error(`storm: ${String(connected.ok)} of ${n} clients connected`);
    pub = new Publisher(port, n, rate);
    // Publishing runs before the restart so every client holds a position (its wsload counts wait for no timer).
    await sleep(preSec * 1000);
    await cli.ask('arm', 'armed');
    const tcp0 = tcpExt();
    const t0 = nowUs();
    srv.child.kill('SIGTERM');
    await exited(srv);
    const tExit = nowUs();
    srv = await startHerald(dir, port);
    const tListen = nowUs();
    log(`  old process exited ${((tExit - t0) / 1e6).toFixed(2)} s after SIGTERM, new one listening at ${((tListen - t0) / 1e6).toFixed(2)} s`);
    const probe = process.env.STORM_DEBUG
      ? setInterval(() => void cli.ask('counts', 'counts').then((c) => log(`  ${(nowUs() - t0) / 1e6}s ${JSON.stringify(c)}`)), 2000)
      : undefined;
    const back = await cli.wait('back', backTimeoutSec * 1000).catch(async (err: Error) => {
      const c = await cli.ask('counts', 'counts').catch(() => ({}));
      throw new Error(`${err.message}; counts ${JSON.stringify(c)}`);
    });
    clearInterval(probe);
    const tcp1 = tcpExt();
    const markMessages = pub.accepted;
    await cli.ask(`mark ${markMessages}`, 'mark');
    const c1 = await caught(cli, markMessages, 60_000);
    if (c1 === undefined) log(`  storm: not every client had the ${markMessages} messages accepted before the mark within 60 s`);
    await sleep(postSec * 1000); // publishing after the storm, live
    const published = await pub.stop();
    const retries = pub.retries;
    pub = undefined;
    await cli.ask(`mark ${published}`, 'mark');
    if ((await caught(cli, published, 30_000)) === undefined) log('  storm: not every message delivered within 30 s of the last publish');
    const c = await cli.ask('counts', 'counts');
    const s = (us: number): number => (us - t0) / 1e6;
    const out: StormResult = {
      n,
      connected: Number(connected.ok),
      rate,
      backoffMs: { min: STORM_BACKOFF.minMs, max: STORM_BACKOFF.maxMs },
      exitSeconds: s(tExit),
      listeningSeconds: s(tListen),
      backSeconds: s(Number(back.us)),
      caughtSeconds: c1 === undefined ? Number.NaN : s(Math.max(Number(c1.us), Number(back.us))),
      markMessages,
      published,
      retries,
      lost: Number(c.lost),
      duplicated: Number(c.dup),
      reordered: Number(c.reordered) + Number(c.far),
      unrecovered: Number(c.unrecovered),
      drops: Number(c.drops),
      close4000: Number(c.close4000),
      shutdownFrames: Number(c.shutdown_frames),
      resets: Number(c.resets),
      failedAttempts: Number(c.conn_fail),
      reconnects: Number(c.reconnects),
      timeouts: Number(c.timeouts),
      listenOverflows: tcp1.overflows - tcp0.overflows,
      listenDrops: tcp1.drops - tcp0.drops,
    };
    if (raw && raw.connected > 0) {
      out.rawAcceptSeconds = (raw.connectSeconds * n) / raw.connected;
      if (raw.connected !== n) out.rawNote = `scaled from ${raw.connected} connections in ${raw.connectSeconds.toFixed(2)} s`;
    }
    return out;
  } finally {
    await pub?.stop().catch(() => undefined);
    await cli.stop();
    if (!srv.exited) {
      srv.child.kill('SIGTERM');
      await Promise.race([exited(srv), sleep(10_000)]);
      await srv.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
